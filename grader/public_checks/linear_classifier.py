"""Part 1, public checks: sanity of the four losses and of the search grids.

Students run these with ``python -m grader check``; the autograder runs them too. They
need no reference solution: expectations follow from the definitions (a loss of about
C - 1 for the SVM and log C for softmax when W is tiny; naive == vectorized; analytic
gradient == central differences).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import math

import torch

from grader import compare, wire
from grader.errors import CheckFailed
from grader.registry import Part, check

if TYPE_CHECKING:
    from pathlib import Path

    from grader.runner import Context
    from grader.sandbox import StudentSession

def build_reference_artifacts(dest: Path, data_root: Path | None = None) -> None:
    """The saved models a student's notebook writes, made with the reference (for the demo and tests)."""
    from grader.demo import train_linear_models

    train_linear_models(dest, data_root)


PART = Part("linear_classifier", "Part 1: linear classifiers", files=("linear_classifier.py",),
            artifacts=("svm_best_model.pt", "softmax_best_model.pt"), datasets=("cifar10",),
            build_artifacts=build_reference_artifacts)

LOSSES = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")


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


def call_loss(student: StudentSession, func: str, W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float, *,
              timeout: float = 30.0, dtypes: list[torch.dtype] | None = None) -> tuple[float, Any, dict[str, str]]:
    """(loss as float, dW, the inputs it wrote into) from one sandboxed call.

    W, X and y cross in memory shared with the grader, which sees for itself whether the
    student's code wrote into them (see ``wire.WatchedInputs.written``). With a list as
    ``dtypes``, the dtype the loss was returned in is appended to it (for tolerances).
    """
    with wire.WatchedInputs(W=W, X=X, y=y) as inputs:
        # autograd is off: this part computes gradients by hand, so a loss that needs autograd fails
        # whatever its source looks like
        out = student.call(func, *inputs.args(), reg, timeout=timeout, grad=False)
        written = inputs.written()
    loss, dW = compare.unpack(out, 2, f"{func}()", ("loss", "dW"))
    if dtypes is not None:
        dtypes.append(compare.value_dtype(loss))
    return compare.scalar(loss, f"{func}(): the loss"), dW, written


def loss_terms(N: int, D: int, C: int) -> int:
    """Rounded operations in the longest chain of a loss on (N, D, C) inputs: a score is a sum of D
    products, the loss a sum of N * C terms (for ``compare.rtol``)."""
    return D + N * C


def numeric_gradient_check(student: StudentSession, func: str, W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                           reg: float, gen: torch.Generator, *, coords: int = 8,
                           h: float = 1e-5, timeout: float = 30.0) -> None:
    """The analytic dW of ``func`` must agree with central differences of its own loss.

    The tolerance is what central differences can tell: two losses rounded to ``compare.rtol`` of
    their size (in the dtype the loss comes back in), divided by 2h, plus the truncation error
    h^2 / 6 * |d^3 loss / dW^3|, which for these losses is at most h^2 * max|X|^3 (the SVM's kinks are
    kept further than h away by the inputs)."""
    dtypes: list[torch.dtype] = []
    loss0, dW, _ = call_loss(student, func, W, X, y, reg, timeout=timeout, dtypes=dtypes)
    compare.structure(dW, W, what=f"{func}()", name="dW")
    D, C = W.shape
    rel = compare.rtol(W.dtype, *dtypes, terms=loss_terms(X.shape[0], D, C))
    slack = rel * max(1.0, abs(loss0)) / h + h ** 2 * float(X.abs().max()) ** 3
    rows = torch.randint(0, D, (coords,), generator=gen)
    cols = torch.randint(0, C, (coords,), generator=gen)
    points = []
    first_bad = None
    for r, c in zip(rows.tolist(), cols.tolist()):
        Wp = W.clone()
        Wp[r, c] += h
        Wm = W.clone()
        Wm[r, c] -= h
        lp, _, _ = call_loss(student, func, Wp, X, y, reg, timeout=timeout)
        lm, _, _ = call_loss(student, func, Wm, X, y, reg, timeout=timeout)
        numeric = (lp - lm) / (2 * h)
        analytic = float(dW[r, c])
        points.append((r, c, numeric, analytic))
        err = abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-300)
        if first_bad is None and compare.off(numeric, analytic, slack + rel * abs(analytic)):
            first_bad = (r, c, numeric, analytic, err)
    if first_bad is not None:
        r, c, numeric, analytic, err = first_bad
        hint = gradient_check_diagnosis(func, points, W, X, y, reg, slack, rel)
        raise CheckFailed(
            f"{func}(): the gradient does not match your own loss. At dW[{r}, {c}] central differences give "
            f"{numeric:.6g} but dW says {analytic:.6g} (relative error {err:.2g}, reg={reg}). "
            + (hint or "Re-derive dW from the loss you compute"
               + (", including the 2 * reg * W term." if reg else ".")))


