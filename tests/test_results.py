"""The results model and writer: schema validation, atomic writes, fallback documents, golden files.

Golden files: ``tests/golden/<name>.json`` hold the results.json of three fixed Part 1
submissions graded on a narrow selection of checks, with the volatile fields normalised
(execution times, measured timings and accuracies, data paths). After an intended change of
the grader's output, regenerate them and review the diff::

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_results.py -k golden
"""
from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from conftest import ASSIGNMENT, SOLUTIONS, mutate, reference_source
from grader import results
from grader.results import CheckResult, Outcome, RunResult

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

GOLDEN_CHECKS = [
    "public_svm_sanity",           # a public check
    "svm_naive_data_term",
    "svm_naive_regularisation",    # depends on svm_naive_data_term
    "svm_vectorized_static",       # depends on svm_vectorized_data_term (not selected)
    "svm_speedup",                 # measured timings in its message
    "sample_batch_contract",
    "predict_contract",
    "svm_saved_model_accuracy",    # an artifact, a measured accuracy
]


def sample_run() -> RunResult:
    run = RunResult(output="Score: 3 / 10", execution_time=1.25)
    run.checks = [
        CheckResult("p.a", "passes", "1.1", 4, 4, Outcome.PASSED, "Passed.", tags=("loss",)),
        CheckResult("p.b", "fails", "1.2", 3, 0, Outcome.FAILED, "wrong shape", student_output="hello\n"),
        CheckResult("p.c", "grader bug", "1.3", 2, 0, Outcome.ERROR, "not your fault",
                    staff_message="Traceback ...\nKeyError: 'x'"),
        CheckResult("p.d", "builds on b", "", 1, 0, Outcome.SKIPPED, "Not run: fix 'fails' first",
                    visibility="after_due_date"),
    ]
    run.checks[0].leaderboard = {"name": "acc", "value": 0.5, "order": "desc"}
    run.leaderboard = [run.checks[0].leaderboard]
    return run


# --------------------------------------------------------------------------- model and schema


def test_writer_output_is_schema_valid_and_keeps_outcomes_apart(tmp_path):
    path = tmp_path / "results.json"
    doc = results.write(sample_run(), path)
    on_disk = json.loads(path.read_text())
    assert on_disk == doc
    results.validate(on_disk)
    outcomes = [t["extra_data"]["outcome"] for t in doc["tests"]]
    assert outcomes == ["passed", "failed", "error", "error", "skipped"]  # the 4th: the staff-only entry
    assert [t["status"] for t in doc["tests"]] == ["passed", "failed", "failed", "failed", "failed"]
    assert doc["tests"][1]["output"] == "wrong shape\n\nYour code printed:\nhello"
    assert doc["tests"][2]["output"].startswith("[grader error] ") and "KeyError" not in doc["tests"][2]["output"]
    assert doc["tests"][3]["visibility"] == "hidden" and "KeyError" in doc["tests"][3]["output"]
    assert doc["tests"][4]["output"] == "Not run: fix 'fails' first" and "number" not in doc["tests"][4]
    assert doc["score"] == 4 and doc["leaderboard"] == [{"name": "acc", "value": 0.5, "order": "desc"}]
    assert doc["tests"][0]["tags"] == ["loss"] and doc["tests"][0]["number"] == "1.1"


def _valid_doc() -> dict:
    return results.to_json(sample_run())


@pytest.mark.parametrize("breakage", [
    "missing name", "bad status", "negative score", "negative max_score", "unknown test key", "unknown top key",
    "bad visibility", "leaderboard without value", "neither score nor tests", "score as text",
])
def test_schema_rejects_malformed_documents(breakage):
    doc = _valid_doc()
    test = doc["tests"][0]
    if breakage == "missing name":
        del test["name"]
    elif breakage == "bad status":
        test["status"] = "error"
    elif breakage == "negative score":
        test["score"] = -1
    elif breakage == "negative max_score":
        test["max_score"] = -2
    elif breakage == "unknown test key":
        test["outcome"] = "passed"
    elif breakage == "unknown top key":
        doc["grade"] = 3
    elif breakage == "bad visibility":
        test["visibility"] = "secret"
    elif breakage == "leaderboard without value":
        del doc["leaderboard"][0]["value"]
    elif breakage == "neither score nor tests":
        doc = {"output": "nothing"}
    elif breakage == "score as text":
        doc["score"] = "10"
    with pytest.raises(jsonschema.ValidationError):
        results.validate(doc)


def test_long_outputs_are_clipped():
    run = sample_run()
    run.checks[1].message = "x" * 50_000
    run.output = "y" * 80_000
    doc = results.to_json(run)
    results.validate(doc)
    assert len(doc["tests"][1]["output"]) <= results.MAX_TEST_OUTPUT
    assert len(doc["output"]) <= results.MAX_TOP_OUTPUT and "more characters cut" in doc["output"]


