"""Code the grader runs *inside* the sandbox, next to the student's module.

A probe is a function ``probe(module, *args, **kwargs)`` that drives student code in ways
a single call cannot (a mocked loss function, timing loops, training runs). Probes hold
no expected values and no thresholds: whatever they return is untrusted data that the
parent checks. They are imported in the zygote before any fork.
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
