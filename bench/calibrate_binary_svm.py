"""Calibrate Part 4's accuracy floors: the reference under the grader's CIFAR-10 protocol.

Runs the protocol of grader/checks/binary_svm.py (a seeded TRAIN_SUBSET of the training part of the
standard split, pixels / 255 standardised with the subset's statistics, the reference's trainers with
HYPER, single-threaded like the sandbox) for several seeds and prints, per model, the spread of test
accuracy next to the floors, plus the one-vs-all classifiers' mean balanced accuracy on validation images.

    python bench/calibrate_binary_svm.py [--seeds 8] [--data-root DIR]

Recorded on this project's CPU, profile "sample" (CIFAR-10 4,000 train / 1,000 test), 8 seeds:
    binary      min 0.8373  mean 0.8529  max 0.8660  floor 0.78   (cat vs ship, 209 test images)
    one_vs_all  min 0.3440  mean 0.3489  max 0.3610  floor 0.30
    softmax     min 0.3560  mean 0.3621  max 0.3680  floor 0.31
    balanced    min 0.6891  mean 0.6970  max 0.7077  floor 0.55   (mean over the ten one-vs-all SVMs)
Profile "full" is not installed here: the floors are set equal to the sample's (same protocol, a
larger and less noisy test set; estimate).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import data  # noqa: E402
from grader.checks.binary_svm import (ACCURACY_FLOOR, BALANCED_FLOOR, BINARY_PAIR, HYPER,  # noqa: E402
                                      TRAIN_SUBSET)
from grader.runner import load_reference  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ref = load_reference("binary_svm")
    raw = data.load_cifar10(args.data_root)
    train_idx, val_idx = data.train_val_indices(len(raw.train_labels), 0.2, 0)
    res: dict[str, list[float]] = {"binary": [], "one_vs_all": [], "softmax": [], "balanced": []}
    flat = lambda t: t.reshape(t.shape[0], -1).float() / 255  # noqa: E731
    for seed in range(args.seeds):
        gen = torch.Generator().manual_seed(seed)
        rows = train_idx[torch.randperm(len(train_idx), generator=gen)[:TRAIN_SUBSET]]
        X = flat(raw.train_images[rows])
        y = raw.train_labels[rows]
        mean, std = X.mean(0), X.std(0) + 1e-8
        X = (X - mean) / std
        Xte = (flat(raw.test_images) - mean) / std
        Xva = (flat(raw.train_images[val_idx[:2000]]) - mean) / std
        yva = raw.train_labels[val_idx[:2000]]
        torch.manual_seed(seed)
        keep = (y == BINARY_PAIR[0]) | (y == BINARY_PAIR[1])
        W, b, _ = ref.train_binary_svm(X[keep], ref.to_pm1_labels(y[keep], BINARY_PAIR[0]), **HYPER)
        kt = (raw.test_labels == BINARY_PAIR[0]) | (raw.test_labels == BINARY_PAIR[1])
        truth = ref.to_pm1_labels(raw.test_labels[kt], BINARY_PAIR[0])
        res["binary"].append(float((ref.svm_predict(Xte[kt], W, b) == truth).double().mean()))
        W, b = ref.train_one_vs_all(X, y, 10, **HYPER)
        res["one_vs_all"].append(float((ref.predict_one_vs_all(Xte, W, b) == raw.test_labels).double().mean()))
        pos = Xva @ W + b >= 0
        bal = []
        for c in range(10):
            t = yva == c
            bal.append((float(pos[t, c].double().mean()) + float((~pos[~t, c]).double().mean())) / 2)
        res["balanced"].append(sum(bal) / 10)
        W, b, _ = ref.train_softmax_regression(X, y, 10, **HYPER)
        res["softmax"].append(float((ref.predict_softmax(Xte, W, b) == raw.test_labels).double().mean()))
        print(f"seed {seed}: " + "  ".join(f"{k} {v[-1]:.4f}" for k, v in res.items()), flush=True)
    print(f"\nprofile {raw.profile}: {TRAIN_SUBSET} training images, {HYPER}")
    for k, v in res.items():
        floor = BALANCED_FLOOR if k == "balanced" else ACCURACY_FLOOR[raw.profile][k]
        print(f"  {k:11s} min {min(v):.4f}  mean {statistics.mean(v):.4f}  max {max(v):.4f}  floor {floor:.2f}")


if __name__ == "__main__":
    main()
