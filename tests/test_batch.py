"""grade-all: many submissions, graded in parallel, one results.json each and a CSV; nothing stops the batch."""
from __future__ import annotations

import csv
import json
import re
import shutil
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from grader import batch, cli

ROOT = Path(__file__).resolve().parents[1]

# Stands in for `python -m grader grade`: behaves according to marker files in the submission.
FAKE_GRADER = textwrap.dedent('''\
    import json, subprocess, sys, time
    from pathlib import Path

    sub, results = Path(sys.argv[1]), Path(sys.argv[2])
    if (sub / "hang").exists():
        # a grandchild too: the whole process group must go on timeout
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        time.sleep(120)
    if (sub / "crash").exists():
        print("grader crashed", file=sys.stderr)
        sys.exit(3)
    if (sub / "garbage").exists():
        results.write_text("{not json")
        sys.exit(0)
    if (sub / "linear_classifier.py").exists():
        tests = [{"name": "svm", "score": 30.0, "max_score": 40.0},
                 {"name": "softmax", "score": 4.0, "max_score": 10.0}]
    else:
        tests = [{"name": "Submission files", "status": "failed", "score": 0, "max_score": 0,
                  "output": "linear_classifier.py is missing"}]
    results.write_text(json.dumps({"tests": tests}))
''')


@pytest.fixture
def fake_grader(tmp_path, monkeypatch):
    script = tmp_path / "fake_grade.py"
    script.write_text(FAKE_GRADER)
    calls = []

    def command(sub, results, args):
        calls.append(Path(sub))
        return [sys.executable, str(script), str(sub), str(results)]

    monkeypatch.setattr(batch, "_grade_command", command)
    monkeypatch.setenv("GRADER_GRADE_ALL_TIMEOUT", "3")
    return calls


