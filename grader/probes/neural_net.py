"""Probes for Part 3 (activations and MLP on MNIST); they run inside the sandbox with the student's module.

Models cannot cross the sandbox boundary: the probes build them here and send back plain
data (parameter names and shapes, state as tensors, outputs, recorded batches). Every value
is untrusted and re-checked by the parent.
"""
from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from grader.probes import probe, registered_parameters, shape_of


def _state(model: nn.Module) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _as_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 1, 28, 28) or (N, 784) as float32 rows in [0, 1] (the grader's preprocessing)."""
    return images.reshape(images.shape[0], -1).to(torch.float32) / 255.0


@probe
def activation(module: Any, name: str, x: torch.Tensor, upstream: torch.Tensor) -> dict[str, Any]:
    """Value of ``module.<name>(x)`` and its autograd gradient.

    x may be the grader's shared memory (``wire.Watched``): the parent reads for itself whether the
    student's function wrote into it, so nothing about x is reported from here. The probe never
    writes into x; the gradient is taken on a copy made before the call, so it sees the values the
    grader sent even when the student's function changed x.
    """
    fn = getattr(module, name)
    leaf = x.detach().clone().requires_grad_(True)
    out = fn(x)
    reply: dict[str, Any] = {"out": out}
    try:
        y = fn(leaf)
        if isinstance(y, torch.Tensor) and y.requires_grad and y.shape == upstream.shape:
            (grad,) = torch.autograd.grad(y, leaf, grad_outputs=upstream, allow_unused=True)
            reply["grad"] = grad
        else:
            reply["grad_problem"] = "the output is not connected to the input in autograd's graph"
    except Exception as exc:  # noqa: BLE001 - reported to the parent as data
        reply["grad_problem"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    return reply


class _CountingActivation:
    """Wraps the student's function to count calls (to see that a model uses it)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.fn(*args, **kwargs)


@probe
def model_report(module: Any, name: str, X: torch.Tensor, upstream: torch.Tensor) -> dict[str, Any]:
    """Build ``module.<name>()`` and describe it: parameters, outputs for flat and image inputs,
    how often the student's relu runs per forward pass, and the gradients of every parameter."""
    counter = _CountingActivation(module.relu)
    module.relu = counter
    try:
        model = getattr(module, name)()
        counter.calls = 0
        flat = model(X.reshape(X.shape[0], -1))
        relu_calls = counter.calls
        images = model(X.reshape(X.shape[0], 1, 28, 28))
    finally:
        module.relu = counter.fn
    # read after the forward passes (lazy layers have their size then), from the model's own tables
    registered = registered_parameters(model)
    params = [(k, shape_of(p), bool(p.requires_grad)) for k, p in registered]
    grads: dict[str, Any] = {}
    if isinstance(flat, torch.Tensor) and flat.shape == upstream.shape and flat.requires_grad:
        for _, p in registered:
            p.grad = None
        (flat * upstream).sum().backward()
        grads = {k: (torch.Tensor.clone(torch.Tensor.detach(p.grad)) if p.grad is not None else None)
                 for k, p in registered}
    return {"params": params, "state": _state(model), "flat": flat, "images": images,
            "relu_calls": relu_calls, "grads": grads, "is_module": isinstance(model, nn.Module)}


@probe
def count_with(module: Any, frozen: bool) -> dict[str, Any]:
    """``count_parameters`` on a small grader-made model (optionally with a frozen layer)."""
    model = nn.Sequential(nn.Linear(7, 5), nn.Linear(5, 3, bias=False), nn.Linear(3, 2))
    if frozen:
        for p in model[0].parameters():
            p.requires_grad_(False)
    return {"count": module.count_parameters(model)}


class _RecordingLinear(nn.Module):
    """A plain linear model that records what each training forward pass receives."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__()
        self.layer = nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
        self.layer.load_state_dict(state)
        # what each training pass received, kept out of the student's reach (not on the model it is given)
        _RECORDS[id(self)] = _Record(self.layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if torch.is_grad_enabled():
            record = _RECORDS[id(self)]
            record.batches.append(x[:, 0].detach().clone())
            record.modes.append(self.training)
        return cast(torch.Tensor, self.layer(x))


class _Record:
    def __init__(self, layer: nn.Module) -> None:
        self.layer = layer  # the grader's own layer, whatever the student's code assigns to model.layer
        self.batches: list[torch.Tensor] = []
        self.modes: list[bool] = []

    def final(self) -> dict[str, torch.Tensor]:
        return {k: torch.Tensor.clone(torch.Tensor.detach(p)) for k, p in registered_parameters(self.layer)}


_RECORDS: dict[int, _Record] = {}


@probe
def run_training(module: Any, state: dict[str, Any], X: torch.Tensor, y: torch.Tensor, learning_rate: float,
                 num_epochs: int, batch_size: int) -> dict[str, Any]:
    """``train_model`` on a grader-made linear model started from ``state``; returns what it did."""
    model = _RecordingLinear(state)
    model.eval()  # train_model must switch to training mode itself
    try:
        history = module.train_model(model, X, y, learning_rate=learning_rate, num_epochs=num_epochs,
                                     batch_size=batch_size)
        record = _RECORDS[id(model)]
        return {"history": history, "final": record.final(), "batches": record.batches, "modes": record.modes}
    finally:
        _RECORDS.pop(id(model), None)


@probe
def run_predict(module: Any, state: dict[str, Any], X: torch.Tensor, batch_size: int) -> dict[str, Any]:
    """``predict`` with a grader-made linear model; also reports the modes it left behind."""
    model = _RecordingLinear(state)
    model.train()
    try:
        out = module.predict(model, X, batch_size=batch_size)
        return {"pred": out, "training_after": model.training, "recorded_with_grad": len(_RECORDS[id(model)].batches)}
    finally:
        _RECORDS.pop(id(model), None)


@probe
def train(module: Any, name: str, train_images: torch.Tensor, train_labels: torch.Tensor, learning_rate: float,
          num_epochs: int, batch_size: int) -> dict[str, Any]:
    """Train ``module.<name>()`` with ``train_model`` and the grader's hyperparameters; send back the
    trained parameters (the architecture is fixed, so the parent rebuilds the model from them and
    computes the test predictions itself: the test images never enter this process) and the loss
    history's ends."""
    X = _as_pixels(train_images)
    model = getattr(module, name)()
    history = module.train_model(model, X, train_labels, learning_rate=learning_rate, num_epochs=num_epochs,
                                 batch_size=batch_size)
    n = len(history) if isinstance(history, list) else 0
    return {"state": _state(model), "n_history": n,
            "history_ends": [history[:20], history[-20:]] if isinstance(history, list) else None}
