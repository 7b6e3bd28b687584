"""Probes for Part 4 (binary SVM, one-vs-all, softmax regression on CIFAR-10); they run inside the
sandbox with the student's module. What they return is untrusted data the parent re-checks.

Whether a function modifies its inputs in place is not reported from here: the parent calls it
directly with its inputs as ``wire.Watched`` shared memory and reads any change there itself."""
from __future__ import annotations

from typing import Any

import torch

from grader.probes import probe


@probe
def loss_with_grads(module: Any, func: str, args: list[Any], grad_of: list[Any]) -> dict[str, Any]:
    """Call a loss with the arguments at positions ``grad_of`` requiring gradients; back-propagate."""
    leaves = [a.detach().clone().requires_grad_(True) if i in grad_of else a for i, a in enumerate(args)]
    out = getattr(module, func)(*leaves)
    reply: dict[str, Any] = {"out": out}
    if isinstance(out, torch.Tensor) and out.requires_grad and out.numel() == 1:
        grads = torch.autograd.grad(out.reshape(()), [leaves[i] for i in grad_of], allow_unused=True)
        reply["grads"] = list(grads)
    else:
        reply["grad_problem"] = "the loss is not a tensor connected to its inputs in autograd's graph"
    return reply


def _features(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 images as float32 rows, standardised with the statistics the parent sends."""
    return (images.reshape(images.shape[0], -1).to(torch.float32) / 255.0 - mean) / std


@probe
def train_on_cifar(module: Any, kind: str, images: torch.Tensor, y: torch.Tensor, mean: torch.Tensor,
                   std: torch.Tensor, hyper: dict[str, Any], positive_class: int = 0) -> dict[str, Any]:
    """Train one model on the grader's CIFAR-10 subset with the student's code; send back W and b."""
    X = _features(images, mean, std)
    if kind == "binary":
        labels = module.to_pm1_labels(y, positive_class)
        out = module.train_binary_svm(X, labels, **hyper)
        return {"W": out[0], "b": out[1], "n_history": len(out[2])} if isinstance(out, tuple) and len(out) == 3 \
            else {"bad": out}
    if kind == "one_vs_all":
        out = module.train_one_vs_all(X, y, 10, **hyper)
        return {"W": out[0], "b": out[1]} if isinstance(out, tuple) and len(out) == 2 else {"bad": out}
    out = module.train_softmax_regression(X, y, 10, **hyper)
    return {"W": out[0], "b": out[1], "n_history": len(out[2])} if isinstance(out, tuple) and len(out) == 3 \
        else {"bad": out}


@probe
def run_trainer(module: Any, func: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run a training function on small inputs (seeded by the sandbox); send back what it returns."""
    return {"out": getattr(module, func)(*args, **kwargs)}
