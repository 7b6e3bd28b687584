"""What the Linux sandbox reads of a session's processes from /proc: which they are, their CPU time,
their memory, and stopping them all while the grader times something else.

:class:`Measurements` is the part of a session that measures (on top of its :class:`Conversation`):
CPU time from the session's control group or /proc, timed calls, the memory a call builds, and
pausing the session while the grader times its yardstick elsewhere. Everything is read by the
parent from the kernel, never taken from the child.
"""
from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import TYPE_CHECKING, Any, Iterator

from grader.sandbox_child import status_bytes
from grader.sandbox_requests import Conversation

if TYPE_CHECKING:
    from grader import cpu_cgroup


def session_pids(worker: int | None, isolated: bool) -> list[int]:
    """Every live process of the session whose worker is ``worker``: its PID namespace (``isolated``),
    else its process group; [] without /proc."""
    if worker is None:
        return []
    try:
        if isolated:
            ns = os.readlink(f"/proc/{worker}/ns/pid")

            def member(n: int) -> bool:
                return os.readlink(f"/proc/{n}/ns/pid") == ns
        else:
            def member(n: int) -> bool:
                return os.getpgid(n) == worker
    except OSError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if member(int(entry)):
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


@contextlib.contextmanager
def stopped(pids: list[int]) -> Iterator[None]:
    """The processes ``pids`` stopped (SIGSTOP) for the duration, each waited for until it has stopped."""
    halted = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGSTOP)
            halted.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + 0.5
    for pid in halted:  # kill() returns before the process has stopped: wait until it has
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] in ("T", "t", "Z", "X"):
                        break
            except (OSError, IndexError):
                break
            time.sleep(0.001)
    try:
        yield
    finally:
        for pid in halted:
            try:
                os.kill(pid, signal.SIGCONT)
            except (ProcessLookupError, PermissionError):
                pass


def proc_cpu_seconds(pids: list[int], *, grader_pid: int | None = None) -> float:
    """CPU seconds of the processes ``pids`` from ``/proc``: every thread of each (the thread group's
    totals include its exited threads) and what each has reaped; ``grader_pid`` (an isolated session's
    namespace init, the grader's) counts only for the orphans it reaped, which are the student's."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            # the namespace's init is the grader's; the orphans it reaps (below) are the student's
            own = pid != grader_pid
            # live threads: their exact nanosecond counters; exited threads: what the thread group's
            # clock-tick totals hold beyond the live threads' own tick totals. Both tick figures are
            # kept the same way by the kernel, so their difference does not jump when one clock
            # overtakes the other (taking the larger of the two totals did, by tens of ms)
            live = live_ticks = 0.0
            for tid in os.listdir(f"/proc/{pid}/task") if own else ():
                try:
                    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                        exact = int(f.read().split()[0]) / 1e9
                    with open(f"/proc/{pid}/task/{tid}/stat") as f:
                        thread = f.read().rsplit(")", 1)[1].split()
                    live += exact
                    live_ticks += (int(thread[11]) + int(thread[12])) / tick
                except (OSError, ValueError, IndexError):
                    pass
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            group = (int(fields[11]) + int(fields[12])) / tick if own else 0.0
            total += live + max(0.0, group - live_ticks)
            total += (int(fields[13]) + int(fields[14])) / tick  # cutime + cstime: reaped children
        except (OSError, ValueError, IndexError):
            pass
    return total


class Measurements(Conversation):
    """What the parent measures of a session's processes (Linux: control group, /proc)."""

    pid: int | None  # isolated: init of the child's PID namespace; else the worker
    _worker_pid: int | None  # the process that runs the student's code
    _cpu_group: cpu_cgroup.SessionGroup | None  # the session's control group, if it has one
    _cpu_group_joined: bool | None  # whether the worker is in it (asked once, after start-up)

    def _session_pids(self) -> list[int]:
        """Every live process of this session: its PID namespace, else its process group."""
        return session_pids(self._worker_pid, self.isolated)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Every process of the session stopped (SIGSTOP) for the duration: nothing the student started
        (a thread spinning in the background, a helper process) runs beside what the grader times
        meanwhile in another session."""
        with stopped(self._session_pids()):
            yield

    @property
    def cpu_accounting(self) -> str:
        """How :meth:`cpu_time` counts: "cgroup" (everything that ever ran in the session) or "proc"."""
        if self._cpu_group is not None and self._cpu_group_joined is None and self._worker_pid is not None:
            self._cpu_group_joined = self._cpu_group.has(self._worker_pid)
        return "cgroup" if self._cpu_group is not None and self._cpu_group_joined else "proc"

    def cpu_time(self) -> float:
        """CPU seconds used so far by the student's processes, read from the kernel (trusted).

        With a control group (see :mod:`grader.cpu_cgroup`): everything that ever ran in the
        session, exited threads, children reaped by nobody and grandchildren included. Without
        one, from ``/proc``: every thread of every live process of the session, the time of the
        threads that have exited (the thread group's own totals), and that of the processes they
        have reaped: work handed to a helper is not free.
        """
        if self.cpu_accounting == "cgroup":
            assert self._cpu_group is not None
            value = self._cpu_group.cpu_seconds()
            if value is not None:
                return value
        return proc_cpu_seconds(self._session_pids(), grader_pid=self.pid if self.isolated else None)

    def memory_growth(self, func: str, *, staged: str, timeout: float | None = None, repeat: int = 2) -> float | None:
        """Bytes by which the worker's resident memory peaks above its level before one call of
        ``func`` on the first ``staged`` argument set: the size of what the call builds in between.
        Read by the parent from the kernel (the peak is reset first); the largest of ``repeat`` calls
        (the kernel's counters are updated lazily, so one reading can fall short, never over); None
        where it cannot be read."""
        readings = [self._memory_growth_once(func, staged=staged, timeout=timeout) for _ in range(max(1, repeat))]
        known = [r for r in readings if r is not None]
        return max(known) if known else None

    def _memory_growth_once(self, func: str, *, staged: str, timeout: float | None = None) -> float | None:
        pid = self._worker_pid
        if pid is None:
            return None
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current resident size
        except OSError:
            return None
        before = status_bytes("VmRSS:", pid)
        self.call(func, staged=staged, want_value=False, timeout=timeout)
        peak = status_bytes("VmHWM:", pid)
        if before is None or peak is None:
            return None
        return float(max(0, peak - before))

    def timed_call(self, func: str, *args: Any, repeat: int = 1, timeout: float | None = None,
                   staged: str | None = None, clock: str = "cpu", **kwargs: Any) -> float:
        """Seconds per call of ``func``, measured by the parent (never by the child).

        ``clock="cpu"``: CPU time of the session's processes, from kernel counters. ``clock="wall"``:
        elapsed time of the whole request, for work that runs on a GPU (give ``staged`` arguments:
        the child synchronises their device before it replies, and nothing large crosses the pipe).
        """
        if clock not in ("cpu", "wall"):
            raise ValueError(f"unknown clock {clock!r}")
        before = self.cpu_time() if clock == "cpu" else time.perf_counter()
        self.call(func, *args, repeat=repeat, want_value=False, timeout=timeout, staged=staged, **kwargs)
        after = self.cpu_time() if clock == "cpu" else time.perf_counter()
        return (after - before) / repeat
