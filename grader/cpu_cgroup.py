"""CPU accounting per session through a control group, where the kernel lets the grader make one.

A control group's CPU counter adds up every task that ever ran in it: threads that have exited,
children nobody waited for (``SIGCHLD`` ignored, so the kernel reaps them and adds their time to
no parent), double-forked grandchildren. A session's worker joins its own group before it drops
privileges; everything it starts inherits the group, and an unprivileged process cannot leave it
(the group's files belong to root). Where no group can be made (no writable cgroup mount, a
container that hides it, not root), :meth:`SessionGroup.create` returns None and the sandbox counts
CPU from ``/proc`` instead (see ``StudentSession.cpu_time``).

Both cgroup versions are served: v2 (``cpu.stat``'s ``usage_usec``, present in every group) and
v1's ``cpuacct`` controller (``cpuacct.usage``, nanoseconds).
"""
from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

__all__ = ["SessionGroup", "cgroup_root"]

_V1 = ("/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu")
_V2 = ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")
_counter = itertools.count()


def _own_group(mount: str, controller: str) -> str:
    """The path of this process's group under ``mount`` (from /proc/self/cgroup)."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, names, path = line.rstrip("\n").split(":", 2)
                if (controller == "" and names == "") or controller in names.split(","):
                    return path.lstrip("/")
    except (OSError, ValueError):
        pass
    return ""


def cgroup_root() -> tuple[Path, str] | None:
    """(folder under which this process may make groups, version "v1" or "v2"), or None."""
    if os.geteuid() != 0 or not os.path.exists("/proc/self/cgroup"):
        return None
    candidates: list[tuple[Path, str]] = []
    for mount in _V2:
        if os.path.exists(os.path.join(mount, "cgroup.controllers")):
            candidates.append((Path(mount) / _own_group(mount, ""), "v2"))
    for mount in _V1:
        if os.path.exists(os.path.join(mount, "cpuacct.usage")):
            candidates.append((Path(mount) / _own_group(mount, "cpuacct"), "v1"))
    for folder, version in candidates:
        probe = folder / f"grader-probe-{os.getpid()}-{next(_counter)}"
        try:
            probe.mkdir()
        except OSError:
            continue
        usable = (probe / ("cpu.stat" if version == "v2" else "cpuacct.usage")).exists()
        try:
            probe.rmdir()
        except OSError:
            pass
        if usable:
            return folder, version
    return None


class SessionGroup:
    """One session's control group: made before the session starts, joined by its worker."""

    def __init__(self, path: Path, version: str) -> None:
        self.path = path
        self.version = version

    @classmethod
    def create(cls, root: tuple[Path, str] | None) -> "SessionGroup | None":
        if root is None:
            return None
        folder, version = root
        path = folder / f"grader-session-{os.getpid()}-{next(_counter)}"
        try:
            path.mkdir()
        except OSError:
            return None
        return cls(path, version)

    @property
    def procs_file(self) -> str:
        """What the worker writes its pid into to join (the kernel reads it in the writer's PID namespace)."""
        return str(self.path / "cgroup.procs")

    def has(self, pid: int) -> bool:
        try:
            return str(pid) in (self.path / "cgroup.procs").read_text().split()
        except OSError:
            return False

    def cpu_seconds(self) -> float | None:
        """CPU time of everything that ever ran in the group, or None when it cannot be read."""
        try:
            if self.version == "v2":
                for line in (self.path / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) / 1e6
                return None
            return int((self.path / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError, IndexError):
            return None

    def remove(self) -> None:
        """Remove the group once its processes are gone (a few tries: killed tasks take a moment)."""
        import time

        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)
        shutil.rmtree(self.path, ignore_errors=True)  # best effort; a busy group stays until reboot
