"""The commands behind the CLI: grade (Gradescope), check (students), demo (the bundled reference)."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from grader import results
from grader.registry import UnknownCheck
from grader.results import CheckResult, Outcome, RunResult

from grader.layout import HIDDEN_CHECKS, ROOT as REPO_ROOT, solutions_dir

if TYPE_CHECKING:
    from grader.sandbox import Limits, Zygote

METADATA = Path("/autograder/submission_metadata.json")


# What student code may read in the grader's own folder: the package it imports (minus its hidden
# checks) and a virtual environment kept there. Everything else beside them (the reference, tests and
# their corpus of correct implementations, .git with the whole history, build and dist folders with
# copies of the package and autograder zips, *.egg-info) is hidden from the unprivileged user.
_READABLE_IN_CHECKOUT = {"grader", ".venv", "venv", "env", "README.md", "pyproject.toml", "LICENSE",
                         "assignment"}


def hidden_paths() -> list[Path]:
    """Paths student code must never read: the reference, the hidden checks, every other copy of
    them in the grader's folder (git history, builds, tests), cached reference outputs, Gradescope
    metadata. As root the sandbox makes each unreadable by other users before any student code
    runs (``grader.sandbox.protect``), and refuses to run where it cannot."""
    from grader.demo import cache_root
    paths = [solutions_dir(), HIDDEN_CHECKS, METADATA, cache_root()]
    if (REPO_ROOT / "grader").is_dir() and (REPO_ROOT / "pyproject.toml").is_file():  # a checkout, not site-packages
        venv = Path(sys.prefix).resolve()
        for entry in sorted(REPO_ROOT.iterdir()):
            if entry.name in _READABLE_IN_CHECKOUT or venv == entry.resolve() or entry.resolve() in venv.parents:
                continue
            paths.append(entry)
    return list(dict.fromkeys(p for p in paths if p.exists()))


def grade_to_file(submission: Path, results_path: Path, *, parts: list[str] | None = None,
                  checks: list[str] | None = None, data_root: Path | None = None, budget: float | None = None,
                  public_only: bool = False, progress: Callable[[str], None] | None = None,
                  limits: Limits | None = None, zygote: Zygote | None = None,
                  device: str = "auto") -> RunResult | None:
    """Grade ``submission`` and write ``results_path``. A valid file is written whatever happens.

    ``limits`` (a :class:`grader.sandbox.Limits`) replaces the sandbox's default limits;
    ``zygote`` (a :class:`grader.sandbox.Zygote` started before any secret was imported)
    is used instead of starting one, and left running. ``device`` is where the grader computes
    (see :func:`grader.runner.grading_device`).
    """
    results.write_fallback(results_path)
    owned_zygote = None
    scratch = None
    try:
        from grader.sandbox import start_zygote

        from grader import data as gdata

        # the reference and hidden checks, and every dataset's labels (answer keys for a model)
        hidden = hidden_paths() + gdata.answer_key_folders(data_root)
        if zygote is None:
            # before any secret is imported: forked children share torch only
            zygote = owned_zygote = start_zygote(hidden)
        from grader import runner, submission as intake
        from grader.errors import SubmissionError
        from grader.registry import PARTS, load_checks

        from grader.registry import resolve_parts, select_checks

        parts = resolve_parts(parts)
        selected = select_checks(load_checks(parts, public_only=public_only), checks)
        if not selected:
            raise ValueError(f"no checks match parts={parts} checks={checks}")
        part_objs = [PARTS[name] for name in dict.fromkeys(c.part for c in selected)]
        scratch = runner.scratch_dir()
        intake_started = time.monotonic()
        try:
            files = intake.collect(submission, part_objs, scratch)
        except SubmissionError as exc:
            results.write_json(results.submission_problem_document(str(exc)), results_path)
            return None
        runner.grading_device(device)  # a device that is not there is said once, before any check
        options = runner.GradingOptions(data_root=data_root, progress=progress, device=device)
        if budget:
            options.budget = budget
        options.budget = max(1.0, options.budget - (time.monotonic() - intake_started))  # intake is part of the run
        if limits is not None:
            options.limits = limits
        run = runner.run(selected, files, options, hidden_paths=hidden, zygote=zygote)
        results.write(run, results_path)
        return run
    except UnknownCheck as exc:  # the command line named no check: said in the file, and raised for the CLI
        results.write_json(results.error_document(str(exc).splitlines()[0]), results_path)
        raise
    except BaseException as exc:  # noqa: BLE001 - the grader never ends without a valid results file
        detail = traceback.format_exc()
        try:
            results.write_json(results.error_document(f"({type(exc).__name__})", detail), results_path)
        except Exception:  # noqa: BLE001
            pass
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        print(detail, file=sys.stderr)
        return None
    finally:
        if owned_zygote is not None:
            owned_zygote.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def format_table(run: RunResult, *, details: bool = True, local: bool = False) -> str:
    """The run as a table (full titles, a subtotal after each part), then the run's output and, with
    ``details``, the message of every check that did not pass. ``local``: the grader runs on the
    student's own machine, where there are no staff to read a grader error's details, so they are
    printed too."""
    from grader.registry import PARTS

    rows: list[tuple[str, str, str, str]] = [("#", "check", "points", "result")]
    subtotal_rows: set[int] = set()
    by_part: dict[str, list[CheckResult]] = {}
    for c in run.checks:
        by_part.setdefault(c.key.split(".", 1)[0], []).append(c)
    for part, checks in by_part.items():
        for c in checks:
            rows.append((c.number, c.title, f"{c.score:g}/{c.max_score:g}", c.outcome.value))
        if len(by_part) > 1:
            title = PARTS[part].title if part in PARTS else part
            subtotal_rows.add(len(rows))
            rows.append(("", f"{title}: subtotal", f"{sum(c.score for c in checks):g}/"
                                                   f"{sum(c.max_score for c in checks):g}", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"Sandbox: {run.sandbox}", ""] if local and run.sandbox else []
    for i, r in enumerate(rows):
        lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        if i == 0 or i in subtotal_rows:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(run.output)
    if details:
        for c in run.checks:
            if c.outcome != Outcome.PASSED or "\n" in c.message:
                lines.append("")
                lines.append(f"--- {c.number} {c.title} [{c.outcome.value}]")
                lines.append(c.message)
                if local and c.outcome == Outcome.ERROR and c.staff_message:
                    lines.append("This is a problem of the grader on this machine, not of your code. The details "
                                 "(send them to the course staff if they do not tell you what to change in your "
                                 "set-up):\n" + c.staff_message.strip()[-3000:])
                if c.student_output.strip():
                    lines.append("Your code printed:\n" + c.student_output[:2000])
    return "\n".join(lines)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def grade(args: argparse.Namespace) -> int:
    from grader.registry import UnknownCheck

    try:
        run = _grade_cli(args)
    except UnknownCheck as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if run is not None:
        print(format_table(run, details=False))
    print(f"results written to {args.results}")
    return 0


def _grade_cli(args: argparse.Namespace) -> RunResult | None:
    return grade_to_file(args.submission, args.results, parts=args.part, checks=args.checks,
                        data_root=args.data_root, budget=args.budget, public_only=args.public_only,
                        progress=_progress, device=args.device)


def check(args: argparse.Namespace) -> int:
    """Student self-check: public checks only; always exits 0 so notebooks and scripts carry on."""
    import tempfile

    from grader.registry import UnknownCheck

    with tempfile.TemporaryDirectory() as tmp:
        try:
            run = grade_to_file(args.submission, Path(tmp) / "results.json", parts=args.part,
                                data_root=args.data_root, public_only=True, progress=_progress)
        except UnknownCheck as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if run is None:  # nothing could be graded: say why in words, not as JSON
            import json

            doc = json.loads((Path(tmp) / "results.json").read_text())
            for test in doc["tests"]:
                if test.get("visibility", "visible") != "hidden":
                    print(f"{test['name']}: {test.get('output', '')}")
            return 0
    # beside its notebook, the .py is what is checked (and graded): said in the table, not as a note each time
    run.output = "\n".join(line for line in run.output.splitlines()
                           if not (line.startswith("Note: Both ") and line.endswith(".py was graded.")))
    print(format_table(run, local=True))
    print("\nThese are the public checks only; the autograder runs more.")
    return 0


def demo(args: argparse.Namespace) -> int:
    """Grade the bundled reference solution (or the untouched stubs) and print the result."""
    from grader.demo import build_submission
    from grader.registry import resolve_parts

    try:
        parts = resolve_parts(getattr(args, "part", None))
    except UnknownCheck as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from grader.errors import DataNotFoundError

    from grader import data
    from grader.registry import ordered_parts

    try:
        for part in ordered_parts():  # every dataset the demo's checks score on, looked for up front
            for name in part.datasets if parts is None or part.name in parts else ():
                data.locate(name, args.data_root)
        folder = build_submission(stubs=args.stubs, data_root=args.data_root, parts=parts)
    except DataNotFoundError as exc:  # the reference is trained and scored on real data: say how to get it
        message = f"The demo needs the datasets its checks train and score on. {exc}"
        results.write_json(results.error_document("(the demo's data was not found)", message), args.results)
        print(f"demo: {message}\n\nresults written to {os.fspath(args.results)}", file=sys.stderr)
        return 1
    print(f"grading {'the student stubs' if args.stubs else 'the reference solution'} in {folder}",
          file=sys.stderr)
    try:
        run = grade_to_file(folder, args.results, parts=parts, data_root=args.data_root, progress=_progress)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if run is not None:
        print(format_table(run))
    print(f"\nresults written to {os.fspath(args.results)}")
    return 0 if run is not None else 1
