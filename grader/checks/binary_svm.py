"""Part 4, hidden checks: binary soft-margin SVM, one-vs-all and softmax regression on CIFAR-10.

Expected values come from the reference at grading time on hidden seeded inputs (full-batch
training is deterministic, so the student's trainers are compared step for step) and from
torch's own cross-entropy. Accuracy runs train inside the sandbox with the student's code and
hyperparameters fixed here; the parent evaluates the returned W and b on images and labels it
holds. The part is worth 45 points (2 public + 43 hidden).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import math

import torch

from grader import compare, kits, static, wire
from grader.errors import CheckFailed
from grader.registry import check
from grader.public_checks.binary_svm import PART

if TYPE_CHECKING:
    from grader.runner import Context
    from grader.sandbox import StudentSession

__all__ = ["PART"]

# The grader's protocol for the accuracy checks: a seeded subset of the training part of the standard
# train/validation split (grader.data.train_val_indices, 20%, seed 0), pixels / 255 standardised with the
# subset's own statistics, the student's trainers with these hyperparameters.
TRAIN_SUBSET = 3200
HYPER = {"lam": 1e-2, "learning_rate": 1e-3, "num_epochs": 10, "batch_size": 64}
BINARY_PAIR = (3, 8)  # cat (+1) against ship (-1)
# Test-accuracy floors per profile. "sample": over 8 subset/shuffle seeds the reference reaches binary
# 0.837-0.866 (209 test images of the pair), one-vs-all 0.344-0.361 and softmax 0.356-0.368 (1,000 test
# images) (bench/calibrate_binary_svm.py); the floors sit 4-6 points below the worst seed, a small test set
# being noisy. "full": the same protocol evaluated on the 10,000 official test images; not measured here,
# estimated to match the sample figures within 2 points, so the same floors apply.
ACCURACY_FLOOR = {"sample": {"binary": 0.78, "one_vs_all": 0.30, "softmax": 0.31},
                  "full": {"binary": 0.78, "one_vs_all": 0.30, "softmax": 0.31}}
# Mean balanced accuracy (average of the true-positive and true-negative rates) of the ten one-vs-all
# classifiers on validation images: 0.5 is what predicting "not c" for everything gets (reference: 0.69-0.71).
BALANCED_FLOOR = 0.55
# The losses are the graded work: torch.nn (layers, losses, functional softmax) and torch's softmax,
# log-sum-exp and loss functions are refused in them; tensor utilities (one_hot, relu, pad) are not.
FORBIDDEN = ("torch.nn", "torch.softmax", "torch.log_softmax", "torch.logsumexp", ".softmax", ".log_softmax",
             ".logsumexp", "torch.special", "torch.cross_entropy", "torch.nll_loss", "torch.hinge_embedding_loss")
ALLOWED = static.TENSOR_UTILITIES
STATIC_FUNCTIONS = ("hinge_loss", "softmax_cross_entropy", "train_binary_svm", "train_softmax_regression")


# ----------------------------------------------------------------------------- inputs modified in place


def _call_watching(s: StudentSession, ctx: Context, func: str, inputs: dict[str, torch.Tensor], *more: Any) -> tuple[object, dict[str, str]]:
    """``func(*inputs.values(), *more)`` in the sandbox, with the tensors of ``inputs`` in memory shared with
    the grader. Returns the output and, for each input the student's code wrote into (read here, in the
    parent, from that memory, whatever the child says), how many of its values changed."""
    with wire.WatchedInputs(**inputs) as watched:
        out = s.call(func, *watched.args(), *more, timeout=ctx.timeout(30))
        return out, watched.written()


# ----------------------------------------------------------------------------- labels and normalisation


@check("to_pm1_labels: +1 for the positive class, -1 (not 0) for the rest", timeout=60, weight=2)
def bs_labels_pm1(ctx: Context) -> None:
    gen = ctx.generator("labels")
    y = torch.randint(0, 10, (50,), generator=gen)
    c = int(y[7])
    with ctx.student() as s:
        out, written = _call_watching(s, ctx, "to_pm1_labels", {"y": y}, c)
    what = f"to_pm1_labels(y, positive_class={c})"
    expected = torch.where(y == c, 1.0, -1.0)
    if isinstance(out, torch.Tensor) and out.shape == y.shape and set(out.double().unique().tolist()) <= {0.0, 1.0}:
        raise CheckFailed(f"{what} returns labels in {{0, 1}}. The hinge loss max(0, 1 - y * s) needs y = -1 for the "
                          "negative class: with y = 0 a negative example always costs 1 and gives no gradient, so "
                          "the SVM never learns to push negatives down.")
    compare.tensor(out, expected, what=what, name="the labels", rtol=0, atol=0,
                   hint="+1.0 where y == positive_class, -1.0 elsewhere, as float32.")
    if written:
        raise CheckFailed(f"{what} modified {compare.in_place(written)}. Build the labels in a new tensor, e.g. "
                          "torch.where(y == positive_class, 1.0, -1.0): the caller still needs y (train_one_vs_all "
                          "makes the labels of every class from the same y).")


def _standardise(X: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (X - mean) / (std + 1e-8)


def sgd_tolerance(n: int, d: int, steps: int, dtype: torch.dtype = torch.float64) -> float:
    """Relative tolerance for ``steps`` gradient steps of a linear model on ``n`` examples with ``d``
    features against the same steps in the reference: each step rounds the scores (d terms), a mean
    over n examples and the update, and starts from the previous step's rounded parameters."""
    return compare.rtol(dtype, terms=max(1, steps) * (n + d + 2))


