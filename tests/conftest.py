"""Shared fixtures: grade a submission built on the fly and read its results like Gradescope does."""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
ASSIGNMENT = REPO / "assignment"
SHARED_DATA = REPO.parent / "shared" / "data"


@dataclass
class Graded:
    """A results.json as written by the grader, indexed by check id."""

    doc: dict[str, Any]
    path: Path

    @property
    def tests(self) -> list[dict[str, Any]]:
        return [t for t in self.doc["tests"] if t.get("visibility") != "hidden" or "check" in t.get("extra_data", {})
                and not t["name"].startswith("Staff only")]

    def by_check(self) -> dict[str, dict[str, Any]]:
        out = {}
        for t in self.doc["tests"]:
            key = t.get("extra_data", {}).get("check")
            if key and not t["name"].startswith("Staff only"):
                out[key.split(".", 1)[1]] = t
        return out

    def outcome(self, check_id: str) -> str:
        return self.by_check()[check_id]["extra_data"]["outcome"]

    def output(self, check_id: str) -> str:
        return self.by_check()[check_id]["output"]

    def not_passed(self) -> set[str]:
        return {k for k, t in self.by_check().items() if t["extra_data"]["outcome"] != "passed"}

    def outcomes(self) -> dict[str, str]:
        return {k: t["extra_data"]["outcome"] for k, t in self.by_check().items()}

    @property
    def score(self) -> float:
        return self.doc["score"]


def assert_full_marks(g: Graded) -> None:
    """Every check passed and the score is the sum of every check's points."""
    assert g.not_passed() == set(), {k: g.output(k) for k in g.not_passed()}
    assert g.score == sum(t["max_score"] for t in g.doc["tests"]) > 0


def assert_untouched_stubs(g: Graded, *, not_about_code: tuple[str, ...] = ()) -> None:
    """Zero points; each check failed saying the function is not written yet, or was skipped
    naming what to fix first. ``not_about_code`` lists checks that fail for another reason
    (e.g. a saved model that a stub cannot produce)."""
    assert g.score == 0
    outcomes = g.outcomes()
    assert set(outcomes.values()) <= {"failed", "skipped"}, outcomes
    for check_id, outcome in outcomes.items():
        text = g.output(check_id)
        if outcome == "failed" and check_id not in not_about_code:
            assert "not implemented yet" in text, (check_id, text)
        if outcome == "skipped":
            assert "fix" in text and "first" in text, (check_id, text)


def assert_loses_exactly(g: Graded, checks, lost: set[str], phrase: str, *, first: str | None = None,
                         anywhere: bool = False) -> None:
    """A wrong submission graded on ``checks`` loses exactly the checks ``lost`` (failed or skipped),
    the score drops by exactly their points, and a failure message names the bug: the message of
    ``first``, else of the first failed check in results order, or with ``anywhere`` of any failed
    check among ``lost``."""
    by_check = g.by_check()
    assert set(by_check) == set(checks)
    outcomes = g.outcomes()
    report = {k: (outcomes[k], g.output(k)[:400]) for k in g.not_passed() | lost}
    assert g.not_passed() == lost, report
    assert {outcomes[k] for k in lost} <= {"failed", "skipped"}, report
    if anywhere:
        messages = " ".join(g.output(k) for k in lost if outcomes[k] == "failed")
        assert phrase in messages, messages[:1000]
    else:
        first = first or next(k for k in by_check if outcomes[k] == "failed")
        assert phrase in g.output(first), (first, g.output(first))
    points = {k: t["max_score"] for k, t in by_check.items()}
    assert sum(points[k] for k in lost) > 0
    assert g.score == pytest.approx(sum(points.values()) - sum(lost_points(by_check[k]) for k in lost), abs=1e-3)


def lost_points(test: dict[str, Any]) -> float:
    """The points a check that did not pass loses: all of them, or for a check that judges several
    functions one by one (``extra_data.items``) exactly the shares of the items that did not pass."""
    items = test.get("extra_data", {}).get("items")
    if not items:
        assert test["score"] == 0, test
        return test["max_score"]
    share = test["max_score"] / len(items)
    assert any(v != "passed" for v in items.values()), test
    # results.json rounds scores to 4 decimals
    assert test["score"] == pytest.approx(share * sum(v == "passed" for v in items.values()), abs=1e-4), test
    return share * sum(v != "passed" for v in items.values())


