"""``python -m grader grade-all FOLDER``: regrade many submissions locally.

Every sub-folder of FOLDER is one submission (a Gradescope export has one
folder per submission), and so is every ``.zip`` file. When FOLDER is
Gradescope's "Export Submissions", its ``submission_metadata.yml`` names the
submitters of each folder, and every row of the scores is a student. Each
submission is graded by its own ``python -m grader grade`` subprocess, several
at a time; the batch writes::

    OUTPUT/<name>/results.json   what Gradescope would have received
    OUTPUT/<name>/grader.log     the grading process's stdout and stderr
    OUTPUT/<name>/outcome.json   status, score, seconds and the grader version that graded it
    OUTPUT/scores.csv            one row per student: total, per part, per check
    OUTPUT/results_long.csv      one row per student and check (status, points, message class)
    OUTPUT/gradescope_scores.csv the shape Gradescope's score upload takes
    OUTPUT/report.md, report.html the class report (see grader.report)

Each submission's files are written as it finishes, and the CSVs after each one,
so a crash or a kill loses nothing already graded. ``--resume`` skips the
submissions already graded by the same grader version (the hash of the grader's
code and the reference); ``--merge`` with ``--check``/``--part`` regrades only
those checks and merges them into each submission's earlier results.

A subprocess that crashes, writes no valid results, or runs past the
per-submission wall limit (15 minutes, or $GRADER_GRADE_ALL_TIMEOUT seconds)
gets the status "grader error" and the batch goes on. A zip that cannot be
unpacked gets the status "invalid zip" and a results.json saying so.
The exit code is 0 when every submission was graded, 1 otherwise, 2 when
FOLDER holds no submission.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

__all__ = ["Submission", "Outcome", "find_submissions", "grade_one", "run_batch", "main", "DEFAULT_TIMEOUT_S",
           "grader_version", "merge_results"]

import hashlib

from grader import process_tree
from grader.layout import ROOT, solutions_dir

if TYPE_CHECKING:
    import argparse

    from grader.report import Student, SubmissionRecord
DEFAULT_TIMEOUT_S = 15 * 60
_TIMEOUT_ENV = "GRADER_GRADE_ALL_TIMEOUT"
# resident memory of one grading (its process and every process it started, the sandbox's included):
# the grading process itself peaked at 659 MB (BENCHMARKS.md, grade-all), and each sandboxed child may
# use up to Limits.memory_mb (1 GB) above its start, one or two children at a time
DEFAULT_MEMORY_MB = 4096
_MEMORY_ENV = "GRADER_GRADE_ALL_MEMORY_MB"
_MAX_ZIP_BYTES = 500 * 1024 * 1024
_IGNORED = {"__MACOSX", "__pycache__"}

GRADED = "graded"
GRADER_ERROR = "grader error"
INVALID_ZIP = "invalid zip"


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path  # a folder, or a .zip file


@dataclass
class Outcome:
    name: str
    score: float | None
    max_score: float | None
    status: str
    seconds: float
    detail: str = ""


def find_submissions(folder: Path, exclude: Path | None = None) -> list[Submission]:
    """The submissions in ``folder``, sorted by name; ``exclude`` (e.g. the output folder) is skipped."""
    found: dict[str, Submission] = {}
    excluded = exclude.resolve() if exclude is not None else None
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in _IGNORED:
            continue
        if excluded is not None and entry.resolve() == excluded:
            continue
        if entry.is_dir():
            name = entry.name
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            name = entry.stem
        else:
            continue
        if name in found:  # e.g. both "alice/" and "alice.zip"
            name = entry.name
        found[name] = Submission(name, entry)
    return [found[name] for name in sorted(found)]


def _grade_command(sub: Path, results: Path, args: argparse.Namespace) -> list[str]:
    """The command that grades the submission folder ``sub`` into ``results``."""
    cmd = [sys.executable, "-m", "grader", "grade", "--submission", str(sub), "--results", str(results)]
    for part in getattr(args, "part", None) or []:
        cmd += ["--part", part]
    for check_id in getattr(args, "checks", None) or []:
        cmd += ["--check", check_id]
    data_root = getattr(args, "data_root", None)
    if data_root is not None:
        cmd += ["--data-root", str(Path(data_root).resolve())]
    if getattr(args, "device", "auto") != "auto":
        cmd += ["--device", args.device]
    return cmd


def _extract_zip(path: Path, dest: Path) -> Path:
    """Unpack a submission zip safely; returns the folder holding the files."""
    with zipfile.ZipFile(path) as zf:
        members = zf.infolist()
        if sum(m.file_size for m in members) > _MAX_ZIP_BYTES:
            raise ValueError(f"more than {_MAX_ZIP_BYTES // 2**20} MB once unpacked")
        for member in members:
            target = (dest / member.filename).resolve()
            if member.filename.startswith("/") or not target.is_relative_to(dest.resolve()):
                raise ValueError(f"unsafe path in zip: {member.filename!r}")
        zf.extractall(dest)
    entries = [e for e in dest.iterdir() if e.name not in _IGNORED and not e.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]  # the files were zipped inside a folder
    return dest


def _read_results(path: Path) -> tuple[float, float]:
    """(score, max score) of a results.json; ValueError when it reports that the grader failed."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("results.json is not an object")
    tests = data.get("tests") or []
    outcomes = [(t.get("extra_data") or {}).get("outcome") for t in tests]
    if "error" in outcomes and not any(t.get("max_score") for t in tests):
        # The grader's own error document: nothing was scored.
        raise ValueError(str(data.get("output") or "the grader reported an error").splitlines()[0])
    score = data.get("score")
    if score is None:
        score = sum(float(t.get("score") or 0) for t in tests)
    max_score = data.get("max_score")
    if max_score is None:
        max_score = sum(float(t.get("max_score") or 0) for t in tests)
    return float(score), float(max_score)


