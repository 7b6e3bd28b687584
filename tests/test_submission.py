"""Submission intake (file names, folders, zips) and notebook submissions.

A notebook built from the reference source, cut into cells and mixed with what real
notebooks hold (magics, shell escapes, a training loop, a plot, a ``%%time`` cell), must grade
exactly like the equivalent ``.py``.
"""
from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import reference_source
from grader import results
from grader.errors import SubmissionError
from grader.registry import Part
from grader.submission import collect, notebook_to_module

PART = Part("lc", "Part 1", files=("linear_classifier.py",), artifacts=("svm_best_model.pt",))
NOTEBOOK_CHECKS = ["svm_naive_data_term", "svm_vectorized_data_term", "sample_batch_contract", "predict_contract"]


def intake(tmp_path: Path, files: dict[str, str | bytes], *, folder: str = "sub"):
    sub = tmp_path / folder
    for name, content in files.items():
        dest = sub / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(content if isinstance(content, bytes) else content.encode())
    sub.mkdir(exist_ok=True)
    pf = collect(sub, [PART], tmp_path / "scratch")["lc"]
    return pf, (pf.code_dir / "linear_classifier.py")


# --------------------------------------------------------------------------- intake


def test_exact_name_is_copied(tmp_path):
    pf, module = intake(tmp_path, {"linear_classifier.py": "X = 1\n", "notes.txt": "ignored"})
    assert pf.module_ok and not pf.problem and pf.notes == []
    assert module.read_text() == "X = 1\n"
    assert sorted(p.name for p in pf.code_dir.iterdir()) == ["linear_classifier.py"]  # nothing else copied


def test_the_checkers_own_files_and_virtual_environments_are_never_the_students(tmp_path):
    """A student's bundle holds the checker (grader/public_checks/linear_classifier.py) and often a
    .venv: neither is taken for the student's file, and no note mentions them."""
    files = {"linear_classifier.py": "X = 1\n",
             "grader/public_checks/linear_classifier.py": "X = 2\n", "grader/__init__.py": "",
             ".venv/lib/site-packages/linear_classifier.py": "X = 3\n"}
    pf, module = intake(tmp_path, files)
    assert pf.module_ok and pf.notes == [] and module.read_text() == "X = 1\n"
    del files["linear_classifier.py"]
    pf, _ = intake(tmp_path, files, folder="only-the-checker")
    assert not pf.module_ok and "linear_classifier.py" in pf.problem


@pytest.mark.parametrize("found", ["Linear_Classifier.py", "linear_classifier (1).py"])
def test_near_names_are_used_with_a_note(tmp_path, found):
    pf, module = intake(tmp_path, {found: "X = 2\n"})
    assert pf.module_ok and module.read_text() == "X = 2\n"
    [note] = pf.notes
    assert f"found {found}" in note and "rename it to linear_classifier.py" in note


def test_py_wins_over_notebook_and_the_output_says_so(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("X = 'from the notebook'")])
    pf, module = intake(tmp_path, {"linear_classifier.py": "X = 'from the py'\n",
                                   "linear_classifier.ipynb": nbformat.writes(nb)})
    assert module.read_text() == "X = 'from the py'\n"
    assert pf.notes == ["Both linear_classifier.py and linear_classifier.ipynb were submitted; "
                        "linear_classifier.py was graded."]


def test_missing_file_names_what_was_found(tmp_path):
    pf, module = intake(tmp_path, {"svm.py": "", "README.md": ""})
    assert not pf.module_ok and not module.exists()
    assert "linear_classifier.py was not found in your submission (found: README.md, svm.py)" in pf.problem
    assert "linear_classifier.ipynb" in pf.problem
    assert "svm_best_model.pt was not found" in pf.artifact_problems["svm_best_model.pt"]


def test_nested_folder_is_searched(tmp_path):
    pf, module = intake(tmp_path, {"hw1/linear_classifier.py": "X = 3\n", "hw1/svm_best_model.pt": b"\0model"})
    assert pf.module_ok and module.read_text() == "X = 3\n"
    assert any("in the folder hw1/" in n for n in pf.notes)
    assert pf.artifacts["svm_best_model.pt"].read_bytes() == b"\0model"


