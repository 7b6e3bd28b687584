"""Part 1, hidden checks: linear classifiers (SVM and softmax) on CIFAR-10.

Expected values come from the reference solution at grading time on hidden, seeded
inputs. Weights sit next to each check.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from grader import compare, kits, static, wire
from grader.errors import CheckFailed, StudentCodeError, StudentException
from grader.registry import check, family
from grader.public_checks.linear_classifier import (LOSSES, PART, call_loss, load_saved_W, loss_inputs,
                                                    loss_terms, numeric_gradient_check)

if TYPE_CHECKING:
    from grader.runner import Context
    from grader.sandbox import StudentSession

__all__ = ["PART"]

# Speedup floors (vectorized vs the student's own naive version), measured on this project's
# CPUs with straightforward correct code at N=128, D=3073, C=10: SVM 22-26x, softmax 14-19x
# (bench/speed_checks.py, BENCHMARKS.md). The floors leave a wide margin so that correct code
# never fails by noise. The CPU measurement always runs, with the child's CPU time read from
# the kernel (which student code cannot touch, and which stays stable under Gradescope's CPU
# quota).
SPEEDUP_FLOOR = {"svm": 4.0, "softmax": 3.0}
# When the grader has a GPU, the same losses are timed there as well and must also meet these
# stricter floors. On a GPU every small operation costs a kernel launch (several microseconds)
# and every `if margin > 0` on a GPU scalar a synchronisation, so a naive loss over N=128, C=10
# costs thousands of launches while a vectorized one costs a few dozen: correct code is two
# orders of magnitude ahead (estimate from launch costs; bench/speed_checks.py --device cuda
# measures it, see BENCHMARKS.md), and a loss that still works row by row falls short.
GPU_SPEEDUP_FLOOR = {"svm": 20.0, "softmax": 15.0}
# A vectorized loss may cost at most this many times its two matrix products (X @ W and X.T @ dS, about
# 6x the reference, which costs 1.0-1.2x them: BENCHMARKS.md) + 2 ms, on the same inputs. The products are
# timed in a sandboxed process without student code (Context.calibration), round by round with the
# student's loss, so both are measured under the same conditions: the reference timed in the grader's own
# process moves with what that process ran before.
PRODUCTS_FACTOR = 7.0
# A vectorized loss within this many times its two products (about twice the reference) is never failed
# for a small speedup over a naive loss that already works row by row (the docstring allows it).
RESCUE_FACTOR = 2.5
# Accuracy floors on the test split per data profile, set below what the reference's own
# grid reaches (see bench/calibrate_linear.py and BENCHMARKS.md).
ACCURACY_FLOOR = {"full": {"svm": 0.36, "softmax": 0.36}, "sample": {"svm": 0.30, "softmax": 0.30}}
# What does the graded work for the student, refused in the vectorized losses: autograd in every form,
# torch's loss functions, and torch.nn (layers, losses). Tensor utilities stay allowed (ALLOWED): they
# compute neither a loss nor a gradient.
FORBIDDEN = ("torch.autograd", "torch.func", "functorch", ".backward", ".grad", ".requires_grad_",
             "torch.enable_grad", "torch.set_grad_enabled", "torch.cross_entropy", "torch.nll_loss", "torch.multi_margin_loss",
             "torch.hinge_embedding_loss", "torch.nn")
ALLOWED = static.TENSOR_UTILITIES + ("torch.nn.functional.softmax", "torch.nn.functional.log_softmax")
LOSS_DIMS = {"small": (12, 7, 4), "cifar": (64, 3073, 10)}


def _source(ctx: Context) -> static.Module:
    return static.Module((ctx.files.code_dir / f"{PART.module}.py").read_text())


# ----------------------------------------------------------------------------- losses vs reference


def _diagnosis(kind: str, loss: float, dW: Any, ref: Callable[..., Any], W: torch.Tensor, X: torch.Tensor,
               y: torch.Tensor, reg: float, tol: float) -> str:
    """Name the likely bug by matching the student's output against known wrong variants.

    Only what is wrong gets a hint, and a variant that coincides with the right answer on these
    inputs (e.g. anything about the regulariser when reg = 0) is never offered. ``tol`` is the
    comparison's own tolerance: a variant matches when the output is as close to it as a right
    answer would be to the reference.
    """
    N = X.shape[0]
    R = float((W * W).sum())
    ref_loss, ref_dW = ref(W, X, y, reg)
    ref_loss = float(ref_loss)
    data_loss, data_dW = ref(W, X, y, 0.0)
    data_loss = float(data_loss)
    loss_hints = [
        (data_loss * N + reg * R, "The loss is summed over the N examples instead of averaged: divide the data "
                                  "term by N."),
        ((data_loss * N + reg * R) / N, "The regulariser is divided by N too; only the data term is averaged."),
        (data_loss + 0.5 * reg * R, "The regulariser is 0.5 * reg * sum(W * W); this assignment uses "
                                    "reg * sum(W * W), with no 1/2."),
        (data_loss + 2 * reg * R, "The regulariser is 2 * reg * sum(W * W); it should be reg * sum(W * W)."),
        (data_loss, "The loss is missing the regularisation term reg * sum(W * W)."),
        (-(data_loss + reg * R), "The loss has the wrong sign."),
    ]
    scores = X @ W
    rows = torch.arange(N)
    if kind == "svm":
        loss_hints.append((data_loss + 1.0 + reg * R, "The loss counts the correct class (j == y[i]), which "
                                                      "adds a margin of 1 per example: skip it."))
        no_delta = (scores - scores[rows, y][:, None]).clamp(min=0)
        no_delta[rows, y] = 0
        loss_hints.append((float(no_delta.sum()) / N + reg * R,
                           "The margins lack the margin delta of 1: use max(0, s_j - s_{y_i} + 1)."))
    grad_hints = [
        (data_dW * N + 2 * reg * W, "dW is summed over the examples instead of averaged: divide the data term of dW "
                                    "by N."),
        (data_dW + reg * W, "The gradient of the regulariser is 2 * reg * W; you used reg * W."),
        (data_dW, "dW is missing the gradient of the regulariser, 2 * reg * W."),
        (data_dW + 2 * reg * W / N, "The regulariser's gradient is divided by N; only the data term is averaged."),
        (-(data_dW + 2 * reg * W), "dW has the wrong sign."),
        (-data_dW + 2 * reg * W, "The data term of dW has the wrong sign."),
        (data_dW * N + 2 * reg * W * N, "dW is not divided by N."),
    ]
    if kind == "softmax":
        onehot = torch.zeros_like(scores)
        onehot[rows, y] = 1.0
        grad_hints.append((data_dW + X.t().mm(onehot) / N + 2 * reg * W,
                           "dW does not subtract 1 at the correct class: column y_i gets (p_{y_i} - 1) * x_i."))

    def near(a: float, b: float) -> bool:
        return abs(a - b) <= tol * max(1.0, abs(a), abs(b))

    def close(a: torch.Tensor, b: torch.Tensor) -> bool:
        return torch.allclose(a, b, rtol=tol, atol=tol * float(ref_dW.abs().max()))

    msgs = []
    if not near(loss, ref_loss):
        for value, text in loss_hints:
            if not near(value, ref_loss) and near(loss, value):
                msgs.append(text)
                break
    if isinstance(dW, torch.Tensor) and tuple(dW.shape) == tuple(W.shape):
        got = dW.detach().double().cpu()
        if not close(got, ref_dW.double()):
            for value, text in grad_hints:
                if not close(value.double(), ref_dW.double()) and close(got, value.double()):
                    msgs.append(text)
                    break
    return " ".join(msgs)


def _match_reference(ctx: Context, func: str, kind: str, reg: float) -> None:
    ref = getattr(ctx.reference, f"{kind}_loss_vectorized")
    with ctx.student() as s:
        for tag, (N, D, C) in LOSS_DIMS.items():
            W, X, y = loss_inputs(ctx.generator(f"{tag}/{reg}"), N, D, C, w_scale=0.5 if tag == "small" else 1e-3)
            ref_loss, ref_dW = ref(W, X, y, reg)
            ref_loss = float(ref_loss)
            results = []
            dtypes: list[torch.dtype] = []
            for _ in range(2):  # a second call must give the same answer
                loss, dW, written = call_loss(s, func, W, X, y, reg, timeout=ctx.timeout(60), dtypes=dtypes)
                results.append((loss, dW))
                if written:
                    raise CheckFailed(f"{func}() modified its input{'s' if len(written) > 1 else ''} "
                                      f"{compare.in_place(written)}. Work on new tensors (e.g. scores = X @ W) "
                                      f"and never assign into {' or '.join(written)}.")
            loss, dW = results[0]
            where = f"{func}(W, X, y, reg={reg}) with N={N}, D={D}, C={C}"
            tol = compare.rtol(W.dtype, *dtypes, terms=loss_terms(N, D, C))
            hint = _diagnosis(kind, loss, dW, ref, W, X, y, reg, tol)
            compare.close(loss, ref_loss, what=where, name="the loss", rtol=tol, atol=tol, hint=hint)
            scale = float(ref_dW.abs().max())
            compare.tensor(dW, ref_dW, what=where, name="dW", rtol=tol, atol=tol * scale,
                           hint=hint or "The loss matches, so look at how dW is accumulated.")
            loss2, dW2 = results[1]
            if loss2 != loss or not isinstance(dW2, torch.Tensor) or not torch.equal(dW2, dW):
                raise CheckFailed(f"{func}() returned different results for the same inputs on a second call. It "
                                  "must not depend on state kept between calls.")



@check("svm_loss_naive: loss and gradient match the reference (reg = 0)", timeout=120, weight=4)
def svm_naive_data_term(ctx: Context) -> None:
    _match_reference(ctx, "svm_loss_naive", "svm", 0.0)


@check("svm_loss_naive: regularisation reg * sum(W * W)", depends=("svm_naive_data_term",), timeout=120, weight=2)
def svm_naive_regularisation(ctx: Context) -> None:
    _match_reference(ctx, "svm_loss_naive", "svm", 0.37)


@check("svm_loss_naive: gradient matches central differences (hidden points)", timeout=120, weight=2)
def svm_naive_gradient_check(ctx: Context) -> None:
    gen = ctx.generator("points")
    W, X, y = loss_inputs(gen, 24, 40, 6, w_scale=0.5, svm_margin_gap=1e-3)
    with ctx.student() as s:
        for reg in (0.0, 0.21):
            numeric_gradient_check(s, "svm_loss_naive", W, X, y, reg, gen, timeout=ctx.timeout(30))


@check("svm_loss_vectorized: loss and gradient match the reference (reg = 0)", timeout=120, weight=4)
def svm_vectorized_data_term(ctx: Context) -> None:
    _match_reference(ctx, "svm_loss_vectorized", "svm", 0.0)


@check("svm_loss_vectorized: regularisation reg * sum(W * W)", depends=("svm_vectorized_data_term",), timeout=120,
       weight=2)
def svm_vectorized_regularisation(ctx: Context) -> None:
    _match_reference(ctx, "svm_loss_vectorized", "svm", 0.37)


@check("softmax_loss_naive: loss and gradient match the reference (reg = 0)", timeout=120, weight=4)
def softmax_naive_data_term(ctx: Context) -> None:
    _match_reference(ctx, "softmax_loss_naive", "softmax", 0.0)


@check("softmax_loss_naive: regularisation reg * sum(W * W)", depends=("softmax_naive_data_term",), timeout=120,
       weight=2)
def softmax_naive_regularisation(ctx: Context) -> None:
    _match_reference(ctx, "softmax_loss_naive", "softmax", 0.37)


@check("softmax_loss_naive: gradient matches central differences (hidden points)", timeout=120, weight=2)
def softmax_naive_gradient_check(ctx: Context) -> None:
    gen = ctx.generator("points")
    W, X, y = loss_inputs(gen, 24, 40, 6, w_scale=0.5)
    with ctx.student() as s:
        for reg in (0.0, 0.21):
            numeric_gradient_check(s, "softmax_loss_naive", W, X, y, reg, gen, timeout=ctx.timeout(30))


@check("softmax_loss_vectorized: loss and gradient match the reference (reg = 0)", timeout=120, weight=4)
def softmax_vectorized_data_term(ctx: Context) -> None:
    _match_reference(ctx, "softmax_loss_vectorized", "softmax", 0.0)


@check("softmax_loss_vectorized: regularisation reg * sum(W * W)", depends=("softmax_vectorized_data_term",),
       timeout=120, weight=2)
def softmax_vectorized_regularisation(ctx: Context) -> None:
    _match_reference(ctx, "softmax_loss_vectorized", "softmax", 0.37)


# ----------------------------------------------------------------------------- stability, dtype, static


def _takes_row_maximum(ctx: Context, func: str) -> bool:
    """Whether ``func`` (or a function it calls) takes a maximum or a log-sum-exp: the evidence
    behind a hint about the max-shift trick."""
    src = _source(ctx)
    return bool(src.tree is not None and func in src.functions
                and src.calls_matching(func, ("torch.max", ".max", "torch.amax", ".amax", "torch.logsumexp",
                                              ".logsumexp", "max", "torch.maximum", ".cummax")))


def _shifted(W: torch.Tensor, shift: float, column: int | None = None) -> torch.Tensor:
    """W with ``shift`` added to the bias row (X's last column is all ones): every score of class
    ``column`` (of every class when None) moves by ``shift``."""
    W = W.clone()
    if column is None:
        W[-1, :] += shift
    else:
        W[-1, column] += shift
    return W


@check("Softmax losses are numerically stable (scores in the thousands)", timeout=120,
       after=("softmax_naive_data_term", "softmax_vectorized_data_term"), weight=2)
def softmax_stability(ctx: Context) -> None:
    """Scores of every class moved by +1000 (exp overflows) and by -1000 (exp underflows to 0): the
    softmax does not change, so neither do the loss and dW. Every implementation that subtracts the
    row maximum passes. A correct class 1000 below the maximum (whose probability underflows) is
    reported as a note, for no points."""
    N, D, C = 16, 50, 10
    W, X, y = loss_inputs(ctx.generator("huge"), N, D, C, w_scale=0.5)
    ref_loss, ref_dW = ctx.reference.softmax_loss_vectorized(W, X, y, 0.0)
    ref_loss = float(ref_loss)
    gap = 1000.0

    def stable(func: str) -> None:
        for shift in (gap, -gap):
            dtypes: list[torch.dtype] = []
            loss, dW, _ = call_loss(s, func, W=_shifted(W, shift), X=X, y=y, reg=0.0, timeout=ctx.timeout(30),
                                    dtypes=dtypes)
            what = f"{func}() with every score moved by {shift:+g} (the softmax does not change)"
            broken = not math.isfinite(loss) or (isinstance(dW, torch.Tensor) and dW.is_floating_point()
                                                 and not bool(torch.isfinite(dW).all()))
            if broken and not _takes_row_maximum(ctx, func):
                hint = ("exp() of scores this large overflows (or underflows to 0 for large negative ones): "
                        "subtract each row's maximum score before exponentiating; it does not change the softmax.")
            elif broken:
                hint = ("Your code takes a maximum, yet the result is not finite: check that the row maximum "
                        "(shape (N, 1), keepdim=True) is subtracted from the scores before every exp().")
            else:
                hint = "Subtracting the row maximum leaves the softmax unchanged, so the loss and dW must too."
            tol = compare.rtol(W.dtype, *dtypes, terms=loss_terms(N, D, C), magnitude=gap)
            compare.close(loss, ref_loss, what=what, name="the loss", rtol=tol, atol=tol, hint=hint)
            compare.tensor(dW, ref_dW, what=what, name="dW", rtol=tol, atol=tol * float(ref_dW.abs().max()),
                           hint=hint)
        _extreme_gap_note(func)

    def _extreme_gap_note(func: str) -> None:
        low = y.clone().fill_(0)
        W_low = _shifted(W, -gap, column=0)  # class 0 is every example's correct class, 1000 below the rest
        expected = float(-torch.log_softmax(X @ W_low, dim=1)[:, 0].mean())
        try:
            loss, _, _ = call_loss(s, func, W_low, X, low, 0.0, timeout=ctx.timeout(30))
        except (CheckFailed, StudentCodeError):
            return
        tol = compare.rtol(W.dtype, terms=loss_terms(N, D, C), magnitude=gap)
        if not math.isfinite(loss) or abs(loss - expected) > tol * abs(expected):
            got, exp = compare.digits(loss, expected)
            ctx.note(f"Note (no points): when the correct class scores {gap:g} below the row's maximum, {func}() "
                     f"returns a loss of {got} (exact: {exp}). That is the log of a probability that underflowed "
                     "to 0: compute log-softmax as s_y - m - log(sum_j exp(s_j - m)) instead of log(p_y).")

    with ctx.student() as s:
        ctx.per_item(("softmax_loss_naive", "softmax_loss_vectorized"), stable,
                     needs={"softmax_loss_naive": ("softmax_naive_data_term",),
                            "softmax_loss_vectorized": ("softmax_vectorized_data_term",)})


@check("Losses keep float32 inputs in float32 (dtype and device preserved)", timeout=120, weight=2)
def losses_keep_dtype(ctx: Context) -> None:
    W, X, y = loss_inputs(ctx.generator("f32"), 32, 3073, 10, dtype=torch.float32)

    def keeps(func: str) -> None:
        loss, dW, _ = call_loss(s, func, W, X, y, 0.01, timeout=ctx.timeout(60))
        compare.structure(dW, W, what=f"{func}() on float32 inputs", name="dW")
        if not math.isfinite(loss):
            raise CheckFailed(f"{func}() on float32 inputs: the loss is {loss}.")

    with ctx.student() as s:
        ctx.per_item(LOSSES, keeps)


def _static(ctx: Context, func: str) -> None:
    src = static.inspected(ctx, func)
    if func not in src.functions:
        raise CheckFailed(f"{func} is not defined in {PART.module}.py.")
    loops = src.loops(func)
    if loops:
        own = [f for f in loops if f.function == func]
        called = "" if own else (f" It calls {loops[0].function}, which loops: write the vectorized version without "
                                 "calling it.")
        raise CheckFailed(f"{func} must not use Python loops, but it uses {loops[0]}.{called} Compute all scores at "
                          "once (X @ W) and build the gradient with matrix products and indexing.")
    static.require_own_code(src, func, FORBIDDEN, ALLOWED, rule="must compute the loss and gradient from scratch",
                            instead="Autograd (.backward(), torch.autograd, .grad), torch's loss functions and "
                                    "torch.nn layers are not allowed here; tensor utilities (one_hot, softmax, "
                                    "logsumexp, clamp, where, ...) are.")


@family("{case}_loss_vectorized: no Python loops, no torch.nn/autograd", {"svm": 2, "softmax": 2},
        id="{case}_vectorized_static", depends=("{case}_vectorized_data_term",), timeout=30)
def vectorized_static(ctx: Context, kind: str) -> None:
    _static(ctx, f"{kind}_loss_vectorized")


# ----------------------------------------------------------------------------- speed


def _reference_cpu(fn: Callable[..., Any], sets: list[tuple[Any, ...]]) -> float:
    """CPU seconds per call of the reference, one thread, over ``sets`` (one call per set)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.thread_time()
        for args in sets:
            fn(*args)
        return (time.thread_time() - t0) / len(sets)
    finally:
        torch.set_num_threads(threads)


def _best_wall(session: StudentSession, func: str, repeat: int, runs: int, timeout: float) -> float:
    """Best elapsed seconds per call over ``runs`` runs, after one untimed warm-up call (kernel
    loading, cuBLAS start-up). Noise on a shared GPU only ever adds time, hence the best run."""
    session.call(func, staged="loss", want_value=False, timeout=timeout)
    return min(session.timed_call(func, staged="loss", clock="wall", repeat=repeat, timeout=timeout)
               for _ in range(runs))


def gpu_loss_times(session: StudentSession, kind: str, timeout: float) -> tuple[float, float]:
    """Elapsed seconds per call of the naive and the vectorized loss on the arguments staged as
    ``"loss"`` (what check 1.15/1.16 requires on a GPU; bench/speed_checks.py --device cuda)."""
    return (_best_wall(session, f"{kind}_loss_naive", repeat=1, runs=3, timeout=timeout),
            _best_wall(session, f"{kind}_loss_vectorized", repeat=50, runs=5, timeout=timeout))


def _gpu_speedup(ctx: Context, kind: str, args: tuple[Any, ...]) -> None:
    """The stricter requirement that applies when the grader has a GPU (see GPU_SPEEDUP_FLOOR)."""
    accelerator = ctx.accelerator
    assert accelerator is not None, "called only on a grader with a GPU"
    naive, vec = f"{kind}_loss_naive", f"{kind}_loss_vectorized"
    session, device = ctx.student_on_accelerator(instead="only the CPU floor applied")
    with session as s:
        if device.type != accelerator.type:  # the GPU could not start in the sandbox (noted): CPU floor only
            return
        placed = s.stage("loss", *args, device=str(device), timeout=ctx.timeout(60))
        try:
            t_naive, t_vec = gpu_loss_times(s, kind, timeout=ctx.timeout(60))
        except StudentException as exc:
            raise CheckFailed(f"Your losses fail on inputs that are on the GPU ({placed}): create every new tensor "
                              "on the inputs' device (device=X.device, torch.zeros_like, ...) and never call "
                              f".to()/.cuda()/.cpu() inside a loss.\n{exc}") from None
    floor = GPU_SPEEDUP_FLOOR[kind]
    speedup = t_naive / max(t_vec, 1e-9)
    ctx.note(f"Measured on the GPU ({placed}; elapsed time, inputs already on the GPU): {naive} "
             f"{t_naive * 1e3:.1f} ms, {vec} {t_vec * 1e3:.3f} ms per call (speedup {speedup:.0f}x; at least "
             f"{floor:g}x required on a GPU).")
    if speedup < floor:
        raise CheckFailed(f"On the GPU, {vec} is only {speedup:.1f}x faster than your {naive} (at least {floor:g}x "
                          "required there). Each small tensor operation is a separate kernel launch on a GPU: "
                          "replace per-row or per-element work by a few whole-matrix operations, and avoid "
                          "reading GPU values into Python (.item(), float(), if on a tensor).")


# Timing protocol of checks 1.15/1.16. Every timed call gets inputs it has not seen (new W and y, prepared
# by the grader in advance; X is shared), so a cache keyed on the inputs gains nothing, and the values the
# timed calls return are compared with the reference. A round times REPEAT calls of the student's function
# and of the reference; a decision whose median lies within BAND of its limit takes more rounds (up to
# MAX_ROUNDS) before it is made, so a measurement near a threshold does not flip between runs.
SPEED_N, SPEED_REPEAT, MIN_ROUNDS, MAX_ROUNDS, BAND = 128, 20, 5, 15, 1.3
# memory a vectorized loss may build during one call before it is named in a hint, in multiples of its inputs
ALLOCATION_HINT_FACTOR = 8.0


def _speed_sets(gen: torch.Generator, X: torch.Tensor, count: int) -> list[tuple[Any, ...]]:
    C = 10
    return [(torch.randn(X.shape[1], C, generator=gen, dtype=X.dtype) * 1e-3, X,
             torch.randint(0, C, (X.shape[0],), generator=gen), 0.01) for _ in range(count)]


def _check_kept(s: StudentSession, func: str, sets: list[tuple[Any, ...]], offset: int, timeout: float) -> None:
    """The timed calls' results must be what the same function returns on the same inputs when it is
    not timed (the first and the last call of the round are called again): a function cannot be fast
    by returning something else while it is timed. Whether the values are right is graded by the
    checks that compare them with the reference, so a bug is not charged twice."""
    results = s.kept(f"{func}()", timeout=timeout)
    for k in sorted({0, len(results) - 1}) if results else ():
        W, X, y, reg = sets[(offset + k) % len(sets)]
        loss, dW = compare.unpack(results[k], 2, f"{func}()", ("loss", "dW"))
        again = s.call(func, staged="speed", offset=offset + k, grad=False, timeout=timeout)
        loss2, dW2 = compare.unpack(again, 2, f"{func}()", ("loss", "dW"))
        tol = compare.rtol(W.dtype, compare.value_dtype(loss), terms=loss_terms(X.shape[0], X.shape[1], W.shape[1]))
        what = f"{func}() during the timing (call {k + 1}, on inputs it had not seen before)"
        hint = "It returned something else when called again on the same inputs, untimed: compute the result " \
               "from the inputs on every call."
        compare.close(compare.scalar(loss, f"{func}(): the loss"), compare.scalar(loss2, f"{func}(): the loss"),
                      what=what, name="the loss", rtol=tol, atol=tol, hint=hint)
        if isinstance(dW2, torch.Tensor):
            compare.tensor(dW, dW2, what=what, name="dW", rtol=tol, atol=tol * float(dW2.detach().abs().max()),
                           hint=hint, check_dtype=False)


def _slowness_facts(ctx: Context, s: StudentSession, func: str, inputs_bytes: int) -> str:
    """What the grader knows about why ``func`` is slow: a loop the static check found, memory the
    call builds far beyond its inputs, or neither (then only the figures are given)."""
    src = _source(ctx)
    loops = src.loops(func) if src.tree is not None and func in src.functions else []
    if loops:
        return (f"It still uses {loops[0]}: replace it by whole-matrix operations (compute all scores at once "
                "with X @ W, then masks and indexing).")
    growth = s.memory_growth(func, staged="speed", timeout=ctx.timeout(60))
    if growth is not None and growth > ALLOCATION_HINT_FACTOR * inputs_bytes:
        return (f"It has no Python loop, but one call builds about {growth / 2**20:.0f} MB of temporary tensors, "
                f"{growth / inputs_bytes:.0f} times its inputs ({inputs_bytes / 2**20:.1f} MB): an intermediate of "
                "shape (N, C, D) or (N, D), say. Work with (N, C) matrices and two matrix products.")
    return "No Python loop was found in it and it builds no large temporary tensors; compare its operations with "\
           "the hints in the docstring."


@dataclass
class SpeedFigures:
    """What checks 1.15/1.16 measure (CPU seconds per call): the student's naive loss, and per round the
    vectorized loss, the two matrix products in a session without student code, and the reference in
    the grader's process (shown, not used to decide)."""

    t_naive: float
    repeat: int
    rounds: list[tuple[float, float, float]] = field(default_factory=list)  # (t_vec, t_products, t_ref)

    def median(self, k: int) -> float:
        return statistics.median(r[k] for r in self.rounds)

    def speedups(self) -> list[float]:
        return [self.t_naive / max(t, 1e-9) for t, _, _ in self.rounds]

    def excess(self) -> list[float]:
        """t_vec / limit per round: above 1 fails."""
        return [t / (PRODUCTS_FACTOR * p + 2e-3) for t, p, _ in self.rounds]

    def rescued(self) -> bool:
        return self.median(0) <= RESCUE_FACTOR * self.median(1)

    def slow_against_naive(self, floor: float) -> bool:
        return statistics.median(self.speedups()) < floor and not self.rescued()

    def too_slow(self) -> bool:
        return statistics.median(self.excess()) > 1.0

    def undecided(self, floor: float) -> bool:
        near_floor = floor / BAND <= statistics.median(self.speedups()) <= floor * BAND
        near_rescue = 1 / BAND <= self.median(0) / (RESCUE_FACTOR * self.median(1)) <= BAND
        return (near_floor and near_rescue) or 1 / BAND <= statistics.median(self.excess()) <= BAND


def measure_speed(s: StudentSession, cal: StudentSession, kind: str, gen: torch.Generator, X: torch.Tensor,
                  ref: Callable[..., Any], floor: float,
                  timeout: Callable[[float], float]) -> SpeedFigures:
    """Time ``kind``'s losses in the student's session ``s`` and the two products in ``cal`` (the
    protocol above); every timed call gets inputs it has not seen, and the values the timed calls
    return are compared with the function's own untimed results. Also used by bench/speed_checks.py."""
    naive, vec = f"{kind}_loss_naive", f"{kind}_loss_vectorized"
    naive_sets = _speed_sets(gen, X, 4)
    s.stage_sets("speed", naive_sets, timeout=timeout(60))
    s.call(naive, staged="speed", want_value=False, offset=3, grad=False, timeout=timeout(60))  # warm-up
    t_naive = statistics.median(s.timed_call(naive, staged="speed", offset=k, grad=False, timeout=timeout(60))
                                for k in range(3))
    # the last set is the warm-up's (timed to size the rounds); the rounds never reuse it
    sets = _speed_sets(gen, X, SPEED_REPEAT * MIN_ROUNDS + 1)
    for session in (s, cal):
        session.stage_sets("speed", sets, timeout=timeout(60))
    first = s.timed_call(vec, staged="speed", offset=len(sets) - 1, grad=False, timeout=timeout(60))
    cal.probe("linear_classifier.two_products", staged="speed", timeout=timeout(60))  # warm-up
    figures = SpeedFigures(t_naive, SPEED_REPEAT if first <= 0.01 else max(1, min(SPEED_REPEAT, int(0.1 / first))))
    repeat = figures.repeat
    offset = 0

    def one_round() -> None:
        nonlocal offset, sets
        if offset + repeat > len(sets) - 1:  # every timed call gets inputs it has not seen
            sets = _speed_sets(gen, X, SPEED_REPEAT * MIN_ROUNDS + 1)
            for session in (s, cal):
                session.stage_sets("speed", sets, timeout=timeout(60))
            offset = 0
        t_vec = s.timed_call(vec, staged="speed", repeat=repeat, offset=offset, keep=True, grad=False,
                             timeout=timeout(60))
        _check_kept(s, vec, sets, offset, timeout(60))
        t_products = kits.yardstick_seconds(s, cal, "linear_classifier.two_products", repeat, staged="speed",
                                            repeat=repeat, offset=offset, timeout=timeout(60))
        t_ref = _reference_cpu(ref, sets[offset:offset + repeat])
        offset += repeat
        figures.rounds.append((t_vec, t_products, t_ref))

    kits.in_rounds(one_round, least=MIN_ROUNDS, most=MAX_ROUNDS, unsettled=lambda: figures.undecided(floor))
    return figures


def _speedup(ctx: Context, kind: str) -> None:
    naive, vec = f"{kind}_loss_naive", f"{kind}_loss_vectorized"
    gen = ctx.generator("speed")
    _, X, _ = loss_inputs(gen, SPEED_N, 3073, 10)
    inputs_bytes = X.numel() * X.element_size() + 3073 * 10 * 8
    floor = SPEEDUP_FLOOR[kind]
    with ctx.student() as s, ctx.calibration() as cal:
        fig = measure_speed(s, cal, kind, gen, X, getattr(ctx.reference, vec), floor, ctx.timeout)
        speedup = statistics.median(fig.speedups())
        t_vec, t_products, t_ref = fig.median(0), fig.median(1), fig.median(2)
        ctx.note(f"Measured (CPU time, N={SPEED_N}, fresh inputs for each call, {len(fig.rounds)} rounds of "
                 f"{fig.repeat} calls): {naive} {fig.t_naive * 1e3:.1f} ms, {vec} {t_vec * 1e3:.2f} ms per call "
                 f"(speedup {speedup:.1f}x; at least {floor:g}x required, unless within {RESCUE_FACTOR:g}x its two "
                 f"matrix products); its two matrix products {t_products * 1e3:.2f} ms; reference "
                 f"{t_ref * 1e3:.2f} ms.")
        if fig.slow_against_naive(floor):
            raise CheckFailed(f"{vec} is only {speedup:.1f}x faster than your {naive} (at least {floor:g}x "
                              f"required). {_slowness_facts(ctx, s, vec, inputs_bytes)}")
        if fig.too_slow():
            raise CheckFailed(f"{vec} takes {t_vec * 1e3:.2f} ms per call, more than {PRODUCTS_FACTOR:g}x the "
                              f"{t_products * 1e3:.2f} ms of the two matrix products it needs (X @ W and X.T @ dS; "
                              f"the reference takes {t_ref * 1e3:.2f} ms). {_slowness_facts(ctx, s, vec, inputs_bytes)}")
    if ctx.accelerator is not None:
        W0, _, y0, reg0 = _speed_sets(gen, X, 1)[0]
        _gpu_speedup(ctx, kind, (W0, X, y0, reg0))


@family("{case}_loss_vectorized is much faster than {case}_loss_naive", {"svm": 3, "softmax": 3}, id="{case}_speedup",
        depends=("{case}_naive_data_term", "{case}_vectorized_data_term"), timeout=180)
def speedup(ctx: Context, kind: str) -> None:
    _speedup(ctx, kind)


# ----------------------------------------------------------------------------- training pieces


@check("sample_batch: shapes, rows kept with their labels, uniform, seeded by torch", timeout=120, weight=3)
def sample_batch_contract(ctx: Context) -> None:
    n, D, batch = 50, 5, 40
    gen = ctx.generator("batch")
    X = torch.arange(n, dtype=torch.float64)[:, None].repeat(1, D)
    y = torch.randint(0, 10, (n,), generator=gen)
    draws = 250  # 10,000 indices: about 200 per bin
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    with ctx.student() as s:
        a = s.probe("linear_classifier.sample_batches", X, y, n, batch, draws, seed, timeout=ctx.timeout(60),
                    what="sample_batch()")
        b = s.probe("linear_classifier.sample_batches", X, y, n, batch, 2, seed, timeout=ctx.timeout(30),
                    what="sample_batch()")
        c = s.probe("linear_classifier.sample_batches", X, y, n, batch, 2, seed + 1, timeout=ctx.timeout(30),
                    what="sample_batch()")
    what = f"sample_batch(X, y, num_train={n}, batch_size={batch})"
    Xb, yb = compare.unpack(a["first"], 2, what, ("X_batch", "y_batch"))
    compare.structure(Xb, X[:batch], what=what, name="X_batch")
    compare.int_tensor(yb, what=what, name="y_batch", shape=(batch,))
    ids, labels = a["ids"], a["labels"]
    if not isinstance(ids, torch.Tensor) or ids.numel() != draws * batch:
        raise CheckFailed(f"{what} did not return consistent batches over repeated calls.")
    if not torch.equal(ids, ids.round()) or ids.min() < 0 or ids.max() >= n:
        raise CheckFailed(f"{what}: X_batch holds rows that are not rows of X.")
    idx = ids.long()
    if not torch.equal(labels.long(), y[idx]):
        raise CheckFailed(f"{what}: y_batch[i] is not the label of X_batch[i]. Index X and y with the same indices.")
    first, second = ids[:batch], ids[batch:2 * batch]
    if torch.equal(first, second):
        raise CheckFailed(f"{what} returned the same batch twice in a row; draw new random indices on every call.")
    # indices drawn with replacement: a row's count is Binomial(draws * batch, 1 / n)
    row = kits.worst_cell(torch.bincount(idx, minlength=n), torch.full((n,), 1 / n), draws * batch)
    if row.skewed:
        raise CheckFailed(f"{what}: over {draws} batches row {row.index} was drawn {row.figures()}. Draw indices "
                          "uniformly from range(num_train), e.g. with torch.randint.")
    if not torch.equal(b["ids"], ids[:2 * batch]):
        raise CheckFailed(f"{what}: the same torch.manual_seed gives different batches. Use torch's random "
                          "functions (torch.randint) so seeding reproduces the batches, not Python's random.")
    if torch.equal(c["ids"], b["ids"]):
        raise CheckFailed(f"{what}: different torch seeds give the same batches; the sampling ignores torch's random "
                          "state. Use torch's random functions (torch.randint), not Python's random or numpy.random.")


def _mock_loss(calls: list[dict[str, Any]],
               grad_scale: float) -> Callable[[Any, Any, Any, Any], tuple[torch.Tensor, torch.Tensor]]:
    """A loss function for train_linear_classifier that runs in the grader and records each call.

    Call k returns loss ``k + 0.5`` and gradient ``grad_scale * (k + 1) * ones``; the student's
    training loop calls it through a ``wire.Callback``, so the record is the grader's own.
    """

    def loss_func(W: Any, X_batch: Any, y_batch: Any, reg: Any) -> tuple[torch.Tensor, torch.Tensor]:
        for name, value in (("W", W), ("X_batch", X_batch), ("y_batch", y_batch)):
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"loss_func expects {name} as a torch.Tensor, got {compare.describe(value)}")
        if not isinstance(reg, (int, float)) and not (isinstance(reg, torch.Tensor) and reg.numel() == 1):
            raise TypeError(f"loss_func expects reg as a number, got {compare.describe(reg)}")
        k = len(calls)
        calls.append({"W_shape": tuple(W.shape), "X_shape": tuple(X_batch.shape), "y_shape": tuple(y_batch.shape),
                      "reg": float(reg), "W_first": W.detach().clone() if k == 0 else None})
        return torch.tensor(k + 0.5, dtype=W.dtype), torch.full_like(W, grad_scale * (k + 1))

    return loss_func


