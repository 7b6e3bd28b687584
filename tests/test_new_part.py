"""`python -m grader new-part` on a copy of the repository: the part it writes is declared, released,
graded with full marks for its reference and zero for its stubs, its generated tests pass, its notebook
runs, and the README's walk-through (the command and the ten-line check) works as written."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, Graded, assert_full_marks, assert_untouched_stubs
from grader import results

README = (REPO / "README.md").read_text()
SECTION = README.split("## Adding a part, adding a check", 1)[1].split("\n## ", 1)[0]
COMMAND = re.search(r'python -m grader new-part (\w+) --title "([^"]+)"', SECTION)
assert COMMAND, "the README shows no new-part command"
NAME, TITLE = COMMAND.groups()
CHECK_EXAMPLE = SECTION.split("### A check in ten lines", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


class Copy:
    """A copy of the repository (what git tracks or would track) with its own grader cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: set[str] = set()  # what new-part added
        self.env = {k: v for k, v in os.environ.items() if k not in ("GRADER_SOLUTIONS", "PYTHONPATH")}
        self.env["XDG_CACHE_HOME"] = str(root.parent / "cache")  # the demo's folders, apart from other runs

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def grader(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("-m", "grader", *args)

    def graded(self, *args: str) -> Graded:
        """Run a grading command that writes ``--results`` and read the file."""
        path = self.root.parent / f"results-{len(list(self.root.parent.glob('results-*')))}.json"
        p = self.grader(*args, "--results", str(path))
        assert p.returncode == 0, p.stdout + p.stderr
        doc = json.loads(path.read_text())
        results.validate(doc)
        return Graded(doc, path)

    def files(self) -> set[str]:
        return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def copy():
    # not under pytest's tmp_path, which only its owner may enter: run as root, the grader runs the
    # student's code as an unprivileged user, who must be able to read the copy's grader package
    base = Path(tempfile.mkdtemp(prefix="grader-new-part-"))
    base.chmod(0o711)  # others may pass through to the grader package, not list what is here
    try:
        yield _scaffolded(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _scaffolded(base: Path) -> Copy:
    root = base / "repo"
    root.mkdir(mode=0o700)  # no one else may enter while the copy is made
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, listed):
        if (REPO / rel).is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, root / rel)
    # the copy holds a reference and hidden checks: only the owner may read them, from the start (other
    # tests grade hostile code meanwhile, which looks for such copies)
    for entry in [*root.iterdir(), root / "grader" / "checks"]:
        if entry.name not in {"grader", "README.md", "pyproject.toml", "assignment"} or entry.name == "checks":
            entry.chmod(0o700)
    root.chmod(0o711)
    if (REPO.parent / "shared").is_dir():  # the offline data, found as ../shared like in a checkout
        (base / "shared").symlink_to(REPO.parent / "shared")
    c = Copy(root)
    before = c.files()
    p = c.grader("new-part", NAME, "--title", TITLE)
    assert p.returncode == 0, p.stdout + p.stderr
    c.written = c.files() - before
    return c


def test_new_part_writes_the_part_and_its_student_version(copy):
    assert copy.written == {f"solutions/{NAME}.py", f"solutions/{NAME}.ipynb", f"grader/public_checks/{NAME}.py",
                            f"grader/checks/{NAME}.py", f"tests/test_{NAME}.py", f"assignment/{NAME}.py",
                            f"assignment/{NAME}.ipynb"}
    stub = (copy.root / "assignment" / f"{NAME}.py").read_text()
    assert 'raise NotImplementedError("affine is not implemented yet")' in stub and "x @ W + b\n" not in stub
    assert "x @ W + b\n" in (copy.root / "solutions" / f"{NAME}.py").read_text()
    p = copy.grader("release", "--check")  # assignment/ is what release generates
    assert p.returncode == 0, p.stdout + p.stderr


DISCOVERY = """\
import json, grader
from grader.registry import ordered_parts
from grader.package import student_bundle_files
parts = ordered_parts()
bundle = student_bundle_files()
print(json.dumps({"grader": grader.__file__, "parts": [[p.name, p.title, list(p.files)] for p in parts],
                  "bundle": sorted(bundle), "readme": bundle["STUDENT_README.md"].decode()}))
"""


def test_every_listing_of_parts_finds_the_new_part_from_its_declaration(copy):
    p = copy.run("-c", DISCOVERY)
    assert p.returncode == 0, p.stderr
    found = json.loads(p.stdout)
    assert Path(found["grader"]).is_relative_to(copy.root)  # the copy's grader, not the checkout's
    parts = found["parts"]
    number = len(parts)  # numbered after the parts declared before it
    assert parts[-1] == [NAME, f"Part {number}: {TITLE}", [f"{NAME}.py"]]
    assert f"- Part {number}: {TITLE}: `{NAME}.py`" in found["readme"]
    bundle = set(found["bundle"])
    assert {f"{NAME}.py", f"{NAME}.ipynb", f"grader/public_checks/{NAME}.py"} <= bundle
    assert not {f"grader/checks/{NAME}.py", "grader/scaffold.py"} & bundle
    assert not [n for n in bundle if n.startswith("grader/templates/")]