@check("normalize: every split standardised with the TRAINING mean and std only", timeout=60, weight=3)
def bs_normalize_train_stats(ctx: Context) -> None:
    gen = ctx.generator("normalize")
    X_train = torch.randn(40, 6, generator=gen, dtype=torch.float64) * 3 + 2
    X_val = torch.randn(25, 6, generator=gen, dtype=torch.float64) * 0.5 - 1
    X_test = torch.randn(30, 6, generator=gen, dtype=torch.float64) * 2 + 5
    with ctx.student() as s:
        out, written = _call_watching(s, ctx, "normalize", {"X_train": X_train, "X_val": X_val, "X_test": X_test})
    what = "normalize(X_train, X_val, X_test)"
    if written:
        raise CheckFailed(f"{what} modified {compare.in_place(written)}; return new tensors: (X - mean) / std, not "
                          "X -= mean or X.sub_(mean).")
    out = compare.unpack(out, 3, what, ("X_train_n", "X_val_n", "X_test_n"))
    candidates = [(X_train.mean(0), X_train.std(0)), (X_train.mean(0), X_train.std(0, correction=0))]
    everything = torch.cat([X_train, X_val, X_test])
    # rounding of a mean and a std over the training rows, a subtraction and a division; plus what the
    # documented eps (1e-8, added to std) changes, so that leaving it out is no error
    tol = compare.rtol(X_train.dtype, terms=2 * len(X_train) + 4) + 1e-8 / float(X_train.std(0).min())
    for i, (name, X) in enumerate((("X_train", X_train), ("X_val", X_val), ("X_test", X_test))):
        got = compare.structure(out[i], X, what=what, name=f"the normalised {name}")
        if any(compare.near(got, _standardise(X, m, sd), tol) for m, sd in candidates):
            continue
        hint = ""
        if compare.near(got, _standardise(X, X.mean(0), X.std(0)), tol) or compare.near(got, _standardise(
                X, X.mean(0), X.std(0, correction=0)), tol):
            hint = (f"{name} was standardised with its OWN mean and std. Use the training statistics for every split: "
                    "validation and test data stand for unseen examples, so their statistics must not leak into "
                    "the preprocessing.")
        elif any(compare.near(got, _standardise(X, everything.mean(0), everything.std(0, correction=k)), tol)
                 for k in (0, 1)):
            hint = ("The statistics were computed on train, validation and test together; use X_train's only, or "
                    "validation statistics leak into the model.")
        elif compare.near(got, X - X_train.mean(0), tol):
            hint = "The mean is subtracted but nothing is divided by the standard deviation."
        elif compare.near(got, (X - X_train.mean()) / X_train.std(), tol):
            hint = "One mean and std for the whole matrix; standardise every feature (column): dim=0."
        expected = _standardise(X, *candidates[0])
        compare.tensor(got, expected, what=what, name=f"the normalised {name}", rtol=tol,
                       atol=tol * float(expected.abs().max()),
                       hint=hint or "Expected (X - X_train.mean(dim=0)) / (X_train.std(dim=0) + eps).")


# ----------------------------------------------------------------------------- hinge loss


def _hinge_parts(scores: torch.Tensor, labels: torch.Tensor, W: torch.Tensor) -> tuple[torch.Tensor, float]:
    return torch.clamp(1 - labels * scores, min=0), float((W * W).sum())


def _hinge_hint(value: float, scores: torch.Tensor, labels: torch.Tensor, W: torch.Tensor, lam: float, rtol: float) -> str:
    m, R = _hinge_parts(scores, labels, W)
    data = float(m.mean())
    N = scores.shape[0]
    variants = [
        (float(m.sum()) + lam * R, "The hinge terms are summed; average them over the N examples."),
        (data, "The L2 penalty lam * sum(W * W) is missing."),
        (data + 0.5 * lam * R, "The penalty is lam * sum(W * W) here, with no factor 1/2."),
        (data + lam * math.sqrt(R), "The penalty uses the norm of W; it is the squared norm, sum(W * W)."),
        (float(torch.clamp(-labels * scores, min=0).mean()) + lam * R,
         "The margin is missing: max(0, 1 - y * s), not max(0, -y * s)."),
        (float(torch.clamp(1 + labels * scores, min=0).mean()) + lam * R,
         "The sign is flipped: max(0, 1 - y * s), not max(0, 1 + y * s)."),
        ((float(m.sum()) + lam * R) / N, "The penalty is divided by N too; only the hinge terms are averaged."),
    ]
    for v, text in variants:
        if abs(value - v) <= rtol * max(1.0, abs(v)):
            return text
    return ""


