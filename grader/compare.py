"""Comparisons that explain themselves.

Each function raises :class:`~grader.errors.CheckFailed` with a message naming what was
called, what came back, what was expected and where the worst difference is. Values
come from the sandbox as plain data (see ``grader.wire``): tensors, numbers, containers,
or an :class:`~grader.wire.Opaque` description of anything else.
"""
from __future__ import annotations

from typing import Any, Sequence, cast

import torch

from grader.errors import CheckFailed
from grader.wire import Opaque


# ----------------------------------------------------------------------------- tolerances

#: How many times the classic rounding-error bound a correct implementation may be off. The bound
#: for a sum of n rounded terms is about n * eps (recursive summation, worst case); every ordering
#: of the work, float32 or float64 accumulation in the inputs' dtype, and pairwise or blocked sums
#: stay below it. Differences a bug makes (a missing 1/N, a regulariser off by 2) are relative
#: errors of 1e-3 or more, orders of magnitude above the tolerance in float64.
SAFETY = 8.0


def eps_of(*dtypes: torch.dtype | None) -> float:
    """Machine epsilon of the least precise floating dtype among ``dtypes`` (float64 when none is
    floating: Python numbers)."""
    eps = [torch.finfo(d).eps for d in dtypes if d is not None and d.is_floating_point]
    return max(eps) if eps else torch.finfo(torch.float64).eps


def rtol(*dtypes: torch.dtype | None, terms: int = 1, magnitude: float = 1.0) -> float:
    """Relative tolerance for a value computed in the least precise of ``dtypes`` from ``terms``
    rounded operations in a chain (e.g. D + N*C for scores X @ W summed into a loss), with
    intermediate values up to ``magnitude`` times the result (e.g. the scores fed to exp)."""
    return SAFETY * eps_of(*dtypes) * max(1, terms) * max(1.0, magnitude)


def value_dtype(value: Any) -> torch.dtype:
    """The floating dtype a returned value was computed in: a tensor's own; float64 for Python
    numbers (they are doubles, though what they were computed from may not be)."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.dtype
    return torch.float64


def digits(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` printed with as few significant digits as show that they differ (6 to 17)."""
    for p in range(6, 18):
        sa, sb = f"{a:.{p}g}", f"{b:.{p}g}"
        if sa != sb or a == b:
            return sa, sb
    return repr(a), repr(b)


def fraction(got: float, count: int, total: int, *dtypes: torch.dtype | None) -> bool:
    """``got`` is the fraction ``count / total`` as computed in the least precise of ``dtypes`` (an
    accuracy: a mean of ``total`` zeros and ones, e.g. ``(pred == y).float().mean()``)."""
    tol = rtol(*dtypes, terms=total)
    assert tol < 0.5 / total, "tolerance too loose to tell neighbouring fractions apart"
    return abs(got - count / total) <= tol * max(1.0, count / total)


def near(got: torch.Tensor, expected: torch.Tensor, rtol: float) -> bool:
    """``got`` equals ``expected`` within ``rtol``, with an absolute floor of ``rtol`` times the largest
    expected value (entries near 0 are sums of larger terms, rounded on the terms' scale); in float64."""
    e = expected.double()
    return torch.allclose(got.double(), e, rtol=rtol, atol=rtol * float(e.abs().max()) if e.numel() else 0.0)


def describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}, dtype {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, Opaque):
        return f"a {value}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"{type(value).__name__} {value!r}"[:200]


def in_place(written: dict[str, str]) -> str:
    """'X in place (how)', or 'X, Y and Z in place (X: how; Y: how; Z: how)', for a message
    about inputs a function wrote into (see ``wire.WatchedInputs.written``)."""
    names = list(written)
    if len(names) == 1:
        return f"{names[0]} in place ({written[names[0]]})"
    listing = ", ".join(names[:-1]) + " and " + names[-1]
    return f"{listing} in place (" + "; ".join(f"{k}: {v}" for k, v in written.items()) + ")"


def unpack(value: Any, n: int, what: str, names: Sequence[str]) -> tuple[Any, ...]:
    """``value`` must be a tuple/list of ``n`` items (e.g. ``(loss, dW)``)."""
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise CheckFailed(f"{what} must return a tuple ({', '.join(names)}), but it returned {describe(value)}.")
    return tuple(value)


def scalar(value: Any, what: str) -> float:
    """A Python number or a one-element tensor, as a float."""
    if isinstance(value, bool):
        raise CheckFailed(f"{what} must be a number, got a bool.")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise CheckFailed(f"{what} must be a scalar (one number), got {describe(value)}. Did you forget to sum "
                              "or average over the examples?")
        if value.is_complex():
            raise CheckFailed(f"{what} must be real, got a complex tensor.")
        return float(value.detach().reshape(()).cpu().item())
    raise CheckFailed(f"{what} must be a number or a 0-dimensional tensor, got {describe(value)}.")


