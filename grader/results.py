"""The result model and the one writer of Gradescope's ``results.json``.

Four outcomes are kept apart (``Outcome``); Gradescope knows only passed/failed, so the
outcome also travels in each test's ``extra_data`` and in its output text. Every file is
validated against ``schema/results.schema.json`` and written atomically; a fallback file
is written before grading starts so even a crash of the grader leaves a valid result.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

SCHEMA_PATH = Path(__file__).with_name("schema") / "results.schema.json"
MAX_TEST_OUTPUT = 20_000
MAX_TOP_OUTPUT = 50_000


class Outcome(str, Enum):
    PASSED = "passed"      # full or partial credit earned
    FAILED = "failed"      # the submission is wrong (student's fault)
    ERROR = "error"        # the grader failed (not the student's fault)
    SKIPPED = "skipped"    # not run: a dependency failed, or the time budget ran out


@dataclass
class CheckResult:
    key: str
    title: str
    number: str
    max_score: float
    score: float
    outcome: Outcome
    message: str = ""              # shown to the student
    student_output: str = ""       # what the student's code printed
    staff_message: str = ""        # grader tracebacks; never shown to students
    visibility: str = "visible"
    seconds: float = 0.0
    tags: tuple[str, ...] = ()
    leaderboard: dict[str, Any] | None = None
    items: dict[str, str] = field(default_factory=dict)  # per-function verdicts of a partly failed check


@dataclass
class RunResult:
    checks: list[CheckResult] = field(default_factory=list)
    output: str = ""
    execution_time: float = 0.0
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)  # the datasets some check asked for, in order
    sandbox: str = ""  # how student code was run (the session backend and its isolation), for the table

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 4)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 4)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 60] + f"\n... [{len(text) - limit + 60} more characters cut]"


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


def to_json(run: RunResult) -> dict[str, Any]:
    tests = []
    for c in run.checks:
        label = {Outcome.PASSED: "", Outcome.FAILED: "", Outcome.ERROR: "[grader error] ",
                 Outcome.SKIPPED: "[not run] "}[c.outcome]
        text = (label if not c.message.startswith("Not run") else "") + c.message  # no "[not run] Not run:"
        if c.student_output.strip():
            text += "\n\nYour code printed:\n" + _clip(c.student_output, 4000)
        entry: dict[str, Any] = {
            "name": c.title,
            "status": "passed" if c.outcome == Outcome.PASSED else "failed",
            "score": round(_finite(c.score), 4),
            "max_score": round(_finite(c.max_score), 4),
            "output": _clip(text.strip(), MAX_TEST_OUTPUT),
            "visibility": c.visibility,
            "extra_data": {"outcome": c.outcome.value, "check": c.key, "seconds": round(c.seconds, 3)},
        }
        if c.items:
            entry["extra_data"]["items"] = dict(c.items)
        if c.number:
            entry["number"] = c.number
        if c.tags:
            entry["tags"] = list(c.tags)
        tests.append(entry)
        if c.staff_message:
            tests.append({
                "name": f"Staff only: grader error in '{c.title}'",
                "status": "failed", "score": 0, "max_score": 0,
                "output": _clip(c.staff_message, MAX_TEST_OUTPUT), "visibility": "hidden",
                "extra_data": {"outcome": "error", "check": c.key},
            })
    doc: dict[str, Any] = {
        "score": round(sum(_finite(c.score) for c in run.checks), 4),  # one NaN must not zero the total
        "execution_time": round(run.execution_time, 3),
        "output": _clip(run.output, MAX_TOP_OUTPUT),
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if run.leaderboard:
        doc["leaderboard"] = run.leaderboard
    return doc


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return cast("dict[str, Any]", json.loads(SCHEMA_PATH.read_text()))


def validate(doc: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when ``doc`` is not a valid results file."""
    import jsonschema

    jsonschema.validate(doc, schema())


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: Any) -> Any:
    """``value`` with every string made encodable as UTF-8: text from student code may hold lone
    surrogates (from a bytes decode with surrogateescape, say), which strict JSON parsers refuse.
    Each such code point becomes U+FFFD; dict keys are cleaned too."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_text(v) for v in value]
    return value


def write_json(doc: dict[str, Any], path: Path) -> None:
    """Validate, then write atomically (temporary file in the same folder, then rename). Every string
    is UTF-8 clean first (see :func:`clean_text`), so the file always decodes as strict UTF-8 JSON."""
    doc = clean_text(doc)
    validate(doc)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2, allow_nan=False)  # NaN/Infinity are not JSON: refuse them
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write(run: RunResult, path: Path) -> dict[str, Any]:
    doc = to_json(run)
    write_json(doc, path)
    return doc


def submission_problem_document(message: str) -> dict[str, Any]:
    """A valid results file for a submission that could not be graded at all (files missing, an
    unreadable archive): zero points, and what to fix, shown to the student."""
    return {"score": 0, "output": message, "stdout_visibility": "hidden",
            "tests": [{"name": "Submission files", "status": "failed", "score": 0, "max_score": 0,
                       "output": message, "extra_data": {"outcome": "failed"}}]}


def error_document(message: str, staff_detail: str = "") -> dict[str, Any]:
    """A valid results file saying the autograder itself failed (never the student's fault)."""
    tests = [{
        "name": "Autograder error",
        "status": "failed", "score": 0, "max_score": 0,
        "output": ("The autograder could not finish grading this submission. This is not a problem with "
                   "your code; the course staff can see the details. " + message).strip(),
        "visibility": "visible", "extra_data": {"outcome": "error"},
    }]
    if staff_detail:
        tests.append({"name": "Staff only: autograder error detail", "status": "failed", "score": 0,
                      "max_score": 0, "output": _clip(staff_detail, MAX_TEST_OUTPUT), "visibility": "hidden",
                      "extra_data": {"outcome": "error"}})
    return {"score": 0, "output": "Autograder error: " + message, "stdout_visibility": "hidden", "tests": tests}


def write_fallback(path: Path, message: str = "grading did not complete (the grader stopped early).") -> None:
    write_json(error_document(message), path)