def _recording_classifier(train_calls: list[dict[str, Any]], data: dict[str, Any], pred_train: torch.Tensor,
                          pred_val: torch.Tensor) -> wire.CallbackObject:
    """A classifier for test_one_param_set whose train and predict run in the grader: training is
    recorded, and predict answers given labels for X_train and X_val."""

    def train(X_train: Any, y_train: Any, learning_rate: Any = 1e-3, reg: Any = 1e-5, num_iters: Any = 100,
              batch_size: Any = 200, verbose: Any = False) -> list[float]:
        if not isinstance(X_train, torch.Tensor):
            raise TypeError(f"train expects X_train as a torch.Tensor, got {compare.describe(X_train)}")
        train_calls.append({"n": int(X_train.shape[0]), "learning_rate": float(learning_rate),
                            "reg": float(reg), "num_iters": int(num_iters)})
        return [0.0] * min(int(num_iters), 100_000)

    def predict(X: Any) -> torch.Tensor:
        if isinstance(X, torch.Tensor):
            for X_known, pred in ((data["X_train"], pred_train), (data["X_val"], pred_val)):
                if X.shape == X_known.shape and X.dtype == X_known.dtype and torch.equal(X, X_known):
                    return pred.clone()
        raise ValueError("predict was called on data that is neither X_train nor X_val")

    return wire.CallbackObject("RecordingClassifier", train=train, predict=predict)


