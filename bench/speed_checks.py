"""False-failure rate of the speed checks: the reference graded many times under load.

Run: .venv/bin/python bench/speed_checks.py [--runs 200] [--no-load] [--device cuda]

Each run measures exactly what checks 1.15 / 1.16 measure (``measure_speed``: a fresh sandboxed
session, CPU time read from the kernel, fresh inputs for every call, rounds until the decision is
confident, the two matrix products timed in a session without student code) while another process
keeps the other core busy. Prints the distribution of the speedups (vectorized vs naive) and of the
vectorized / two-products cost ratio, with the margin to each threshold, and counts the runs that
would have failed.

With ``--device cuda`` each run also measures what the checks require when the grader has
a GPU (inputs staged on the GPU in a session that may use CUDA, elapsed time of the parent's
requests, best of several runs) against GPU_SPEEDUP_FLOOR.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def burn(stop) -> None:
    x = 0
    while not stop.is_set():
        for i in range(100000):
            x += i * i


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--no-load", action="store_true")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cuda: also measure the GPU requirement (needs a CUDA GPU)")
    args = ap.parse_args()
    import dataclasses

    from grader.sandbox import Limits, Sandbox, Zygote

    zygote = Zygote()
    import torch

    from grader.checks import linear_classifier as lc
    from grader.public_checks.linear_classifier import loss_inputs
    from grader.runner import load_reference

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA GPU on this machine")
    ref = load_reference("linear_classifier")
    code = Path(tempfile.mkdtemp())
    (code / "linear_classifier.py").write_text((REPO / "solutions" / "linear_classifier.py").read_text())
    stop = mp.Event()
    loader = None if args.no_load else mp.Process(target=burn, args=(stop,), daemon=True)
    if loader:
        loader.start()
    W, X, y = loss_inputs(torch.Generator().manual_seed(7), lc.SPEED_N, 3073, 10)
    a = (W, X, y, 0.01)
    figures: dict[str, list[float]] = {"svm": [], "softmax": []}
    ratios: dict[str, list[tuple[float, bool]]] = {"svm": [], "softmax": []}
    rounds: dict[str, list[int]] = {"svm": [], "softmax": []}
    gpu: dict[str, list[tuple[float, float, float]]] = {"svm": [], "softmax": []}
    gpu_limits = dataclasses.replace(Limits(), gpu=True)
    t0 = time.time()
    try:
        with Sandbox(code, zygote=zygote) as sb:
            for i in range(args.runs):
                for kind in ("svm", "softmax"):
                    floor = lc.SPEEDUP_FLOOR[kind]
                    gen = torch.Generator().manual_seed(1000 + i)
                    with sb.session("linear_classifier") as s, sb.session("") as cal:
                        fig = lc.measure_speed(s, cal, kind, gen, X, getattr(ref, f"{kind}_loss_vectorized"),
                                               floor, lambda t: t)
                    figures[kind].append(statistics.median(fig.speedups()))
                    failed = fig.slow_against_naive(floor) or fig.too_slow()
                    ratios[kind].append((fig.median(0) / fig.median(1), failed))
                    rounds[kind].append(len(fig.rounds))
                    if args.device == "cuda":
                        with sb.session("linear_classifier", limits=gpu_limits) as s:
                            s.stage("loss", *a, device="cuda", timeout=60)
                            g_naive, g_vec = lc.gpu_loss_times(s, kind, timeout=60)
                        gpu[kind].append((g_naive / g_vec, g_naive, g_vec))
    finally:
        stop.set()
        zygote.close()
    print(f"{args.runs} runs in {time.time() - t0:.0f} s, other core {'idle' if args.no_load else 'busy'}")
    for kind in ("svm", "softmax"):
        sp = sorted(figures[kind])
        floor = lc.SPEEDUP_FLOOR[kind]
        rr = sorted(r for r, _ in ratios[kind])
        fails = sum(1 for _, bad in ratios[kind] if bad)
        print(f"{kind}: speedup min {sp[0]:.1f}x  p1 {sp[len(sp) // 100]:.1f}x  median {statistics.median(sp):.1f}x  "
              f"max {sp[-1]:.1f}x; floor {floor:g}x (min is {sp[0] / floor:.1f}x the floor)")
        print(f"{kind}: vectorized / two matrix products, CPU time: median {statistics.median(rr):.2f}, max "
              f"{rr[-1]:.2f}; limit {lc.PRODUCTS_FACTOR:g}x + 2 ms; rounds per run: max {max(rounds[kind])}")
        if gpu[kind]:
            gs = sorted(gpu[kind])
            gfloor = lc.GPU_SPEEDUP_FLOOR[kind]
            fails += sum(1 for v, _, _ in gs if v < gfloor)
            print(f"{kind}: GPU speedup min {gs[0][0]:.0f}x  median {statistics.median(v for v, _, _ in gs):.0f}x  "
                  f"max {gs[-1][0]:.0f}x; floor {gfloor:g}x (min is {gs[0][0] / gfloor:.1f}x the floor); "
                  f"median naive {statistics.median(n for _, n, _ in gs) * 1e3:.1f} ms, "
                  f"vectorized {statistics.median(v for _, _, v in gs) * 1e3:.3f} ms")
        print(f"{kind}: runs that would fail: {fails}")


if __name__ == "__main__":
    main()
