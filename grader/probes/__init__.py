"""Code the grader runs *inside* the sandbox, next to the student's module.

A probe is a function ``probe(module, *args, **kwargs)`` that drives student code in ways
a single call cannot (a mocked loss function, timing loops, training runs). Probes hold
no expected values and no thresholds: whatever they return is untrusted data that the
parent checks. They are imported in the zygote before any fork.

What a probe reads of the student's objects it reads through torch's own code: parameters from a
module's own tables (:func:`registered_parameters`), sizes through ``torch.Tensor`` called on the
class, records kept out of reach of the student's code; a method a student's class overrides
(``numel``, ``named_parameters``, ``parameters``) cannot make a probe report something untrue.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable

_PROBES: dict[str, Callable[..., Any]] = {}


def probe(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``fn`` under ``<module short name>.<function name>``."""
    part = fn.__module__.rsplit(".", 1)[-1]
    _PROBES[f"{part}.{fn.__name__}"] = fn
    return fn


def load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def get(name: str) -> Callable[..., Any]:
    if name not in _PROBES:
        load_all()
    return _PROBES[name]


def registered_parameters(model: Any) -> list[tuple[str, Any]]:
    """(dotted name, parameter) of every parameter registered in ``model`` and its submodules, in
    ``named_parameters()``'s order, each once, read from the modules' own tables (``_parameters``,
    ``_modules``), never through methods a student's class may override. A registered parameter must
    be a ``torch.nn.Parameter`` itself: a subclass's methods could report another size (TypeError)."""
    from torch import nn

    out: list[tuple[str, Any]] = []
    seen_params: set[int] = set()
    seen_modules: set[int] = set()

    def table(m: Any, name: str) -> list[tuple[Any, Any]]:
        try:
            value = object.__getattribute__(m, "__dict__").get(name)
        except (AttributeError, TypeError):
            return []
        return list(dict.items(value)) if isinstance(value, dict) else []

    def walk(m: Any, prefix: str) -> None:
        if id(m) in seen_modules:
            return
        seen_modules.add(id(m))
        for name, p in table(m, "_parameters"):
            if p is None or id(p) in seen_params:
                continue
            if type(p) is not nn.Parameter:
                raise TypeError(f"{prefix}{name} is registered as a parameter but is a {type(p).__name__}, not a "
                                "torch.nn.Parameter: register parameters as nn.Parameter (or through nn layers)")
            seen_params.add(id(p))
            out.append((f"{prefix}{name}", p))
        for name, child in table(m, "_modules"):
            if child is not None:
                walk(child, f"{prefix}{name}.")

    walk(model, "")
    return out


def shape_of(t: Any) -> tuple[int, ...]:
    """``t``'s size as plain ints, read by torch (``t`` a tensor; TypeError otherwise)."""
    import torch

    return tuple(int(s) for s in torch.Tensor.size(t))