def rel_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |a - e| / max(|a| + |e|) over elements, 0 when both are all zero."""
    a = actual.detach().double().cpu()
    e = expected.detach().double().cpu()
    num = (a - e).abs().max().item() if a.numel() else 0.0
    den = (a.abs() + e.abs()).max().item() if a.numel() else 0.0
    return 0.0 if den == 0 else num / den


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for dim in reversed(shape):
        out.append(flat % dim)
        flat //= dim
    return tuple(reversed(out))


def structure(actual: Any, like: torch.Tensor, *, what: str, name: str, check_dtype: bool = True,
              check_device: bool = True, hint: str = "") -> torch.Tensor:
    """``actual`` must be a plain, finite tensor with ``like``'s shape, dtype and device."""
    expected = like
    if isinstance(actual, Opaque) and actual.type_name.startswith("numpy"):
        raise CheckFailed(f"{what}: {name} is {describe(actual)}; return a torch.Tensor (avoid numpy, use torch "
                          "operations throughout).")
    if not isinstance(actual, torch.Tensor):
        raise CheckFailed(f"{what}: {name} must be a torch.Tensor, got {describe(actual)}.")
    if tuple(actual.shape) != tuple(expected.shape):
        extra = ""
        if actual.dim() == 2 and tuple(actual.shape) == tuple(reversed(expected.shape)):
            extra = " It looks transposed."
        raise CheckFailed(f"{what}: {name} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}.{extra}")
    if check_dtype and actual.dtype != expected.dtype:
        raise CheckFailed(f"{what}: {name} has dtype {actual.dtype}, expected {expected.dtype} (the dtype of the "
                          "inputs). Create tensors with dtype=X.dtype or torch.zeros_like(...), and do not convert.")
    if check_device and actual.device.type != expected.device.type:
        raise CheckFailed(f"{what}: {name} is on device {actual.device}, expected {expected.device} (the device of "
                          "the inputs). Create tensors with device=X.device and never call .to()/.cuda()/.cpu().")
    a = actual.detach().double().cpu()
    bad = ~torch.isfinite(a)
    if bad.any():
        where = _index(int(bad.flatten().nonzero()[0]), tuple(a.shape))
        kind = "NaN" if torch.isnan(a).any() else "infinite values"
        raise CheckFailed(f"{what}: {name} contains {kind} (first at {name}{list(where)}). {hint}".strip())
    return actual


def tensor(actual: Any, expected: torch.Tensor, *, what: str, name: str, rtol: float = 1e-7,
           atol: float = 0.0, check_dtype: bool = True, check_device: bool = True, hint: str = "") -> torch.Tensor:
    """``actual`` must be a plain tensor like ``expected`` (shape, dtype, device, finite, close)."""
    structure(actual, expected, what=what, name=name, check_dtype=check_dtype, check_device=check_device,
              hint=hint)
    a = actual.detach().double().cpu()
    e = expected.detach().double().cpu()
    if not torch.allclose(a, e, rtol=rtol, atol=atol):
        diff = (a - e).abs() - rtol * e.abs()
        flat = int(diff.flatten().argmax())
        where = _index(flat, tuple(a.shape))
        err = rel_error(a, e)
        got, exp = digits(a.flatten()[flat].item(), e.flatten()[flat].item())
        raise CheckFailed(
            f"{what}: {name} differs from the reference (relative error {err:.3g}; worst at {name}{list(where)}: "
            f"got {got}, expected {exp}). {hint}".strip())
    return cast(torch.Tensor, actual)  # structure() above checked it is a tensor


def off(actual: float, expected: float, limit: float) -> bool:
    """True when ``actual`` is not within ``limit`` of ``expected``: NaN (which no ``>`` comparison ever
    finds too far) and infinities are always off."""
    return not abs(actual - expected) <= limit


def close(actual: float, expected: float, *, what: str, name: str, rtol: float = 1e-7, atol: float = 0.0,
          hint: str = "") -> None:
    if actual != actual or actual in (float("inf"), float("-inf")):
        raise CheckFailed(f"{what}: {name} is {actual}. {hint}".strip())
    if off(actual, expected, atol + rtol * abs(expected)):
        got, exp = digits(actual, expected)
        raise CheckFailed(f"{what}: {name} is {got}, expected {exp}. {hint}".strip())


def int_tensor(actual: Any, *, what: str, name: str, shape: tuple[int, ...], device: torch.device | None = None,
               dtype: torch.dtype = torch.int64) -> torch.Tensor:
    if not isinstance(actual, torch.Tensor):
        raise CheckFailed(f"{what}: {name} must be a torch.Tensor, got {describe(actual)}.")
    if tuple(actual.shape) != shape:
        raise CheckFailed(f"{what}: {name} has shape {tuple(actual.shape)}, expected {shape}.")
    if actual.dtype != dtype:
        raise CheckFailed(f"{what}: {name} has dtype {actual.dtype}, expected {dtype}.")
    if device is not None and actual.device.type != device.type:
        raise CheckFailed(f"{what}: {name} is on {actual.device}, expected {device}.")
    return actual