def gradient_check_diagnosis(func: str, points: list[tuple[int, int, float, float]], W: torch.Tensor, X: torch.Tensor,
                             y: torch.Tensor, reg: float, slack: float, rel: float) -> str:
    """Name the bug when the analytic dW is a known wrong variant of the numeric one at every point.

    ``points`` holds (row, col, numeric, analytic); the variants are computed from W, X, y and reg and
    match within what central differences can tell (``slack`` absolute, ``rel`` relative).
    """
    def fits(predicted: float, got: float) -> bool:
        return abs(predicted - got) <= slack + rel * max(abs(predicted), abs(got))

    N, C = X.shape[0], W.shape[1]
    onehot = torch.zeros(N, C, dtype=torch.float64)
    onehot[torch.arange(N), y] = 1.0
    correct_class = X.double().t().mm(onehot) / N   # what "- 1 at the correct class" adds to dW
    variants: list[tuple[Callable[[float, float, float], float], str]] = [
        (lambda n, w, e: N * (n - 2 * reg * w) + 2 * reg * w,
         "dW is summed over the N examples instead of averaged: divide its data term by N, like the loss."),
        (lambda n, w, e: (n - 2 * reg * w) / N + 2 * reg * w,
         "The loss is summed over the N examples instead of averaged (dW is averaged): divide the loss by N."),
        (lambda n, w, e: -(n - 2 * reg * w) + 2 * reg * w,
         "The data term of dW has the wrong sign: " + (
             "column j gets (p_j - 1[j == y_i]) * x_i." if func.startswith("softmax") else
             "a positive margin adds x_i to column j and subtracts it from column y_i.")),
        (lambda n, w, e: -n, "dW has the wrong sign."),
    ]
    if reg:
        variants += [
            (lambda n, w, e: n - reg * w,
             "The gradient of the regulariser is 2 * reg * W; you used reg * W."),
            (lambda n, w, e: n - 2 * reg * w, "dW is missing the gradient of the regulariser, 2 * reg * W."),
            (lambda n, w, e: n + reg * w,
             "The loss uses 0.5 * reg * sum(W * W) but dW adds 2 * reg * W. This assignment's regulariser is "
             "reg * sum(W * W), with no 1/2; its gradient is 2 * reg * W."),
            (lambda n, w, e: n + 2 * reg * w,
             "The loss is missing the regularisation term reg * sum(W * W) that dW accounts for."),
        ]
    if func.startswith("softmax"):
        variants.append((lambda n, w, e: n + e,
                         "dW does not subtract 1 at the correct class: column y_i gets (p_{y_i} - 1) * x_i, "
                         "the other columns p_j * x_i."))
    for predict, text in variants:
        if all(fits(predict(n, float(W[r, c]), float(correct_class[r, c])), a) for r, c, n, a in points):
            return text
    return ""


