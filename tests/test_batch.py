"""grade-all: many submissions, graded in parallel, one results.json each and a CSV; nothing stops the batch."""
from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
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
    if (sub / "hog").exists():  # memory actually touched, and held
        hog = b"x" * (400 * 2**20)
        time.sleep(60)
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
        assert reader.fieldnames[:8] == ["submission", "name", "email", "sid", "score", "max_score", "status",
                                         "seconds"]
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


# ----------------------------------------------------------------------------- the class report

EXPORT_METADATA = """\
submission_1001:
  :submitters:
  - :name: Ada Lovelace
    :sid: '501'
    :email: ada@example.edu
  - :name: Charles Babbage
    :sid: '502'
    :email: charles@example.edu
  :created_at: 2026-11-30 23:58:01.000000000 -08:00
  :score: 12.0
submission_1002:
  :submitters:
  - :name: Grace Hopper
    :sid: '503'
    :email: grace@example.edu
  :created_at: 2026-11-30 22:10:00.000000000 -08:00
submission_1003:
  :submitters:
  - :name: Alan Turing
    :sid: '504'
    :email: alan@example.edu
submission_1004:
  :submitters:
  - :name: Edsger Dijkstra
    :sid: '505'
    :email: edsger@example.edu
"""
REPORT_CHECKS = ["svm_naive_data_term", "softmax_naive_data_term", "predict_contract", "public_svm_grid"]


@pytest.fixture(scope="module")
def graded_export(tmp_path_factory):
    """A Gradescope export (a group submission included) graded by grade-all with the real grader."""
    from conftest import ASSIGNMENT, mutate, reference_source

    root = tmp_path_factory.mktemp("report")
    export = root / "export"
    ref = reference_source()
    subs = {"submission_1001": ref,                                                   # the group: full marks
            "submission_1002": (ASSIGNMENT / "linear_classifier.py").read_text(),     # untouched stubs
            "submission_1003": mutate(ref, "loss /= num_train", "pass"),              # a bug in the SVM loss
            "submission_1004": ref + "\ndef broken(:\n"}                             # a syntax error
    for name, text in subs.items():
        _folder(export, name, {"linear_classifier.py": text})
    (export / "submission_metadata.yml").write_text(EXPORT_METADATA)
    output = root / "regrade"
    argv = ["grade-all", str(export), "--output", str(output), "--jobs", "2"]
    for c in REPORT_CHECKS:
        argv += ["--check", c]
    code = cli.main(argv)
    return export, output, code, argv


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_every_row_is_a_student_with_a_column_per_check(graded_export):
    export, output, code, _ = graded_export
    assert code == 0
    rows = _csv_rows(output / "scores.csv")
    assert sorted(r["name"] for r in rows) == ["Ada Lovelace", "Alan Turing", "Charles Babbage", "Edsger Dijkstra",
                                               "Grace Hopper"]
    group = [r for r in rows if r["submission"] == "submission_1001"]
    assert {r["email"] for r in group} == {"ada@example.edu", "charles@example.edu"}
    assert len({(r["score"], r["max_score"]) for r in group}) == 1  # both submitters get the group's score
    check_columns = [k for k in rows[0] if k.split(" ")[-1] in REPORT_CHECKS]
    assert len(check_columns) == len(REPORT_CHECKS)
    assert "part:linear_classifier" in rows[0]
    for r in rows:  # the per-check points add up to the total
        doc = json.loads((output / r["submission"] / "results.json").read_text())
        points = {t["extra_data"]["check"].split(".", 1)[1]: t["score"] for t in doc["tests"] if "check" in t.get(
            "extra_data", {})}
        for column in check_columns:
            assert float(r[column]) == pytest.approx(points[column.split(" ")[-1]]), (r["submission"], column)
        assert float(r["score"]) == pytest.approx(sum(points.values()))
    long = _csv_rows(output / "results_long.csv")
    assert len(long) == 5 * len(REPORT_CHECKS)
    bug = next(x for x in long if x["submission"] == "submission_1003" and x["check"].endswith("svm_naive_data_term"))
    assert bug["status"] == "failed" and "#" in bug["message_class"] and bug["name"] == "Alan Turing"
    upload = _csv_rows(output / "gradescope_scores.csv")
    assert {u["Email"] for u in upload} >= {"ada@example.edu", "grace@example.edu"}


