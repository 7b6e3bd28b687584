"""Command line of the grader: argument parsing only, every command delegates."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from grader.layout import DEVICES, PACKAGE, solutions_dir  # DEVICES: choices of --device


def _ships(module: str) -> bool:
    """Whether this copy of the grader has ``grader/<module>.py`` (a student's bundle has no instructor
    tools: its --help lists only what works there)."""
    return (PACKAGE / f"{module}.py").is_file()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("grade", help="grade one submission and write Gradescope's results.json")
    g.add_argument("--submission", type=Path, required=True, help="folder holding the student's files")
    g.add_argument("--results", type=Path, required=True, help="where results.json is written")
    g.add_argument("--part", action="append", help="grade only this part: its number or name (repeatable)")
    g.add_argument("--check", action="append", dest="checks", help="run only this check id (repeatable)")
    g.add_argument("--data-root", type=Path, help="dataset folder (default: $GRADER_DATA, then the cache)")
    g.add_argument("--budget", type=float, help="seconds for the whole run (default 540)")
    g.add_argument("--public-only", action="store_true", help="run only the public checks")
    g.add_argument("--device", choices=DEVICES, default="auto",
                   help="where the grader computes: a CUDA GPU when present (auto), or always cpu/cuda")

    c = sub.add_parser("check", help="student self-check: run the public checks and print a table")
    c.add_argument("submission", nargs="?", type=Path, default=Path("."), help="folder with your files (default: .)")
    c.add_argument("--part", action="append", help="check only this part: its number or name (repeatable)")
    c.add_argument("--data-root", type=Path)

    if solutions_dir().is_dir():  # the reference is here: an instructor's checkout
        d = sub.add_parser("demo", help="grade the bundled reference solution and print the result")
        d.add_argument("--results", type=Path, default=Path("results.json"))
        d.add_argument("--stubs", action="store_true", help="grade the untouched student stubs instead")
        d.add_argument("--part", action="append", help="grade only this part: its number or name (repeatable)")
        d.add_argument("--data-root", type=Path)

    if _ships("release"):
        r = sub.add_parser("release", help="generate assignment/ from solutions/")
        r.add_argument("--check", action="store_true", help="fail if assignment/ differs from what would be generated")

    if _ships("scaffold"):
        n = sub.add_parser("new-part", help="scaffold a new part: reference, notebook, checks, tests; then release")
        n.add_argument("name", help="the module students write, a lowercase identifier (e.g. decision_trees)")
        n.add_argument("--title", help='the title after "Part N: " (default: from the name)')

    if _ships("package"):
        b = sub.add_parser("build-autograder", help="build the Gradescope autograder zip")
        b.add_argument("--output", type=Path, default=Path("dist/autograder.zip"))
        s = sub.add_parser("build-student-bundle", help="build the zip students receive")
        s.add_argument("--output", type=Path, default=Path("dist/student_bundle.zip"))

    if _ships("batch"):
        _grade_all_parser(sub)

    f = sub.add_parser("download-data", help="download the full datasets (needs a network)")
    f.add_argument("--data-root", type=Path)
    return p


def _grade_all_parser(sub: Any) -> None:
    a = sub.add_parser("grade-all", help="regrade a folder of submissions in parallel")
    a.add_argument("folder", type=Path, help="one sub-folder per submission (e.g. a Gradescope export)")
    a.add_argument("--output", type=Path, default=Path("regrade"), help="where results and scores.csv go")
    a.add_argument("--jobs", type=int, default=0, help="parallel gradings (default: number of cores)")
    a.add_argument("--part", action="append")
    a.add_argument("--check", action="append", dest="checks", help="run only this check id (repeatable)")
    a.add_argument("--data-root", type=Path)
    a.add_argument("--device", choices=DEVICES, default="auto", help="passed to each grading (see grade --device)")
    a.add_argument("--memory-mb", type=float, default=None,
                   help="resident memory one grading may use, its sandbox included (default 4096)")
    a.add_argument("--resume", action="store_true",
                   help="skip submissions already graded by this grader version (after a crash or a kill)")
    a.add_argument("--merge", action="store_true",
                   help="with --check/--part: merge the regraded checks into each submission's earlier results")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cmd = args.command
    if cmd == "grade":
        from grader.commands import grade
        return grade(args)
    if cmd == "check":
        from grader.commands import check
        return check(args)
    if cmd == "demo":
        from grader.commands import demo
        return demo(args)
    if cmd == "release":
        from grader.release import main as release_main
        return release_main(args)
    if cmd == "new-part":
        from grader.scaffold import main as new_part_main
        return new_part_main(args)
    if cmd == "build-autograder":
        from grader.package import build_autograder_main
        return build_autograder_main(args)
    if cmd == "build-student-bundle":
        from grader.package import build_student_bundle_main
        return build_student_bundle_main(args)
    if cmd == "grade-all":
        from grader.batch import main as batch_main
        return batch_main(args)
    if cmd == "download-data":
        from grader.data import download_main
        return download_main(args)
    raise AssertionError(cmd)  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
