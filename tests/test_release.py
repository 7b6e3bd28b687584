"""The student release: solution markers become stubs, and assignment/ never drifts from solutions/."""
from __future__ import annotations

import argparse
import ast
import json
import textwrap
from pathlib import Path

import nbformat
import pytest

from conftest import BEGIN_MARKER, code_texts, reference_body_lines
from grader import release
from grader.release import ReleaseError, generate, stub_notebook, stub_source, write_tree

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
ASSIGNMENT = ROOT / "assignment"

def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# The marker transformation
# ---------------------------------------------------------------------------

SAMPLE = '''\
"""Module docstring."""
import torch


def loss(W, X):
    """Loss of W on X.

    Inputs:
    - W: (D, C)
    """
    # BEGIN SOLUTION: multiply, then sum
    scores = X.mm(W)
    total = scores.sum()
    # END SOLUTION
    return total


class Model:
    """A model."""

    def train(self, X):
        """Train it."""
        for step in range(3):
            # BEGIN SOLUTION
            self.W = X.sum()
            # END SOLUTION
        return self


# BEGIN SOLUTION
CONSTANT = 42
# END SOLUTION
'''


def test_blocks_become_todo_and_raise_with_the_enclosing_name():
    out, count = stub_source(SAMPLE, "sample.py")
    assert count == 3
    expected = SAMPLE
    expected = expected.replace(
        "    # BEGIN SOLUTION: multiply, then sum\n    scores = X.mm(W)\n    total = scores.sum()\n    # END SOLUTION\n",
        '    # TODO: multiply, then sum\n    raise NotImplementedError("loss is not implemented yet")\n',
    )
    expected = expected.replace(
        "            # BEGIN SOLUTION\n            self.W = X.sum()\n            # END SOLUTION\n",
        "            # TODO: implement this\n"
        '            raise NotImplementedError("Model.train is not implemented yet")\n',
    )
    expected = expected.replace("# BEGIN SOLUTION\nCONSTANT = 42\n# END SOLUTION\n", "# TODO: implement this\n")
    assert out == expected
    ast.parse(out)


def test_stub_raises_not_implemented_and_keeps_docstrings():
    out, _ = stub_source(SAMPLE)
    namespace: dict = {}
    exec(compile(out, "stub.py", "exec"), namespace)
    assert namespace["loss"].__doc__.startswith("Loss of W on X.")
    with pytest.raises(NotImplementedError, match="^loss is not implemented yet$"):
        namespace["loss"](None, None)
    with pytest.raises(NotImplementedError, match="Model.train is not implemented yet"):
        namespace["Model"]().train(None)
    assert "CONSTANT" not in namespace


def test_block_ending_a_function_and_nested_functions():
    src = textwrap.dedent('''\
        def outer():
            def inner():
                # BEGIN SOLUTION
                return 1
                # END SOLUTION
            return inner


        def last(x):
            """Doc."""
            # BEGIN SOLUTION
            return x * 2
            # END SOLUTION
        ''')
    out, count = stub_source(src)
    assert count == 2
    assert 'raise NotImplementedError("outer.inner is not implemented yet")' in out
    assert 'raise NotImplementedError("last is not implemented yet")' in out
    assert "return x * 2" not in out and "return 1" not in out


def test_markers_inside_strings_are_not_markers():
    src = 'TEXT = """\n# BEGIN SOLUTION\nnot code\n"""\n'
    assert stub_source(src) == (src, 0)


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("def f():\n    # BEGIN SOLUTION\n    x = 1\n    return x\n", 2, "never closed"),
        ("def f():\n    x = 1\n    # END SOLUTION\n    return x\n", 3, "without a matching"),
        (
            "def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n"
            "    # END SOLUTION\n",
            3,
            "nested",
        ),
    ],
    ids=["unclosed", "end-without-begin", "nested"],
)
def test_unbalanced_markers_name_file_and_line(text, line, what):
    with pytest.raises(ReleaseError, match=rf"^solutions/bad\.py:{line}: .*{what}"):
        stub_source(text, "solutions/bad.py")