def test_report_pass_rates_are_those_of_the_results_files(graded_export):
    _, output, _, _ = graded_export
    recomputed: dict[str, list[str]] = {}
    for folder in sorted(p for p in output.iterdir() if (p / "results.json").is_file()):
        for t in json.loads((folder / "results.json").read_text())["tests"]:
            if "check" in t.get("extra_data", {}):
                recomputed.setdefault(t["number"], []).append(t["extra_data"]["outcome"])
    text = (output / "report.md").read_text()
    table = {}
    for line in text.split("## Checks\n", 1)[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and re.match(r"\d", cells[0]):
            table[cells[0]] = cells
    assert set(table) == set(recomputed)
    for number, outcomes in recomputed.items():
        for i, outcome in enumerate(("passed", "failed", "skipped", "error"), start=2):
            assert table[number][i] == f"{outcomes.count(outcome) / len(outcomes):.0%}", (number, outcome)
    assert "Alan Turing" in text  # the students behind the most common failures are named
    html_text = (output / "report.html").read_text()
    assert html_text.count("data:image/png;base64,") == 2 and "<table>" in html_text


def test_resume_keeps_what_this_grader_version_graded_and_merge_keeps_the_other_checks(graded_export, capsys):
    export, output, _, argv = graded_export
    before = (output / "submission_1003" / "results.json").read_text()
    assert cli.main(argv + ["--resume"]) == 0
    assert "4 submissions already graded by this grader version: kept" in capsys.readouterr().out
    assert (output / "submission_1003" / "results.json").read_text() == before
    merged_argv = ["grade-all", str(export), "--output", str(output), "--jobs", "2", "--check", "predict_contract",
                   "--merge"]
    assert cli.main(merged_argv) == 0
    doc = json.loads((output / "submission_1003" / "results.json").read_text())
    assert sorted(t["extra_data"]["check"].split(".")[1] for t in doc["tests"] if "check" in t.get("extra_data", {})) \
        == sorted(REPORT_CHECKS)
    assert doc["score"] == pytest.approx(sum(t["score"] for t in doc["tests"]))


CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (.ci/run installs Debian's; it could not be installed)")
def test_the_html_report_shows_its_charts_in_a_real_browser(graded_export, tmp_path):
    """Opened offline in headless chromium, the report's screenshot shows both charts: the blue of
    the score histogram and the green and red of the outcome bars."""
    import matplotlib.image as mpimg
    import numpy as np

    _, output, _, _ = graded_export
    shot = tmp_path / "report.png"
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=1200,2400", f"--screenshot={shot}", (output / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.is_file(), done.stderr[-2000:]
    pixels = (mpimg.imread(shot)[:, :, :3] * 255).round().astype(int)

    def count(rgb: tuple[int, int, int]) -> int:
        return int((np.abs(pixels - np.array(rgb)).max(axis=2) <= 6).sum())

    assert count((0x3B, 0x6E, 0xA8)) > 2000, "the score histogram is not on the page"
    assert count((0x4A, 0x9A, 0x5B)) > 2000 and count((0xC0, 0x50, 0x4D)) > 2000, "the outcome bars are missing"


def test_a_grading_that_uses_too_much_memory_is_stopped_and_the_others_go_on(tmp_path, fake_grader, monkeypatch):
    monkeypatch.setenv("GRADER_GRADE_ALL_TIMEOUT", "30")
    export = tmp_path / "export"
    _folder(export, "alice", {"linear_classifier.py": "x = 1\n"})
    _folder(export, "hog", {"hog": ""})
    output = tmp_path / "regrade"
    start = time.monotonic()
    code = cli.main(["grade-all", str(export), "--output", str(output), "--jobs", "2", "--memory-mb", "200"])
    assert code == 1 and time.monotonic() - start < 25
    rows = _rows(output)
    assert rows["alice"]["status"] == "graded"
    assert rows["hog"]["status"] == "grader error"
    assert "more than the 200 MB allowed per grading" in (output / "hog" / "grader.log").read_text()
