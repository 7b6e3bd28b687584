"""Part 1, public checks: sanity of the four losses and of the search grids.

Students run these with ``python -m grader check``; the autograder runs them too. They
need no reference solution: expectations follow from the definitions (a loss of about
C - 1 for the SVM and log C for softmax when W is tiny; naive == vectorized; analytic
gradient == central differences).
"""
from __future__ import annotations

import math

import torch
from gradescope_utils.autograder_utils.decorators import number, weight

from grader import compare
from grader.errors import CheckFailed
from grader.registry import Part, check

PART = Part("linear_classifier", "Part 1: linear classifiers", files=("linear_classifier.py",),
            artifacts=("svm_best_model.pt", "softmax_best_model.pt"), datasets=("cifar10",))

LOSSES = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")


def build_reference_artifacts(dest, data_root=None) -> None:
    """The saved models a student's notebook writes, made with the reference (for the demo and tests)."""
    from grader.demo import train_linear_models

    train_linear_models(dest, data_root)


# ----------------------------------------------------------------------------- shared helpers


def loss_inputs(gen: torch.Generator, N: int, D: int, C: int, *, dtype: torch.dtype = torch.float64,
                w_scale: float = 1e-3, svm_margin_gap: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded (W, X, y): X has a bias column of ones; with ``svm_margin_gap`` > 0 every SVM
    margin s_j - s_y + 1 is at least that far from the hinge's kink (for numeric gradients)."""
    for _ in range(1000):
        X = torch.randn(N, D, generator=gen, dtype=torch.float64) * 0.3
        X[:, -1] = 1.0
        W = torch.randn(D, C, generator=gen, dtype=torch.float64) * w_scale
        y = torch.randint(0, C, (N,), generator=gen)
        if svm_margin_gap <= 0:
            break
        s = X @ W
        margins = s - s.gather(1, y[:, None]) + 1.0
        margins.scatter_(1, y[:, None], 10.0)
        if margins.abs().min() > svm_margin_gap:
            break
    return W.to(dtype), X.to(dtype), y


def call_loss(student, func: str, W, X, y, reg, *, timeout: float = 30.0):
    """(loss as float, dW, inputs-after) from one sandboxed call of a loss function."""
    reply = student.probe("linear_classifier.loss_call", func, W, X, y, reg, timeout=timeout, what=f"{func}()")
    if not isinstance(reply, dict) or "out" not in reply:
        raise CheckFailed(f"{func}() could not be called.")
    loss, dW = compare.unpack(reply["out"], 2, f"{func}()", ("loss", "dW"))
    return compare.scalar(loss, f"{func}(): the loss"), dW, reply


def numeric_gradient_check(student, func: str, W, X, y, reg, gen: torch.Generator, *, coords: int = 8,
                           h: float = 1e-5, tol: float = 1e-5, timeout: float = 30.0) -> None:
    """The analytic dW of ``func`` must agree with central differences of its own loss."""
    _, dW, _ = call_loss(student, func, W, X, y, reg, timeout=timeout)
    compare.structure(dW, W, what=f"{func}()", name="dW")
    D, C = W.shape
    rows = torch.randint(0, D, (coords,), generator=gen)
    cols = torch.randint(0, C, (coords,), generator=gen)
    for r, c in zip(rows.tolist(), cols.tolist()):
        Wp = W.clone()
        Wp[r, c] += h
        Wm = W.clone()
        Wm[r, c] -= h
        lp, _, _ = call_loss(student, func, Wp, X, y, reg, timeout=timeout)
        lm, _, _ = call_loss(student, func, Wm, X, y, reg, timeout=timeout)
        numeric = (lp - lm) / (2 * h)
        analytic = float(dW[r, c])
        err = abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-12)
        if err > tol and abs(numeric - analytic) > 1e-9:
            raise CheckFailed(
                f"{func}(): the gradient does not match your own loss. At dW[{r}, {c}] central differences give "
                f"{numeric:.6g} but dW says {analytic:.6g} (relative error {err:.2g}, reg={reg}). Re-derive dW "
                "from the loss you compute" + (", including the 2 * reg * W term." if reg else "."))


