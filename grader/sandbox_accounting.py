"""What the Linux sandbox reads of a session's processes from /proc: which they are, their CPU time,
and stopping them all while the grader times something else."""
from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Iterator


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
