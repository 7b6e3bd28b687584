"""The portable session backend: student code in a child interpreter of its own, on any system.

The Linux backend (:mod:`grader.sandbox`) forks sessions from a zygote, passes descriptors over
Unix sockets, reads the kernel's accounting from ``/proc`` and drops privileges. Where any of
that is missing (Windows, macOS, a container without ``/proc``) or ``GRADER_SANDBOX=portable``
asks for it, :func:`grader.sandbox.start_zygote` gives this backend instead:

* each session is a fresh interpreter (``python -m grader.sandbox_child --portable``), started
  one ahead so that its torch import overlaps the previous check;
* it connects back over TCP on the loopback interface and proves itself with a token it reads
  from its stdin; after that the wire format is the Linux backend's (``grader.wire`` frames), so
  the same parent code sends calls, serves callbacks and reads replies;
* ``Watched`` tensors travel by value and come back after the call (no shared memory);
* its output goes to a log file the parent reads (no pipe to select on: Windows cannot);
* the parent enforces the time limits (it kills the process tree), the output limit and a
  memory limit on the tree's resident memory (read with psutil), on top of whatever kernel
  limits the system has (``resource`` where it exists);
* CPU time is read by the parent with psutil; without psutil, from the child's replies.

It is a self-check's backend, not a security boundary: the child runs as the user who started
the grader and can read their files. As root the grader refuses it unless it is asked for.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from grader import process_tree, protocol, wire
from grader.errors import SandboxUnavailable
from grader.layout import ROOT
from grader.sandbox import StudentSession

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is a dependency; the fallbacks keep a broken install usable
    psutil = None  # type: ignore[assignment]

#: Seconds a child interpreter may take to start and import torch (a cold start on a laptop).
BOOT_TIMEOUT = 180.0
#: How often the parent looks at a session's output size and memory.
WATCH_INTERVAL = 0.05
#: Exit statuses Windows gives a process that the system ended (NTSTATUS codes).
WINDOWS_STATUS = {
    0xC0000005: "crashed with an access violation (invalid memory access, e.g. through ctypes).",
    0xC00000FD: "crashed with a stack overflow (unbounded recursion?).",
    0xC0000409: "aborted (a failed low-level check).",
    0xC0000017: "ran out of memory.",
}


class _Interpreter:
    """A child interpreter started ahead of its session: its process, its log and, once it has
    booted, its connection."""

    def __init__(self, scratch: Path, number: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=4)
        self.token = secrets.token_hex(16)
        self.log_path = scratch / f"output-{number}.log"
        self.log = open(self.log_path, "wb")
        self.conn: socket.socket | None = None
        self.offset = 0  # where the session's output starts in the log (after the boot's own)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env.update({"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
                    "PYTHONIOENCODING": "utf-8"})
        options: dict[str, Any] = {}
        if os.name == "nt":
            options["creationflags"] = (getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
                                        | getattr(subprocess, "CREATE_NO_WINDOW", 0))
        else:
            options["start_new_session"] = True  # a process group of its own, killed as one
        port = self.listener.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.sandbox_child", "--portable", f"127.0.0.1:{port}"],
            stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT, cwd=str(scratch), env=env, **options)
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(self.token.encode() + b"\n")
            self.proc.stdin.close()
        except OSError:
            pass  # it died at once: connect() says so with its output

    def connect(self, timeout: float = BOOT_TIMEOUT) -> socket.socket:
        """The connection of this interpreter, once it has proved itself and imported torch."""
        if self.conn is not None:
            return self.conn
        deadline = time.monotonic() + timeout
        while self.conn is None:
            if self.proc.poll() is not None:
                raise SandboxUnavailable(f"the grader's child interpreter ended while starting (exit status "
                                         f"{self.proc.returncode}); it printed:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise SandboxUnavailable(f"the grader's child interpreter did not start within {timeout:.0f} s "
                                         f"(importing torch); it printed:\n{self._log_tail()}")
            self.listener.settimeout(0.2)
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            conn.settimeout(10)
            try:
                line = conn.recv(len(self.token) + 1)
            except OSError:
                line = b""
            if line.strip() == self.token.encode():  # anything else on this port is not our child
                conn.settimeout(None)
                self.conn = conn
            else:
                conn.close()
        self.listener.close()
        # the child connects once it has booted: the session's output starts after what the boot printed
        self.offset = self.log_path.stat().st_size
        return self.conn

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_bytes()[-3000:].decode("utf-8", "replace") or "(nothing)"
        except OSError:
            return "(nothing)"

    def close(self) -> None:
        kill_tree(self.proc)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        for thing in (self.conn, self.listener, self.log):
            if thing is not None:
                with contextlib.suppress(OSError):
                    thing.close()


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` and everything it started."""
    for p in reversed(process_tree.members(proc.pid)):
        with contextlib.suppress(Exception):
            p.kill()
    if os.name != "nt" and hasattr(os, "killpg"):
        import signal

        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()