def agreement_diagnosis(kind: str, names: tuple[str, str], losses: tuple[float, float], grads: tuple[Any, Any],
                        W: torch.Tensor, reg: float,
                        N: int, tol: float) -> str:
    """Which of two disagreeing implementations (naive, vectorized) has which known bug.

    Each one is tried as the wrong one with the other taken as right; the regulariser, which the
    grader knows exactly, tells the conventions apart. Values match within ``tol``, the tolerance of
    the agreement check itself.
    """
    def _near(a: float, b: float) -> bool:
        return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


    R = float((W.double() * W.double()).sum())
    Wd = W.double()
    msgs = []
    for a, b in ((0, 1), (1, 0)):
        name, la, lb = names[a], losses[a], losses[b]
        if _near(la, lb):
            break
        loss_variants = [
            (N * (lb - reg * R) + reg * R, f"{name}: the loss is summed over the N examples instead of averaged."),
            (lb - 0.5 * reg * R, f"{name} uses 0.5 * reg * sum(W * W); this assignment uses reg * sum(W * W), "
                                 "with no 1/2."),
            (lb - reg * R, f"{name}: the loss is missing reg * sum(W * W)."),
        ]
        if kind == "svm":
            loss_variants.append((lb + 1.0, f"{name} counts the correct class (j == y[i]), which adds a margin of "
                                            "1 per example: skip it."))
        for value, text in loss_variants:
            if not _near(value, lb) and _near(la, value):
                msgs.append(text)
                break
        else:
            continue
        break
    ga_gb = [g.detach().double().cpu() if isinstance(g, torch.Tensor) else None for g in grads]
    if all(g is not None and g.shape == Wd.shape for g in ga_gb):
        for a, b in ((0, 1), (1, 0)):
            name, ga, gb = names[a], ga_gb[a], ga_gb[b]
            assert ga is not None and gb is not None  # all() above
            if compare.near(ga, gb, tol):
                break
            grad_variants: list[tuple[Any, str]] = [  # tensors; ``value`` is first bound to a float above
                (N * (gb - 2 * reg * Wd) + 2 * reg * Wd,
                 f"{name}: dW is summed over the N examples instead of averaged."),
                (gb - reg * Wd, f"{name} uses reg * W as the regulariser's gradient; it is 2 * reg * W."),
                (gb - 2 * reg * Wd, f"{name}: dW is missing the gradient of the regulariser, 2 * reg * W."),
                (-(gb - 2 * reg * Wd) + 2 * reg * Wd, f"{name}: the data term of dW has the wrong sign."),
            ]
            found = False
            for value, text in grad_variants:
                if not compare.near(value, gb, tol) and compare.near(ga, value, tol):
                    msgs.append(text)
                    found = True
                    break
            if found:
                break
    return " ".join(msgs)


def numbers(values: Any, what: str) -> list[float]:
    """Any 1-D array-like of numbers a notebook would iterate over (list, tuple, numpy array, tensor,
    0-dim tensors or numpy scalars as items) as a list of floats; CheckFailed for anything else."""
    if isinstance(values, wire.NumpyArray):
        values = values.tensor
    if isinstance(values, torch.Tensor):
        if values.dim() > 1 and sum(n > 1 for n in values.shape) > 1:
            raise CheckFailed(f"{what} must be a 1-D list of numbers, got a tensor of shape {tuple(values.shape)}.")
        if values.is_complex():
            raise CheckFailed(f"{what} must hold real numbers.")
        values = values.reshape(-1).tolist()
    if not isinstance(values, (list, tuple)):
        raise CheckFailed(f"{what} must be a list of numbers, got {compare.describe(values)}.")
    out = []
    for v in values:
        if isinstance(v, wire.NumpyArray):
            v = v.tensor
        if isinstance(v, torch.Tensor) and v.numel() == 1 and not v.is_complex():
            v = v.reshape(()).item()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise CheckFailed(f"{what} must hold numbers, found {compare.describe(v)}.")
        out.append(float(v))
    return out