def _write_invalid_zip_results(path: Path, zip_name: str, reason: str) -> None:
    """A results.json telling the student their zip could not be opened (nothing was graded)."""
    from grader.results import write_json

    message = f"{zip_name} could not be unpacked ({reason}); nothing was graded. Submit the files themselves."
    write_json({
        "score": 0,
        "output": message,
        "tests": [{"name": "Submission files", "status": "failed", "score": 0, "max_score": 0,
                   "output": message, "extra_data": {"outcome": "failed"}}],
    }, path)


def grader_version() -> str:
    """A hash of what decides a grade: the grader package's code and the reference solution."""
    h = hashlib.sha256()
    roots = [ROOT / "grader", solutions_dir()]
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".json", ".ipynb") and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(root)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


def merge_results(earlier: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``earlier`` with every check graded again in ``new`` replaced (by check id), new checks added,
    and the total recomputed: a regrade of some checks keeps every other check's result."""
    def key(t: dict[str, Any]) -> str:
        return str((t.get("extra_data") or {}).get("check") or t.get("name"))

    fresh = {key(t): t for t in new.get("tests") or []}
    tests = [fresh.pop(key(t), t) for t in earlier.get("tests") or []] + list(fresh.values())
    merged = dict(earlier)
    merged["tests"] = tests
    merged["score"] = round(sum(float(t.get("score") or 0) for t in tests), 4)
    merged.pop("max_score", None)
    return merged


def _outcome_file(out_dir: Path) -> Path:
    return out_dir / "outcome.json"


def _save_outcome(out_dir: Path, outcome: "Outcome", version: str) -> None:
    from grader.report import write_atomic

    write_atomic(_outcome_file(out_dir), json.dumps({
        "status": outcome.status, "score": outcome.score, "max_score": outcome.max_score, "seconds": outcome.seconds,
        "detail": outcome.detail, "version": version}))


def _earlier_outcome(sub: Submission, out_dir: Path, version: str) -> "Outcome | None":
    """The outcome of an earlier run by the same grader version, if it finished grading."""
    try:
        data = json.loads(_outcome_file(out_dir).read_text(encoding="utf-8"))
        if data.get("version") != version or data.get("status") != GRADED:
            return None
        _read_results(out_dir / "results.json")
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return Outcome(sub.name, data["score"], data["max_score"], GRADED, float(data["seconds"]), "resumed")


def _tree_rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` and all its descendants (the grading's sandbox included), in MB."""
    rss = process_tree.resident_bytes(pid)
    return None if rss is None else rss / 2**20


def _memory_mb(args: argparse.Namespace) -> float:
    value = getattr(args, "memory_mb", None) or os.environ.get(_MEMORY_ENV)
    return float(value) if value else float(DEFAULT_MEMORY_MB)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def grade_one(sub: Submission, out_dir: Path, args: argparse.Namespace, timeout: float) -> Outcome:
    """Grade one submission into ``out_dir``; never raises for a broken submission."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.json"
    earlier: dict[str, Any] | None = None
    if getattr(args, "merge", False) and results.is_file():
        try:
            earlier = json.loads(results.read_text(encoding="utf-8"))
        except ValueError:
            earlier = None
    results.unlink(missing_ok=True)
    log = out_dir / "grader.log"
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grade-all-") as tmp:
        folder = sub.path
        os.chmod(tmp, 0o755)  # student files only: the grader may read them as another user
        if sub.path.is_file():
            try:
                folder = _extract_zip(sub.path, Path(tmp))
            except (zipfile.BadZipFile, ValueError, OSError) as exc:
                log.write_text(f"cannot unpack {sub.path.name}: {exc}\n", encoding="utf-8")
                _write_invalid_zip_results(results, sub.path.name, str(exc))
                return Outcome(sub.name, None, None, INVALID_ZIP, time.monotonic() - start, str(exc))
        env = dict(os.environ)
        # Parallel gradings share the cores: one math thread each.
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        detail = ""
        with open(log, "wb") as log_file:
            try:
                proc = subprocess.Popen(
                    _grade_command(folder.resolve(), results.resolve(), args),
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                return Outcome(sub.name, None, None, GRADER_ERROR, time.monotonic() - start, str(exc))
            limit_mb = _memory_mb(args)
            code = None
            while True:  # wait, watching the time and the memory of the grading's whole process tree
                try:
                    code = proc.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() - start > timeout:
                    detail = f"timed out after {timeout:g} s"
                else:
                    rss = _tree_rss_mb(proc.pid)
                    if rss is not None and rss > limit_mb:
                        detail = (f"used {rss:.0f} MB of memory, more than the {limit_mb:g} MB allowed per grading "
                                  f"(--memory-mb or ${_MEMORY_ENV})")
                if detail:
                    _kill_group(proc)
                    proc.wait()
                    code = None
                    break
            _kill_group(proc)  # leftovers of the sandbox, if any
    seconds = time.monotonic() - start
    if code is not None and code < 0:
        detail = f"killed by signal {-code}"
    if not detail and earlier is not None and isinstance(earlier, dict):
        try:  # only some checks were graded again: keep the others' earlier results
            from grader.results import write_json

            write_json(merge_results(earlier, json.loads(results.read_text(encoding="utf-8"))), results)
        except (OSError, ValueError) as exc:
            detail = f"could not merge with the earlier results: {exc}"
    if not detail:
        try:
            score, max_score = _read_results(results)
        except FileNotFoundError:
            detail = f"no results.json written (exit code {code})"
        except json.JSONDecodeError as exc:
            detail = f"invalid results.json: {exc}"
        except (ValueError, TypeError, AttributeError, OSError) as exc:
            detail = str(exc)
        else:
            return Outcome(sub.name, score, max_score, GRADED, seconds)
    with open(log, "a", encoding="utf-8") as log_file:
        log_file.write(f"\ngrade-all: {GRADER_ERROR}: {detail}\n")
    return Outcome(sub.name, None, None, GRADER_ERROR, seconds, detail)


def _records(outcomes: list[Outcome], output: Path, students: dict[str, list[Student]]) -> list[SubmissionRecord]:
    from grader import report

    return [report.read_record(o.name, students.get(o.name, []), o.status, o.seconds, output / o.name / "results.json",
                               detail=o.detail) for o in outcomes]


def _write_tables(outcomes: list[Outcome], output: Path, students: dict[str, list[Student]], *, full: bool) -> None:
    """The CSVs (after every submission) and, with ``full``, the class report (at the end)."""
    from grader import report

    records = _records(outcomes, output, students)
    (report.write_all if full else report.write_tables)(records, output)


def _eta(done: int, total: int, started: float) -> str:
    if not done or done >= total:
        return ""
    left = (time.monotonic() - started) / done * (total - done)
    return f", about {int(left // 60)} min {int(left % 60)} s left"


def _timeout(args: argparse.Namespace) -> float:
    value = getattr(args, "timeout", None) or os.environ.get(_TIMEOUT_ENV)
    return float(value) if value else float(DEFAULT_TIMEOUT_S)


def run_batch(folder: Path, output: Path, args: argparse.Namespace, jobs: int | None = None) -> list[Outcome]:
    """Grade every submission of ``folder`` into ``output``; returns the outcomes in completion order."""
    from grader import report

    subs = find_submissions(folder, exclude=output)
    output.mkdir(parents=True, exist_ok=True)
    try:
        students = report.read_metadata(folder)
    except ValueError as exc:  # a plain folder of submissions still works: rows named by folder
        print(f"grade-all: the submitters' names are not read: {exc}", file=sys.stderr)
        students = {}
    jobs = max(1, jobs or os.cpu_count() or 1)
    timeout = _timeout(args)
    version = grader_version()
    outcomes: list[Outcome] = []
    todo = []
    for s in subs:
        earlier = _earlier_outcome(s, output / s.name, version) if getattr(args, "resume", False) else None
        if earlier is not None:
            outcomes.append(earlier)
        else:
            todo.append(s)
    if outcomes:
        print(f"{len(outcomes)} submissions already graded by this grader version: kept", flush=True)
    lock = threading.Lock()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(jobs, max(1, len(todo)))) as pool:
        futures = {pool.submit(grade_one, s, output / s.name, args, timeout): s for s in todo}
        for done, future in enumerate(as_completed(futures), start=1):
            sub = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # a bug here must not stop the other gradings
                outcome = Outcome(sub.name, None, None, GRADER_ERROR, 0.0, f"{type(exc).__name__}: {exc}")
            with lock:
                outcomes.append(outcome)
                try:
                    _save_outcome(output / sub.name, outcome, version)
                    _write_tables(outcomes, output, students, full=False)
                except OSError as exc:
                    print(f"grade-all: could not write the tables yet: {exc}", file=sys.stderr)
                if outcome.status == GRADED:
                    verdict = f"{outcome.score:.1f}/{outcome.max_score:.1f}"
                else:
                    verdict = outcome.status + (f" ({outcome.detail})" if outcome.detail else "")
                print(f"[{done}/{len(todo)}] {sub.name}: {verdict}{_eta(done, len(todo), started)}", flush=True)
    _write_tables(outcomes, output, students, full=True)
    return outcomes


def main(args: argparse.Namespace) -> int:
    """``python -m grader grade-all FOLDER [--output DIR] [--jobs N] [--part P] [--data-root D]``."""
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"grade-all: {folder} is not a folder", file=sys.stderr)
        return 2
    output = Path(getattr(args, "output", None) or "regrade")
    if not find_submissions(folder, exclude=output):
        print(f"grade-all: no submission (sub-folder or .zip) in {folder}", file=sys.stderr)
        return 2
    outcomes = run_batch(folder, output, args, getattr(args, "jobs", None))
    graded = sum(o.status == GRADED for o in outcomes)
    print(f"{graded}/{len(outcomes)} graded; scores in {output / 'scores.csv'}, class report in "
          f"{output / 'report.html'} (and report.md)")
    failed = [o.name for o in outcomes if o.status != GRADED]
    if failed:
        print("not graded (see <output>/<name>/grader.log): " + ", ".join(sorted(failed)))
        return 1
    return 0