@check("train_linear_classifier: SGD update, loss history, num_iters and batch_size honoured", timeout=120, weight=4)
def train_update_rule(ctx: Context) -> None:
    gen = ctx.generator("train")
    N, D, C = 60, 9, 4
    X = torch.randn(N, D, generator=gen, dtype=torch.float64)
    y = torch.arange(N) % C
    W0 = torch.randn(D, C, generator=gen, dtype=torch.float64)
    lr, reg, iters, batch, g = 0.01, 0.123, 7, 13, 0.5
    what = f"train_linear_classifier(loss_func, W, X, y, learning_rate={lr}, reg={reg}, num_iters={iters}, batch_size={batch})"
    with ctx.student() as s:
        calls: list[dict[str, Any]] = []
        out = s.call("train_linear_classifier", wire.Callback(_mock_loss(calls, g)), W0, X, y, learning_rate=lr,
                     reg=reg, num_iters=iters, batch_size=batch, verbose=False, timeout=ctx.timeout(60))
        calls_none: list[dict[str, Any]] = []
        s.call("train_linear_classifier", wire.Callback(_mock_loss(calls_none, g)), None, X, y, learning_rate=lr,
               reg=reg, num_iters=2, batch_size=batch, verbose=False, timeout=ctx.timeout(60))
    W, history = compare.unpack(out, 2, what, ("W", "loss_history"))
    if len(calls) != iters:
        raise CheckFailed(f"{what} called loss_func {len(calls)} times; it must be called once per iteration "
                          f"({iters}).")
    for c in calls:
        if c["X_shape"] != (batch, D) or c["y_shape"] != (batch,):
            raise CheckFailed(f"{what}: loss_func received a batch of shape {c['X_shape']} / {c['y_shape']}, "
                              f"expected ({batch}, {D}) / ({batch},). Sample a minibatch of batch_size rows.")
        if compare.off(c["reg"], reg, compare.rtol(torch.float64) * reg):
            raise CheckFailed(f"{what}: loss_func received reg={c['reg']}, expected {reg}. Pass reg through.")
    expected_W = W0 - lr * g * sum(range(1, iters + 1))
    hint = "Each step must be W -= learning_rate * grad, once per iteration."
    ascent = W0 + lr * g * sum(range(1, iters + 1))
    # iters updates of W, each a product and a subtraction in float64
    tol = compare.rtol(torch.float64, terms=2 * iters)
    atol = tol * float(torch.cat([W0.abs().reshape(-1), expected_W.abs().reshape(-1)]).max())
    if isinstance(W, torch.Tensor) and W.shape == W0.shape and torch.allclose(W.double(), ascent, rtol=tol,
                                                                              atol=atol):
        hint = ("W moved along the gradient instead of against it (wrong sign): gradient descent is "
                "W -= learning_rate * grad.")
    compare.tensor(W, expected_W, what=what + " with a loss whose gradients are known", name="the final W",
                   rtol=tol, atol=atol, hint=hint)
    if not isinstance(history, (list, tuple)) or len(history) != iters:
        raise CheckFailed(f"{what}: loss_history must be a list of {iters} losses (one per iteration), got "
                          f"{compare.describe(history)}.")
    values = [compare.scalar(v, f"{what}: loss_history[{i}]") for i, v in enumerate(history)]
    if values != [k + 0.5 for k in range(iters)]:
        raise CheckFailed(f"{what}: loss_history should record each iteration's loss in order; got {values[:5]}...")
    first = calls_none[0] if calls_none else None
    if first is None or first["W_first"] is None:
        raise CheckFailed("train_linear_classifier with W=None never called the loss function.")
    W_init = first["W_first"]
    if tuple(W_init.shape) != (D, C):
        raise CheckFailed(f"train_linear_classifier with W=None initialised W with shape {tuple(W_init.shape)}, "
                          f"expected ({D}, {C}) = (D, number of classes y.max() + 1).")
    if W_init.dtype != X.dtype:
        raise CheckFailed(f"train_linear_classifier with W=None initialised W as {W_init.dtype}; use X's dtype "
                          f"({X.dtype}).")
    std = float(W_init.double().std())
    if not 1e-7 < std < 1e-5:
        raise CheckFailed(f"train_linear_classifier with W=None: the initial W has standard deviation {std:.2g}; "
                          "initialise with 1e-6 * torch.randn(D, C, ...).")


