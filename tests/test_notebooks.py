"""The notebooks: every reference notebook executes end to end (smoke mode) as a student would run it,
one also from the unzipped student bundle, and they keep the shape students rely on (autoreload first,
no test switches in sight, a question and an answer cell in every part, data through helpers, the
public self-check last). Also: what they import is what the bundle's STUDENT_README installs."""
from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from nbconvert.preprocessors import ExecutePreprocessor

from conftest import ASSIGNMENT, SOLUTIONS

NOTEBOOKS = sorted(SOLUTIONS.glob("*.ipynb"))
SWITCHES = ("NOTEBOOK_SMOKE", "FAST", "NN_NUM_EPOCHS", "LINEAR_NUM_ITERS", "os.environ")
SCORE_RE = re.compile(r"Score: ([\d.]+) / ([\d.]+)")


def _execute(notebook: Path, folder: Path, monkeypatch) -> nbformat.NotebookNode:
    """``notebook`` executed in ``folder`` in smoke mode; fails the test on any error output."""
    monkeypatch.setenv("NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(notebook, as_version=4)
    ep = ExecutePreprocessor(timeout=300, kernel_name="python3")
    ep.preprocess(nb, {"metadata": {"path": str(folder)}})
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, [(e["ename"], e["evalue"]) for e in errors]
    return nb


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _assert_full_marks_table(cell: nbformat.NotebookNode) -> None:
    """The self-check cell printed the table of a run that earned every point."""
    text = _text(cell)
    score = SCORE_RE.search(text)
    assert score, text
    assert float(score.group(1)) == float(score.group(2)) > 0, text
    assert "public checks only" in text


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_reference_notebook_executes(notebook: Path, tmp_path: Path, monkeypatch):
    # the notebook imports the reference module and helpers from its own folder
    for f in SOLUTIONS.glob("*.py"):
        shutil.copy(f, tmp_path / f.name)
    nb = _execute(notebook, tmp_path, monkeypatch)
    # what the notebook promises to leave behind for submission
    if notebook.stem == "linear_classifier":
        assert (tmp_path / "svm_best_model.pt").is_file() and (tmp_path / "softmax_best_model.pt").is_file()
    # the last cell ran this part's public checks on the reference: full marks
    _assert_full_marks_table(_code_cells(nb)[-1])


def test_committed_notebooks_have_no_outputs():
    for notebook in NOTEBOOKS:
        nb = nbformat.read(notebook, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, notebook.name


# ----------------------------------------------------------------------------- what students see


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_layout_students_rely_on(notebook: Path):
    from grader.registry import ordered_parts

    part = next(p for p in ordered_parts() if p.notebook == notebook.name)
    assert_notebook_layout(notebook, loads_data=bool(part.datasets))


def assert_notebook_layout(notebook: Path, *, loads_data: bool) -> None:
    """What every part's notebook gives students (a part made by ``new-part`` included)."""
    nb = nbformat.read(notebook, as_version=4)
    code = _code_cells(nb)
    # autoreload before anything else runs, guarded for a plain Python without IPython
    first = code[0].source
    assert 'run_line_magic("load_ext", "autoreload")' in first and 'run_line_magic("autoreload", "2")' in first
    assert "except NameError" in first
    # the test suite's switches are read by helpers, never shown in a cell
    for cell in nb.cells:
        for switch in SWITCHES:
            assert switch not in cell.source, (notebook.name, switch, cell.source[:200])
    # every inline question is followed by its answer cell, and every part has one
    questions = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                 and c.source.startswith("**Inline question")]
    assert questions, notebook.name
    numbers = [int(re.match(r"\*\*Inline question (\d+)\.\*\*", nb.cells[i].source).group(1)) for i in questions]
    assert numbers == list(range(1, len(questions) + 1)), numbers
    for i in questions:
        answer = nb.cells[i + 1]
        assert answer.cell_type == "markdown" and answer.source.startswith("**Your answer:**"), notebook.name
    assert not any(c.source.startswith("## Questions") for c in nb.cells)
    # data through helpers, like every other part
    source = "\n".join(c.source for c in code)
    assert "from grader" not in source and "import grader" not in source
    assert bool(re.search(r"\bget_(cifar10|mnist)_data\(", source)) == loads_data
    # the last cell runs this part's public self-check
    assert code[-1].source.strip() == f'self_check("{notebook.stem}")'
    imports = next(c.source for c in code if "from helpers import" in c.source)
    assert "self_check" in imports and "budget" in imports


def _load_helpers(monkeypatch, smoke: bool):
    """A fresh import of solutions/helpers.py with NOTEBOOK_SMOKE set or not."""
    if smoke:
        monkeypatch.setenv("NOTEBOOK_SMOKE", "1")
    else:
        monkeypatch.delenv("NOTEBOOK_SMOKE", raising=False)
    spec = importlib.util.spec_from_file_location(f"helpers_smoke_{smoke}", SOLUTIONS / "helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_helpers_budget_and_mnist_loader_follow_the_smoke_switch(monkeypatch):
    from grader import data
    from grader.errors import DataNotFoundError

    full, smoke = _load_helpers(monkeypatch, False), _load_helpers(monkeypatch, True)
    assert "NOTEBOOK_SMOKE" in full.__doc__
    assert (full.SMOKE, full.budget(1500, smoke=40)) == (False, 1500)
    assert (smoke.SMOKE, smoke.budget(1500, smoke=40)) == (True, 40)
    try:
        expected = data.preprocess_mnist()
    except DataNotFoundError as exc:
        pytest.skip(f"no MNIST data: {exc}")
    got = full.get_mnist_data()
    assert got["profile"] == expected["profile"]
    for key in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        assert got[key].dtype == expected[key].dtype and got[key].equal(expected[key]), key
    assert got["X_train"].shape[1:] == (784,) and got["y_train"].dtype.is_floating_point is False
    small = smoke.get_mnist_data()
    for split, size in smoke.SMOKE_SIZES.items():
        assert small["X_" + split].equal(expected["X_" + split][:size]), split
        assert small["y_" + split].equal(expected["y_" + split][:size]), split


def _fake_grader(folder: Path, main: str) -> None:
    (folder / "grader").mkdir()
    (folder / "grader" / "__init__.py").write_text("")
    (folder / "grader" / "__main__.py").write_text(main)


def test_self_check_runs_the_checker_of_the_notebooks_folder(tmp_path, monkeypatch, capsys):
    helpers = _load_helpers(monkeypatch, False)
    _fake_grader(tmp_path, "import os, sys\nprint('argv', sys.argv[1:])\nprint('cwd', os.getcwd())\n")
    helpers.self_check(4, tmp_path)
    out = capsys.readouterr().out
    assert f"argv {['check', '--part', '4', str(tmp_path.resolve())]}" in out
    assert f"cwd {tmp_path.resolve()}" in out


def test_self_check_says_what_to_install_when_the_checker_lacks_a_package(tmp_path, monkeypatch, capsys):
    helpers = _load_helpers(monkeypatch, False)
    _fake_grader(tmp_path, "import gradescope_utils_not_installed_here\n")
    helpers.self_check("binary_svm", tmp_path)
    out = capsys.readouterr().out
    assert "'gradescope_utils_not_installed_here'" in out and "STUDENT_README.md" in out


def test_self_check_says_to_unzip_the_bundle_when_there_is_no_grader(tmp_path, monkeypatch, capsys):
    helpers = _load_helpers(monkeypatch, False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "grader" else real_find_spec(name, *a))

    def no_process(*args, **kwargs):
        raise AssertionError("no checker to run")

    monkeypatch.setattr(helpers.subprocess, "Popen", no_process)
    helpers.self_check("neural_net", tmp_path)
    out = capsys.readouterr().out
    assert "grader/ sits next to this notebook" in out and str(tmp_path.resolve()) in out


# ----------------------------------------------------------------------------- the student bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Iterator[Path]:
    """The student bundle, built and unzipped as a student would, in a folder every user may enter (as root
    the checker runs student code as an unprivileged user, who must reach the bundle's grader/)."""
    if not ASSIGNMENT.is_dir() or not any(ASSIGNMENT.iterdir()):
        pytest.skip("assignment/ not generated yet")
    from grader import package

    zip_path = package.build_student_bundle(tmp_path_factory.mktemp("zip") / "student_bundle.zip")
    folder = Path(tempfile.mkdtemp(prefix="student-bundle-"))
    try:
        folder.chmod(0o755)
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _imports(tree: ast.AST) -> set[str]:
    """Top-level names of the modules ``tree`` imports, except those in a ``try`` that catches ImportError
    (optional ones, e.g. scikit-learn's TSNE with a fallback)."""
    found: set[str] = set()

    def optional(node: ast.Try) -> bool:
        names = []
        for h in node.handlers:
            kinds = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
            names += [k.id for k in kinds if isinstance(k, ast.Name)]
        return bool({"ImportError", "ModuleNotFoundError"} & set(names))

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try) and optional(node):
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _installed_by_readme(readme: str) -> set[str]:
    """Canonical names of the distributions the set-up section's `pip install` lines install."""
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in setup.splitlines():
        words = line.strip().lstrip("!").split()
        if words[:2] != ["pip", "install"]:
            continue
        skip = False
        for word in words[2:]:
            if skip or word.startswith("-"):
                skip = word in ("--index-url", "--extra-index-url", "-i")
                continue
            names.add(re.split(r"[<>=!~\[]", word)[0].lower().replace("_", "-"))
    return names


def test_what_the_notebooks_import_is_installed_by_the_student_readme(bundle: Path):
    readme = (bundle / "STUDENT_README.md").read_text()
    installed = _installed_by_readme(readme)
    assert {"torch", "torchvision", "numpy", "matplotlib", "ipykernel"} <= installed, installed
    local = {p.stem for p in bundle.glob("*.py")} | {p.parent.name for p in bundle.glob("*/__init__.py")}
    assert {"helpers", "grader"} <= local
    imported: set[str] = set()
    sources = [(bundle / "helpers.py").read_text()]
    notebooks = sorted(bundle.glob("*.ipynb"))
    assert [p.name for p in notebooks] == [p.name for p in NOTEBOOKS]
    for notebook in notebooks:
        sources += [c.source for c in _code_cells(nbformat.read(notebook, as_version=4))]
    for source in sources:
        imported |= _imports(ast.parse(source))
    assert {"torch", "matplotlib", "helpers"} <= imported
    distributions = metadata.packages_distributions()
    missing = {}
    for name in sorted(imported - local - set(sys.stdlib_module_names)):
        dists = {d.lower().replace("_", "-") for d in distributions.get(name, [name])}
        if not dists & installed:
            missing[name] = sorted(dists)
    assert not missing, f"imported by the notebooks or helpers.py but not installed by STUDENT_README: {missing}"


def test_the_import_scan_sees_through_code_and_spares_optional_imports():
    tree = ast.parse("import a.b\nfrom c import d\ndef f():\n    import e\n"
                     "try:\n    import sklearn\nexcept ImportError:\n    pass\n"
                     "try:\n    import g\nexcept KeyError:\n    pass\n")
    assert _imports(tree) == {"a", "c", "e", "g"}
    readme = "## Set up\n\n    pip install torch --index-url https://x/cpu\n    pip install numpy>=2 gradescope_utils\n## Data\n    pip install no\n"
    assert _installed_by_readme(readme) == {"torch", "numpy", "gradescope-utils"}


@pytest.mark.slow
def test_a_notebook_executes_from_the_unzipped_student_bundle(bundle: Path, monkeypatch):
    from grader import data
    from grader.errors import DataNotFoundError

    try:
        where = data.locate("cifar10")
    except DataNotFoundError as exc:
        pytest.skip(f"no CIFAR-10 data: {exc}")
    # a student who has finished Part 4, with the data where `download-data` or GRADER_DATA puts it
    shutil.copy(SOLUTIONS / "binary_svm.py", bundle / "binary_svm.py")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delenv("GRADER_SOLUTIONS", raising=False)
    monkeypatch.setenv("GRADER_DATA", str(where.root))
    notebook = bundle / "binary_svm.ipynb"
    probe = nbformat.v4.new_code_cell("import grader, helpers\nprint('grader', grader.__file__)\n"
                                      "print('helpers', helpers.__file__)")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(len(nb.cells) - 1, probe)
    nbformat.write(nb, bundle / "binary_svm_probe.ipynb")
    nb = _execute(bundle / "binary_svm_probe.ipynb", bundle, monkeypatch)
    code = _code_cells(nb)
    # everything came from the bundle, not from the checkout the tests run in
    printed = dict(line.split(" ", 1) for line in _text(code[-2]).splitlines())
    assert Path(printed["grader"]).resolve() == (bundle / "grader" / "__init__.py").resolve()
    assert Path(printed["helpers"]).resolve() == (bundle / "helpers.py").resolve()
    _assert_full_marks_table(code[-1])


def test_a_submitted_notebook_keeps_its_functions_without_the_helpers(monkeypatch):
    """A student may submit the notebook with the functions written in it: its set-up cell imports helpers
    (absent where the grader runs student code), the autoreload, budget and self-check cells must not run."""
    from grader import submission

    reference = (SOLUTIONS / "binary_svm.py").read_text()
    cells = [c.source for c in _code_cells(nbformat.read(SOLUTIONS / "binary_svm.ipynb", as_version=4))]
    setup = "\n".join(line for line in cells[1].splitlines() if not line.startswith(("from binary_svm", " ")))
    assert "from helpers import" in setup and "budget(" in setup
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in (cells[0], setup, reference,
                                                                                 cells[-1])])
    source, _ = submission.notebook_to_module(nbformat.writes(nb).encode(), "binary_svm.ipynb")
    monkeypatch.setitem(sys.modules, "helpers", None)  # `import helpers` fails, as in the sandbox
    namespace: dict = {}
    exec(compile(source, "binary_svm.ipynb", "exec"), namespace)
    assert "self_check" not in namespace and "HYPER" not in namespace
    import torch

    loss = namespace["hinge_loss"](torch.tensor([2.0, 0.5, -1.0, 0.25]), torch.tensor([1.0, -1.0, -1.0, 1.0]),
                                   torch.tensor([1.0, 2.0]), 0.1)
    assert abs(loss.item() - 1.0625) < 1e-6