def test_zip_is_unpacked(tmp_path):
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hw1/linear_classifier.py", "X = 4\n")
        zf.writestr("../escape.py", "evil")
    pf, module = intake(tmp_path, {"submission.zip": archive.read_bytes()})
    assert pf.module_ok and module.read_text() == "X = 4\n"
    assert any("taken from the zip file" in n for n in pf.notes)
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "scratch" / "escape.py").exists()


def test_missing_submission_folder_is_a_submission_error(tmp_path):
    with pytest.raises(SubmissionError, match="does not exist"):
        collect(tmp_path / "nope", [PART], tmp_path / "scratch")


# --------------------------------------------------------------------------- notebook conversion


def reference_cells() -> list[str]:
    """The reference module cut into cells of a few top-level statements each."""
    src = reference_source()
    lines = src.splitlines()
    nodes = ast.parse(src).body
    cells, group = [], []
    for node in nodes:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        group.append("\n".join(lines[start - 1: node.end_lineno]))
        if len(group) == 3:
            cells.append("\n\n".join(group))
            group = []
    if group:
        cells.append("\n\n".join(group))
    return cells


EXTRA_CELLS = [
    "%matplotlib inline\n%load_ext autoreload\n%autoreload 2",
    "!ls -la\nfiles = !ls\nimport matplotlib.pyplot as plt",
    # a training loop at the top level, using the module's functions
    "torch.manual_seed(0)\nW = torch.randn(3073, 10) * 1e-4\nfor it in range(3):\n"
    "    loss, grad = svm_loss_vectorized(W, torch.randn(8, 3073), torch.randint(0, 10, (8,)), 0.1)\n"
    "    W -= 1e-3 * grad\nprint(loss)",
    "plt.plot([1, 2, 3])\nplt.title('loss history')\nplt.show()",
    "%%time\nresult = predict_linear_classifier(W, torch.randn(4, 3073))\nresult",
    "from google.colab import drive\ndrive.mount('/content/drive')",
]


def build_notebook(cells: list[str]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Part 1")] + [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb)


def reference_notebook() -> str:
    cells = reference_cells()
    return build_notebook(EXTRA_CELLS[:3] + cells[:2] + EXTRA_CELLS[3:] + cells[2:])


def test_notebook_module_keeps_definitions_and_drops_the_rest():
    source, notes = notebook_to_module(reference_notebook().encode(), "linear_classifier.ipynb")
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    reference = {n.name for n in ast.parse(reference_source()).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert defined == reference
    for dropped in ("%matplotlib", "!ls", "plt.plot", "drive.mount", "W -= 1e-3", "%%time", "files ="):
        assert dropped not in source
    assert "try:\n    from google.colab import drive\nexcept ImportError:" in source
    [note] = notes
    assert "kept only imports, functions, classes and constants" in note


def test_continuation_lines_that_look_like_magics_are_kept():
    cell = ("def odd_and_changed(n, m):\n"
            "    return (n\n"
            "            % 2\n"
            "            != 0) and \\\n"
            "        n != m\n"
            "\n"
            "TEXT = '''\n"
            "!not a shell escape\n"
            "%not a magic\n"
            "'''\n"
            "%time odd_and_changed(3, 4)\n"
            "!echo shell")
    source, _ = notebook_to_module(build_notebook([cell]).encode(), "nb.ipynb")
    namespace: dict = {}
    exec(compile(source, "nb", "exec"), namespace)
    assert namespace["odd_and_changed"](3, 4) is True and namespace["odd_and_changed"](4, 5) is False
    assert namespace["TEXT"] == "\n!not a shell escape\n%not a magic\n"
    assert "echo shell" not in source


def test_future_import_stays_first():
    source, _ = notebook_to_module(build_notebook(["import torch", "from __future__ import annotations\nX = 1"])
                                   .encode(), "nb.ipynb")
    compile(source, "nb", "exec")
    assert source.startswith("from __future__ import annotations")


def test_cell_with_a_syntax_error_is_skipped_with_a_note():
    nb = build_notebook(["def good():\n    return 1", "%%time\ndef bad(:\n    pass", "def also_good():\n    return 2"])
    source, notes = notebook_to_module(nb.encode(), "linear_classifier.ipynb")
    assert "def good" in source and "def also_good" in source and "def bad" not in source
    assert notes == ["Code cell 2 of linear_classifier.ipynb has a syntax error (line 2: invalid syntax); it was "
                     "skipped."]


def _nb3() -> str:
    return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                       "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "outputs": []}]}]})


@pytest.mark.parametrize("raw, message", [
    ('{"cells": [', "its JSON is malformed"),
    (_nb3(), "notebook format 3"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                 "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# only text"}]}), "no code cells"),
    ('["not", "a", "notebook"]', "not a Jupyter notebook"),
], ids=["malformed-json", "nbformat-3", "no-code-cells", "not-a-notebook"])
def test_unreadable_notebooks_give_a_clear_message(raw, message):
    with pytest.raises(SubmissionError, match=message):
        notebook_to_module(raw.encode(), "linear_classifier.ipynb")