@check("predict_linear_classifier: argmax of X @ W as int64", timeout=60, weight=2)
def predict_contract(ctx: Context) -> None:
    gen = ctx.generator("predict")
    W = torch.randn(30, 10, generator=gen, dtype=torch.float64)
    X = torch.randn(77, 30, generator=gen, dtype=torch.float64)
    expected = ctx.reference.predict_linear_classifier(W, X)
    with ctx.student() as s:
        got = s.call("predict_linear_classifier", W, X, timeout=ctx.timeout(30))
    what = "predict_linear_classifier(W, X)"
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (W.shape[1],):
        raise CheckFailed(f"{what}: y_pred has shape {tuple(got.shape)} (one value per class), expected (77,) (one "
                          "label per example). That is the argmax over dim=0, the examples; take the argmax of "
                          "X @ W along dim=1, the classes.")
    if isinstance(got, torch.Tensor) and got.dtype != torch.int64 and tuple(got.shape) == (77,):
        raise CheckFailed(f"{what} returned dtype {got.dtype}; labels must be int64 (torch.argmax gives int64).")
    got = compare.int_tensor(got, what=what, name="y_pred", shape=(77,))
    wrong = int((got != expected).sum())
    if wrong:
        i = int((got != expected).nonzero()[0])
        raise CheckFailed(f"{what}: {wrong} of 77 predictions differ from the argmax over classes of X @ W "
                          f"(first at row {i}: got {int(got[i])}, expected {int(expected[i])}). Take the argmax "
                          "along dim=1 (classes), not dim=0.")


