"""Students' platforms, simulated on Linux: ``python -m grader check`` where the facilities the
Linux sandbox prefers are missing.

Without ``/proc`` (macOS has none; simulated by mounting an empty tmpfs over it in a private
mount namespace) and as an ordinary user (``nobody``, as a student's account would be), the
public checks must give the reference full marks and the untouched stubs zero, with no
traceback and nothing blamed on the student that the grader caused.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ASSIGNMENT, SOLUTIONS

MODULES = ("linear_classifier.py", "metric_learning.py", "neural_net.py", "binary_svm.py")


def _can_simulate() -> str:
    if os.geteuid() != 0:
        return "needs root to make a mount namespace and to run as nobody"
    for tool in ("unshare", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs none /proc && test ! -e /proc/self"],
                           capture_output=True)
    if probe.returncode != 0:
        return "this machine refuses mount namespaces"
    probe = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", "import torch, grader"],
                           capture_output=True, cwd="/")
    if probe.returncode != 0:
        return "nobody cannot use this interpreter (see README: a venv made with /usr/bin/python3)"
    return ""


REASON = _can_simulate()
pytestmark = pytest.mark.skipif(bool(REASON), reason=REASON)


def check_without_proc(source: Path) -> str:
    """The output of `python -m grader check` on a copy of ``source``'s modules, as nobody, without /proc."""
    folder = Path(tempfile.mkdtemp(prefix="no-proc-"))
    try:
        os.chmod(folder, 0o755)
        for name in MODULES:
            shutil.copy(source / name, folder / name)
            os.chmod(folder / name, 0o644)
        script = 'mount -t tmpfs none /proc && cd / && exec runuser -u nobody -- "$0" -m grader check "$1"'
        done = subprocess.run(["unshare", "-m", "sh", "-c", script, sys.executable, str(folder)],
                              capture_output=True, text=True, timeout=600)
        return done.stdout + done.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _score(text: str) -> tuple[float, float]:
    found = re.search(r"Score: ([0-9.]+) / ([0-9.]+)", text)
    assert found, text
    return float(found.group(1)), float(found.group(2))


def test_check_without_proc_gives_the_reference_full_marks():
    text = check_without_proc(SOLUTIONS)
    got, total = _score(text)
    assert got == total > 0, text
    assert "Traceback" not in text and "ended the process" not in text, text


def test_check_without_proc_gives_the_stubs_zero_and_blames_nothing_else():
    text = check_without_proc(ASSIGNMENT)
    got, total = _score(text)
    assert got == 0 and total > 0, text
    assert "Traceback (most recent call last)" not in text.split("Your code printed:")[0], text
    assert "not implemented yet" in text and "ended the process" not in text, text