class Spawner:
    """The portable backend's counterpart of the zygote: hands out child interpreters, keeping one
    started ahead."""

    def __init__(self, *, reason: str = "") -> None:
        self.reason = reason
        self._scratch = Path(tempfile.mkdtemp(prefix="grader-portable-"))
        self._count = 0
        self._spare: _Interpreter | None = None
        self._lock = threading.Lock()

    @property
    def session_class(self) -> type["PortableSession"]:
        return PortableSession

    @property
    def description(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return (f"portable{why}: each check runs in a Python process of its own, with time, output and memory "
                "limits; it runs as you, so it is no protection against code you do not trust")

    def _new(self) -> _Interpreter:
        self._count += 1
        return _Interpreter(self._scratch, self._count)

    def take(self) -> _Interpreter:
        """A booted interpreter for a session; the next one starts meanwhile."""
        with self._lock:
            ready = self._spare or self._new()
            self._spare = None
        try:
            ready.connect()
        except BaseException:
            ready.close()
            raise
        with self._lock:
            if self._spare is None:
                self._spare = self._new()
        return ready

    def close(self) -> None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.close()
        shutil.rmtree(self._scratch, ignore_errors=True)


class PortableSession(StudentSession):
    """A session of the portable backend: the Linux session's protocol over a TCP connection, with
    the process handling, output capture and accounting done portably."""

    _interp: _Interpreter | None = None
    _watcher: threading.Thread | None = None
    _watched: Sequence[wire.Watched] = ()
    _reported_cpu = 0.0
    _memory_base: int | None = None

    def _start(self) -> None:
        sb = self.sandbox
        self._workdir = Path(tempfile.mkdtemp(prefix="work-", dir=sb._scratch))
        lim = self.limits
        spawner = sb.zygote
        assert isinstance(spawner, Spawner)  # a portable session comes from the portable backend
        interp = spawner.take()
        self._interp = interp
        self._conn = interp.conn
        self.pid = self._worker_pid = interp.proc.pid
        self._memory_base = process_tree.resident_bytes(self.pid)
        request: protocol.SpawnRequest = {
            "op": "spawn", "portable": True, "module": self.module, "code_dir": str(sb.code_dir),
            "workdir": str(self._workdir), "seed": self.seed, "memory_bytes": lim.memory_mb * 1024 * 1024,
            "file_bytes": lim.file_mb * 1024 * 1024, "cpu_seconds": lim.cpu_seconds, "gpu": lim.gpu,
        }
        assert self._conn is not None
        wire.send_frame(self._conn, wire.dumps(request))
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()
        self._await_import()

    # -- limits the parent enforces ----------------------------------------------------

    def _watch(self) -> None:
        """Stop the child when it prints too much or its processes hold too much memory."""
        interp = self._interp
        assert interp is not None
        limit = self.limits.memory_mb * 1024 * 1024
        while interp.proc.poll() is None and self._dead_reason is None:
            self._capture.total = max(self._capture.total, self._output_size())
            if self._capture.check_flood():  # stopped by the capture's on_flood
                break
            rss = process_tree.resident_bytes(interp.proc.pid)
            if rss is not None and self._memory_base is not None and rss - self._memory_base > limit:
                self._dead_reason = (f"used more than {self.limits.memory_mb} MB of memory above the baseline and "
                                     "was stopped. Avoid building huge intermediate tensors.")
                self._kill()
                break
            time.sleep(WATCH_INTERVAL)

    def _kill(self) -> None:
        if self._interp is not None:
            kill_tree(self._interp.proc)

    # -- output ------------------------------------------------------------------------

    def _output_size(self) -> int:
        interp = self._interp
        if interp is None:
            return 0
        try:
            return max(0, interp.log_path.stat().st_size - interp.offset)
        except OSError:
            return 0

    @property
    def output(self) -> str:
        interp = self._interp
        if interp is not None:
            try:
                with open(interp.log_path, "rb") as f:
                    f.seek(interp.offset)
                    kept = f.read(self._capture.keep)
                self._capture.replace(kept, self._output_size())
            except OSError:
                pass
        return super().output

    # -- how it ended ------------------------------------------------------------------------

    def _death_message(self) -> str:
        if self._dead_reason:
            return self._dead_reason
        interp = self._interp
        if interp is None:
            return "stopped unexpectedly."
        try:
            code = interp.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "stopped unexpectedly."
        if code < 0:
            return self._signal_message(-code)
        if os.name == "nt" and code in WINDOWS_STATUS:
            return WINDOWS_STATUS[code]
        return self._exit_message(code)

    def close(self) -> None:
        self._kill()
        if self._interp is not None:
            self._interp.close()  # closes the connection too
            self._conn = None
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    # -- calls -------------------------------------------------------------------------------

    def _invoke(self, msg: protocol.CallRequest | protocol.ProbeRequest, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float,
                what: str) -> dict[str, Any]:
        """As the Linux session's, but ``Watched`` tensors go by value and their contents after the
        call are read from the reply (no memory is shared)."""
        callbacks: list[Any] = []
        watched: list[wire.Watched] = []
        msg["args"] = wire.encode_args(args, None, callbacks, watched)
        msg["kwargs"] = wire.encode_args(kwargs, None, callbacks, watched)
        self._watched = watched
        try:
            return self._request(msg, timeout, what, callbacks=callbacks)
        finally:
            self._watched = ()

    def _on_reply(self, reply: dict[str, Any]) -> None:
        values = reply.get("watched")
        if isinstance(values, list):
            for w, value in zip(self._watched, values):
                w.receive(value)
        cpu = reply.get("child_cpu")
        if type(cpu) is float and cpu >= 0:
            self._reported_cpu += cpu

    # -- accounting --------------------------------------------------------------------------

    def _session_pids(self) -> list[int]:
        if self.pid is None:
            return []
        return [p.pid for p in process_tree.members(self.pid)] or [self.pid]

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Every process of the session suspended for the duration (psutil; nothing without it)."""
        stopped = []
        for p in process_tree.members(self.pid) if self.pid is not None else []:
            with contextlib.suppress(Exception):
                p.suspend()
                stopped.append(p)
        try:
            yield
        finally:
            for p in stopped:
                with contextlib.suppress(Exception):
                    p.resume()

    @property
    def cpu_accounting(self) -> str:
        return "psutil" if psutil is not None else "replies"

    def cpu_time(self) -> float:
        """CPU seconds of the session's live processes (psutil), their reaped children included where
        the system counts them; without psutil, the sum the child reported for its calls."""
        if psutil is None or self.pid is None:
            return self._reported_cpu
        total = 0.0
        for p in process_tree.members(self.pid):
            try:
                t = p.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total += t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
        return total