REFUSALS = """\
import contextlib, io, json, sys
from grader.cli import main
out = {}
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(argv)
    out[" ".join(argv)] = [rc, err.getvalue()]
print(json.dumps(out))
"""


def test_new_part_refuses_taken_and_invalid_names_and_writes_nothing(copy):
    cases = {"binary_svm": "exists already", NAME: "exists already", "helpers": "exists already",
             "torch": "would shadow it", "2fast": "not a valid part name", "Trees": "not a valid part name",
             "class": "not a valid part name", "trees-2": "not a valid part name"}
    argv = [["new-part", name] for name in cases] + [["new-part", "trees", "--title", "a \\ b"]]
    before = copy.files()
    p = copy.run("-c", REFUSALS, json.dumps(argv))
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    for name, phrase in cases.items():
        rc, message = got[f"new-part {name}"]
        assert rc == 2 and message.startswith("new-part: ") and phrase in message, (name, message)
    rc, message = got["new-part trees --title a \\ b"]
    assert rc == 2 and "not a usable title" in message, message
    assert copy.files() == before


def test_the_reference_gets_full_marks_and_the_stubs_zero_through_the_cli(copy, tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copy(copy.root / "solutions" / f"{NAME}.py", submission)
    graded = copy.graded("grade", "--submission", str(submission), "--part", NAME)
    assert_full_marks(graded)
    assert set(graded.by_check()) == {"public_affine_by_hand", "affine_matches_reference", "affine_keeps_float32"}
    demo = copy.graded("demo", "--part", NAME)
    assert_full_marks(demo)
    assert demo.score == graded.score
    stubs = copy.graded("demo", "--stubs", "--part", NAME)
    assert_untouched_stubs(stubs)
    assert stubs.outcomes() == {"public_affine_by_hand": "failed", "affine_matches_reference": "failed",
                                "affine_keeps_float32": "skipped"}


def test_the_generated_tests_pass(copy):
    p = copy.run("-m", "pytest", f"tests/test_{NAME}.py", "-q", "-p", "no:cacheprovider", timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert re.search(r"\b4 passed\b", p.stdout), p.stdout[-1000:]


def test_the_generated_checks_type_check(copy):
    pytest.importorskip("mypy")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grader" / "mypy-new-part"
    p = copy.run("-m", "mypy", "--follow-imports=silent", "--cache-dir", str(cache),
                 f"grader/public_checks/{NAME}.py", f"grader/checks/{NAME}.py", timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr


def test_the_generated_notebook_runs_against_the_reference(copy, tmp_path, monkeypatch):
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor
    from test_notebooks import assert_notebook_layout

    assert_notebook_layout(copy.root / "solutions" / f"{NAME}.ipynb", loads_data=False)  # as every part's
    for f in (copy.root / "solutions").glob("*.py"):  # the notebook imports the module and helpers beside it
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setenv("PYTHONPATH", str(copy.root))  # its last cell's self-check runs the copy's grader
    monkeypatch.setenv("NOTEBOOK_SMOKE", "1")
    nb = nbformat.read(copy.root / "solutions" / f"{NAME}.ipynb", as_version=4)
    assert [c.cell_type for c in nb.cells][:3] == ["markdown", "markdown", "code"]
    ExecutePreprocessor(timeout=120, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"], outputs
    text = "".join(o.get("text", "") for o in outputs)
    assert "relative error against W + b: 0.0" in text
    assert re.search(r"Score: (\d+) / \1 ", text), text  # the self-check cell: full marks for the reference


def test_the_readme_check_example_is_graded_as_written(copy, tmp_path):
    checks = copy.root / "grader" / "checks" / f"{NAME}.py"
    original = checks.read_text()
    number = re.search(r"graded at once, as check ([\d.]+):", SECTION)  # the number the README promises
    check_id = re.search(r"^def (\w+)\(", CHECK_EXAMPLE, re.M)
    assert number and check_id and len(CHECK_EXAMPLE.strip().splitlines()) <= 14
    try:
        checks.write_text(original + "\n\n" + CHECK_EXAMPLE)
        submission = tmp_path / "submission"
        submission.mkdir()
        shutil.copy(copy.root / "solutions" / f"{NAME}.py", submission)
        graded = copy.graded("grade", "--submission", str(submission), "--part", NAME)
        assert_full_marks(graded)
        entry = graded.by_check()[check_id.group(1)]
        assert entry["number"] == number.group(1) and entry["max_score"] == 1, entry
        shutil.copy(copy.root / "assignment" / f"{NAME}.py", submission)
        stubs = copy.graded("grade", "--submission", str(submission), "--part", NAME)
        assert_untouched_stubs(stubs)
        assert stubs.outcome(check_id.group(1)) == "failed"
    finally:
        checks.write_text(original)
