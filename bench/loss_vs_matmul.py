"""Reference vectorized losses against the matrix products they need.

Run: .venv/bin/python bench/loss_vs_matmul.py

For N in 500..10,000, D = 3073, C = 10, float64 and float32, one thread: the time of the
reference svm_loss_vectorized / softmax_loss_vectorized (loss and gradient) divided by the
time of X @ W plus X.T @ dS alone. Target: at most 1.2.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def best_of(fn, repeat: int = 7, inner: int = 5) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.thread_time()
        for _ in range(inner):
            fn()
        samples.append((time.thread_time() - t0) / inner)
    return statistics.median(samples)


def main() -> None:
    torch.set_num_threads(1)
    from grader.runner import load_reference

    ref = load_reference("linear_classifier")
    print(f"torch {torch.__version__}, 1 thread; ratio = loss+gradient time / (X @ W + X.T @ dS) time")
    print(f"{'dtype':8} {'N':>6} {'matmuls ms':>10} {'svm ms':>8} {'ratio':>6} {'softmax ms':>10} {'ratio':>6}")
    worst = 0.0
    for dtype in (torch.float64, torch.float32):
        for N in (500, 1000, 2000, 5000, 10000):
            g = torch.Generator().manual_seed(N)
            X = torch.randn(N, 3073, generator=g, dtype=dtype)
            W = torch.randn(3073, 10, generator=g, dtype=dtype) * 1e-3
            y = torch.randint(0, 10, (N,), generator=g)
            dS = torch.randn(N, 10, generator=g, dtype=dtype)
            t_mm = best_of(lambda: (X @ W, X.t() @ dS))
            t_svm = best_of(lambda: ref.svm_loss_vectorized(W, X, y, 0.1))
            t_soft = best_of(lambda: ref.softmax_loss_vectorized(W, X, y, 0.1))
            worst = max(worst, t_svm / t_mm, t_soft / t_mm)
            print(f"{str(dtype).removeprefix('torch.'):8} {N:>6} {t_mm * 1e3:>10.2f} {t_svm * 1e3:>8.2f} "
                  f"{t_svm / t_mm:>6.2f} {t_soft * 1e3:>10.2f} {t_soft / t_mm:>6.2f}")
    print(f"worst ratio {worst:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
