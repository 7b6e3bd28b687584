"""Isolation overhead: what one sandboxed check session and one call cost.

Run: .venv/bin/python bench/isolation_overhead.py [--sessions 50]
Inside Gradescope's budget: ../shared/tools/gradescope-box -- .venv/bin/python bench/isolation_overhead.py

Prints the wall time of starting a session (fork from the zygote, namespaces, privilege
drop, importing the student's module) and of a round-trip call carrying a (128, 3073)
float64 tensor, as medians and 95th percentiles. Target: under 50 ms per check.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    t0 = time.perf_counter()
    from grader.sandbox import Sandbox, Zygote

    zygote = Zygote()
    t_zygote = time.perf_counter() - t0
    import torch

    code = Path(tempfile.mkdtemp())
    (code / "linear_classifier.py").write_text((REPO / "solutions" / "linear_classifier.py").read_text())
    with Sandbox(code, zygote=zygote) as sb:
        starts = []
        for _ in range(args.sessions):
            t = time.perf_counter()
            with sb.session("linear_classifier") as s:
                starts.append(time.perf_counter() - t)
        X = torch.randn(128, 3073, dtype=torch.float64)
        W = torch.randn(3073, 10, dtype=torch.float64) * 1e-3
        y = torch.randint(0, 10, (128,))
        small, big = [], []
        with sb.session("linear_classifier") as s:
            for _ in range(args.calls):
                t = time.perf_counter()
                s.call("predict_linear_classifier", W[:5, :], X[:3, :5])
                small.append(time.perf_counter() - t)
                t = time.perf_counter()
                s.call("svm_loss_vectorized", W, X, y, 0.1)
                big.append(time.perf_counter() - t)
    zygote.close()
    print(f"machine: {os.cpu_count()} cpus, root={os.geteuid() == 0}, zygote forked={zygote.forked}")
    print(f"zygote start (import torch first time in this process included): {t_zygote * 1e3:.0f} ms")
    print(f"session start (fork, isolate, import module): median {statistics.median(starts) * 1e3:.1f} ms, "
          f"p95 {pct(starts, 0.95) * 1e3:.1f} ms over {len(starts)}")
    print(f"round-trip call, tiny tensors: median {statistics.median(small) * 1e3:.2f} ms, p95 {pct(small, 0.95) * 1e3:.2f} ms")
    print(f"round-trip svm_loss_vectorized, X (128, 3073) float64: median {statistics.median(big) * 1e3:.2f} ms, "
          f"p95 {pct(big, 0.95) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