def grid_size_check(student: StudentSession, func: str) -> None:
    out = student.call(func, timeout=10)
    lrs, regs = compare.unpack(out, 2, f"{func}()", ("learning_rates", "regularization_strengths"))
    lrs = numbers(lrs, f"{func}(): learning_rates")
    regs = numbers(regs, f"{func}(): regularization_strengths")
    for name, values in (("learning_rates", lrs), ("regularization_strengths", regs)):
        if len(values) < 2:
            raise CheckFailed(f"{func}(): {name} has {len(values)} value(s); search at least 2.")
        for v in values:
            if not math.isfinite(v) or v < 0:
                raise CheckFailed(f"{func}(): {name} must hold finite non-negative numbers, found {v!r}.")
        if name == "learning_rates" and min(values) <= 0:
            raise CheckFailed(f"{func}(): learning rates must be positive.")
    combos = len(lrs) * len(regs)
    if not 5 <= combos <= 25:
        raise CheckFailed(f"{func}(): {len(lrs)} learning rates x {len(regs)} regularization strengths = {combos} "
                          "combinations; the search must try between 5 and 25.")


# ----------------------------------------------------------------------------- public checks


def _sanity(ctx: Context, func: str, expected: float, label: str) -> None:
    gen = torch.Generator().manual_seed(0)
    W, X, y = loss_inputs(gen, 50, 3073, 10, w_scale=1e-7)
    with ctx.student() as s:
        loss, dW, _ = call_loss(s, func, W, X, y, 0.0, timeout=ctx.timeout(60))
    compare.structure(dW, W, what=f"{func}()", name="dW")
    if not abs(loss - expected) < 0.05:
        N = X.shape[0]
        hint = ""
        if abs(loss - N * expected) < 0.05 * N:
            hint = (f" That is about N = {N} times too much: the loss is summed over the N examples instead of "
                    "averaged. Divide the data term by N.")
        elif abs(loss + expected) < 0.05:
            hint = " The loss has the wrong sign: it is -log(p_{y_i}), which is positive."
        elif func.startswith("svm") and abs(loss - (expected + 1)) < 0.05:
            hint = (" One margin too many per example: the loss counts the correct class (j == y[i]), whose "
                    "margin is always 1. Skip j == y[i].")
        elif func.startswith("svm") and abs(loss) < 0.05:
            hint = (" A loss near 0 means the margins s_j - s_{y_i} are used without the margin delta of 1: "
                    "the margin is max(0, s_j - s_{y_i} + 1).")
        raise CheckFailed(f"{func}(): with tiny random weights every score is about 0, so the loss should be about "
                          f"{expected:.3f} ({label}); got {loss:.6g}.{hint}")


@check("svm_loss_naive: sanity loss with tiny weights", timeout=60, weight=1)
def public_svm_sanity(ctx: Context) -> None:
    _sanity(ctx, "svm_loss_naive", 9.0, "C - 1 = 9 classes each contributing a margin of 1")


@check("softmax_loss_naive: sanity loss with tiny weights", timeout=60, weight=1)
def public_softmax_sanity(ctx: Context) -> None:
    _sanity(ctx, "softmax_loss_naive", math.log(10), "log C = log 10")


@check("Losses: analytic gradients match central differences (public inputs)", timeout=120, weight=1)
def public_gradient_check(ctx: Context) -> None:
    gen = torch.Generator().manual_seed(1)
    W, X, y = loss_inputs(gen, 20, 30, 5, w_scale=0.5, svm_margin_gap=1e-3)
    with ctx.student() as s:
        ctx.per_item(LOSSES, lambda func: numeric_gradient_check(s, func, W, X, y, 0.05, gen, coords=5,
                                                                 timeout=ctx.timeout(30)))