def _folder(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for rel, text in files.items():
        (folder / rel).write_text(text)
    return folder


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for rel, text in files.items():
            zf.writestr(rel, text)
    return path


def _rows(output: Path) -> dict[str, dict[str, str]]:
    with open(output / "scores.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["submission", "score", "max_score", "status", "seconds"]
        return {row["submission"]: row for row in reader}


def test_grade_all_mixed_folder(tmp_path, fake_grader, capsys):
    export = tmp_path / "export"
    _folder(export, "alice_123", {"linear_classifier.py": "x = 1\n"})
    _folder(export, "bob_456", {"notes.txt": "forgot the code\n"})
    _zip(export / "carol_789.zip", {"carol/linear_classifier.py": "x = 1\n"})  # zipped inside a folder
    _folder(export, "dave_crash", {"crash": ""})
    _folder(export, "erin_hang", {"hang": ""})
    _folder(export, "frank_garbage", {"garbage": ""})
    (export / "grace.zip").write_bytes(b"this is not a zip")
    (export / "submission_metadata.yml").write_text("not a submission\n")
    (export / ".DS_Store").mkdir()
    output = tmp_path / "regrade"

    start = time.monotonic()
    code = cli.main(["grade-all", str(export), "--output", str(output), "--jobs", "3"])
    elapsed = time.monotonic() - start
    assert code == 1  # some submissions could not be graded
    assert elapsed < 20, "a hanging submission must not hold the batch past its limit"

    out = capsys.readouterr().out
    progress = [l for l in out.splitlines() if l.startswith("[")]
    assert len(progress) == 7
    assert sorted(int(re.match(r"\[(\d+)/7\] ", l).group(1)) for l in progress) == list(range(1, 8))
    assert "alice_123: 34.0/50.0" in out
    assert "bob_456: 0.0/0.0" in out
    assert re.search(r"erin_hang: grader error \(timed out after 3 s\)", out)

    rows = _rows(output)
    assert sorted(rows) == ["alice_123", "bob_456", "carol_789", "dave_crash", "erin_hang", "frank_garbage", "grace"]
    assert (rows["alice_123"]["score"], rows["alice_123"]["max_score"], rows["alice_123"]["status"]) == (
        "34", "50", "graded")
    assert rows["carol_789"]["score"] == "34" and rows["carol_789"]["status"] == "graded"
    assert rows["bob_456"]["score"] == "0" and rows["bob_456"]["status"] == "graded"
    for name in ("dave_crash", "erin_hang", "frank_garbage"):
        assert rows[name]["status"] == "grader error", name
        assert rows[name]["score"] == ""
    assert rows["grace"]["status"] == "invalid zip"
    grace = json.loads((output / "grace" / "results.json").read_text())
    assert "could not be unpacked" in grace["tests"][0]["output"] and grace["score"] == 0
    assert all(float(r["seconds"]) >= 0 for r in rows.values())

    for name in ("alice_123", "bob_456", "carol_789"):
        doc = json.loads((output / name / "results.json").read_text())
        assert doc["tests"]
    assert "grader crashed" in (output / "dave_crash" / "grader.log").read_text()
    assert "no results.json written (exit code 3)" in (output / "dave_crash" / "grader.log").read_text()
    # the zip was graded from its unpacked folder, the others in place
    assert export / "alice_123" in fake_grader
    assert any(p.name == "carol" for p in fake_grader)


def test_output_inside_the_folder_is_not_a_submission(tmp_path, fake_grader):
    export = tmp_path / "export"
    _folder(export, "alice", {"linear_classifier.py": ""})
    output = export / "regrade"
    assert cli.main(["grade-all", str(export), "--output", str(output), "--jobs", "1"]) == 0
    assert cli.main(["grade-all", str(export), "--output", str(output), "--jobs", "1"]) == 0
    assert sorted(_rows(output)) == ["alice"]


def test_folder_and_zip_with_the_same_name_are_both_kept(tmp_path):
    export = tmp_path / "export"
    _folder(export, "alice", {"a.py": ""})
    _zip(export / "alice.zip", {"a.py": ""})
    assert [s.name for s in batch.find_submissions(export)] == ["alice", "alice.zip"]


def test_unsafe_zip_is_refused(tmp_path, fake_grader):
    export = tmp_path / "export"
    export.mkdir()
    _zip(export / "evil.zip", {"../../escaped.py": "x = 1\n"})
    assert cli.main(["grade-all", str(export), "--output", str(tmp_path / "out")]) == 1
    assert _rows(tmp_path / "out")["evil"]["status"] == "invalid zip"
    assert not list(tmp_path.rglob("escaped.py"))


def test_empty_folder_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["grade-all", str(tmp_path / "empty"), "--output", str(tmp_path / "out")]) == 2
    assert "no submission" in capsys.readouterr().err
    assert cli.main(["grade-all", str(tmp_path / "nowhere")]) == 2


def test_grade_command_passes_parts_and_data_root(tmp_path):
    args = cli._parser().parse_args(
        ["grade-all", "x", "--part", "linear_classifier", "--data-root", str(tmp_path)]
    )
    cmd = batch._grade_command(Path("/s"), Path("/r.json"), args)
    assert cmd[:4] == [sys.executable, "-m", "grader", "grade"]
    assert cmd[4:] == ["--submission", "/s", "--results", "/r.json", "--part", "linear_classifier",
                       "--data-root", str(tmp_path.resolve())]
    cpu = batch._grade_command(Path("/s"), Path("/r.json"), cli._parser().parse_args(["grade-all", "x", "--device", "cpu"]))
    assert cpu[-2:] == ["--device", "cpu"]
    with pytest.raises(SystemExit):  # argparse names the choices
        cli._parser().parse_args(["grade", "--submission", "s", "--results", "r", "--device", "tpu"])


@pytest.mark.skipif(not (ROOT / "grader" / "commands.py").exists(), reason="the grading core is not there yet")
def test_grade_all_with_the_real_grader(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "empty").mkdir()
    _folder(export, "syntax_error", {"linear_classifier.py": "def broken(:\n"})
    assignment = ROOT / "assignment"
    if assignment.is_dir():
        shutil.copytree(assignment, export / "stubs", ignore=shutil.ignore_patterns("__pycache__"))
    output = tmp_path / "regrade"
    code = cli.main(["grade-all", str(export), "--output", str(output), "--jobs", "2"])
    rows = _rows(output)
    assert sorted(rows) == sorted(p.name for p in export.iterdir())
    for name in rows:
        doc = json.loads((output / name / "results.json").read_text())
        assert isinstance(doc.get("tests"), list) and doc["tests"], name
    assert code == (0 if all(r["status"] == "graded" for r in rows.values()) else 1)


def test_grade_all_twenty_mixed_submissions(tmp_path):
    """Correct, buggy, broken and hostile submissions side by side: 20 results and a CSV row each."""
    from conftest import ASSIGNMENT, SOLUTIONS, mutate, reference_source

    ref = reference_source()
    loop = mutate(ref, "def svm_loss_vectorized(W, X, y, reg):",
                  "def svm_loss_vectorized(W, X, y, reg):\n    while True:\n        pass\n\n\ndef _unused(W, X, y, reg):")
    subs = {
        "correct_a": {"linear_classifier.py": ref},
        "correct_b": {"linear_classifier.py": ref, "notes.txt": "extra file"},
        "wrong_case": {"Linear_Classifier.py": ref},
        "duplicate_name": {"linear_classifier (1).py": ref},
        "nested": {"hw/linear_classifier.py": ref},
        "stubs": {"linear_classifier.py": (ASSIGNMENT / "linear_classifier.py").read_text()},
        "forgot_1_over_N": {"linear_classifier.py": mutate(ref, "loss /= num_train", "pass")},
        "syntax_error": {"linear_classifier.py": ref + "\ndef broken(:\n"},
        "import_error": {"linear_classifier.py": "import not_a_module\n" + ref},
        "raises_at_import": {"linear_classifier.py": "raise RuntimeError('boom')\n" + ref},
        "empty_file": {"linear_classifier.py": ""},
        "missing_file": {"README.txt": "forgot the code"},
        "infinite_loop": {"linear_classifier.py": loop},
        "exit_at_import": {"linear_classifier.py": "import sys\nsys.exit(0)\n" + ref},
        "os_exit_at_import": {"linear_classifier.py": "import os\nos._exit(0)\n" + ref},
        "forge_results": {"linear_classifier.py": "import pathlib\ntry:\n    pathlib.Path('/autograder/results/"
                                                  "results.json').write_text('{\"score\": 100}')\nexcept OSError:\n"
                                                  "    pass\nprint('{\"score\": 100}')\n" + ref},
        "huge_output": {"linear_classifier.py": "print('x' * 50_000_000)\n" + ref},
        "not_utf8": {"linear_classifier.py": "x = 1\n"},
        "malformed_notebook": {"linear_classifier.ipynb": "{not json"},
    }
    export = tmp_path / "export"
    for name, files in subs.items():
        folder = export / name
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
    (export / "not_utf8" / "linear_classifier.py").write_bytes(b"\xff\xfe bad bytes\n")
    _zip(export / "zipped.zip", {"linear_classifier.py": (SOLUTIONS / "linear_classifier.py").read_text()})
    assert len(list(export.iterdir())) == 20
    output = tmp_path / "regrade"
    checks = ["svm_naive_data_term", "svm_vectorized_data_term", "predict_contract"]
    argv = ["grade-all", str(export), "--output", str(output), "--jobs", "2", "--part", "linear_classifier"]
    for c in checks:
        argv += ["--check", c]
    code = cli.main(argv)
    rows = _rows(output)
    assert len(rows) == 20 and code == 0
    assert all(r["status"] == "graded" for r in rows.values()), rows
    full = float(rows["correct_a"]["max_score"])
    assert full > 0
    for name in ("correct_a", "correct_b", "wrong_case", "duplicate_name", "nested", "zipped", "forge_results"):
        assert float(rows[name]["score"]) == full, name
    for name in ("stubs", "syntax_error", "import_error", "raises_at_import", "empty_file", "missing_file",
                 "exit_at_import", "os_exit_at_import", "huge_output", "not_utf8", "malformed_notebook"):
        assert float(rows[name]["score"]) == 0, name
    assert 0 < float(rows["forgot_1_over_N"]["score"]) < full
    assert 0 < float(rows["infinite_loop"]["score"]) < full
    for name in rows:
        doc = json.loads((output / name / "results.json").read_text())
        assert doc["tests"], name