def grid_size_check(student, func: str) -> None:
    out = student.call(func, timeout=10)
    lrs, regs = compare.unpack(out, 2, f"{func}()", ("learning_rates", "regularization_strengths"))
    for name, values in (("learning_rates", lrs), ("regularization_strengths", regs)):
        if isinstance(values, torch.Tensor):
            values = values.flatten().tolist()
        if not isinstance(values, (list, tuple)):
            raise CheckFailed(f"{func}(): {name} must be a list of numbers, got {compare.describe(values)}.")
        if len(values) < 2:
            raise CheckFailed(f"{func}(): {name} has {len(values)} value(s); search at least 2.")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise CheckFailed(f"{func}(): {name} must hold finite non-negative numbers, found {v!r}.")
        if name == "learning_rates" and min(values) <= 0:
            raise CheckFailed(f"{func}(): learning rates must be positive.")
    combos = len(lrs) * len(regs)
    if not 5 <= combos <= 25:
        raise CheckFailed(f"{func}(): {len(lrs)} learning rates x {len(regs)} regularization strengths = {combos} "
                          "combinations; the search must try between 5 and 25.")


# ----------------------------------------------------------------------------- public checks


def _sanity(ctx, func: str, expected: float, label: str) -> None:
    gen = torch.Generator().manual_seed(0)
    W, X, y = loss_inputs(gen, 50, 3073, 10, w_scale=1e-7)
    with ctx.student() as s:
        loss, dW, _ = call_loss(s, func, W, X, y, 0.0, timeout=ctx.timeout(60))
    compare.structure(dW, W, what=f"{func}()", name="dW")
    if not abs(loss - expected) < 0.05:
        raise CheckFailed(f"{func}(): with tiny random weights every score is about 0, so the loss should be about "
                          f"{expected:.3f} ({label}); got {loss:.6g}.")


@check("svm_loss_naive: sanity loss with tiny weights", public=True, timeout=60)
@weight(1)
@number("1.0.1")
def public_svm_sanity(ctx):
    _sanity(ctx, "svm_loss_naive", 9.0, "C - 1 = 9 classes each contributing a margin of 1")


@check("softmax_loss_naive: sanity loss with tiny weights", public=True, timeout=60)
@weight(1)
@number("1.0.2")
def public_softmax_sanity(ctx):
    _sanity(ctx, "softmax_loss_naive", math.log(10), "log C = log 10")


@check("Losses: analytic gradients match central differences (public inputs)", public=True, timeout=120)
@weight(1)
@number("1.0.3")
def public_gradient_check(ctx):
    gen = torch.Generator().manual_seed(1)
    W, X, y = loss_inputs(gen, 20, 30, 5, w_scale=0.5, svm_margin_gap=1e-3)
    with ctx.student() as s:
        for func in LOSSES:
            numeric_gradient_check(s, func, W, X, y, 0.05, gen, coords=5, timeout=ctx.timeout(30))


@check("Vectorized losses agree with the naive ones (public inputs)", public=True, timeout=120)
@weight(1)
@number("1.0.4")
def public_vectorized_agrees(ctx):
    gen = torch.Generator().manual_seed(2)
    W, X, y = loss_inputs(gen, 40, 3073, 10, w_scale=1e-3)
    with ctx.student() as s:
        for naive, vec in (("svm_loss_naive", "svm_loss_vectorized"), ("softmax_loss_naive", "softmax_loss_vectorized")):
            l1, g1, _ = call_loss(s, naive, W, X, y, 0.1, timeout=ctx.timeout(60))
            l2, g2, _ = call_loss(s, vec, W, X, y, 0.1, timeout=ctx.timeout(60))
            compare.close(l2, l1, what=f"{vec}()", name="the loss", rtol=1e-7, atol=1e-12,
                          hint=f"(compared with {naive} on the same inputs)")
            compare.tensor(g2, compare.structure(g1, W, what=f"{naive}()", name="dW"),
                           what=f"{vec}()", name="dW", rtol=1e-7, atol=1e-12,
                           hint=f"(compared with {naive} on the same inputs)")


@check("svm_get_search_params: 5 to 25 combinations", public=True, timeout=30)
@weight(1)
@number("1.0.5")
def public_svm_grid(ctx):
    with ctx.student() as s:
        grid_size_check(s, "svm_get_search_params")


@check("softmax_get_search_params: 5 to 25 combinations", public=True, timeout=30)
@weight(1)
@number("1.0.6")
def public_softmax_grid(ctx):
    with ctx.student() as s:
        grid_size_check(s, "softmax_get_search_params")