@check("Vectorized losses agree with the naive ones (public inputs)", timeout=120, weight=1)
def public_vectorized_agrees(ctx: Context) -> None:
    gen = torch.Generator().manual_seed(2)
    N, D, C = 40, 3073, 10
    W, X, y = loss_inputs(gen, N, D, C, w_scale=1e-3)
    reg = 0.1

    def agree(pair: str) -> None:
        naive, vec = pair.split(" == ")
        dtypes: list[torch.dtype] = []
        l1, g1, _ = call_loss(s, naive, W, X, y, reg, timeout=ctx.timeout(60), dtypes=dtypes)
        l2, g2, _ = call_loss(s, vec, W, X, y, reg, timeout=ctx.timeout(60), dtypes=dtypes)
        kind = naive.split("_")[0]
        # two correct implementations differ by rounding only: twice one's tolerance
        tol = 2 * compare.rtol(W.dtype, *dtypes, terms=loss_terms(N, D, C))
        hint = agreement_diagnosis(kind, (naive, vec), (l1, l2), (g1, g2), W, reg, N, tol)
        if not abs(l2 - l1) <= tol * max(1.0, abs(l1)):
            a, b = compare.digits(l1, l2)
            raise CheckFailed(f"{naive} and {vec} disagree on the same inputs (N={N}, reg={reg}): the loss is "
                              f"{a} from {naive} and {b} from {vec}. {hint}".strip())
        g1 = compare.structure(g1, W, what=f"{naive}()", name="dW")
        scale = float(g1.detach().double().abs().max())
        compare.tensor(g2, g1, what=f"{vec}() against {naive}() on the same inputs", name="dW", rtol=tol,
                       atol=tol * scale, hint=hint)

    with ctx.student() as s:
        ctx.per_item(("svm_loss_naive == svm_loss_vectorized", "softmax_loss_naive == softmax_loss_vectorized"),
                     agree)


@check("svm_get_search_params: 5 to 25 combinations", timeout=30, weight=1)
def public_svm_grid(ctx: Context) -> None:
    with ctx.student() as s:
        grid_size_check(s, "svm_get_search_params")


@check("softmax_get_search_params: 5 to 25 combinations", timeout=30, weight=1)
def public_softmax_grid(ctx: Context) -> None:
    with ctx.student() as s:
        grid_size_check(s, "softmax_get_search_params")


# A saved model holds W of shape (3073, 10): 123 KB in float32, 246 KB in float64. Anything far larger
# is not what save() writes.
SAVED_MODEL_MAX_BYTES = 16 * 1024 * 1024
SAVED_MODELS = ("svm_best_model.pt", "softmax_best_model.pt")


def load_saved_W(ctx: Context, artifact: str) -> torch.Tensor:
    """W of a saved model the notebook wrote with the classifier's save(), read in the grader's process
    (bounded: every archive entry stored, at most SAVED_MODEL_MAX_BYTES); CheckFailed says what is wrong."""
    path = ctx.artifact(artifact)
    try:
        state = wire.load_saved_model(path, max_bytes=SAVED_MODEL_MAX_BYTES)
    except wire.FrameTooLarge as exc:
        raise CheckFailed(f"{artifact} is refused: {exc}. Save the model with the classifier's save() method "
                          "(torch.save of a dict holding W, about 120 KB).") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the student's to fix
        raise CheckFailed(f"{artifact} could not be read as a saved model ({type(exc).__name__}: "
                          f"{str(exc)[:200]}). Create it with the classifier's save() method.") from None
    if not isinstance(state, dict) or "W" not in state:
        raise CheckFailed(f"{artifact} should hold a dict with the key 'W' (what save() writes), got "
                          f"{compare.describe(state)}.")
    W = state["W"]
    if not isinstance(W, torch.Tensor) or W.dim() != 2 or tuple(W.shape) != (3073, 10):
        raise CheckFailed(f"{artifact}: W should be a tensor of shape (3073, 10) (3072 pixels + bias, 10 classes), "
                          f"got {compare.describe(W)}.")
    if not W.is_floating_point() or not torch.isfinite(W).all():
        raise CheckFailed(f"{artifact}: W must hold finite floating-point numbers.")
    return W


@check("Saved models svm_best_model.pt, softmax_best_model.pt: submitted, loadable (0 points here)",
       timeout=30, weight=0)
def public_saved_models(ctx: Context) -> None:
    def present(name: str) -> None:
        load_saved_W(ctx, name)

    ctx.per_item(SAVED_MODELS, present)
