"""Every reference notebook executes end to end (fast mode), as a student would run it."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbconvert.preprocessors import ExecutePreprocessor

from conftest import SOLUTIONS

NOTEBOOKS = sorted(SOLUTIONS.glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_reference_notebook_executes(notebook: Path, tmp_path: Path, monkeypatch):
    # the notebook imports the reference module and helpers from its own folder
    for f in SOLUTIONS.glob("*.py"):
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setenv("NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(notebook, as_version=4)
    ep = ExecutePreprocessor(timeout=300, kernel_name="python3")
    ep.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    # what the notebook promises to leave behind for submission
    if notebook.stem == "linear_classifier":
        assert (tmp_path / "svm_best_model.pt").is_file() and (tmp_path / "softmax_best_model.pt").is_file()


def test_committed_notebooks_have_no_outputs():
    for notebook in NOTEBOOKS:
        nb = nbformat.read(notebook, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, notebook.name