@check("test_one_param_set: trains once with num_iters, returns accuracies as fractions", timeout=120, weight=3)
def one_param_set_contract(ctx: Context) -> None:
    gen = ctx.generator("ops")
    data = {"X_train": torch.randn(40, 6, generator=gen), "y_train": torch.randint(0, 10, (40,), generator=gen),
            "X_val": torch.randn(25, 6, generator=gen), "y_val": torch.randint(0, 10, (25,), generator=gen)}
    pred_train = data["y_train"].clone()
    pred_train[:13] = (pred_train[:13] + 1) % 10      # 27 of 40 right
    pred_val = data["y_val"].clone()
    pred_val[:9] = (pred_val[:9] + 3) % 10            # 16 of 25 right
    lr, reg, iters = 3.5e-4, 2.5e3, 37
    calls: list[dict[str, Any]] = []
    with ctx.student() as s:
        out = s.call("test_one_param_set", _recording_classifier(calls, data, pred_train, pred_val), data, lr, reg,
                     num_iters=iters, timeout=ctx.timeout(60))
    what = f"test_one_param_set(cls, data_dict, lr={lr}, reg={reg}, num_iters={iters})"
    if len(calls) != 1:
        raise CheckFailed(f"{what} called cls.train {len(calls)} times; train exactly once.")
    call = calls[0]
    if call["num_iters"] != iters:
        raise CheckFailed(f"{what} trained for {call['num_iters']} iterations instead of num_iters={iters}. Pass "
                          "num_iters on to cls.train rather than a number of your own.")
    if compare.off(call["learning_rate"], lr, 1e-12) or compare.off(call["reg"], reg, 1e-9):
        raise CheckFailed(f"{what} trained with learning_rate={call['learning_rate']}, reg={call['reg']}; pass lr "
                          "and reg through in that order.")
    if call["n"] != 40:
        raise CheckFailed(f"{what} trained on {call['n']} examples instead of data_dict['X_train'] (40).")
    returned = compare.unpack(out, 3, what, ("cls", "train_acc", "val_acc"))
    counts = {"train_acc": (int((pred_train == data["y_train"]).sum()), data["y_train"].numel()),
              "val_acc": (int((pred_val == data["y_val"]).sum()), data["y_val"].numel())}
    for name, raw in (("train_acc", returned[1]), ("val_acc", returned[2])):
        got = compare.scalar(raw, f"{what}: {name}")
        right, total = counts[name]
        # an accuracy computed from float32 data (or returned as a float32 tensor) carries float32 rounding
        dtypes = (data["X_train"].dtype, compare.value_dtype(raw))
        exp = right / total
        if compare.fraction(got, right, total, *dtypes):
            continue
        if compare.fraction(got / 100, right, total, *dtypes):
            raise CheckFailed(f"{what}: {name} is {got:g}, a percentage; return a fraction in [0, 1] ({exp:g}).")
        if abs(got - right) <= compare.rtol(*dtypes, terms=total) * max(1, right):
            raise CheckFailed(f"{what}: {name} is {got:g}, the number of correct predictions; divide by the number "
                              f"of examples ({total}) to return a fraction in [0, 1] ({exp:g}).")
        other = counts["val_acc" if name == "train_acc" else "train_acc"]
        swapped = " It looks like train and validation are swapped." if compare.fraction(got, *other, *dtypes) else ""
        shown, expected = compare.digits(got, exp)
        raise CheckFailed(f"{what}: {name} is {shown}, but cls.predict gets {right} of {total} examples right "
                          f"({expected}).{swapped}")
    if not (isinstance(returned[0], wire.Opaque) and returned[0].type_name == "grader.RecordingClassifier"):
        raise CheckFailed(f"{what} must return the classifier it was given (trained) as the first item, got "
                          f"{compare.describe(returned[0])}.")


