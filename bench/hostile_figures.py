"""Figures for the second round of hostile submissions (docs/SECURITY.md, BENCHMARKS.md).

    .venv/bin/python bench/hostile_figures.py

Prints: the CPU time a session is charged for the same work done by each route (its own
thread, an exited thread, a thread pool, a waited child, an auto-reaped child, a grandchild),
with the session's control group and with /proc alone; the parent's peak memory while it decodes
replies built to exhaust it; and the time to convert the largest notebook intake accepts.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from grader import sandbox as sandbox_module  # noqa: E402
from grader.commands import hidden_paths  # noqa: E402
from grader.sandbox import Sandbox  # noqa: E402
from test_sandbox import ROUTES, ROUTES_OF_WORK  # noqa: E402

WORK = 3_000_000


def cpu_routes() -> None:
    code = Path(tempfile.mkdtemp(prefix="bench-routes-"))
    os.chmod(code, 0o755)
    (code / "m.py").write_text(textwrap.dedent(ROUTES_OF_WORK))
    os.chmod(code / "m.py", 0o644)
    for mode in ("cgroup", "proc"):
        if mode == "proc":
            sandbox_module._cgroup_root = lambda: None  # type: ignore[assignment]
        with Sandbox(code, hidden_paths=hidden_paths()) as sb, sb.session("m") as s:
            own = s.timed_call("busy", WORK)
            cells = [f"busy {own * 1e3:.0f} ms"]
            for route in ROUTES:
                cells.append(f"{route} {s.timed_call(route, WORK) * 1e3:.0f} ms")
            print(f"CPU counted ({s.cpu_accounting}): " + ", ".join(cells))


def reply_memory() -> None:
    import torch

    from grader import wire

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tree: list = [0.0]
    for _ in range(64):
        tree = [tree, tree]
    t0 = time.perf_counter()
    try:
        wire.from_wire(wire.loads(wire.dumps({"ok": True, "value": tree})))
        print("reply bomb decoded (unexpected)")
    except wire.ReplyTooLarge as exc:
        print(f"reply of 2^64 shared references: refused in {(time.perf_counter() - t0) * 1e3:.1f} ms ({exc})")
    strided = torch.zeros(1).expand(750_000_000)
    value = wire.from_wire(wire.loads(wire.dumps({"v": strided})))["v"]
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"zero-stride tensor of 750M elements arrives as {value}; parent peak grew by {grown:.1f} MB")


def notebook_intake() -> None:
    from grader.submission import MAX_SOURCE_BYTES, notebook_to_module

    n = 0
    src = ""
    while True:  # the largest notebook of one-line constants that intake accepts
        more = "\n".join(f"c{i} = {i}" for i in range(n, n + 10_000)) + "\n"
        if len(src) + len(more) > MAX_SOURCE_BYTES:
            break
        src += more
        n += 10_000
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": src}]}
    raw = json.dumps(nb).encode()
    t0 = time.perf_counter()
    notebook_to_module(raw, "big.ipynb")
    print(f"notebook intake: {n:,} one-line constants ({len(raw) / 2**20:.1f} MB) converted in "
          f"{time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    reply_memory()
    notebook_intake()
    cpu_routes()
