"""A process and everything it started, read the same way on every system (psutil).

The portable sandbox watches a session's tree with it (memory limit, CPU time, pausing, killing),
and ``grade-all`` bounds each grading's memory with it, sandbox included. Without psutil (a broken
install: it is a dependency) every reading is empty or None and the callers fall back.
"""
from __future__ import annotations

import contextlib
from typing import Any

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is a dependency; the fallbacks keep a broken install usable
    psutil = None  # type: ignore[assignment]


def members(pid: int) -> list[Any]:
    """The psutil processes of ``pid`` and its live descendants, ``pid`` first; [] without psutil or
    once ``pid`` is gone."""
    if psutil is None:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def resident_bytes(pid: int) -> int | None:
    """Resident bytes of ``pid`` and its descendants; None without psutil or once ``pid`` is gone."""
    tree = members(pid)
    if not tree:
        return None
    total = 0
    for p in tree:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total