def test_nbformat_4_minor_versions_are_read():
    for minor in (0, 4, 5):
        nb = {"nbformat": 4, "nbformat_minor": minor, "metadata": {},
              "cells": [{"cell_type": "code", "metadata": {}, "source": ["def f():\n", "    return 1\n"],
                         "outputs": [], "execution_count": None}]}
        if minor >= 5:
            nb["cells"][0]["id"] = "abc"
        source, _ = notebook_to_module(json.dumps(nb).encode(), "nb.ipynb")
        assert "def f():\n    return 1" in source


# --------------------------------------------------------------------------- grading notebooks


def _per_check(g) -> dict:
    return {k: (t["extra_data"]["outcome"], t["score"], t["max_score"], t["output"]) for k, t in g.by_check().items()}


def test_notebook_and_equivalent_py_grade_identically(grade):
    as_py = grade({"linear_classifier.py": reference_source()}, parts=["linear_classifier"], checks=NOTEBOOK_CHECKS)
    as_nb = grade({"linear_classifier.ipynb": reference_notebook()}, parts=["linear_classifier"],
                  checks=NOTEBOOK_CHECKS)
    assert _per_check(as_nb) == _per_check(as_py)
    assert set(as_py.by_check()) == set(NOTEBOOK_CHECKS) and as_py.not_passed() == set()
    assert as_nb.score == as_py.score
    assert "the grader used the code of linear_classifier.ipynb" in as_nb.doc["output"]


def test_buggy_notebook_and_equivalent_py_grade_identically(grade):
    from conftest import mutate

    buggy = mutate(reference_source(), "y_pred = torch.argmax(X.mm(W), dim=1)",
                   "y_pred = torch.argmin(X.mm(W), dim=1)")
    nb = build_notebook(EXTRA_CELLS + [buggy])
    as_py = grade({"linear_classifier.py": buggy}, parts=["linear_classifier"], checks=["predict_contract"])
    as_nb = grade({"linear_classifier.ipynb": nb}, parts=["linear_classifier"], checks=["predict_contract"])
    assert _per_check(as_nb) == _per_check(as_py)
    assert as_py.outcome("predict_contract") == "failed"


@pytest.mark.parametrize("raw, message", [
    ('{"cells": [', "its JSON is malformed"),
    (_nb3(), "notebook format 3"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}), "no code cells"),
], ids=["malformed-json", "nbformat-3", "no-code-cells"])
def test_unreadable_notebook_submission_gives_a_valid_results_file(grade, raw, message):
    g = grade({"linear_classifier.ipynb": raw}, parts=["linear_classifier"], checks=["predict_contract"])
    results.validate(g.doc)
    assert g.outcome("predict_contract") == "failed" and g.score == 0
    assert message in g.output("predict_contract")
    assert message in g.doc["output"]
