"""Students' platforms, simulated on Linux: ``python -m grader check`` where the facilities the
Linux sandbox prefers are missing, and on the portable backend those systems get.

* Without ``/proc`` (macOS has none; simulated by mounting an empty tmpfs over it in a private
  mount namespace) and as an ordinary user (``nobody``, as a student's account would be).
* With the portable backend forced (``GRADER_SANDBOX=portable``).
* With what Windows lacks removed (``tests/windows_like/sitecustomize.py``: no pwd, fcntl,
  resource, termios, fork, process groups, user ids, descriptor passing).

Everywhere the public checks must give the reference full marks and the untouched stubs zero,
with no traceback and nothing blamed on the student that the grader caused, and the same
verdicts and messages as the Linux backend on buggy code.
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
from conftest import ASSIGNMENT, SOLUTIONS, mutate

WINDOWS_LIKE = Path(__file__).parent / "windows_like"
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
needs_mount_namespaces = pytest.mark.skipif(bool(REASON), reason=REASON)


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


@needs_mount_namespaces
def test_check_without_proc_gives_the_reference_full_marks():
    text = check_without_proc(SOLUTIONS)
    got, total = _score(text)
    assert got == total > 0, text
    assert text.startswith("Sandbox: portable (missing here: /proc)") or "\nSandbox: portable (missing here: /proc)" in text
    assert "Traceback" not in text and "ended the process" not in text, text


@needs_mount_namespaces
def test_check_without_proc_gives_the_stubs_zero_and_blames_nothing_else():
    text = check_without_proc(ASSIGNMENT)
    got, total = _score(text)
    assert got == 0 and total > 0, text
    assert "Traceback (most recent call last)" not in text.split("Your code printed:")[0], text
    assert "not implemented yet" in text and "ended the process" not in text, text


def copy_modules(source: Path, **replaced: str) -> Path:
    """A folder with ``source``'s four modules (``replaced`` gives some of them other text)."""
    folder = Path(tempfile.mkdtemp(prefix="platform-"))
    for name in MODULES:
        text = replaced.get(name.removesuffix(".py"))
        if text is None:
            shutil.copy(source / name, folder / name)
        else:
            (folder / name).write_text(text)
    return folder


def check_with(folder: Path, *, backend: str | None = None, windows_like: bool = False) -> str:
    """The output of ``python -m grader check folder`` with the backend forced or Windows simulated."""
    env = dict(os.environ)
    env.pop("GRADER_SANDBOX", None)
    if backend:
        env["GRADER_SANDBOX"] = backend
    if windows_like:
        env["PYTHONPATH"] = os.pathsep.join([str(WINDOWS_LIKE)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(folder)], capture_output=True, text=True,
                          timeout=600, env=env, cwd=str(folder))
    return done.stdout + done.stderr


def _table(text: str) -> dict[str, tuple[str, str]]:
    """Check number -> (points, result) from the table."""
    rows = re.findall(r"^(\d+\.\d+(?:\.\d+)?)\s+.*?\s(\d+(?:\.\d+)?/\d+(?:\.\d+)?)\s+(passed|failed|error|skipped)\s*$",
                      text, flags=re.M)
    return {number: (points, result) for number, points, result in rows}


def _messages(text: str) -> str:
    """The per-check messages after the table (what the student reads), without the progress lines."""
    return text[text.index("\n--- "):] if "\n--- " in text else ""


@pytest.mark.parametrize("windows_like", [False, True], ids=["portable", "windows-like"])
def test_portable_check_gives_the_reference_full_marks_and_the_stubs_zero(windows_like):
    for source, full in ((SOLUTIONS, True), (ASSIGNMENT, False)):
        folder = copy_modules(source)
        try:
            text = check_with(folder, backend=None if windows_like else "portable", windows_like=windows_like)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        got, total = _score(text)
        assert total > 0 and got == (total if full else 0), text
        first = text[text.index("Sandbox: "):].splitlines()[0]
        assert first.startswith("Sandbox: portable (" + ("missing here: fork" if windows_like else "GRADER_SANDBOX=portable")), first
        assert "Traceback (most recent call last)" not in text.split("Your code printed:")[0], text
        assert "ended the process" not in text and "not your fault" not in text, text
        if not full:
            assert "not implemented yet" in text, text


# realistic bugs, one per part the public checks see: the verdicts and messages must be the Linux backend's
MUTANTS = {
    "linear_classifier": ("    loss /= num_train\n    dW /= num_train", "    dW /= num_train"),
    "neural_net": ("    out = torch.clamp(x, min=0)", "    out = torch.where(x > 0, x, 0.01 * x)"),
    "binary_svm": ("    loss = margins.mean() + lam * torch.sum(W * W)", "    loss = margins.sum() + lam * torch.sum(W * W)"),
    "metric_learning": ("    y_batch = y[idx.to(y.device)]\n", "    print('batch of', len(idx))\n    y_batch = y[:batch_size]\n"),
}


def test_portable_backend_gives_buggy_code_the_linux_backend_s_verdicts_and_messages():
    if sys.platform != "linux" or not os.path.exists("/proc/self/status"):
        pytest.skip("compares with the Linux backend")
    sources = {part: mutate((SOLUTIONS / f"{part}.py").read_text(), old, new) for part, (old, new) in MUTANTS.items()}
    folder = copy_modules(SOLUTIONS, **sources)
    try:
        linux = check_with(folder, backend="linux")
        portable = check_with(folder, backend="portable")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert _table(linux) == _table(portable) and len(_table(linux)) >= 10, (linux, portable)
    assert _messages(linux) == _messages(portable), (linux, portable)
    failed = {n for n, (_, result) in _table(linux).items() if result == "failed"}
    assert {"1.0.1", "2.0.1", "3.0.1", "4.0.1"} <= failed, linux  # every bug is seen at all
    assert "Your code printed:\nbatch of" in portable  # what the student's code printed reaches them