def _hinge_inputs(gen: torch.Generator, N: int, D: int,
                  dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    scores = torch.randn(N, generator=gen, dtype=torch.float64) * 1.5
    labels = torch.where(torch.rand(N, generator=gen) < 0.5, 1.0, -1.0).double()
    # keep every margin away from the kink so that central differences are exact enough
    margin = 1 - labels * scores
    scores = torch.where(margin.abs() < 0.05, scores + 0.2 * labels, scores)
    W = torch.randn(D, generator=gen, dtype=torch.float64) * 0.3
    return scores.to(dtype), labels.to(dtype), W.to(dtype)


@check("hinge_loss: mean hinge plus lam * sum(W * W) matches the reference", timeout=60, weight=3)
def bs_hinge_values(ctx: Context) -> None:
    ref = ctx.reference
    gen = ctx.generator("hinge")
    with ctx.student() as s:
        for N, D, lam, dtype in ((37, 11, 0.0, torch.float64), (64, 20, 0.05, torch.float64),
                                 (16, 5, 0.3, torch.float32)):
            scores, labels, W = _hinge_inputs(gen, N, D, dtype)
            out, written = _call_watching(s, ctx, "hinge_loss", {"scores": scores, "labels": labels, "W": W}, lam)
            what = f"hinge_loss(scores, labels, W, lam={lam}) with N={N}, D={D}, {str(dtype).removeprefix('torch.')}"
            if written:
                raise CheckFailed(f"{what} modified {compare.in_place(written)}. Compute the loss in new tensors "
                                  "(labels * scores, not scores *= labels): the caller still needs its inputs as "
                                  "they were, W above all (the model's weights).")
            if not isinstance(out, torch.Tensor):
                raise CheckFailed(f"{what} must return a 0-dimensional tensor (autograd needs it), got "
                                  f"{compare.describe(out)}. Do not call .item() inside the loss.")
            value = compare.scalar(out, what)
            if out.dtype != dtype:
                raise CheckFailed(f"{what} returned dtype {out.dtype}; keep the scores' dtype ({dtype}).")
            expected = float(ref.hinge_loss(scores, labels, W, lam))
            # a mean of N hinge terms and a sum of D squares, rounded in the inputs' dtype (here and in the reference)
            rtol = compare.rtol(dtype, terms=2 * (N + D + 2))
            compare.close(value, expected, what=what, name="the loss", rtol=rtol, atol=rtol * max(1.0, abs(expected)),
                          hint=_hinge_hint(value, scores.double(), labels.double(), W.double(), lam, rtol))


@check("hinge_loss: autograd gradients w.r.t. scores and W match central differences", depends=("bs_hinge_values",),
       timeout=60, weight=2)
def bs_hinge_gradients(ctx: Context) -> None:
    ref = ctx.reference
    gen = ctx.generator("hinge-grad")
    scores, labels, W = _hinge_inputs(gen, 23, 7)
    lam = 0.07
    with ctx.student() as s:
        reply = s.probe("binary_svm.loss_with_grads", "hinge_loss", [scores, labels, W, lam], [0, 2],
                        timeout=ctx.timeout(30), what="hinge_loss(...).backward()")
    what = f"hinge_loss(scores, labels, W, lam={lam}) (N=23, D=7, float64)"
    grads = reply.get("grads") if isinstance(reply, dict) else None
    if not grads or any(g is None for g in grads):
        raise CheckFailed(f"{what}: autograd gives no gradient ({reply.get('grad_problem', 'a gradient is None')}). "
                          "Build the loss from torch operations on scores and W (no .item(), .detach(), numpy or "
                          "torch.tensor(...) on intermediate values).")
    h = 1e-6
    N, D = scores.shape[0], W.shape[0]
    # central differences of a loss rounded to (N + D) * eps of its size, divided by 2h (the hinge is
    # piecewise linear away from its kinks and the penalty quadratic: no truncation error)
    rtol = compare.rtol(torch.float64, terms=N + D)
    atol = rtol * max(1.0, float(ref.hinge_loss(scores, labels, W, lam))) / h
    for idx, (name, t) in enumerate((("scores", scores), ("W", W))):
        numeric = torch.zeros_like(t)
        for i in range(t.numel()):
            args: list[Any] = [scores.clone(), labels, W.clone(), lam]
            pos = 0 if name == "scores" else 2
            args[pos][i] += h
            lp = float(ref.hinge_loss(*args))
            args[pos][i] -= 2 * h
            lm = float(ref.hinge_loss(*args))
            numeric[i] = (lp - lm) / (2 * h)
        compare.tensor(grads[idx], numeric, what=what + " (autograd)", name=f"d loss / d {name}", rtol=rtol,
                       atol=atol, hint="The values match, so the graph is cut or bent somewhere (a detach, an "
                                       "in-place write, a mask built without torch.clamp / torch.where).")


# ----------------------------------------------------------------------------- training contracts


def _svm_gd(X: torch.Tensor, labels: torch.Tensor, lam: float, lr: float, steps: int, *, scale: float = 1.0,
            accumulate: bool = False, pen: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch gradient descent on the hinge objective in float64 (and wrong variants of it)."""
    W = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    gW_sum, gb_sum = torch.zeros_like(W), torch.zeros_like(b)
    for _ in range(steps):
        loss = torch.clamp(1 - labels * (X @ W + b), min=0).mean() * scale + pen * lam * (W * W).sum()
        gW, gb = torch.autograd.grad(loss, (W, b))
        if accumulate:
            gW_sum += gW
            gb_sum += gb
            gW, gb = gW_sum.clone(), gb_sum.clone()
        with torch.no_grad():
            W -= lr * gW
            b -= lr * gb
    return W.detach(), b.detach()


def _trainer(s: StudentSession, ctx: Context, func: str, args: list[Any], kwargs: dict[str, Any]) -> object:
    reply = s.probe("binary_svm.run_trainer", func, args, kwargs, timeout=ctx.timeout(60), what=f"{func}()")
    return reply.get("out") if isinstance(reply, dict) else None


@check("train_binary_svm: full-batch SGD steps on hinge_loss from W = 0, b = 0; one loss per minibatch",
       depends=("bs_hinge_values",), timeout=60, weight=3)
def bs_binary_training_steps(ctx: Context) -> None:
    gen = ctx.generator("binary-steps")
    N, D = 30, 5
    X = torch.randn(N, D, generator=gen, dtype=torch.float64)
    labels = torch.where(X[:, 0] + 0.5 * torch.randn(N, generator=gen, dtype=torch.float64) > 0, 1.0, -1.0).double()
    hyper = {"lam": 0.05, "learning_rate": 0.2, "num_epochs": 3, "batch_size": N}
    with ctx.student() as s:
        out = _trainer(s, ctx, "train_binary_svm", [X, labels], hyper)
        mini = _trainer(s, ctx, "train_binary_svm", [X, labels], dict(hyper, num_epochs=2, batch_size=8))
    what = f"train_binary_svm(X, labels, lam=0.05, learning_rate=0.2, num_epochs=3, batch_size={N}) on N={N}"
    W, b, history = compare.unpack(out, 3, what, ("W", "b", "loss_history"))
    W_exp, b_exp, hist_exp = ctx.reference.train_binary_svm(X, labels, **hyper)
    tol = sgd_tolerance(N, D, int(hyper["num_epochs"]))
    variants = [
        (_svm_gd(X, labels, 0.05, 0.2, 3, scale=N), "The steps are N times too large: average the hinge terms."),
        (_svm_gd(X, labels, 0.05, 0.2, 3, accumulate=True), "Gradients accumulate across steps: reset W.grad and "
                                                            "b.grad to zero (or None) after every update."),
        (_svm_gd(X, labels, 0.05, -0.2, 3), "The parameters move up the gradient: subtract learning_rate * grad."),
        (_svm_gd(X, labels, 0.05, 0.2, 1), "Only one step was taken: loop over num_epochs."),
        (_svm_gd(X, labels, 0.0, 0.2, 3), "The L2 penalty is missing from the training loss: pass lam on to "
                                          "hinge_loss."),
    ]
    hint = ""
    if isinstance(W, torch.Tensor) and W.shape == W_exp.shape:
        for (Wv, bv), text in variants:
            if compare.near(W, Wv, tol):
                hint = text
                break
        if not hint and torch.allclose(W.double(), torch.zeros_like(W_exp)):
            hint = "W never changes: update it under torch.no_grad() with W -= learning_rate * W.grad."
    scale = float(torch.cat([W_exp.reshape(-1), b_exp.reshape(-1)]).abs().max())
    compare.tensor(W, W_exp, what=what, name="W", rtol=tol, atol=tol * scale, hint=hint)
    if isinstance(b, torch.Tensor) and b.numel() == 1:
        b = b.reshape(())
    compare.tensor(b, b_exp, what=what, name="b", rtol=tol, atol=tol * scale,
                   hint="W matches, so look at the bias update (b -= learning_rate * b.grad).")
    if not isinstance(history, (list, tuple)) or len(history) != 3:
        raise CheckFailed(f"{what}: loss_history should hold 3 values (one per minibatch), got "
                          f"{compare.describe(history)}.")
    for i, (got, exp) in enumerate(zip(history, hist_exp)):
        got = compare.scalar(got, f"{what}: loss_history[{i}]")
        if compare.off(got, exp, tol * max(1.0, abs(exp))):
            raise CheckFailed(f"{what}: loss_history[{i}] is {got:.6g}, expected the loss before that update, "
                              f"{exp:.6g}.")
    what = f"train_binary_svm(X, labels, num_epochs=2, batch_size=8) on N={N}"
    _, _, history = compare.unpack(mini, 3, what, ("W", "b", "loss_history"))
    if not isinstance(history, (list, tuple)) or len(history) != 8:
        raise CheckFailed(f"{what}: loss_history should hold 2 epochs x ceil(30 / 8) = 8 values, got "
                          f"{compare.describe(history)}. Include the last, smaller minibatch of each epoch.")


@check("train_one_vs_all: column c is the SVM of class c against the rest (full batch, vs the reference)",
       depends=("bs_binary_training_steps", "bs_labels_pm1"), timeout=60, weight=3)
def bs_one_vs_all_training(ctx: Context) -> None:
    gen = ctx.generator("ova")
    N, D, C = 24, 5, 4
    X = torch.randn(N, D, generator=gen, dtype=torch.float64)
    y = torch.arange(N) % C
    hyper = {"lam": 0.01, "learning_rate": 0.3, "num_epochs": 2, "batch_size": N}
    with ctx.student() as s:
        out = _trainer(s, ctx, "train_one_vs_all", [X, y, C], hyper)
    what = f"train_one_vs_all(X, y, num_classes={C}, lam=0.01, learning_rate=0.3, num_epochs=2, batch_size={N})"
    W, b = compare.unpack(out, 2, what, ("W", "b"))
    W_exp, b_exp = ctx.reference.train_one_vs_all(X, y, C, **hyper)
    tol = sgd_tolerance(N, D, int(hyper["num_epochs"]))
    scale = float(torch.cat([W_exp.reshape(-1), b_exp.reshape(-1)]).abs().max())
    hint = ""
    if isinstance(W, torch.Tensor) and W.shape == W_exp.shape:
        cols = [_svm_gd(X, (y == c).double(), 0.01, 0.3, 2)[0] for c in range(C)]
        if compare.near(W, torch.stack(cols, dim=1), tol):
            hint = ("The SVMs were trained with labels in {0, 1}; use to_pm1_labels(y, c): the negatives need -1.")
        elif compare.near(W, -W_exp, tol):
            hint = "Column c has the labels the wrong way round: class c must be +1."
    compare.tensor(W, W_exp, what=what, name="W", rtol=tol, atol=tol * scale, hint=hint)
    compare.tensor(b, b_exp, what=what, name="b", rtol=tol, atol=tol * scale)


@check("predict_one_vs_all and per_class_accuracy: argmax of the scores; accuracy of each class", timeout=60, weight=2)
def bs_predict_per_class(ctx: Context) -> None:
    gen = ctx.generator("predict")
    X = torch.randn(45, 6, generator=gen, dtype=torch.float64)
    W = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    b = torch.randn(5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (45,), generator=gen)  # class 4 never occurs
    ref = ctx.reference
    with ctx.student() as s:
        pred = s.call("predict_one_vs_all", X, W, b, timeout=ctx.timeout(30))
        y_pred = ref.predict_one_vs_all(X, W, b)
        per = s.call("per_class_accuracy", y_pred, y, 5, timeout=ctx.timeout(30))
    what = "predict_one_vs_all(X, W, b)"
    pred = compare.int_tensor(pred, what=what, name="y_pred", shape=(45,))
    if not torch.equal(pred, y_pred):
        raise CheckFailed(f"{what}: {int((pred != y_pred).sum())} of 45 labels differ from the argmax over classes "
                          "(dim=1) of X @ W + b.")
    expected = ref.per_class_accuracy(y_pred, y, 5)
    what = "per_class_accuracy(y_pred, y, num_classes=5) (class 4 has no examples)"
    hint = ""
    if isinstance(per, torch.Tensor) and per.shape == (5,):
        if torch.allclose(per.double()[:4], expected[:4] * 100):
            hint = "These are percentages; return fractions in [0, 1]."
        elif torch.isnan(per.double()[4]):
            hint = "A class without examples must give 0.0, not NaN (0 / 0)."
    # fractions of at most 45 examples: a count divided in float32 ((y_pred[m] == c).float().mean()) and
    # stored in a float64 tensor keeps float32's rounding, so float32 sets the tolerance; neighbouring
    # fractions (1/45 apart) stay far outside it
    tol = compare.rtol(torch.float32, compare.value_dtype(per), terms=45)
    compare.tensor(per, expected, what=what, name="the accuracies", rtol=tol, atol=tol, check_dtype=False,
                   hint=hint or "Entry c: the fraction of the examples with y == c predicted as c.")


# ----------------------------------------------------------------------------- softmax cross-entropy


def _ce_case(ctx: Context, s: StudentSession, logits: torch.Tensor, labels: torch.Tensor, what: str) -> None:
    reply = s.probe("binary_svm.loss_with_grads", "softmax_cross_entropy", [logits, labels], [0],
                    timeout=ctx.timeout(30), what="softmax_cross_entropy(...).backward()")
    out = reply.get("out") if isinstance(reply, dict) else None
    leaf = logits.clone().requires_grad_(True)
    expected = torch.nn.CrossEntropyLoss()(leaf, labels)
    (grad_expected,) = torch.autograd.grad(expected, leaf)
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"{what} must return a 0-dimensional tensor, got {compare.describe(out)}.")
    value = compare.scalar(out, what)
    N, C = logits.shape
    # a max-shifted log-sum-exp over C logits per row and a mean over N rows, in the logits' dtype (the
    # shift itself is exact: the row's maximum and the logits near it are the same floating-point numbers)
    rtol = compare.rtol(logits.dtype, terms=N + 2 * C + 2)
    if not math.isfinite(value):
        raise CheckFailed(f"{what} is {value}. exp() of a large logit overflows (or log() of an underflowed "
                          "probability is -inf): subtract each row's maximum before exponentiating and compute "
                          "log-softmax as shifted - log(sum(exp(shifted))).")
    hint = ""
    exp_v = float(expected.detach())
    if abs(value - exp_v * N) <= rtol * abs(exp_v * N):
        hint = "The loss is summed over the examples; average it."
    compare.close(value, exp_v, what=what, name="the loss", rtol=rtol, atol=rtol * max(1.0, abs(exp_v)),
                  hint=hint or "Compared with torch.nn.CrossEntropyLoss() on the same inputs.")
    grads = reply.get("grads")
    if not grads or grads[0] is None:
        raise CheckFailed(f"{what}: autograd gives no gradient w.r.t. the logits "
                          f"({reply.get('grad_problem', 'None')}).")
    # each entry is (softmax - one_hot) / N: probabilities of size <= 1, divided by N
    g_tol = compare.rtol(logits.dtype, terms=2 * C + 4)
    compare.tensor(grads[0], grad_expected, what=what + " (autograd)", name="d loss / d logits", rtol=g_tol,
                   atol=g_tol / N,
                   hint="The gradient should be (softmax(logits) - one_hot(labels)) / N.")


@check("softmax_cross_entropy matches nn.CrossEntropyLoss: values and gradients", timeout=60, weight=3)
def bs_cross_entropy_vs_torch(ctx: Context) -> None:
    gen = ctx.generator("ce")
    with ctx.student() as s:
        for N, C, scale, dtype in ((17, 10, 3.0, torch.float64), (9, 4, 1.0, torch.float32), (1, 3, 5.0, torch.float64)):
            logits = (torch.randn(N, C, generator=gen, dtype=torch.float64) * scale).to(dtype)
            labels = torch.randint(0, C, (N,), generator=gen)
            _ce_case(ctx, s, logits, labels, f"softmax_cross_entropy(logits of shape ({N}, {C}), "
                                             f"{str(dtype).removeprefix('torch.')})")


@check("softmax_cross_entropy is stable for extreme logits (+-1e4): finite, exact values and gradients",
       depends=("bs_cross_entropy_vs_torch",), timeout=60, weight=3)
def bs_cross_entropy_extreme(ctx: Context) -> None:
    gen = ctx.generator("ce-extreme")
    with ctx.student() as s:
        for dtype in (torch.float32, torch.float64):
            logits = (torch.randn(8, 5, generator=gen, dtype=torch.float64) * 1e4).to(dtype)
            labels = logits.argmin(dim=1)  # the correct class has a probability that underflows to 0
            labels[:3] = logits[:3].argmax(dim=1)
            _ce_case(ctx, s, logits, labels, f"softmax_cross_entropy(logits of size 1e4, "
                                             f"{str(dtype).removeprefix('torch.')})")


@check("hinge_loss, softmax_cross_entropy and the trainers use no torch loss or softmax functions", timeout=30,
       after=("bs_hinge_values", "bs_cross_entropy_vs_torch", "bs_binary_training_steps", "bs_softmax_training_steps"),
              weight=2)
def bs_static_no_torch_losses(ctx: Context) -> None:
    module = static.inspected(ctx, "its losses and trainers")

    def own(name: str) -> None:
        # what a function reaches through another judged function is that function's to answer for
        static.require_own_code(module, name, FORBIDDEN, ALLOWED,
                                rule="must compute its losses itself, without torch.nn or torch's softmax / "
                                     "log_softmax / logsumexp / loss functions",
                                instead="Write the losses from their definitions; tensor utilities such as one_hot "
                                        "are fine.",
                                answers_for=lambda f: f.function == name or f.function not in STATIC_FUNCTIONS)

    ctx.per_item(STATIC_FUNCTIONS, own, needs={"hinge_loss": ("bs_hinge_values",),
                                               "softmax_cross_entropy": ("bs_cross_entropy_vs_torch",),
                                               "train_binary_svm": ("bs_binary_training_steps",),
                                               "train_softmax_regression": ("bs_softmax_training_steps",)})


@check("train_softmax_regression: full-batch SGD steps on the cross-entropy plus lam * sum(W * W)",
       depends=("bs_cross_entropy_vs_torch",), timeout=60, weight=3)
def bs_softmax_training_steps(ctx: Context) -> None:
    gen = ctx.generator("softmax-steps")
    N, D, C = 27, 6, 4
    X = torch.randn(N, D, generator=gen, dtype=torch.float64)
    y = torch.randint(0, C, (N,), generator=gen)
    hyper = {"lam": 0.02, "learning_rate": 0.5, "num_epochs": 3, "batch_size": N}
    with ctx.student() as s:
        out = _trainer(s, ctx, "train_softmax_regression", [X, y, C], hyper)
    what = f"train_softmax_regression(X, y, {C}, lam=0.02, learning_rate=0.5, num_epochs=3, batch_size={N})"
    W, b, history = compare.unpack(out, 3, what, ("W", "b", "loss_history"))
    ref = ctx.reference
    W_exp, b_exp, hist_exp = ref.train_softmax_regression(X, y, C, **hyper)
    tol = sgd_tolerance(N, D + 2 * C, int(hyper["num_epochs"]))
    scale = float(torch.cat([W_exp.reshape(-1), b_exp.reshape(-1)]).abs().max())
    hint = ""
    if isinstance(W, torch.Tensor) and W.shape == W_exp.shape:
        W_nolam, _, _ = ref.train_softmax_regression(X, y, C, **dict(hyper, lam=0.0))
        W_one, _, _ = ref.train_softmax_regression(X, y, C, **dict(hyper, num_epochs=1))
        if compare.near(W, W_nolam, tol):
            hint = "The penalty lam * sum(W * W) is missing from the training loss."
        elif compare.near(W, W_one, tol):
            hint = "Only one step was taken: loop over num_epochs."
    compare.tensor(W, W_exp, what=what, name="W", rtol=tol, atol=tol * scale,
                   hint=hint or "Zeros to start; each step W -= learning_rate * W.grad, then reset the gradients.")
    compare.tensor(b, b_exp, what=what, name="b", rtol=tol, atol=tol * scale)
    if not isinstance(history, (list, tuple)) or len(history) != 3:
        raise CheckFailed(f"{what}: loss_history should hold 3 values, got {compare.describe(history)}.")
    for i, (got, exp) in enumerate(zip(history, hist_exp)):
        got = compare.scalar(got, f"{what}: loss_history[{i}]")
        if compare.off(got, exp, tol * max(1.0, abs(exp))):
            raise CheckFailed(f"{what}: loss_history[{i}] is {got:.6g}, expected {exp:.6g} (the full loss, penalty "
                              "included, before that update).")


# ----------------------------------------------------------------------------- accuracy on CIFAR-10


def _protocol(ctx: Context) -> dict[str, Any]:
    """The grader's CIFAR-10 subset and its statistics, shared by the accuracy checks of one run."""

    def make() -> dict[str, Any]:
        from grader import data

        raw = ctx.data("cifar10")
        train_idx, val_idx = data.train_val_indices(len(raw.train_labels), 0.2, 0)
        gen = ctx.part_generator("cifar-subset")
        rows = train_idx[torch.randperm(len(train_idx), generator=gen)[:TRAIN_SUBSET]]
        images = raw.train_images[rows].reshape(len(rows), -1).contiguous()
        X = images.to(torch.float32) / 255.0
        mean, std = X.mean(dim=0), X.std(dim=0) + 1e-8
        val = val_idx[torch.randperm(len(val_idx), generator=gen)[:2000]]
        return {"raw": raw, "images": images, "labels": raw.train_labels[rows].clone(), "mean": mean, "std": std,
                "val_images": raw.train_images[val].reshape(len(val), -1), "val_labels": raw.train_labels[val],
                "seed": int(torch.randint(0, 2**31 - 1, (1,), generator=gen))}

    return cast("dict[str, Any]", ctx.shared("binary_svm:protocol", make))


def _scores(images: torch.Tensor, W: torch.Tensor, b: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
    out = []
    for i in range(0, images.shape[0], 1000):
        X = (images[i:i + 1000].to(torch.float32) / 255.0 - p["mean"]) / p["std"]
        out.append(X @ W + b)
    return torch.cat(out)


def _trained(ctx: Context, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    def run() -> tuple[torch.Tensor, torch.Tensor]:
        p = _protocol(ctx)
        images, labels = p["images"], p["labels"]
        pos = BINARY_PAIR[0]
        if kind == "binary":
            keep = (labels == BINARY_PAIR[0]) | (labels == BINARY_PAIR[1])
            images, labels = images[keep], labels[keep]
        with ctx.student(seed=p["seed"]) as s:
            out = s.probe("binary_svm.train_on_cifar", kind, images, labels, p["mean"], p["std"], HYPER, pos,
                          timeout=ctx.timeout(150), what=f"training ({kind}) on CIFAR-10")
        names = {"binary": "train_binary_svm", "one_vs_all": "train_one_vs_all",
                 "softmax": "train_softmax_regression"}
        what = f"{names[kind]}(...) on {len(labels)} CIFAR-10 training images with {HYPER}"
        if not isinstance(out, dict) or "W" not in out:
            raise CheckFailed(f"{what} returned {compare.describe(out.get('bad') if isinstance(out, dict) else out)}; "
                              "see the docstring for what to return.")
        D = images.shape[1]
        shape_W, shape_b = ((D,), ()) if kind == "binary" else ((D, 10), (10,))
        W = compare.structure(out["W"], torch.zeros(shape_W), what=what, name="W", check_dtype=False,
                              hint="Training diverged.")
        b = out["b"]
        if isinstance(b, torch.Tensor) and kind == "binary" and b.numel() == 1:
            b = b.reshape(())
        b = compare.structure(b, torch.zeros(shape_b), what=what, name="b", check_dtype=False)
        return W.float(), b.float()

    return cast("tuple[torch.Tensor, torch.Tensor]", ctx.shared(f"binary_svm:trained:{kind}", run))


def _floor(ctx: Context, kind: str, acc: float, n: int, label: str) -> None:
    profile = _protocol(ctx)["raw"].profile
    kits.accuracy_floor(ctx, label, acc, n, dataset="CIFAR-10", profile=profile, floor=ACCURACY_FLOOR[profile][kind],
                        advice="The training contract checks pass or were skipped; look at the labels, the "
                               "normalisation and the update.")


@check("Binary SVM (cat against ship) trained with your code reaches the accuracy floor on test images",
       depends=("bs_binary_training_steps", "bs_labels_pm1"), timeout=200, weight=4)
def bs_binary_accuracy(ctx: Context) -> None:
    W, b = _trained(ctx, "binary")
    raw = _protocol(ctx)["raw"]
    keep = (raw.test_labels == BINARY_PAIR[0]) | (raw.test_labels == BINARY_PAIR[1])
    images = raw.test_images[keep].reshape(int(keep.sum()), -1)
    truth = torch.where(raw.test_labels[keep] == BINARY_PAIR[0], 1.0, -1.0)
    pred = torch.where(_scores(images, W, b, _protocol(ctx)) >= 0, 1.0, -1.0)
    _floor(ctx, "binary", float((pred == truth).double().mean()), len(truth), "The cat-vs-ship SVM")


@check("One-vs-all trained with your code reaches the accuracy floor on CIFAR-10 test images",
       depends=("bs_one_vs_all_training",), timeout=300, weight=4)
def bs_one_vs_all_accuracy(ctx: Context) -> None:
    W, b = _trained(ctx, "one_vs_all")
    raw = _protocol(ctx)["raw"]
    pred = _scores(raw.test_images.reshape(len(raw.test_labels), -1), W, b, _protocol(ctx)).argmax(dim=1)
    _floor(ctx, "one_vs_all", float((pred == raw.test_labels).double().mean()), len(raw.test_labels), "One-vs-all")


@check("One-vs-all: each binary classifier does better than 'never class c' (class imbalance)",
       depends=("bs_labels_pm1",), timeout=300, weight=2)
def bs_one_vs_all_balance(ctx: Context) -> None:
    W, b = _trained(ctx, "one_vs_all")
    p = _protocol(ctx)
    positive = _scores(p["val_images"], W, b, p) >= 0
    lines = []
    balanced = []
    for c in range(10):
        truth = p["val_labels"] == c
        acc = float((positive[:, c] == truth).double().mean())
        tpr = float(positive[truth, c].double().mean()) if truth.any() else 0.0
        tnr = float((~positive[~truth, c]).double().mean())
        balanced.append((tpr + tnr) / 2)
        lines.append(f"class {c}: accuracy {acc:.3f}, majority baseline {float((~truth).double().mean()):.3f}, "
                     f"balanced {(tpr + tnr) / 2:.3f}")
    mean_bal = sum(balanced) / 10
    ctx.note(f"One-vs-all classifiers on {len(p['val_labels'])} validation images: mean balanced accuracy "
             f"{mean_bal:.3f}.")
    if mean_bal < BALANCED_FLOOR:
        raise CheckFailed(
            "Each one-vs-all classifier may well show about 90% validation accuracy, but that only reflects class "
            "imbalance: 'class c against the rest' has 1 positive for 9 negatives, so answering 'not c' for every "
            f"image already scores 0.90. Their mean balanced accuracy (average of the rates on positives and on "
            f"negatives) is {mean_bal:.3f}, barely above the 0.5 of that trivial answer (floor {BALANCED_FLOOR}); "
            "the classifiers have not learned to recognise their class. " + "; ".join(lines[:4]) + " ...")


@check("Softmax regression trained with your code reaches the accuracy floor on CIFAR-10 test images",
       depends=("bs_softmax_training_steps",), timeout=300, weight=4)
def bs_softmax_accuracy(ctx: Context) -> None:
    W, b = _trained(ctx, "softmax")
    raw = _protocol(ctx)["raw"]
    pred = _scores(raw.test_images.reshape(len(raw.test_labels), -1), W, b, _protocol(ctx)).argmax(dim=1)
    _floor(ctx, "softmax", float((pred == raw.test_labels).double().mean()), len(raw.test_labels),
           "Softmax regression")