@check("LinearSVM / Softmax: train, predict, save and load work end to end", timeout=120,
       after=("svm_vectorized_data_term", "softmax_vectorized_data_term"), weight=2)
def classifier_objects(ctx: Context) -> None:
    gen = ctx.generator("objects")
    X = torch.randn(64, 11, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=gen)
    W_probe = torch.randn(11, 3, generator=gen, dtype=torch.float64) * 0.1
    reg = 0.05
    # the object's loss and the student's own function on the same batch: the same computation, up to
    # the rounding of the loss itself
    tol = compare.rtol(torch.float64, terms=loss_terms(X.shape[0], X.shape[1], W_probe.shape[1]))
    losses = {"LinearSVM": ("svm_loss_vectorized", "softmax_loss_vectorized"),
              "Softmax": ("softmax_loss_vectorized", "svm_loss_vectorized")}

    def roundtrip(name: str) -> None:
        out = s.probe("linear_classifier.classifier_roundtrip", name, X, y, "model.pt", W_probe, reg,
                      timeout=ctx.timeout(60), what=f"{name}().train/predict/save/load")
        # The object must be wired to the student's own loss function (whose correctness other checks
        # grade): compare with what that function returns, so a loss bug is not charged twice.
        right, wrong = losses[name]
        what = f"{name}.loss(W, X, y, reg={reg})"
        got_loss, got_dW = compare.unpack(out["loss"], 2, what, ("loss", "dW"))
        got_loss = compare.scalar(got_loss, f"{what}: the loss")
        exp_loss, exp_dW = compare.unpack(out["own"][right], 2, f"{right}()", ("loss", "dW"))
        exp_loss = compare.scalar(exp_loss, f"{right}(): the loss")
        other = out["own"][wrong]
        if isinstance(other, (tuple, list)) and len(other) == 2 and isinstance(other[0], torch.Tensor):
            other_loss = float(other[0].detach().double().reshape(-1)[0])
            if (abs(got_loss - other_loss) <= tol * max(1.0, abs(other_loss))
                    and abs(exp_loss - other_loss) > tol * max(1.0, abs(exp_loss))):
                raise CheckFailed(f"{what} returns the {wrong.split('_')[0]} loss; {name}.loss must call "
                                  f"{right}.")
        compare.close(got_loss, exp_loss, what=what, name="the loss", rtol=tol, atol=tol,
                      hint=f"{name}.loss must return {right}(W, X_batch, y_batch, reg).")
        compare.tensor(got_dW, exp_dW, what=what, name="dW", rtol=tol,
                       atol=tol * float(compare.structure(exp_dW, W_probe, what=f"{right}()", name="dW").abs().max()),
                       hint=f"{name}.loss must return {right}(W, X_batch, y_batch, reg).")
        what = f"{name}: train, predict, save and load"
        if not isinstance(out["history"], (list, tuple)) or len(out["history"]) != 5:
            raise CheckFailed(f"{what}: train(num_iters=5) should return 5 losses, got "
                              f"{compare.describe(out['history'])}.")
        compare.int_tensor(out["pred"], what=what, name="predict(X)", shape=(64,))
        W = compare.structure(out["W"], torch.zeros(11, 3, dtype=torch.float64), what=what, name="W")
        compare.tensor(out["W_loaded"], W, what=what + " (after load)", name="W", rtol=0, atol=0)

    with ctx.student() as s:
        ctx.per_item(("LinearSVM", "Softmax"), roundtrip,
                     needs={"LinearSVM": ("svm_vectorized_data_term",),
                            "Softmax": ("softmax_vectorized_data_term",)})


# ----------------------------------------------------------------------------- saved models on real data


def _accuracy(ctx: Context, artifact: str, kind: str) -> None:
    from grader import data as gdata

    W = load_saved_W(ctx, artifact)
    raw = ctx.data("cifar10")
    device = ctx.device
    W = W.to(device=device, dtype=torch.float32)
    correct = total = 0
    for Xb, yb in gdata.iter_cifar10_batches(raw, "test", 1000, dtype=torch.float32, device=device):
        pred = ctx.reference.predict_linear_classifier(W, Xb)
        correct += int((pred == yb).sum())
        total += int(yb.numel())
    kits.accuracy_floor(ctx, artifact, correct / total, total, dataset="CIFAR-10", profile=raw.profile,
                        floor=ACCURACY_FLOOR[raw.profile][kind],
                        advice="Tune the search grid, train longer, and save the model with the best validation "
                               "accuracy.")


@family("{case}_best_model.pt reaches the accuracy floor on CIFAR-10 test images", {"svm": 5, "softmax": 5},
        id="{case}_saved_model_accuracy", timeout=180)
def saved_model_accuracy(ctx: Context, kind: str) -> None:
    _accuracy(ctx, f"{kind}_best_model.pt", kind)
