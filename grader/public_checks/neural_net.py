"""Part 3, public checks: activations at a few points and the two models' shapes.

Students run these with ``python -m grader check``. Expectations follow from the
definitions (sigmoid(0) = 1/2, tanh(-x) = -tanh(x), relu(x) = max(0, x)) and from the
architecture in the docstrings (7,850 and 26,506 parameters, logits of shape (N, 10)).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import math

import torch

from grader import compare, wire
from grader.errors import CheckFailed
from grader.registry import Part, check

if TYPE_CHECKING:
    from grader.runner import Context
    from grader.sandbox import StudentSession

PART = Part("neural_net", "Part 3: activations and an MLP on MNIST", files=("neural_net.py",),
            datasets=("mnist",))

ACTIVATIONS = ("sigmoid", "tanh", "relu")
DEFINITIONS: dict[str, Callable[[float], float]] = {
    "sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v)),
    "tanh": math.tanh,
    "relu": lambda v: max(0.0, v),
}
PARAMETER_COUNTS = {"LinearSoftmax": 7850, "MLP": 26506}


# ----------------------------------------------------------------------------- shared helpers


def activation_reply(student: StudentSession, name: str, x: torch.Tensor | wire.Watched, upstream: torch.Tensor, *,
                     timeout: float) -> dict[str, Any]:
    """The ``neural_net.activation`` probe's reply: the output and the autograd gradient. Pass x as a
    ``wire.Watched`` to see afterwards, in the grader, whether the student's function wrote into it."""
    reply = student.probe("neural_net.activation", name, x, upstream, timeout=timeout, what=f"{name}(x)")
    if not isinstance(reply, dict) or "out" not in reply:
        raise CheckFailed(f"{name}(x) could not be called.")
    return reply


def model_reply(student: StudentSession, name: str, X: torch.Tensor, upstream: torch.Tensor, *, timeout: float) -> dict[str, Any]:
    reply = student.probe("neural_net.model_report", name, X, upstream, timeout=timeout,
                          what=f"{name}() and its forward pass")
    if not isinstance(reply, dict) or "params" not in reply:
        raise CheckFailed(f"{name}() could not be built.")
    if not reply.get("is_module"):
        raise CheckFailed(f"{name}() must be a torch.nn.Module (class {name}(nn.Module) calling super().__init__()).")
    return reply


def check_logits(reply: dict[str, Any], name: str, n: int) -> None:
    for key, shape in (("flat", f"({n}, 784)"), ("images", f"({n}, 1, 28, 28)")):
        out = reply[key]
        compare.structure(out, torch.zeros(n, 10), what=f"{name}()(x) with x of shape {shape}", name="the output",
                          hint="The model must return finite logits.")


# Rounded operations in the longest textbook formula of an activation, e.g. the stable tanh
# sign(x) * (1 - exp(-2|x|)) / (1 + exp(-2|x|)): abs, scale, exp, subtract, add, divide, sign, multiply.
# Its outputs lie in [-1, 1] (relu is exact), so errors are bounded in absolute terms too.
ACTIVATION_OPS = 8


def activation_tolerance(dtype: torch.dtype, *, gradient: bool = False, scale: float = 1.0) -> tuple[float, float]:
    """(rtol, atol) for an activation computed in ``dtype``: the value, or its autograd gradient (each
    operation's backward adds about as many roundings), times an upstream gradient of size ``scale``."""
    r = compare.rtol(dtype, terms=ACTIVATION_OPS * (2 if gradient else 1))
    return r, r * max(1.0, scale)


def count_of(reply: dict[str, Any]) -> int:
    return sum(math.prod(shape) for _, shape, trainable in reply["params"] if trainable)


# ----------------------------------------------------------------------------- public checks


@check("sigmoid / tanh / relu: values at a few points (public inputs)", timeout=60, weight=1)
def public_activation_values(ctx: Context) -> None:
    points = [-5.0, -1.0, -0.25, 0.0, 0.5, 2.0, 7.0]
    x = torch.tensor(points, dtype=torch.float64)
    with ctx.student() as s:
        for name in ACTIVATIONS:
            reply = activation_reply(s, name, x, torch.ones_like(x), timeout=ctx.timeout(30))
            expected = torch.tensor([DEFINITIONS[name](v) for v in points], dtype=torch.float64)
            rtol, atol = activation_tolerance(torch.float64)
            compare.tensor(reply["out"], expected, what=f"{name}(x) at x = {points}", name="the output",
                           rtol=rtol, atol=atol)


@check("LinearSoftmax / MLP: logits of shape (N, 10), 7,850 and 26,506 parameters (public)",
       timeout=60, weight=1)
def public_model_shapes(ctx: Context) -> None:
    gen = torch.Generator().manual_seed(3)
    X = torch.rand(5, 784, generator=gen)
    with ctx.student() as s:
        for name, expected in PARAMETER_COUNTS.items():
            reply = model_reply(s, name, X, torch.ones(5, 10), timeout=ctx.timeout(30))
            check_logits(reply, name, 5)
            got = count_of(reply)
            if got != expected:
                raise CheckFailed(f"{name}() has {got} trainable parameters, expected {expected:,}.")
