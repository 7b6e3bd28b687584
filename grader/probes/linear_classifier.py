"""Probes for Part 1 (linear classifiers); they run inside the sandbox with the student's module."""
from __future__ import annotations

from typing import Any

import torch

from grader.probes import probe


@probe
def loss_call(module: Any, func: str, W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float) -> dict:
    """Call a loss function; send back its output and the inputs as they are afterwards."""
    out = getattr(module, func)(W, X, y, reg)
    return {"out": out, "W": W, "X": X, "y": y}


@probe
def sample_batches(module: Any, X: torch.Tensor, y: torch.Tensor, num_train: int, batch_size: int,
                   draws: int, seed: int) -> dict:
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
def train_with_mock_loss(module: Any, W0: Any, X: torch.Tensor, y: torch.Tensor, learning_rate: float,
                         reg: float, num_iters: int, batch_size: int, grad_scale: float) -> dict:
    """Run train_linear_classifier with a loss function that records its calls.

    Call k returns loss ``k + 0.5`` and gradient ``grad_scale * (k + 1) * ones``.
    """
    calls: list[dict] = []

    def loss_func(W: torch.Tensor, X_batch: torch.Tensor, y_batch: torch.Tensor, reg_: float) -> tuple:
        k = len(calls)
        calls.append({"W_shape": tuple(W.shape), "W_dtype": str(W.dtype), "X_shape": tuple(X_batch.shape),
                      "y_shape": tuple(y_batch.shape), "reg": float(reg_),
                      "W_first": W.detach().clone() if k == 0 else None})
        grad = torch.full_like(W, grad_scale * (k + 1))
        return torch.tensor(k + 0.5, dtype=W.dtype, device=W.device), grad

    out = module.train_linear_classifier(loss_func, W0, X, y, learning_rate=learning_rate, reg=reg,
                                         num_iters=num_iters, batch_size=batch_size, verbose=False)
    return {"out": out, "calls": calls}


@probe
def one_param_set(module: Any, data: dict, lr: float, reg: float, num_iters: int,
                  pred_train: torch.Tensor, pred_val: torch.Tensor) -> dict:
    """Run test_one_param_set with a classifier that records training and predicts given labels."""

    class RecordingClassifier:
        def __init__(self) -> None:
            self.train_calls: list[dict] = []
            self.W = None

        def train(self, X_train: torch.Tensor, y_train: torch.Tensor, learning_rate: float = 1e-3,
                  reg: float = 1e-5, num_iters: int = 100, batch_size: int = 200, verbose: bool = False) -> list:
            self.train_calls.append({"n": int(X_train.shape[0]), "learning_rate": float(learning_rate),
                                     "reg": float(reg), "num_iters": int(num_iters)})
            return [0.0] * int(num_iters)

        def predict(self, X: torch.Tensor) -> torch.Tensor:
            if X.shape[0] == pred_train.shape[0] and torch.equal(X, data["X_train"]):
                return pred_train.clone()
            if X.shape[0] == pred_val.shape[0] and torch.equal(X, data["X_val"]):
                return pred_val.clone()
            raise ValueError("predict was called on data that is neither X_train nor X_val")

    spy = RecordingClassifier()
    out = module.test_one_param_set(spy, data, lr, reg, num_iters=num_iters)
    same = isinstance(out, tuple) and len(out) == 3 and out[0] is spy
    values = tuple(out[1:]) if isinstance(out, tuple) and len(out) == 3 else out
    return {"returned_same_classifier": same, "values": values, "train_calls": spy.train_calls}


@probe
def classifier_roundtrip(module: Any, cls_name: str, X: torch.Tensor, y: torch.Tensor, path: str,
                         W_probe: torch.Tensor | None = None, reg: float = 0.0) -> dict:
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
