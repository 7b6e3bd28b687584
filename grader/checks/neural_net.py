"""Part 3, hidden checks: hand-written activations, a linear softmax model and an MLP on MNIST.

Expected values come from torch (for the activations) and from computations in the parent
on the student's own returned state (for the models), on hidden seeded inputs. Training runs
inside the sandbox with the student's ``train_model`` and hyperparameters fixed here; the
architectures are fixed, so the parent rebuilds each trained model from the returned parameters
and computes the test predictions itself (the test images and labels never enter the child). Weights sit next
to each check; the part is worth 40 points (2 public + 38 hidden).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import math

import torch

from grader import compare, kits, static, wire
from grader.errors import CheckFailed
from grader.registry import check, family
from grader.public_checks.neural_net import (PART, activation_reply, activation_tolerance, check_logits, count_of,
                                             model_reply)

if TYPE_CHECKING:
    from grader.runner import Context
    from grader.sandbox import StudentSession

__all__ = ["PART"]

# The grader's training protocol for the accuracy checks (same for every submission): a seeded
# subset of the MNIST training images scaled to [0, 1], plain SGD with the student's train_model.
TRAIN_SUBSET = 8000
TRAIN_HYPER = {"learning_rate": 0.2, "num_epochs": 20, "batch_size": 64}
# Test-accuracy floors per data profile. "sample": the reference reaches 0.904-0.911 (linear) and
# 0.931-0.942 (MLP) over 12 subset/shuffle seeds with this protocol (bench/calibrate_neural_net.py);
# the floors sit about 2.5 points below the worst seed. "full": the protocol is the same (an 8,000-image
# subset, the official 10,000 test images), so the sample figures are the documented estimate; drawing the
# subset from 60,000 images instead of 10,000 is not expected to move them by more than a point.
ACCURACY_FLOOR = {"sample": {"LinearSoftmax": 0.88, "MLP": 0.91},
                  "full": {"LinearSoftmax": 0.88, "MLP": 0.91}}
# The MLP must beat the student's own linear model by at least this much (reference: 2.5-3.5 points).
MLP_MARGIN = 0.005

def forward_tolerance(inputs: int, magnitude: float) -> tuple[float, float]:
    """(rtol, atol) for float32 logits computed through layers with ``inputs`` inputs in all, against
    the same model in float64; ``magnitude`` is the largest logit (the sums' scale)."""
    r = compare.rtol(torch.float32, terms=inputs)
    return r, r * max(1.0, magnitude)


FORBIDDEN_ACTIVATION = ("torch.sigmoid", "torch.tanh", "torch.relu", "torch.relu_", "torch.sigmoid_",
                        "torch.tanh_", "torch.nn", "torch.special", "torch.erf", "torch.logit",
                        "torch.clip_", ".sigmoid", ".tanh", ".relu", ".sigmoid_", ".tanh_", ".relu_",
                        "torch.hardtanh", "torch.threshold", "torch.softmax", "torch.nn.functional")
TORCH_ACTIVATION = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
# The fixed architectures: (out_features, in_features) of each Linear layer, in order; relu between them.
ARCHITECTURE = {"LinearSoftmax": ((10, 784),), "MLP": ((32, 784), (32, 32), (10, 32))}


# ----------------------------------------------------------------------------- activations


def _wrong_variants(name: str, x: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    """Outputs of common wrong formulas, each with the hint that names the bug."""
    with torch.no_grad():
        xd = x.double()
        if name == "sigmoid":
            return [(torch.sigmoid(-xd), "This is sigmoid(-x): the exponent must be exp(-x), as in 1 / (1 + exp(-x))."),
                    (torch.exp(-xd.abs()) / (1 + torch.exp(-xd.abs())),
                     "For x >= 0 the value must be 1 / (1 + exp(-x)), not exp(-x) / (1 + exp(-x)): the two "
                     "branches are swapped.")]
        if name == "tanh":
            return [(torch.tanh(xd / 2), "This is tanh(x / 2): the exponentials are exp(x) and exp(-x), i.e. "
                                         "exp(-2|x|) in the stable form, not exp(-|x|)."),
                    (torch.sigmoid(2 * xd), "This is sigmoid(2x); tanh(x) = 2 * sigmoid(2x) - 1."),
                    (torch.tanh(xd).abs(), "The sign is lost for negative x: tanh(-x) = -tanh(x).")]
        return [(xd.abs(), "Negative inputs must give 0, not |x|."),
                (torch.clamp(xd, max=0), "This keeps the negative part: relu(x) = max(0, x), not min(0, x)."),
                (torch.nn.functional.leaky_relu(xd, 0.01), "This is a leaky ReLU; negative inputs must give 0.")]


def _diagnose(name: str, out: Any, x: torch.Tensor) -> str:
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        return ""
    rtol, atol = activation_tolerance(x.dtype)
    for value, text in _wrong_variants(name, x):
        if torch.allclose(out.detach().double().cpu(), value, rtol=rtol, atol=atol):
            return text
    return ""


def _watched_activation(s: StudentSession, ctx: Context, name: str, x: torch.Tensor, upstream: torch.Tensor, where: str) -> dict[str, Any]:
    """The activation probe's reply, with x in memory shared with the grader: whether the student's
    function wrote into x is read here, in the parent, from that memory (whatever the child says)."""
    with wire.WatchedInputs(x=x) as watched:
        reply = activation_reply(s, name, watched["x"], upstream, timeout=ctx.timeout(30))
        written = watched.written()
    if written:
        raise CheckFailed(f"{where} modified its input {compare.in_place(written)}. Return a new tensor (e.g. "
                          "torch.clamp(x, min=0) rather than x[x < 0] = 0 or x.clamp_(...)): the caller "
                          "still needs x as it was.")
    return reply


def _activation_matches(ctx: Context, name: str) -> None:
    torch_fn = TORCH_ACTIVATION[name]
    gen = ctx.generator(name)
    cases = [(torch.float32, (6, 9), 4.0), (torch.float64, (40,), 6.0), (torch.float32, (2, 3, 5), 0.05)]
    with ctx.student() as s:
        for dtype, shape, scale in cases:
            x = (torch.randn(shape, generator=gen, dtype=torch.float64) * scale).to(dtype)
            upstream = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
            where = f"{name}(x) with x of shape {tuple(shape)}, dtype {str(dtype).removeprefix('torch.')}"
            reply = _watched_activation(s, ctx, name, x, upstream, where)
            rtol, atol = activation_tolerance(dtype)
            expected = torch_fn(x)
            compare.tensor(reply["out"], expected, what=where, name="the output", rtol=rtol, atol=atol,
                           hint=_diagnose(name, reply["out"], x))
            if "grad" not in reply or reply.get("grad") is None:
                problem = reply.get("grad_problem", "the gradient with respect to x is None")
                raise CheckFailed(f"{where}: autograd cannot differentiate your {name} ({problem}). Build the "
                                  "output from torch operations on x; do not use .item(), .detach(), numpy or "
                                  "torch.tensor(...) on intermediate values.")
            leaf = x.clone().requires_grad_(True)
            (grad_expected,) = torch.autograd.grad(torch_fn(leaf), leaf, grad_outputs=upstream)
            rtol, atol = activation_tolerance(dtype, gradient=True, scale=float(upstream.abs().max()))
            compare.tensor(reply["grad"], grad_expected, what=where + " (autograd gradient)",
                           name="d output / d x", rtol=rtol, atol=atol,
                           hint="The values match, so the gradient is cut somewhere (a detach, an in-place "
                                "write, or a mask built from the output).")


@family("{case} matches torch.{case}: values and gradients (float32 and float64)",
        {"sigmoid": 3, "tanh": 3, "relu": 2}, id="nn_{case}_vs_torch", timeout=60)
def nn_activation_vs_torch(ctx: Context, name: str) -> None:
    _activation_matches(ctx, name)


@check("Activations are numerically safe at x = +-1000: finite values and gradients", timeout=60, weight=3)
def nn_activations_extreme_inputs(ctx: Context) -> None:
    points = [-1000.0, -200.0, -60.0, -1e-3, 1e-3, 60.0, 200.0, 1000.0]

    def safe(name: str) -> None:
        for dtype in (torch.float32, torch.float64):
            x = torch.tensor(points, dtype=dtype)
            where = f"{name}(x) at x = {points} ({str(dtype).removeprefix('torch.')})"
            reply = _watched_activation(s, ctx, name, x, torch.ones_like(x), where)
            out = reply["out"]
            if isinstance(out, torch.Tensor) and out.shape == x.shape and not torch.isfinite(out).all():
                i = int((~torch.isfinite(out)).nonzero()[0])
                raise CheckFailed(f"{where}: the output is {float(out[i])} at x = {points[i]:g}. exp() of a "
                                  "large positive number overflows to inf; rewrite the formula so exp() only "
                                  "sees arguments <= 0 (see the docstring).")
            rtol, atol = activation_tolerance(dtype)
            compare.tensor(out, torch.nan_to_num(TORCH_ACTIVATION[name](x)), what=where, name="the output",
                           rtol=rtol, atol=atol)
            grad = reply.get("grad")
            if not isinstance(grad, torch.Tensor) or grad.shape != x.shape:
                raise CheckFailed(f"{where}: autograd gives no gradient ({reply.get('grad_problem', 'None')}).")
            if not torch.isfinite(grad).all():
                i = int((~torch.isfinite(grad)).nonzero()[0])
                raise CheckFailed(
                    f"{where}: the value is fine but the gradient is {float(grad[i])} at x = {points[i]:g}. "
                    "autograd differentiates BOTH branches of torch.where, and 0 * inf = NaN: the branch that "
                    "is not selected must stay finite too (clamp its argument, e.g. torch.clamp(x, max=0)).")
            leaf = x.clone().requires_grad_(True)
            TORCH_ACTIVATION[name](leaf).sum().backward()
            assert leaf.grad is not None  # the activation's output depends on every element of leaf
            rtol, atol = activation_tolerance(dtype, gradient=True)
            compare.tensor(grad, leaf.grad, what=where + " (autograd gradient)", name="d output / d x",
                           rtol=rtol, atol=atol)

    with ctx.student() as s:
        ctx.per_item(("sigmoid", "tanh", "relu"), safe)


@check("Activations are written from their definitions (no torch activation functions)", timeout=30,
       after=("nn_sigmoid_vs_torch", "nn_tanh_vs_torch", "nn_relu_vs_torch"), weight=2)
def nn_activations_static(ctx: Context) -> None:
    module = static.inspected(ctx, "its activations")

    def own(name: str) -> None:
        static.require_own_code(module, name, FORBIDDEN_ACTIVATION, rule="must be written from its definition",
                                instead="Use torch.exp, torch.clamp, torch.where and arithmetic, not torch's own "
                                        "activation functions.")

    ctx.per_item(("sigmoid", "tanh", "relu"), own,
                 needs={name: (f"nn_{name}_vs_torch",) for name in ("sigmoid", "tanh", "relu")})


# ----------------------------------------------------------------------------- models


def _linear_pairs(state: dict[str, Any]) -> list[tuple[str, torch.Tensor, torch.Tensor | None]]:
    """(name, weight, bias) of every 2-D ``*weight`` entry in state order, with its ``*bias``."""
    out = []
    for key, value in state.items():
        if isinstance(key, str) and key.endswith("weight") and isinstance(value, torch.Tensor) and value.dim() == 2:
            bias = state.get(key[: -len("weight")] + "bias")
            out.append((key, value.double(), bias.double() if isinstance(bias, torch.Tensor) else None))
    return out


def _param_listing(reply: dict[str, Any]) -> str:
    return ", ".join(f"{n} {tuple(sh)}" for n, sh, _ in reply["params"][:8]) or "none"


def _grads_flow(reply: dict[str, Any], name: str) -> None:
    grads = reply.get("grads") or {}
    if not grads:
        raise CheckFailed(f"{name}(): the output does not require a gradient, so nothing can be trained. Do not "
                          "wrap the forward pass in torch.no_grad() or detach it.")
    for pname, g in grads.items():
        if not isinstance(g, torch.Tensor):
            raise CheckFailed(f"{name}(): parameter {pname} receives no gradient from the output; every layer must "
                              "take part in the forward pass.")
        if not torch.isfinite(g).all() or float(g.abs().max()) == 0.0:
            raise CheckFailed(f"{name}(): the gradient of parameter {pname} is zero or not finite for random inputs.")


def _compare_forward(reply: dict[str, Any], name: str, expected: torch.Tensor, n: int) -> None:
    rtol, atol = forward_tolerance(sum(i for _, i in ARCHITECTURE[name]), float(expected.abs().max()))
    for key, shape in (("flat", f"({n}, 784)"), ("images", f"({n}, 1, 28, 28)")):
        got = reply[key]
        hint = ""
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            g = got.detach().double()
            if torch.allclose(g, torch.softmax(expected, dim=1), rtol=rtol, atol=atol):
                hint = "The output is softmax(logits): return the raw logits, the cross-entropy loss applies softmax."
            elif torch.allclose(g, torch.log_softmax(expected, dim=1), rtol=rtol, atol=atol):
                hint = "The output is log_softmax(logits): return the raw logits."
            elif torch.allclose(g, torch.clamp(expected, min=0), rtol=rtol, atol=atol):
                hint = "relu is applied to the output layer too; the last layer must return raw logits."
        compare.tensor(got, expected.float(), what=f"{name}()(x) with x of shape {shape}", name="the logits",
                       rtol=rtol, atol=atol, check_dtype=False, hint=hint)


@check("LinearSoftmax: one Linear(784, 10), 7,850 parameters, logits (N, 10), gradients flow", timeout=60, weight=2)
def nn_linear_softmax_model(ctx: Context) -> None:
    gen = ctx.generator("linear")
    n = 6
    X = torch.rand(n, 784, generator=gen)
    upstream = torch.randn(n, 10, generator=gen)
    with ctx.student() as s:
        reply = model_reply(s, "LinearSoftmax", X, upstream, timeout=ctx.timeout(30))
    got = count_of(reply)
    if got != 7850:
        raise CheckFailed(f"LinearSoftmax() has {got} trainable parameters ({_param_listing(reply)}); expected 7,850 "
                          "= one nn.Linear(784, 10) with its bias.")
    check_logits(reply, "LinearSoftmax", n)
    pairs = _linear_pairs(reply["state"])
    if len(pairs) != 1 or tuple(pairs[0][1].shape) != (10, 784) or pairs[0][2] is None:
        raise CheckFailed(f"LinearSoftmax() should hold one nn.Linear(784, 10); found {_param_listing(reply)}.")
    _, W, b = pairs[0]
    assert b is not None  # a missing bias was refused above
    _compare_forward(reply, "LinearSoftmax", X.double() @ W.T + b, n)
    _grads_flow(reply, "LinearSoftmax")


@check("MLP: 784 -> 32 -> 32 -> 10 with your relu after each hidden layer, 26,506 parameters, gradients flow",
       timeout=60, weight=4)
def nn_mlp_model(ctx: Context) -> None:
    gen = ctx.generator("mlp")
    n = 6
    X = torch.rand(n, 784, generator=gen)
    upstream = torch.randn(n, 10, generator=gen)
    with ctx.student() as s:
        reply = model_reply(s, "MLP", X, upstream, timeout=ctx.timeout(30))
    got = count_of(reply)
    if got != 26506:
        extra = ""
        if got == 26432:
            extra = " That is the count without biases: create the layers with bias=True (the default)."
        raise CheckFailed(f"MLP() has {got} trainable parameters ({_param_listing(reply)}); expected 26,506 = "
                          f"Linear(784, 32) + Linear(32, 32) + Linear(32, 10), each with a bias.{extra}")
    check_logits(reply, "MLP", n)
    calls = reply["relu_calls"]
    if calls != 2:
        if calls == 0:
            why = ("forward never calls your relu. Use the relu function of neural_net.py, not nn.ReLU, torch.relu "
                   "or F.relu.")
        elif calls > 2:
            why = f"forward calls your relu {calls} times; use it after the two hidden layers only (the output " \
                  "layer returns raw logits)."
        else:
            why = "forward calls your relu only once; use it after BOTH hidden layers."
        raise CheckFailed(f"MLP(): {why}")
    pairs = _linear_pairs(reply["state"])
    shapes = [tuple(w.shape) for _, w, _ in pairs]
    if shapes != [(32, 784), (32, 32), (10, 32)] or any(b is None for _, _, b in pairs):
        raise CheckFailed(f"MLP() should hold nn.Linear(784, 32), nn.Linear(32, 32), nn.Linear(32, 10) created in "
                          f"that order; found {_param_listing(reply)}.")
    h = X.double()
    for i, (_, W, b) in enumerate(pairs):
        assert b is not None  # a missing bias was refused above
        h = h @ W.T + b
        if i < 2:
            h = torch.clamp(h, min=0)
    _compare_forward(reply, "MLP", h, n)
    _grads_flow(reply, "MLP")


@check("count_parameters: trainable scalars only", timeout=30, weight=1)
def nn_count_parameters(ctx: Context) -> None:
    with ctx.student() as s:
        plain = s.probe("neural_net.count_with", False, timeout=ctx.timeout(30), what="count_parameters(model)")
        frozen = s.probe("neural_net.count_with", True, timeout=ctx.timeout(30), what="count_parameters(model)")
    what = "count_parameters(model) for Linear(7, 5) + Linear(5, 3, bias=False) + Linear(3, 2)"
    got = plain.get("count") if isinstance(plain, dict) else None
    if isinstance(got, bool) or not isinstance(got, int):
        raise CheckFailed(f"{what} must return a Python int, got {compare.describe(got)}.")
    if got != 63:
        hint = " It looks like the number of parameter tensors; sum p.numel() instead." if got == 5 else ""
        raise CheckFailed(f"{what} returned {got}, expected 63.{hint}")
    got = frozen.get("count") if isinstance(frozen, dict) else None
    if got != 23:
        hint = " Frozen parameters (requires_grad=False) must not be counted." if got == 63 else ""
        raise CheckFailed(f"{what} with the first layer frozen returned {got!r}, expected 23.{hint}")


# ----------------------------------------------------------------------------- training and prediction


def _mean_ce(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    z = X @ W.T + b
    z = z - z.max(dim=1, keepdim=True).values
    return (torch.log(torch.exp(z).sum(dim=1)) - z.gather(1, y[:, None]).squeeze(1)).mean()


def _gd_steps(state: dict[str, Any], X: torch.Tensor, y: torch.Tensor, lr: float, steps: int, *, scale: float = 1.0,
              accumulate: bool = False, momentum: float = 0.0) -> tuple[dict[str, Any], list[float]]:
    """Full-batch gradient descent on the mean cross-entropy in float64 (and wrong variants of it)."""
    W = state["weight"].double().clone().requires_grad_(True)
    b = state["bias"].double().clone().requires_grad_(True)
    losses = []
    gW_acc = torch.zeros_like(W)
    gb_acc = torch.zeros_like(b)
    vW = torch.zeros_like(W)
    vb = torch.zeros_like(b)
    for _ in range(steps):
        loss = _mean_ce(W, b, X.double(), y) * scale
        losses.append(float(loss.detach()))
        gW, gb = torch.autograd.grad(loss, (W, b))
        if accumulate:
            gW_acc += gW
            gb_acc += gb
            gW, gb = gW_acc.clone(), gb_acc.clone()
        if momentum:
            vW = momentum * vW + gW
            vb = momentum * vb + gb
            gW, gb = vW, vb
        with torch.no_grad():
            W -= lr * gW
            b -= lr * gb
    return {"weight": W.detach(), "bias": b.detach()}, losses


def _training_inputs(gen: torch.Generator, n: int, d: int, c: int) -> tuple[dict[str, Any], torch.Tensor, torch.Tensor]:
    state = {"weight": torch.randn(c, d, generator=gen) * 0.1, "bias": torch.randn(c, generator=gen) * 0.1}
    X = torch.randn(n, d, generator=gen)
    y = torch.randint(0, c, (n,), generator=gen)
    return state, X, y


def training_tolerance(n: int, d: int, c: int, steps: int) -> float:
    """Relative tolerance for float32 training of a linear softmax model against the same steps in
    float64: each step rounds logits (d terms), a softmax (c) and a gradient summed over n examples,
    and each step starts from the previous one's rounded parameters."""
    return compare.rtol(torch.float32, terms=max(1, steps) * (n + d + c))


def _close_state(got: dict[str, Any], exp: dict[str, Any], rtol: float) -> bool:
    return all(isinstance(got.get(k), torch.Tensor) and got[k].shape == exp[k].shape
               and compare.near(got[k], exp[k], rtol) for k in ("weight", "bias"))


@check("train_model: full-batch SGD steps on the mean cross-entropy", timeout=60, weight=4)
def nn_train_sgd_steps(ctx: Context) -> None:
    gen = ctx.generator("steps")
    n, d, c, lr, epochs = 48, 20, 4, 0.3, 2
    state, X, y = _training_inputs(gen, n, d, c)
    with ctx.student() as s:
        out = s.probe("neural_net.run_training", state, X, y, lr, epochs, n, timeout=ctx.timeout(30),
                      what="train_model()")
    what = (f"train_model(model, X, y, learning_rate={lr}, num_epochs={epochs}, batch_size={n}) on {n} examples "
            "(one full batch per epoch)")
    final = out.get("final") if isinstance(out, dict) else None
    if not isinstance(final, dict):
        raise CheckFailed(f"{what}: the model's parameters could not be read back.")
    expected, losses = _gd_steps(state, X, y, lr, epochs)
    tol = training_tolerance(n, d, c, epochs)
    if not _close_state(final, expected, tol):
        variants = [
            (_gd_steps(state, X, y, lr, 0)[0], "The parameters did not change: call optimizer.step() after "
                                               "loss.backward(), with an optimizer built on model.parameters()."),
            (_gd_steps(state, X, y, lr, epochs, scale=n)[0], "The steps are N times too large: the loss is summed "
                                                             "over the batch; use the mean cross-entropy."),
            (_gd_steps(state, X, y, lr, epochs, accumulate=True)[0], "The second step used the sum of both "
                                                                      "gradients: call optimizer.zero_grad() before "
                                                                      "every loss.backward()."),
            (_gd_steps(state, X, y, -lr, epochs)[0], "The parameters move up the gradient: SGD subtracts "
                                                     "learning_rate * gradient."),
            (_gd_steps(state, X, y, lr, 1)[0], f"Only one step was taken in {epochs} epochs: loop over num_epochs."),
            (_gd_steps(state, X, y, lr, epochs, momentum=0.9)[0], "The steps use momentum 0.9; plain SGD has no "
                                                                  "momentum."),
        ]
        hint = next((text for st, text in variants if _close_state(final, st, tol)), "")
        compare.tensor(final.get("weight"), expected["weight"].float(), what=what, name="the final weight",
                       rtol=tol, atol=tol * float(expected["weight"].abs().max()), hint=hint or "Each minibatch: "
                       "logits, mean cross-entropy, optimizer.zero_grad(), loss.backward(), optimizer.step().")
        compare.tensor(final.get("bias"), expected["bias"].float(), what=what, name="the final bias",
                       rtol=tol, atol=tol * float(expected["bias"].abs().max()), hint=hint)
    history = out.get("history")
    if not isinstance(history, (list, tuple)) or len(history) != epochs:
        raise CheckFailed(f"{what}: the loss history should hold {epochs} values (one per minibatch), got "
                          f"{compare.describe(history)}.")
    values = [compare.scalar(v, f"{what}: loss_history[{i}]") for i, v in enumerate(history)]
    for i, (got, exp) in enumerate(zip(values, losses)):
        if compare.off(got, exp, tol * max(1.0, abs(exp))):
            hint = ""
            if i == 1 and abs(got - losses[0]) < tol * max(1.0, abs(losses[0])):
                hint = " It equals the first loss: record each minibatch's own loss."
            raise CheckFailed(f"{what}: loss_history[{i}] is {got:.6g}, but the mean cross-entropy before that "
                              f"update is {exp:.6g}.{hint}")


@check("train_model: shuffled minibatches, every example once per epoch, one loss per minibatch", timeout=60, weight=3)
def nn_train_minibatches(ctx: Context) -> None:
    gen = ctx.generator("batches")
    n, d, c, lr, epochs, batch = 70, 12, 3, 0.01, 3, 16
    state, X, y = _training_inputs(gen, n, d, c)
    X[:, 0] = torch.arange(n, dtype=X.dtype)  # the first feature identifies the row
    with ctx.student() as s:
        out = s.probe("neural_net.run_training", state, X, y, lr, epochs, batch, timeout=ctx.timeout(30),
                      what="train_model()")
    what = f"train_model(model, X, y, num_epochs={epochs}, batch_size={batch}) on {n} examples"
    per_epoch = math.ceil(n / batch)
    batches = out.get("batches") if isinstance(out, dict) else None
    if not isinstance(batches, list) or not all(isinstance(b, torch.Tensor) for b in batches):
        raise CheckFailed(f"{what}: the model's forward passes could not be recorded.")
    sizes = [int(b.numel()) for b in batches]
    if any(sz > batch for sz in sizes):
        raise CheckFailed(f"{what}: the model received minibatches of {max(sizes)} examples, more than "
                          f"batch_size={batch}.")
    if len(batches) != epochs * per_epoch:
        hint = ""
        if len(batches) == epochs * (n // batch):
            hint = (f" The last, smaller minibatch of each epoch ({n % batch} examples) is dropped: use "
                    "range(0, N, batch_size).")
        raise CheckFailed(f"{what}: the model was trained on {len(batches)} minibatches, expected {epochs} epochs x "
                          f"ceil({n} / {batch}) = {epochs * per_epoch}.{hint}")
    orders = []
    for e in range(epochs):
        ids = torch.cat(batches[e * per_epoch:(e + 1) * per_epoch]).round().long()
        if sorted(ids.tolist()) != list(range(n)):
            raise CheckFailed(f"{what}: in epoch {e + 1} some examples were used twice and others never. Walk "
                              "through a permutation (torch.randperm(N)) so each example is used exactly once per "
                              "epoch.")
        orders.append(ids)
    if all(torch.equal(o, torch.arange(n)) for o in orders):
        raise CheckFailed(f"{what}: the examples come in their original order every epoch. Shuffle them with "
                          "torch.randperm(N) at the start of each epoch.")
    if all(torch.equal(o, orders[0]) for o in orders):
        raise CheckFailed(f"{what}: every epoch visits the examples in the same order. Draw a new permutation at "
                          "the start of EACH epoch.")
    modes = out.get("modes") or []
    if not all(m is True for m in modes):
        raise CheckFailed(f"{what}: the model was not in training mode during training. Call model.train() first.")
    history = out.get("history")
    if not isinstance(history, (list, tuple)) or len(history) != len(batches):
        raise CheckFailed(f"{what}: the loss history should hold one value per minibatch ({len(batches)}), got "
                          f"{compare.describe(history)}.")
    first = compare.scalar(history[0], f"{what}: loss_history[0]")
    rows = batches[0].round().long()
    expected = float(_mean_ce(state["weight"].double(), state["bias"].double(), X[rows].double(), y[rows]))
    tol = training_tolerance(len(rows), d, c, 1)
    if compare.off(first, expected, tol * max(1.0, abs(expected))):
        hint = " That is the sum over the minibatch; record the mean." \
            if abs(first - expected * len(rows)) < tol * max(1.0, abs(expected)) * len(rows) \
            else ""
        raise CheckFailed(f"{what}: loss_history[0] is {first:.6g}, but the mean cross-entropy of the first "
                          f"minibatch before the update is {expected:.6g}.{hint}")


@check("predict and accuracy: argmax labels as int64 without gradients; accuracy as a fraction", timeout=60, weight=2)
def nn_predict_accuracy(ctx: Context) -> None:
    gen = ctx.generator("predict")
    n, d, c = 37, 20, 10
    state, X, y = _training_inputs(gen, n, d, c)
    state["weight"] *= 10
    expected = (X @ state["weight"].T + state["bias"]).argmax(dim=1)
    with ctx.student() as s:
        out = s.probe("neural_net.run_predict", state, X, 8, timeout=ctx.timeout(30), what="predict(model, X)")
        pred = out.get("pred") if isinstance(out, dict) else None
        what = "predict(model, X, batch_size=8) for 37 examples"
        if isinstance(pred, torch.Tensor) and pred.dtype != torch.int64 and tuple(pred.shape) == (n,):
            raise CheckFailed(f"{what} returned dtype {pred.dtype}; labels must be int64 (argmax gives int64).")
        pred = compare.int_tensor(pred, what=what, name="y_pred", shape=(n,))
        wrong = int((pred != expected).sum())
        if wrong:
            raise CheckFailed(f"{what}: {wrong} of {n} labels differ from the argmax of the logits over the classes "
                              "(dim=1). Cover every example, including the last partial batch.")
        if out.get("recorded_with_grad"):
            raise CheckFailed(f"{what} ran the model with gradients enabled; wrap it in torch.no_grad().")
        if out.get("training_after") is not False:
            raise CheckFailed(f"{what} left the model in training mode; call model.eval() before predicting.")
        labels = expected.clone()
        labels[:12] = (labels[:12] + 1) % c  # 25 of 37 right
        got = s.call("accuracy", expected, labels, timeout=ctx.timeout(30))
    if isinstance(got, bool) or not isinstance(got, float):
        raise CheckFailed(f"accuracy(y_pred, y) must return a Python float, got {compare.describe(got)}.")
    # a mean of 37 zeros and ones taken in float32 ((y_pred == y).float().mean()) is off by float32 rounding
    if not compare.fraction(got, 25, 37, torch.float32):
        hint = (" That is a percentage; return a fraction in [0, 1]." if compare.fraction(got / 100, 25, 37,
                                                                                         torch.float32) else "")
        shown, expected = compare.digits(got, 25 / 37)
        raise CheckFailed(f"accuracy(y_pred, y) returned {shown} for 25 correct out of 37, expected "
                          f"{expected}.{hint}")


# ----------------------------------------------------------------------------- accuracy on MNIST


def rebuilt_logits(state: dict[str, Any], name: str, images: torch.Tensor) -> torch.Tensor:
    """The logits of the fixed architecture ``name`` with the parameters in ``state`` (the student's
    trained model, rebuilt in the parent), for uint8 ``images`` scaled to [0, 1] as in training.

    Raises CheckFailed when ``state`` does not hold the architecture's layers."""
    shapes = ARCHITECTURE[name]
    pairs = _linear_pairs(state)
    found = [tuple(w.shape) for _, w, _ in pairs]
    if found != list(shapes) or any(b is None or b.shape != (w.shape[0],) for _, w, b in pairs):
        listing = ", ".join(f"{k} {tuple(v.shape)}" for k, v in state.items() if isinstance(v, torch.Tensor))
        raise CheckFailed(f"After train_model, {name}() holds {listing or 'no parameters'}; expected the layers "
                          f"{', '.join(f'Linear({i}, {o})' for o, i in shapes)}.")
    if not all(torch.isfinite(w).all() and torch.isfinite(b).all() for _, w, b in pairs if b is not None):
        raise CheckFailed(f"After train_model, {name}()'s parameters are not finite: training diverged. Check "
                          "the loss and the update.")
    out = []
    for start in range(0, images.shape[0], 2000):
        h = images[start:start + 2000].reshape(-1, 784).to(torch.float32) / 255.0
        for i, (_, W, b) in enumerate(pairs):
            assert b is not None  # refused above
            h = h @ W.float().T + b.float()
            if i < len(pairs) - 1:
                h = torch.clamp(h, min=0)
        out.append(h)
    return torch.cat(out)


def _mnist_accuracy(ctx: Context, name: str) -> float:
    def run() -> float:
        raw = ctx.data("mnist")
        gen = ctx.part_generator("mnist-subset")  # the same subset for the linear model and the MLP
        idx = torch.randperm(len(raw.train_labels), generator=gen)[:TRAIN_SUBSET]
        images = raw.train_images[idx].reshape(len(idx), 784).contiguous()
        labels = raw.train_labels[idx].clone()
        with ctx.student(seed=int(torch.randint(0, 2**31 - 1, (1,), generator=gen))) as s:
            out = s.probe("neural_net.train", name, images, labels, TRAIN_HYPER["learning_rate"],
                          TRAIN_HYPER["num_epochs"], TRAIN_HYPER["batch_size"], timeout=ctx.timeout(150),
                          what=f"train_model({name}(), ...) on MNIST")
        state = out.get("state") if isinstance(out, dict) else None
        if not isinstance(state, dict):
            raise CheckFailed(f"{name}()'s parameters could not be read back after train_model.")
        # the architecture is fixed (checks 3.6 and 3.7): the test images stay in the grader's process
        pred = rebuilt_logits(state, name, raw.test_images).argmax(dim=1)
        return float((pred == raw.test_labels).double().mean())

    return cast(float, ctx.shared(f"neural_net:accuracy:{name}", run))


def _floor_check(ctx: Context, name: str) -> float:
    acc = _mnist_accuracy(ctx, name)
    profile = ctx.data("mnist").profile
    floor = ACCURACY_FLOOR[profile][name]
    kits.accuracy_floor(ctx, f"{name} trained with your train_model", acc, len(ctx.data("mnist").test_labels),
                        dataset="MNIST", profile=profile, floor=floor,
                        advice=f"The reference reaches about {floor + 0.025:.2f} or more. Check the model's forward "
                               "pass and the training loop.")
    return acc


@check("LinearSoftmax trained with train_model reaches the accuracy floor on MNIST test images",
       depends=("nn_linear_softmax_model", "nn_train_sgd_steps"), timeout=200, weight=4)
def nn_linear_softmax_accuracy(ctx: Context) -> None:
    _floor_check(ctx, "LinearSoftmax")


@check("MLP trained with train_model reaches the accuracy floor on MNIST and beats the linear model",
       depends=("nn_mlp_model", "nn_train_sgd_steps"), timeout=300, weight=5)
def nn_mlp_accuracy(ctx: Context) -> None:
    acc = _floor_check(ctx, "MLP")
    try:
        linear = _mnist_accuracy(ctx, "LinearSoftmax")
    except CheckFailed as exc:
        raise CheckFailed(f"The MLP reaches {acc:.4f}, but your LinearSoftmax could not be trained for the "
                          f"comparison: {exc}") from None
    ctx.note(f"MLP {acc:.4f} vs LinearSoftmax {linear:.4f}.")
    if acc < linear + MLP_MARGIN:
        raise CheckFailed(f"The MLP reaches {acc:.4f} test accuracy, not better than your linear model ({linear:.4f}) "
                          f"by at least {MLP_MARGIN:.3f}. With a ReLU after each hidden layer it should be clearly "
                          "better; without a nonlinearity, stacked linear layers are just one linear map.")