def write_submission(folder: Path, files: dict[str, str | bytes | Path]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        dest = folder / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, dest)
        elif isinstance(content, bytes):
            dest.write_bytes(content)
        else:
            dest.write_text(content)
    return folder


def grade_folder(folder: Path, results: Path, *, parts: list[str] | None = None,
                 checks: list[str] | None = None, budget: float | None = None) -> Graded:
    from grader import results as res
    from grader.commands import grade_to_file

    grade_to_file(folder, results, parts=parts, checks=checks, budget=budget)
    doc = json.loads(results.read_text())
    res.validate(doc)  # every results file a test produces must be schema-valid
    return Graded(doc, results)


@pytest.fixture
def grade(tmp_path: Path):
    """grade(files, checks=[...]) -> Graded; files maps submission file names to contents."""
    counter = iter(range(1000))

    def _grade(files: dict[str, str | bytes | Path], *, parts: list[str] | None = None,
               checks: list[str] | None = None, budget: float | None = None) -> Graded:
        n = next(counter)
        folder = write_submission(tmp_path / f"submission{n}", files)
        return grade_folder(folder, tmp_path / f"results{n}.json", parts=parts, checks=checks, budget=budget)

    return _grade


def reference_source(module: str = "linear_classifier") -> str:
    return (SOLUTIONS / f"{module}.py").read_text()


def mutate(source: str, old: str, new: str, count: int = 1) -> str:
    """Replace ``old`` by ``new`` in ``source``; fails loudly when ``old`` is not there."""
    assert source.count(old) >= count, f"mutation anchor not found: {old!r}"
    return source.replace(old, new, count)


@pytest.fixture(scope="session")
def reference_submission():
    """The folder ``python -m grader demo`` grades: every reference module and artifact
    (artifacts are built once per machine and cached by grader.demo)."""
    from grader.demo import build_submission

    folder = build_submission()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def reference_models(reference_submission: Path) -> dict[str, Path]:
    """The reference's saved Part 1 models."""
    return {name: reference_submission / name for name in ("svm_best_model.pt", "softmax_best_model.pt")}


# solution lines: a deliberately simple marker scanner, independent of grader.release,
# used to prove that generated files and bundles leak no reference code
BEGIN_MARKER = re.compile(r"^\s*#+\s*BEGIN SOLUTION")
END_MARKER = re.compile(r"^\s*#+\s*END SOLUTION")


def code_texts(folder: Path):
    """(relative name, list of code lines) of every .py and every notebook's code cells."""
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if path.suffix == ".py":
            yield path.relative_to(folder).as_posix(), path.read_text(encoding="utf-8").splitlines()
        elif path.suffix == ".ipynb":
            nb = json.loads(path.read_text(encoding="utf-8"))
            lines = []
            for cell in nb.get("cells", []):
                if cell.get("cell_type") == "code":
                    src = cell.get("source", "")
                    lines += ("".join(src) if isinstance(src, list) else src).splitlines()
            yield path.relative_to(folder).as_posix(), lines


def reference_body_lines(folder: Path, min_len: int = 25) -> set[str]:
    """Non-trivial lines between solution markers that appear nowhere outside them.

    A deliberately simple scanner, independent of grader.release. A line that is
    also written outside the markers (say in a docstring showing how a function
    is called) is given to students on purpose, so it is not a secret.
    """
    inside: set[str] = set()
    outside: list[str] = []
    for _, lines in code_texts(folder):
        in_block = False
        for line in lines:
            if BEGIN_MARKER.match(line):
                in_block = True
            elif END_MARKER.match(line):
                in_block = False
            elif in_block:
                inside.add(line.strip())
            else:
                outside.append(line)
    given = "\n".join(outside)
    return {l for l in inside if len(l) > min_len and not l.startswith("#") and l not in given}