def test_non_finite_scores_are_written_as_zero(tmp_path):
    run = sample_run()
    run.checks[1].score = float("nan")
    run.checks[1].max_score = float("inf")
    doc = results.write(run, tmp_path / "results.json")
    assert doc["tests"][1]["score"] == 0 and doc["tests"][1]["max_score"] == 0
    assert doc["score"] == 4  # one NaN does not zero the total
    json.loads((tmp_path / "results.json").read_text(), parse_constant=lambda c: pytest.fail(c))


# --------------------------------------------------------------------------- atomic writes and fallbacks


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "results.json")


def test_write_that_fails_validation_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "results.json"
    good = results.write(sample_run(), path)
    bad = copy.deepcopy(good)
    bad["tests"][0]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        results.write_json(bad, path)
    assert json.loads(path.read_text()) == good
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("poison", [{1, 2}, float("nan")], ids=["unserialisable", "nan"])
def test_write_that_fails_midway_leaves_no_partial_file(tmp_path, poison):
    path = tmp_path / "results.json"
    good = results.write(sample_run(), path)
    bad = copy.deepcopy(good)
    bad["tests"][-1]["extra_data"]["late"] = poison  # passes the schema, fails while serialising
    with pytest.raises((TypeError, ValueError)):
        results.write_json(bad, path)
    assert json.loads(path.read_text()) == good
    assert _leftovers(tmp_path) == []


def test_fallback_and_error_documents_are_valid(tmp_path):
    path = tmp_path / "deep" / "folder" / "results.json"
    results.write_fallback(path)
    doc = json.loads(path.read_text())
    results.validate(doc)
    assert doc["score"] == 0 and doc["tests"][0]["name"] == "Autograder error"
    assert "not a problem with your code" in doc["tests"][0]["output"]
    err = results.error_document("(RuntimeError)", "Traceback: boom")
    results.validate(err)
    assert [t["visibility"] for t in err["tests"]] == ["visible", "hidden"]
    assert "boom" not in err["tests"][0]["output"] and "boom" in err["tests"][1]["output"]


def test_grader_crash_during_grading_leaves_a_valid_error_document(tmp_path, monkeypatch, capsys):
    from grader import runner
    from grader.commands import grade_to_file

    def crash(*args, **kwargs):
        raise RuntimeError("runner exploded")

    monkeypatch.setattr(runner, "run", crash)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "linear_classifier.py").write_text(reference_source())
    path = tmp_path / "results.json"
    assert grade_to_file(sub, path, parts=["linear_classifier"], checks=["predict_contract"]) is None
    doc = json.loads(path.read_text())
    results.validate(doc)
    assert doc["tests"][0]["name"] == "Autograder error" and "RuntimeError" in doc["output"]
    assert "runner exploded" in doc["tests"][1]["output"] and doc["tests"][1]["visibility"] == "hidden"
    assert "runner exploded" in capsys.readouterr().err


# --------------------------------------------------------------------------- golden files


def normalise(doc: dict) -> dict:
    """Drop what changes from run to run: times, measured figures, data locations, temporary paths."""
    doc = copy.deepcopy(doc)
    if "execution_time" in doc:
        doc["execution_time"] = 0
    doc["output"] = re.sub(r"(?m)^Data: .*$", "Data: <data>", doc["output"])
    for t in doc["tests"]:
        if "seconds" in t.get("extra_data", {}):
            t["extra_data"]["seconds"] = 0
        out = t.get("output", "")
        out = re.sub(r"(?m)^Measured .*$", "Measured <timings>", out)
        out = re.sub(r"(?m)^Test accuracy of (\S+): .*$", r"Test accuracy of \1: <measured>", out)
        out = re.sub(r"/tmp/[^\s'\"]+", "<tmp>", out)
        t["output"] = out
    return doc


def compare_golden(name: str, doc: dict) -> None:
    results.validate(doc)
    got = normalise(doc)
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert path.is_file(), f"{path} is missing: run UPDATE_GOLDEN=1 pytest tests/test_results.py -k golden"
    expected = json.loads(path.read_text())
    results.validate(expected)
    assert got == expected, f"results differ from {path.name}; if intended, regenerate (see this file's docstring)"


@pytest.mark.parametrize("name", ["reference", "stubs", "syntax_error"])
def test_golden_results(grade, reference_models, name):
    if name == "reference":
        files = {"linear_classifier.py": SOLUTIONS / "linear_classifier.py", **reference_models}
    elif name == "stubs":
        files = {"linear_classifier.py": ASSIGNMENT / "linear_classifier.py"}
    else:
        files = {"linear_classifier.py": mutate(reference_source(), "def sample_batch(", "def sample_batch(:")}
    g = grade(files, parts=["linear_classifier"], checks=GOLDEN_CHECKS)
    assert len(g.by_check()) == len(GOLDEN_CHECKS)
    compare_golden(name, g.doc)


def test_golden_files_validate_against_the_schema():
    names = sorted(p.name for p in GOLDEN.glob("*.json"))
    assert names == ["reference.json", "stubs.json", "syntax_error.json"]
    for p in GOLDEN.glob("*.json"):
        results.validate(json.loads(p.read_text()))