def test_block_leaving_an_empty_body_is_an_error():
    src = "for i in range(3):\n    # BEGIN SOLUTION\n    print(i)\n    # END SOLUTION\n"
    with pytest.raises(ReleaseError, match=r"solutions/x\.py:\d+: the stubbed code does not parse"):
        stub_source(src, "solutions/x.py")


def test_generate_headers_verbatim_copies_and_stale_removal(tmp_path):
    sol = tmp_path / "solutions"
    _write(sol, "part.py", SAMPLE)
    _write(sol, "helpers.py", "def helper():\n    return 1\n")
    (sol / "notes.txt").write_bytes(b"\x00binary\xff")
    (sol / "__pycache__").mkdir()
    (sol / "__pycache__" / "part.cpython-311.pyc").write_bytes(b"junk")
    (sol / "model.pt").write_bytes(b"weights")
    files = generate(sol)
    assert sorted(files) == ["helpers.py", "notes.txt", "part.py"]
    assert files["helpers.py"] == (sol / "helpers.py").read_bytes()
    assert files["notes.txt"] == b"\x00binary\xff"
    student, staff, rest = files["part.py"].decode().split("\n", 2)
    assert "TODO" in student and "python -m grader check" in student  # the first line speaks to students
    assert "generated from solutions/part.py by `python -m grader release`" in staff
    assert rest == stub_source(SAMPLE)[0]

    out = tmp_path / "assignment"
    _write(out, "old_part.py", "stale\n")
    _write(out, "sub/gone.py", "stale\n")
    changed = write_tree(files, out)
    assert set(changed) == {"helpers.py", "notes.txt", "part.py", "old_part.py", "sub/gone.py"}
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["helpers.py", "notes.txt", "part.py"]
    assert write_tree(files, out) == []
    assert release.diff_tree(files, out) == []


def test_errors_in_a_file_name_it(tmp_path):
    sol = tmp_path / "solutions"
    _write(sol, "broken.py", "def f():\n    # END SOLUTION\n    pass\n")
    with pytest.raises(ReleaseError, match=r"solutions/broken\.py:2"):
        generate(sol)


def test_check_mode_reports_differences(tmp_path, monkeypatch, capsys):
    sol = tmp_path / "solutions"
    out = tmp_path / "assignment"
    _write(sol, "part.py", SAMPLE)
    monkeypatch.setattr(release, "SOLUTIONS", sol)
    monkeypatch.setattr(release, "ASSIGNMENT", out)
    check = argparse.Namespace(check=True)
    assert release.main(check) == 1
    assert "missing: assignment/part.py" in capsys.readouterr().out
    assert release.main(argparse.Namespace(check=False)) == 0
    assert release.main(check) == 0
    (out / "part.py").write_text((out / "part.py").read_text() + "# edited by hand\n")
    (out / "extra.py").write_text("x = 1\n")
    assert release.main(check) == 1
    text = capsys.readouterr().out
    assert "differs: assignment/part.py (+0 -1 lines)" in text
    assert "stale:   assignment/extra.py" in text
    assert "python -m grader release" in text


# ---------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------


def _notebook(minor: int = 5) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = minor
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.2"}
    code = nbformat.v4.new_code_cell(
        "%matplotlib inline\n!pip list\ndef f(x):\n    \"\"\"Square.\"\"\"\n"
        "    # BEGIN SOLUTION: square x\n    return x * x\n    # END SOLUTION\n",
        execution_count=7,
        outputs=[nbformat.v4.new_output("stream", text="secret output 49\n")],
    )
    code.metadata["execution"] = {"iopub.execute_input": "2024-01-01T00:00:00"}
    code.metadata["tags"] = ["keep-me"]
    code.metadata["scrolled"] = True
    top = nbformat.v4.new_code_cell("# BEGIN SOLUTION\nbest_lr = 0.01\n# END SOLUTION\nprint(best_lr)")
    nb.cells = [nbformat.v4.new_markdown_cell("# Part 1"), code, top]
    raw = json.loads(nbformat.writes(nb))
    if minor < 5:
        for cell in raw["cells"]:
            cell.pop("id", None)
    return json.dumps(raw).encode()


