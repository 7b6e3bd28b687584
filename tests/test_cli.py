"""The command line, run as a student, an instructor and Gradescope run it: in a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ASSIGNMENT, REPO, SOLUTIONS
from grader import results

# Runs the CLI in-process and then reports which grader modules were imported.
WITH_MODULES = """\
import json, sys
from grader.cli import main
rc = main(sys.argv[1:])
sys.stdout.flush()
loaded = sorted(m for m in sys.modules if m.startswith(("grader.checks", "_reference_")))
print("LOADED=" + json.dumps(loaded))
sys.exit(rc)
"""


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_help_lists_the_commands():
    p = cli("--help")
    assert p.returncode == 0, p.stderr
    for command in ("grade", "check", "demo", "release", "build-autograder", "grade-all"):
        assert command in p.stdout
    g = cli("grade", "--help")
    assert g.returncode == 0 and "--submission" in g.stdout and "--results" in g.stdout


def test_grade_on_a_missing_folder_writes_a_valid_results_file(tmp_path):
    path = tmp_path / "out" / "results.json"
    p = cli("grade", "--submission", str(tmp_path / "no-such-folder"), "--results", str(path))
    assert p.returncode == 0, p.stderr
    doc = json.loads(path.read_text())
    results.validate(doc)
    assert doc["score"] == 0
    assert "no-such-folder does not exist" in doc["tests"][0]["output"]
    assert f"results written to {path}" in p.stdout


def test_grade_writes_results_for_a_selection(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "linear_classifier.py").write_text((SOLUTIONS / "linear_classifier.py").read_text())
    path = tmp_path / "results.json"
    p = cli("grade", "--submission", str(sub), "--results", str(path), "--part", "linear_classifier",
            "--check", "predict_contract", "--check", "sample_batch_contract")
    assert p.returncode == 0, p.stderr
    doc = json.loads(path.read_text())
    results.validate(doc)
    assert [t["extra_data"]["outcome"] for t in doc["tests"]] == ["passed", "passed"] and doc["score"] == 5
    assert "predict_linear_classifier" in p.stdout and "2/2" in p.stdout and "3/3" in p.stdout
    assert "Score: 5 / 5" in p.stdout


def test_check_accepts_the_number_the_table_prints_and_refuses_unknown_names(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "linear_classifier.py").write_text((SOLUTIONS / "linear_classifier.py").read_text())
    path = tmp_path / "results.json"
    p = cli("grade", "--submission", str(sub), "--results", str(path), "--check", "1.20")
    assert p.returncode == 0, p.stderr
    doc = json.loads(path.read_text())
    assert [t["extra_data"]["check"] for t in doc["tests"]] == ["linear_classifier.one_param_set_contract"]
    assert doc["tests"][0]["extra_data"]["outcome"] == "passed"
    bad = tmp_path / "bad.json"
    p = cli("grade", "--submission", str(sub), "--results", str(bad), "--check", "1.99")
    assert p.returncode != 0, p.stdout
    assert "no check is named '1.99'" in p.stderr and "1.20" in p.stderr and "one_param_set_contract" in p.stderr
    doc = json.loads(bad.read_text())  # the results file says so too, and is valid
    results.validate(doc)
    assert doc["score"] == 0 and "no check is named '1.99'" in doc["tests"][0]["output"]


def _check(folder: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    p = subprocess.run([sys.executable, "-c", WITH_MODULES, "check", str(folder), "--part", "linear_classifier"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    *_, last = p.stdout.rstrip().splitlines()
    assert last.startswith("LOADED="), p.stdout
    return p, json.loads(last.removeprefix("LOADED="))


def test_check_prints_a_table_and_exits_0_when_checks_fail(tmp_path):
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "linear_classifier.py").write_text((ASSIGNMENT / "linear_classifier.py").read_text())
    p, loaded = _check(sub)
    assert p.returncode == 0, p.stderr
    header = next(line for line in p.stdout.splitlines() if line.startswith("#"))
    assert "check" in header and "points" in header and "result" in header
    assert "0/1" in p.stdout and "failed" in p.stdout
    assert "not implemented yet" in p.stdout  # the messages follow the table
    assert "public checks only" in p.stdout
    assert "[1/" in p.stderr  # progress while checks run
    assert loaded == []  # neither the hidden checks nor the reference solution were imported


def test_check_passes_the_reference_without_hidden_checks(tmp_path):
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "linear_classifier.py").write_text((SOLUTIONS / "linear_classifier.py").read_text())
    import torch

    for name in ("svm_best_model.pt", "softmax_best_model.pt"):  # what save() writes, as the notebook would
        torch.save({"W": torch.zeros(3073, 10)}, sub / name)
    p, loaded = _check(sub)
    assert p.returncode == 0, p.stderr
    assert "failed" not in p.stdout.split("\n\n")[0] and "passed" in p.stdout
    assert loaded == []


def test_check_on_a_missing_folder_explains_in_words(tmp_path):
    p = cli("check", str(tmp_path / "nothing-here"))
    assert p.returncode == 0
    assert "nothing-here does not exist" in p.stdout and "{" not in p.stdout


def test_demo_without_data_says_how_to_get_it_and_writes_a_valid_results_file(tmp_path, monkeypatch, capsys):
    import grader.data
    from grader.cli import main

    monkeypatch.setattr(grader.data, "data_root_candidates", lambda explicit=None: [tmp_path / "no-data-here"])
    out = tmp_path / "results.json"
    assert main(["demo", "--part", "neural_net", "--results", str(out)]) == 1
    err = capsys.readouterr().err
    assert "The demo needs the datasets its checks train and score on" in err and "python -m grader download-data" in err, err
    assert str(tmp_path / "no-data-here") in err and "Traceback" not in err
    results.validate(json.loads(out.read_text()))


def test_the_demo_s_first_training_run_shows_progress_and_the_time_left(tmp_path):
    """The reference's grid search, shortened: every setting is counted as n of N, with the time left
    estimated from the settings trained so far."""
    from grader.demo import train_linear_models

    lines: list[str] = []
    accuracies = train_linear_models(tmp_path, num_iters=3, log=lines.append)
    assert set(accuracies) == {"svm", "softmax"} and (tmp_path / "svm_best_model.pt").is_file()
    total = int(lines[0].split(": ")[1].split()[0])
    steps = [line for line in lines if line.lstrip().startswith("[")]
    assert [line.split("]")[0].strip() for line in steps] == [f"[{i}/{total}" for i in range(1, total + 1)]
    assert all("left)" in line for line in steps[:-1]) and "left" not in steps[-1]
