"""Throughput and memory of ``grade-all`` on a class-sized export (BENCHMARKS.md).

    .venv/bin/python bench/grade_all_figures.py [--count 200] [--jobs 2] [--checks ID ...]

Builds an export of ``--count`` Part 1 submissions cycling through the reference, the untouched
stubs and every mutant of the Part 1 catalogue (tests/test_linear_mutants.py), with a
``submission_metadata.yml`` naming a student for each, grades it with ``grade-all --jobs N``
on the given checks (by default the value, contract and static checks of Part 1: everything
but the timed and the trained ones, which dominate a full grading's time and whose cost is
measured in speed_checks.py), and prints the wall time, the throughput, the peak resident
memory of one grading process and of the batch's own process, and the report's size.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import ASSIGNMENT, reference_source  # noqa: E402
from test_linear_mutants import MUTANTS  # noqa: E402

from grader import cli  # noqa: E402

DEFAULT_CHECKS = ["public_svm_sanity", "public_softmax_sanity", "public_vectorized_agrees", "svm_naive_data_term",
                  "svm_naive_regularisation", "svm_vectorized_data_term", "svm_vectorized_static",
                  "softmax_naive_data_term", "softmax_vectorized_data_term", "softmax_stability",
                  "softmax_vectorized_static", "sample_batch_contract", "train_update_rule", "predict_contract",
                  "public_svm_grid", "public_softmax_grid"]


def build_export(root: Path, count: int) -> Path:
    export = root / "export"
    sources = [reference_source(), (ASSIGNMENT / "linear_classifier.py").read_text()] + [m.source() for m in MUTANTS]
    meta = []
    for i in range(count):
        name = f"submission_{100000 + i}"
        (export / name).mkdir(parents=True)
        (export / name / "linear_classifier.py").write_text(sources[i % len(sources)])
        meta.append(f"{name}:\n  :submitters:\n  - :name: Student {i}\n    :sid: '{i}'\n"
                    f"    :email: student{i}@example.edu\n")
    (export / "submission_metadata.yml").write_text("".join(meta))
    return export


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--checks", nargs="*", default=DEFAULT_CHECKS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grade-all-bench-") as tmp:
        export = build_export(Path(tmp), args.count)
        output = Path(tmp) / "regrade"
        argv = ["grade-all", str(export), "--output", str(output), "--jobs", str(args.jobs)]
        for c in args.checks:
            argv += ["--check", c]
        started = time.monotonic()
        code = cli.main(argv)
        wall = time.monotonic() - started
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report = (output / "report.html").stat().st_size / 1024
        print(f"{args.count} submissions ({len(args.checks)} checks each), --jobs {args.jobs}: {wall:.0f} s, "
              f"{args.count / wall * 60:.1f} submissions/min; peak RSS of one grading process {child:.0f} MB, "
              f"of the batch process {own:.0f} MB; report.html {report:.0f} KB; exit code {code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