@pytest.mark.parametrize("minor", [4, 5])
def test_notebook_is_stubbed_cleared_and_deterministic(minor):
    source = _notebook(minor)
    out = stub_notebook(source, "solutions/nb.ipynb")
    assert out == stub_notebook(source, "solutions/nb.ipynb")
    assert out.endswith(b"\n")
    nb = nbformat.reads(out.decode(), as_version=4)
    assert nb.nbformat_minor == minor
    assert nb.metadata == {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    code, top = nb.cells[1], nb.cells[2]
    assert code.outputs == [] and code.execution_count is None
    assert code.metadata == {"tags": ["keep-me"]}
    assert code.source.startswith("%matplotlib inline\n!pip list\n")
    assert "    # TODO: square x\n    raise NotImplementedError(\"f is not implemented yet\")" in code.source
    assert "x * x" not in code.source
    assert top.source == "# TODO: implement this\nprint(best_lr)"
    assert b"secret output" not in out and b"best_lr = 0.01" not in out
    assert list(json.loads(out)) == sorted(json.loads(out))


def test_notebook_ids_are_stable_when_missing():
    raw = json.loads(_notebook(5))
    for cell in raw["cells"]:
        cell.pop("id")
    data = json.dumps(raw).encode()
    out = stub_notebook(data)
    assert out == stub_notebook(data)
    assert [c["id"] for c in json.loads(out)["cells"]] == ["cell-0", "cell-1", "cell-2"]


def test_notebook_errors(tmp_path):
    with pytest.raises(ReleaseError, match="nb.ipynb: not a valid notebook"):
        stub_notebook(b"{not json", "nb.ipynb")
    with pytest.raises(ReleaseError, match="only nbformat 4"):
        stub_notebook(json.dumps({"nbformat": 3, "worksheets": []}).encode(), "nb.ipynb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# BEGIN SOLUTION\nanswer\n# END SOLUTION")]
    with pytest.raises(ReleaseError, match=r"nb.ipynb \(cell 1\): solution markers are only supported in code"):
        stub_notebook(nbformat.writes(nb).encode(), "nb.ipynb")
    nb.cells = [nbformat.v4.new_code_cell("def f():\n    # BEGIN SOLUTION\n    return 1\n")]
    with pytest.raises(ReleaseError, match=r"nb.ipynb \(cell 1\):2: .*never closed"):
        stub_notebook(nbformat.writes(nb).encode(), "nb.ipynb")


# ---------------------------------------------------------------------------
# The real solutions/ and the committed assignment/
# ---------------------------------------------------------------------------

needs_release = pytest.mark.skipif(
    not SOLUTIONS.is_dir() or not ASSIGNMENT.is_dir(), reason="solutions/ or assignment/ not present yet"
)


@needs_release
def test_committed_assignment_matches_generated_byte_for_byte(tmp_path):
    """The drift test: assignment/ is exactly what `python -m grader release` writes from solutions/."""
    out = tmp_path / "assignment"
    write_tree(generate(SOLUTIONS), out)

    def tree(folder: Path) -> dict[str, bytes]:
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
        }

    generated, committed = tree(out), tree(ASSIGNMENT)
    assert sorted(committed) == sorted(generated), "run `python -m grader release` and commit assignment/"
    for name in generated:
        assert committed[name] == generated[name], (
            f"assignment/{name} differs from what solutions/ generates; "
            "edit solutions/ and run `python -m grader release`, never edit assignment/ by hand"
        )


@needs_release
def test_every_solution_file_has_markers_or_is_meant_to_be_copied():
    stubbed = [name for name, lines in code_texts(SOLUTIONS) if any(BEGIN_MARKER.match(l) for l in lines)]
    assert stubbed, "solutions/ has no solution markers at all: students would get the answers"


@needs_release
def test_no_reference_solution_line_reaches_the_assignment():
    secrets = reference_body_lines(SOLUTIONS)
    assert secrets, "expected some marked reference code in solutions/"
    for path in sorted(ASSIGNMENT.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":  # also search the cells' text, free of JSON escaping
            for cell in json.loads(text)["cells"]:
                text += "\n" + "".join(cell["source"])
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, f"assignment/{path.relative_to(ASSIGNMENT)} contains reference code: {leaked[:3]}"


@needs_release
def test_generated_python_stubs_import_and_raise():
    for path in sorted(ASSIGNMENT.glob("*.py")):
        ast.parse(path.read_text(encoding="utf-8"), str(path))
