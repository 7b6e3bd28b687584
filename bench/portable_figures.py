"""What the portable session backend costs next to the Linux one (BENCHMARKS.md).

    .venv/bin/python bench/portable_figures.py

For each backend: the first session's start (the portable one boots an interpreter and imports
torch), the median start of later sessions (the portable one keeps one interpreter started ahead),
the median round trip of a call that does nothing, the median call that sends and returns 10 MB,
and the wall time of ``python -m grader check`` on the reference's four modules.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from grader import sandbox as sandbox_module  # noqa: E402
from grader.sandbox import Sandbox  # noqa: E402

MODULES = ("linear_classifier.py", "metric_learning.py", "neural_net.py", "binary_svm.py")
CODE = """
    def nothing():
        return None

    def identity(x):
        return x
"""


def session_figures(backend: str, code: Path) -> dict[str, float]:
    os.environ[sandbox_module.BACKEND_VARIABLE] = backend
    try:
        with Sandbox(code) as sb:
            t0 = time.perf_counter()
            with sb.session("m") as s:
                first = time.perf_counter() - t0
                s.call("nothing")
            starts = []
            for _ in range(8):
                time.sleep(1.5 if backend == "portable" else 0.1)  # a check's length: the spare has booted
                t0 = time.perf_counter()
                with sb.session("m") as s:
                    starts.append(time.perf_counter() - t0)
            with sb.session("m") as s:
                trips = []
                for _ in range(200):
                    t0 = time.perf_counter()
                    s.call("nothing")
                    trips.append(time.perf_counter() - t0)
                big = torch.randn(10 * 1024 * 1024 // 4)
                moves = []
                for _ in range(10):
                    t0 = time.perf_counter()
                    s.call("identity", big)
                    moves.append(time.perf_counter() - t0)
    finally:
        del os.environ[sandbox_module.BACKEND_VARIABLE]
    return {"first session (s)": first, "later session, median (s)": statistics.median(starts),
            "empty call, median (ms)": 1000 * statistics.median(trips),
            "10 MB there and back, median (ms)": 1000 * statistics.median(moves)}


def check_seconds(backend: str, folder: Path) -> float:
    env = dict(os.environ, **{sandbox_module.BACKEND_VARIABLE: backend})
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(folder)], capture_output=True, text=True,
                          env=env, cwd=str(folder))
    seconds = time.perf_counter() - t0
    assert "Score: 13 / 13" in done.stdout, done.stdout + done.stderr
    return seconds


def main() -> None:
    code = Path(tempfile.mkdtemp(prefix="bench-portable-"))
    folder = Path(tempfile.mkdtemp(prefix="bench-portable-check-"))
    try:
        (code / "m.py").write_text(textwrap.dedent(CODE))
        for name in MODULES:
            shutil.copy(ROOT / "solutions" / name, folder / name)
        rows = {}
        for backend in ("linux", "portable"):
            rows[backend] = session_figures(backend, code)
            rows[backend]["check on the reference (s)"] = check_seconds(backend, folder)
        print(f"{'figure':<36} {'linux':>10} {'portable':>10}")
        for key in rows["linux"]:
            print(f"{key:<36} {rows['linux'][key]:>10.3f} {rows['portable'][key]:>10.3f}")
    finally:
        shutil.rmtree(code, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
