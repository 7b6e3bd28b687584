"""Probes for Part 1 (linear classifiers); they run inside the sandbox with the student's module."""
from __future__ import annotations

from typing import Any

import torch

from grader.probes import probe


@probe
def sample_batches(module: Any, X: torch.Tensor, y: torch.Tensor, num_train: int, batch_size: int,
                   draws: int, seed: int) -> dict[str, Any]:
    """Draw ``draws`` minibatches after seeding torch; the first is sent whole, the rest as ids."""
    torch.manual_seed(seed)
    first = None
    ids = []
    labels = []
    for i in range(draws):
        Xb, yb = module.sample_batch(X, y, num_train, batch_size)
        if i == 0:
            first = (Xb, yb)
        if not isinstance(Xb, torch.Tensor) or not isinstance(yb, torch.Tensor):
            break
        ids.append(Xb[:, 0].reshape(-1))
        labels.append(yb.reshape(-1))
    return {"first": first, "ids": torch.cat(ids) if ids else None,
            "labels": torch.cat(labels) if labels else None}


@probe
def classifier_roundtrip(module: Any, cls_name: str, X: torch.Tensor, y: torch.Tensor, path: str,
                         W_probe: torch.Tensor | None = None, reg: float = 0.0) -> dict[str, Any]:
    """Evaluate a LinearSVM/Softmax object's loss at ``W_probe``, train it briefly, predict, save and load it back."""
    model = getattr(module, cls_name)()
    loss = own = None
    if W_probe is not None:
        loss = model.loss(W_probe.clone(), X, y, reg)
        own = {}
        for func in ("svm_loss_vectorized", "softmax_loss_vectorized"):
            try:
                own[func] = getattr(module, func)(W_probe.clone(), X, y, reg)
            except Exception as exc:  # noqa: BLE001 - reported as a value; the loss checks grade it
                own[func] = repr(exc)[:200]
    history = model.train(X, y, learning_rate=1e-3, reg=1e-5, num_iters=5, batch_size=16)
    pred = model.predict(X)
    model.save(path)
    other = getattr(module, cls_name)()
    other.load(path)
    return {"history": history, "pred": pred, "W": model.W, "W_loaded": other.W, "loss": loss, "own": own}


@probe
def two_products(module: Any, W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float) -> bool:
    """The yardstick of the vectorized losses' speed: the two matrix products every one of them needs
    (scores = X @ W, then X.T @ an (N, C) matrix), timed by the parent in a session without student
    code (``module`` is None). A vectorized loss costs 1.0-1.2 times them (BENCHMARKS.md)."""
    scores = X.mm(W)
    X.t().mm(scores)
    return True
