"""The only place student code runs: a child process behind a narrow, data-only channel.

Parent (this module, trusted)            Zygote (trusted, no secrets)        Child (untrusted)
  holds reference, hidden inputs,   -->   torch imported once; forks one  --> student module,
  thresholds; writes results              child per check session              limits, no privileges

Typical use inside a check::

    with sandbox.session("linear_classifier") as student:
        loss, dW = student.call("svm_loss_vectorized", W, X, y, 0.1, timeout=20)

Every way a child can misbehave surfaces as a :class:`~grader.errors.StudentCodeError`
with a message written for the student.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import json
import itertools
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from grader import cpu_cgroup, protocol, sandbox_accounting as accounting, sandbox_texts as texts, wire
from grader.layout import ROOT
from grader.sandbox_child import GPU_ENVIRONMENT, status_bytes
from grader.errors import (
    SandboxUnavailable,
    StudentCrash,
    StudentImportError,
    StudentTimeout,
)

UNPRIVILEGED_USER = "nobody"
#: Each session runs as a user id of its own, above every real account: the kernel's per-user limits
#: (RLIMIT_NPROC counts a user's tasks machine-wide) and permissions then separate sessions, so one
#: submission's fork bomb in grade-all cannot starve another's threads, nor can one signal another.
#: The interpreter is checked with ``nobody`` (such ids have the same access: "others").
SESSION_UID_BASE = 1_500_000_000
_session_slots = itertools.count()


def is_root() -> bool:
    """Whether the grader runs as root (never on Windows, which has no such user)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


#: ``GRADER_SANDBOX=portable`` (or ``linux``) forces a backend instead of the automatic choice.
BACKEND_VARIABLE = "GRADER_SANDBOX"


def _linux_backend_missing() -> str:
    """What the Linux backend needs and this system lacks, in words ("" when nothing is missing)."""
    if not sys.platform.startswith("linux"):
        return f"this is {sys.platform}, not Linux"
    missing = [name for name in ("fork", "setsid", "killpg", "getpgid") if not hasattr(os, name)]
    missing += [f"socket.{name}" for name in ("AF_UNIX", "send_fds", "recv_fds") if not hasattr(socket, name)]
    for module in ("pwd", "fcntl", "resource", "termios"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"the {module} module")
    if not os.path.exists("/proc/self/status"):
        missing.append("/proc")
    if len(missing) > 4:
        return ", ".join(missing[:4]) + f" and {len(missing) - 4} more"
    return ", ".join(missing)


def backend() -> tuple[str, str]:
    """The session backend this system gets: ``("linux", "")`` where the Linux one's facilities are all
    there (fork, /proc, Unix sockets that carry descriptors, pwd/fcntl/resource), else ``("portable",
    why)``; ``$GRADER_SANDBOX`` forces one (``portable`` everywhere, ``linux`` to fail loudly)."""
    forced = os.environ.get(BACKEND_VARIABLE, "").strip().lower()
    if forced == "portable":
        return "portable", f"{BACKEND_VARIABLE}=portable"
    missing = _linux_backend_missing()
    if forced == "linux" or not missing:
        return "linux", ""
    return "portable", f"missing here: {missing}"


def start_zygote(hidden_paths: Sequence[Path] = (), *, mode: str = "auto") -> Any:
    """What starts the sessions of a run: the Linux :class:`Zygote`, or the portable backend's
    :class:`grader.sandbox_portable.Spawner` where the Linux one cannot run (see :func:`backend`)."""
    kind, why = backend()
    if kind == "portable":
        from grader.sandbox_portable import Spawner

        return Spawner(reason=why)
    return Zygote(mode=mode, hidden_paths=hidden_paths)


def session_uid() -> int:
    """A user id that no other live session has: this process's pid and a slot (64 per process)."""
    return SESSION_UID_BASE + os.getpid() * 64 + next(_session_slots) % 64


@dataclass
class Limits:
    """Resource limits of one child (one check session)."""

    memory_mb: int = 1024          # address space above what torch already maps (gpu: private data)
    max_processes: int = 32        # processes and threads the child may add
    file_mb: int = 64              # largest file the child may write
    output_kb: int = 256           # stdout+stderr kept for the student to read
    output_kill_mb: int = 16       # printing more than this kills the child
    cpu_seconds: int = 600         # CPU-time backstop for the whole session
    import_timeout: float = 20.0   # seconds for importing the student's module
    call_timeout: float = 30.0     # default seconds per call
    call_timeout_cap: float | None = None  # upper bound on every call's timeout (tests, quick self-checks)
    reply_mb: int = 64             # largest reply the parent will read from the child
    tmp_mb: int = 128              # root: private tmpfs for /tmp, /var/tmp, /dev/shm and the work folder
    gpu: bool = False              # the child may use CUDA: memory_mb bounds private data (RLIMIT_DATA)
                                   # instead of address space, which CUDA reserves by the tens of GB
    cuda_host_mb: int = 2048       # gpu: host memory allowed on top of memory_mb for CUDA's own start-up
                                   # (driver state, kernel images loaded from the libraries)


@dataclass
class _ImportOutcome:
    error: StudentImportError | None


def _other_can_enter(path: Path) -> bool:
    """True when a user that is neither owner nor group member can traverse/read ``path``."""
    p = path.resolve()
    for parent in [*reversed(p.parents), p]:
        try:
            mode = parent.stat().st_mode
        except OSError:
            return False
        need = stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
        if not mode & need:
            return False
    return True


def check_unprivileged_interpreter() -> None:
    """Raise SandboxUnavailable when ``nobody`` could not run this Python and torch."""
    import torch

    problems = []
    for label, path in (("the Python interpreter", Path(sys.executable)),
                        ("the standard library", Path(os.__file__).parent),
                        ("torch", Path(torch.__file__).parent),
                        ("the grader package", Path(__file__).parent)):
        if not _other_can_enter(path):
            blocked = next((str(q) for q in [*reversed(path.resolve().parents), path.resolve()]
                            if not _other_can_enter(q)), str(path))
            problems.append(f"{label} at {path} (blocked at {blocked})")
    if problems:
        raise SandboxUnavailable(
            "The grader runs as root, so student code must run as the unprivileged user "
            f"'{UNPRIVILEGED_USER}', but that user cannot use " + "; ".join(problems) + ". "
            "Install the grader in a virtual environment every user can read, e.g. "
            "`/usr/bin/python3 -m venv /opt/grader-venv && /opt/grader-venv/bin/pip install .`, "
            "and run the grader with that interpreter. Student code was not run."
        )


def protect(paths: list[Path]) -> list[Path]:
    """As root, make secret paths unreadable by other users; returns the paths changed."""
    changed: list[Path] = []
    if not is_root():
        return changed
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        if st.st_mode & 0o077:
            try:
                os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
            except OSError as exc:
                raise SandboxUnavailable(
                    f"{path} holds hidden material (the reference, hidden checks, a copy of them, or dataset labels) and other "
                    f"users can read it, but the grader cannot change that ({exc.strerror}). Make it unreadable "
                    f"to others (chmod 700 {path}) or move it away before grading.") from None
            changed.append(path)
        if path.stat().st_mode & 0o077:
            raise SandboxUnavailable(f"{path} is still readable by other users after chmod; refusing to run "
                                     "student code next to it.")
    return changed


def _cuda_started() -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and torch.cuda.is_initialized()


class Zygote:
    """The process that forks one child per session. Start it before secrets are imported.

    With ``mode="auto"`` it is forked from this process (sharing torch's memory
    copy-on-write) when no hidden check or reference module has been imported yet, no
    other thread runs and CUDA has not been started here (CUDA does not survive a fork);
    otherwise a fresh interpreter is started for it.
    """

    def __init__(self, *, mode: str = "auto", hidden_paths: Sequence[Path] = ()) -> None:
        self.mode = mode
        self.hidden_paths = [Path(p) for p in hidden_paths]
        self.pid: int | None = None
        self.forked = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctl: socket.socket | None = None
        self._lock = threading.Lock()
        self._start()

    @property
    def session_class(self) -> type["StudentSession"]:
        return StudentSession

    @property
    def description(self) -> str:
        """The isolation in force, in a line (the first of the self-check's table)."""
        if is_root():
            return ("Linux: each check runs in a process of its own, as a user of its own, in its own PID and "
                    "network namespaces, with resource limits and a system-call filter")
        return ("Linux: each check runs in a process group of its own, with resource limits and a system-call "
                "filter, as you (the grader is not root, so it cannot switch users)")

    def _secrets_loaded(self) -> bool:
        roots = [str(p.resolve()) for p in self.hidden_paths]
        for mod in list(sys.modules.values()):
            f = getattr(mod, "__file__", None) or ""
            if f and any(f.startswith(r) for r in roots):
                return True
        return False

    def _start(self) -> None:
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        use_fork = self.mode == "fork" or (self.mode == "auto" and not self._secrets_loaded()
                                           and threading.active_count() == 1 and not _cuda_started())
        if use_fork:
            sys.stdout.flush()
            sys.stderr.flush()
            # torch's Python objects, loaded before the fork, stay out of this process's collections
            # too: pages the collector would write to stay shared with the zygote
            gc.collect()
            gc.freeze()
            pid = os.fork()
            if pid == 0:  # zygote: nothing secret has been imported in this process yet
                try:
                    parent_sock.close()
                    from grader.sandbox_child import zygote_main

                    zygote_main(child_sock.fileno())
                finally:
                    os._exit(0)
            self.pid = pid
        else:
            env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME") + GPU_ENVIRONMENT}
            env["PYTHONPATH"] = str(ROOT)
            env["OMP_NUM_THREADS"] = "1"
            proc = subprocess.Popen(
                [sys.executable, "-m", "grader.sandbox_child", str(child_sock.fileno())],
                pass_fds=(child_sock.fileno(),), env=env, cwd="/", stdin=subprocess.DEVNULL)
            self.pid = proc.pid
            self._proc = proc
        self.forked = use_fork
        child_sock.close()
        self._ctl = parent_sock

    def spawn(self, request: protocol.SpawnRequest, fds: list[int]) -> None:
        with self._lock:
            try:
                assert self._ctl is not None
                socket.send_fds(self._ctl, [json.dumps(request).encode()], fds)
            except (OSError, AssertionError):
                # the zygote died (e.g. killed by a student process of the same user): restart it
                self.close()
                self._start()
                assert self._ctl is not None
                socket.send_fds(self._ctl, [json.dumps(request).encode()], fds)

    def close(self) -> None:
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if self._proc is not None:
                self._proc.wait()
                self._proc = None
            else:
                try:
                    os.waitpid(self.pid, 0)
                except ChildProcessError:
                    pass
            self.pid = None


@functools.lru_cache(maxsize=1)
def _cgroup_root() -> tuple[Path, str] | None:
    return cpu_cgroup.cgroup_root()


class Sandbox:
    """A read-only copy of the student's code plus the zygote that serves sessions on it."""

    def __init__(self, code_dir: Path, *, limits: Limits | None = None, hidden_paths: Sequence[Path] = (),
                 zygote: Zygote | None = None, mode: str = "auto") -> None:
        self.limits = limits or Limits()
        self.hidden_paths = [Path(p) for p in hidden_paths]
        self._uid: int | None = None
        self._gid: int | None = None
        self.isolated = False
        self._owns_zygote = zygote is None
        self.zygote = zygote or start_zygote(self.hidden_paths, mode=mode)
        self.portable = not isinstance(self.zygote, Zygote)
        if self.portable and is_root() and os.environ.get(BACKEND_VARIABLE, "").strip().lower() != "portable":
            self.close()
            raise SandboxUnavailable(
                "The grader runs as root but this system lacks what the Linux sandbox needs "
                f"({getattr(self.zygote, 'reason', '')}); the portable backend cannot run student code as another user. "
                f"Grade on Linux with /proc, or set {BACKEND_VARIABLE}=portable to run without that isolation.")
        if is_root() and not self.portable:
            import pwd

            check_unprivileged_interpreter()
            pw = pwd.getpwnam(UNPRIVILEGED_USER)
            self._uid, self._gid = pw.pw_uid, pw.pw_gid
            self.isolated = True
            protect(self.hidden_paths)
        self._scratch = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
        os.chmod(self._scratch, 0o711)
        self.code_dir = self._scratch / "code"
        shutil.copytree(code_dir, self.code_dir, symlinks=False)
        for root, dirs, files in os.walk(self.code_dir):
            os.chmod(root, 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
        self._imports: dict[str, _ImportOutcome] = {}
        # where sessions get a control group for CPU accounting, if anywhere
        self._cpu_root = None if self.portable else _cgroup_root()

    def close(self) -> None:
        if self._owns_zygote:
            self.zygote.close()
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sessions ----------------------------------------------------------------

    def session(self, module: str, *, seed: int = 0, limits: Limits | None = None) -> "StudentSession":
        """A fresh child with ``module`` imported. Import failures are remembered per module."""
        known = self._imports.get(module)
        if known is not None and known.error is not None:
            raise known.error
        s = self.zygote.session_class(self, module, seed=seed, limits=limits or self.limits)
        try:
            s._start()
        except StudentImportError as exc:
            s.close()
            self._imports[module] = _ImportOutcome(exc)
            raise
        except BaseException:
            s.close()
            raise
        self._imports[module] = _ImportOutcome(None)
        return s


@dataclass
class _Output:
    keep: int
    kill_at: int
    text: bytearray = field(default_factory=bytearray)
    total: int = 0
    overflow: bool = False


class StudentSession:
    """One sandboxed child with the student's module imported; a context manager."""

    def __init__(self, sandbox: Sandbox, module: str, *, seed: int, limits: Limits) -> None:
        self.sandbox = sandbox
        self.module = module
        self.seed = seed
        self.limits = limits
        self.pid: int | None = None
        self._worker_pid: int | None = None  # the process that runs the student's code
        self.isolated = False  # True once the child runs in its own PID and network namespaces
        self.private_tmp = False  # True when /tmp and the work folder are a private, bounded tmpfs
        self.syscall_filter = False  # True when the worker runs under the seccomp filter (as it reports)
        self._requests = 0  # requests sent so far
        self._extra_processes = 0
        self._conn: socket.socket | None = None
        self._status_r: int | None = None
        self._out = _Output(keep=limits.output_kb * 1024, kill_at=limits.output_kill_mb * 1024 * 1024)
        self._reader: threading.Thread | None = None
        self._out_fd: int | None = None
        self._out_busy = False
        self._dead_reason: str | None = None
        self._workdir: Path | None = None
        self.deadline: float | None = None  # monotonic time after which no call may run
        self._cpu_group: cpu_cgroup.SessionGroup | None = None  # the session's control group, if it has one
        self._cpu_group_joined: bool | None = None  # whether the worker is in it (asked once, after start-up)
        self.grading_device = "gpu" if limits.gpu else "cpu"  # named in hints about device mistakes

    # -- lifecycle -----------------------------------------------------------------

    def _start(self) -> None:
        sb = self.sandbox
        self._workdir = Path(tempfile.mkdtemp(prefix="work-", dir=sb._scratch))
        uid = session_uid() if sb._uid is not None else None  # as root: a user of its own
        if uid is not None:
            os.chown(self._workdir, uid, uid)
        parent_call, child_call = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        status_r, status_w = os.pipe()
        lim = self.limits
        request: protocol.SpawnRequest = {
            "op": "spawn", "module": self.module, "code_dir": str(sb.code_dir), "workdir": str(self._workdir),
            "uid": uid, "gid": uid, "isolate": sb.isolated, "seed": self.seed,
            "memory_bytes": (lim.memory_mb + (lim.cuda_host_mb if lim.gpu else 0)) * 1024 * 1024, "file_bytes": lim.file_mb * 1024 * 1024,
            "cpu_seconds": lim.cpu_seconds, "max_processes": lim.max_processes,
            "hidden_paths": [str(p) for p in sb.hidden_paths], "tmp_bytes": lim.tmp_mb * 1024 * 1024,
            "gpu": lim.gpu,
        }
        self._cpu_group = cpu_cgroup.SessionGroup.create(sb._cpu_root)
        if self._cpu_group is not None:
            request["cpu_cgroup"] = self._cpu_group.procs_file
        try:
            sb.zygote.spawn(request, [child_call.fileno(), out_w, status_w])
        finally:
            child_call.close()
            os.close(out_w)
            os.close(status_w)
        self._conn = parent_call
        self._status_r = status_r
        self._out_fd = out_r
        self._reader = threading.Thread(target=self._read_output, args=(out_r,), daemon=True)
        self._reader.start()
        line = self._status_line(timeout=30.0)
        if not line.startswith("pid "):
            raise SandboxUnavailable(f"the sandbox could not start a process ({line!r})")
        fields = line.split()
        self.pid = int(fields[1])  # isolated: init of the child's PID namespace; else the worker
        self._worker_pid = int(fields[3]) if len(fields) > 3 else self.pid
        # namespaces asked for but refused (e.g. a container without CAP_SYS_ADMIN): the child
        # still runs unprivileged, contained by its process group and the sandbox's subreaper
        self.isolated = len(fields) > 2 and fields[2] == "1"
        self.private_tmp = len(fields) > 4 and fields[4] == "1"
        self._await_import()

    def _await_import(self) -> None:
        """The child's first reply: the student's module imported, or why not."""
        lim = self.limits
        deadline = time.monotonic() + lim.import_timeout
        try:
            reply = self._receive(deadline, what=f"importing {self.module}.py")
        except StudentTimeout:
            raise StudentImportError(
                f"Importing {self.module}.py did not finish within {lim.import_timeout:.0f} s. Code at the top "
                "level of the module runs on import: move long computations or loops into functions "
                "(or under `if __name__ == \"__main__\":`).", output=self.output) from None
        except StudentCrash as exc:
            text = str(exc)
            raise StudentImportError(text[:1].upper() + text[1:], output=self.output) from None
        if not reply.get("ok") and reply.get("kind") == protocol.GRADER_FAULT:  # before any student code ran
            raise SandboxUnavailable(f"{reply.get('message', 'the sandbox could not be set up')}\n"
                                     f"{str(reply.get('traceback', '')).strip()}")
        if not reply.get("ok"):
            raise StudentImportError(self._import_message(reply), output=self.output)
        self.syscall_filter = reply.get("filtered") is True

    def _import_message(self, reply: dict[str, Any]) -> str:
        return texts.import_message(self.module, reply)

    def close(self) -> None:
        self._kill()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._status_r is not None:
            os.close(self._status_r)
            self._status_r = None
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        if self._cpu_group is not None:
            self._cpu_group.remove()
            self._cpu_group = None

    def __enter__(self) -> "StudentSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _kill(self) -> None:
        if self.pid is None:
            return
        try:
            if self.isolated:
                os.kill(self.pid, signal.SIGKILL)  # init of its PID namespace: takes every descendant along
            else:
                os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # -- output ----------------------------------------------------------------------

    def _read_output(self, fd: int) -> None:
        import select

        out = self._out
        try:
            while True:
                try:
                    select.select([fd], [], [])
                    self._out_busy = True  # set before the read: see _drain_output
                    chunk = os.read(fd, 1 << 16)
                except OSError:
                    break
                if not chunk:
                    break
                out.total += len(chunk)
                room = out.keep - len(out.text)
                if room > 0:
                    out.text += chunk[:room]
                if out.total > out.kill_at and not out.overflow:
                    out.overflow = True
                    self._dead_reason = (f"printed more than {out.kill_at // (1024 * 1024)} MB of output and was "
                                         "stopped. Remove print statements from loops.")
                    self._kill()
                self._out_busy = False
        finally:
            self._out_fd = None
            self._out_busy = False
            os.close(fd)

    def _drain_output(self, timeout: float = 1.0) -> None:
        """Wait until what the child wrote before its last reply has been read from the pipe."""
        if self._out_fd is None:
            return
        import fcntl
        import termios

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fd = self._out_fd
            if fd is None:
                return
            try:
                pending = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
            except OSError:
                return
            if pending == 0 and not self._out_busy:
                return
            time.sleep(0.002)

    @property
    def output(self) -> str:
        text = self._out.text.decode("utf-8", "replace")
        if self._out.total > len(self._out.text):
            text += f"\n... [output truncated: {self._out.total} bytes in all]"
        return text

    # -- calls -------------------------------------------------------------------------

    def _status_line(self, timeout: float) -> str:
        assert self._status_r is not None
        import select

        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return buf.decode() or "no status"
            r, _, _ = select.select([self._status_r], [], [], remaining)
            if not r:
                continue
            b = os.read(self._status_r, 1)
            if not b:
                break
            buf += b
        return buf.decode().strip()

    def _death_message(self) -> str:
        if self._dead_reason:
            return self._dead_reason
        line = self._status_line(timeout=5.0)
        if not line.startswith("status "):
            return "stopped unexpectedly."
        status = int(line.split()[1])
        if status < 0:
            return "stopped unexpectedly."
        if os.WIFSIGNALED(status):
            return self._signal_message(os.WTERMSIG(status))
        return self._exit_message(os.WEXITSTATUS(status))

    def _signal_message(self, sig: int) -> str:
        return texts.signal_message(sig, self.limits)

    def _exit_message(self, code: int) -> str:
        return texts.exit_message(code)

    def _receive(self, deadline: float, what: str) -> dict[str, Any]:
        assert self._conn is not None
        try:
            data = wire.recv_frame(self._conn, deadline, limit=self.limits.reply_mb * 1024 * 1024)
        except TimeoutError:
            # processes the student started (the namespace's init and the worker excluded)
            self._extra_processes = max(0, len(self._session_pids()) - (2 if self.isolated else 1))
            self._kill()
            self._dead_reason = "was stopped after an earlier call ran out of time."
            raise StudentTimeout(f"{what} did not finish in time. Look for an infinite loop or much slower code "
                                 "than needed.",
                                 output=self.output) from None
        except wire.FrameTooLarge as exc:
            self._kill()
            self._dead_reason = "was stopped after returning too much data."
            raise StudentCrash(f"{what} returned too much data ({exc}).", output=self.output) from None
        if data is None:
            msg = self._death_message()
            self._dead_reason = self._dead_reason or msg
            self._drain_output(0.5)
            raise StudentCrash(f"{what}: your code {msg}", output=self.output)
        try:
            reply = wire.from_wire(wire.loads(data))
        except (wire.FrameTooLarge, wire.ReplyTooLarge) as exc:
            self._kill()
            self._dead_reason = "was stopped after returning too much data."
            raise StudentCrash(f"{what} returned too much data ({exc}).", output=self.output) from None
        except Exception as exc:  # noqa: BLE001 - a hostile child may send anything
            self._kill()
            raise StudentCrash(f"{what}: the sandboxed process sent data the grader cannot read ({type(exc).__name__}).",
                               output=self.output) from None
        if type(reply) is not dict:
            self._kill()
            raise StudentCrash(f"{what}: the sandboxed process sent a malformed reply.", output=self.output)
        self._drain_output()
        return reply

    def _serve_callback(self, request: dict[str, Any], callbacks: Sequence[Any], number: int) -> None:
        """Run the grader's function that student code called through a ``wire.Callback``.

        A TypeError or ValueError (a call the function refuses: wrong arguments, wrong types) is
        raised in the student's code. Any other exception is the grader's own bug: the child is
        stopped and the exception goes up to the runner, which reports a grader error.
        """
        index, args, kwargs = request.get("index"), request.get("args"), request.get("kwargs")
        if request.get("request") != number:
            answer = {"ok": False, "type": "RuntimeError",
                      "message": "a grader function given to an earlier call was called after that call returned "
                                 "(do not keep functions or objects your code receives for later)"}
        elif type(index) is not int or not 0 <= index < len(callbacks) \
                or (type(args) is not list and type(args) is not tuple) \
                or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
            answer = {"ok": False, "type": "RuntimeError", "message": "malformed call of a grader function"}
        else:
            try:
                answer = {"ok": True, "value": wire.encode_args(callbacks[index](*args, **kwargs))}
            except (TypeError, ValueError) as exc:  # raised in the student's code, where it belongs
                answer = {"ok": False, "type": type(exc).__name__, "message": str(exc)[:2000]}
            except Exception:
                self._kill()
                self._dead_reason = "was stopped after the grader failed while answering it."
                raise
        assert self._conn is not None
        try:
            wire.send_frame(self._conn, wire.dumps(answer))
        except OSError:
            pass  # the child is gone: the next read says how

    def _invoke(self, msg: protocol.CallRequest | protocol.ProbeRequest, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float,
                what: str) -> dict[str, Any]:
        """``msg`` with its arguments encoded: the descriptors of ``Watched`` tensors travel with it,
        and the grader functions of ``Callback`` arguments are served while it runs."""
        fds: list[int] = []
        callbacks: list[Any] = []
        msg["args"] = wire.encode_args(args, fds, callbacks)
        msg["kwargs"] = wire.encode_args(kwargs, fds, callbacks)
        return self._request(msg, timeout, what, fds=fds, callbacks=callbacks)

    def _request(self, msg: protocol.Request, timeout: float, what: str, fds: Sequence[int] = (),
                 callbacks: Sequence[Any] = ()) -> dict[str, Any]:
        if self._dead_reason is not None or self._conn is None:
            raise StudentCrash(f"{what} was not run: the process running your code {self._dead_reason}",
                               output=self.output)
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise StudentTimeout(f"{what} was not run: the check's time limit was already used up by slower "
                                     "earlier calls.", output=self.output)
            timeout = min(timeout, left)
        if self.limits.call_timeout_cap is not None:
            timeout = min(timeout, self.limits.call_timeout_cap)
        self._requests += 1
        msg["request"] = self._requests  # callbacks name the request they were given with
        payload = wire.dumps(msg)
        try:
            wire.send_frame(self._conn, payload, fds)
        except OSError:
            return self._receive(time.monotonic() + 1, what)
        deadline = time.monotonic() + timeout
        try:
            reply = self._receive(deadline, what)
            while reply.get("op") == "callback":  # student code calling a grader function; then its reply
                self._serve_callback(reply, callbacks, msg["request"])
                reply = self._receive(deadline, what)
        except StudentTimeout:
            extra = ""
            if self._extra_processes:
                extra = (f" It had started {self._extra_processes} other processes (at most "
                         f"{self.limits.max_processes} processes and threads are allowed): do not fork or start "
                         "processes from your code.")
            raise StudentTimeout(f"{what} did not return within {timeout:.0f} s. Look for an infinite loop, or "
                                 "code far slower than needed (Python loops over large tensors)." + extra,
                                 output=self.output) from None
        self._on_reply(reply)
        if not reply.get("ok"):
            raise self._call_error(reply, what, autograd_off=msg.get("grad") is False)
        return reply

    def _on_reply(self, reply: dict[str, Any]) -> None:
        """A request's final reply, before it is judged (the portable backend reads more from it)."""

    def _call_error(self, reply: dict[str, Any], what: str, *, autograd_off: bool = False) -> Exception:
        return texts.call_error(reply, what, limits=self.limits, private_tmp=self.private_tmp,
                                grading_device=self.grading_device, autograd_off=autograd_off, output=self.output)

    def call(self, func: str, *args: Any, timeout: float | None = None, seed: int | None = None,
             repeat: int = 1, want_value: bool = True, staged: str | None = None, offset: int = 0,
             keep: bool = False, grad: bool = True, **kwargs: Any) -> Any:
        """Call ``module.func(*args, **kwargs)`` in the child; returns plain data (see grader.wire).

        With ``staged``, the positional arguments are the ones put in the child by :meth:`stage`
        under that name, and the child waits for their device's queued work before replying. For
        argument sets staged with :meth:`stage_sets`, repetition i uses set ``offset + i`` (modulo
        their number). With ``keep``, the child keeps every repetition's result for :meth:`kept`.
        With ``grad=False`` the call runs under ``torch.no_grad()`` (for parts that forbid autograd).
        """
        if staged is not None and args:
            raise ValueError("a call on staged arguments takes no other positional arguments")
        msg: protocol.CallRequest = {"op": "call", "func": func, "seed": self.seed if seed is None else seed, "repeat": repeat,
               "want_value": want_value, "staged": staged, "offset": offset, "keep": keep, "grad": grad}
        return self._invoke(msg, args, kwargs, timeout or self.limits.call_timeout, f"{func}()")["value"]

    def probe(self, name: str, *args: Any, timeout: float | None = None, seed: int | None = None,
              what: str | None = None, staged: str | None = None, repeat: int = 1, offset: int = 0,
              **kwargs: Any) -> Any:
        """Run the probe ``grader.probes.<name>`` inside the child with the student's module. With
        ``staged``, its positional arguments are those put in the child by :meth:`stage` or
        :meth:`stage_sets` (nothing crosses the pipe, so a timed probe is not charged for decoding its
        inputs); ``repeat`` and ``offset`` work as in :meth:`call`."""
        if staged is not None and args:
            raise ValueError("a probe on staged arguments takes no other positional arguments")
        msg: protocol.ProbeRequest = {"op": "probe", "probe": name, "seed": self.seed if seed is None else seed, "staged": staged,
               "repeat": repeat, "offset": offset}
        return self._invoke(msg, args, kwargs, timeout or self.limits.call_timeout, what or name)["value"]

    def _session_pids(self) -> list[int]:
        """Every live process of this session: its PID namespace, else its process group."""
        return accounting.session_pids(self._worker_pid, self.isolated)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Every process of the session stopped (SIGSTOP) for the duration: nothing the student started
        (a thread spinning in the background, a helper process) runs beside what the grader times
        meanwhile in another session."""
        with accounting.stopped(self._session_pids()):
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
        return accounting.proc_cpu_seconds(self._session_pids(), grader_pid=self.pid if self.isolated else None)

    def stage(self, name: str, *args: Any, device: str = "cpu", timeout: float | None = None) -> str:
        """Put ``args`` in the child, on ``device``, for later calls with ``staged=name``.

        Timed calls on staged arguments measure the student's function, not the transfer of its
        inputs. Returns the device the child placed them on (``"cuda:0"``, say). A device the
        child cannot use raises :class:`StudentException` (the child's error is in its message).
        """
        msg: protocol.StageRequest = {"op": "stage", "name": name, "device": device,
                                      "args": wire.encode_args(args, None), "seed": self.seed}
        return str(self._request(msg, timeout or self.limits.call_timeout, f"putting the inputs on {device}")["value"])

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

    def stage_sets(self, name: str, sets: Sequence[tuple[Any, ...]], *, device: str = "cpu",
                   timeout: float | None = None) -> str:
        """Put several argument sets in the child under ``name``: timed calls on them use a fresh set
        for each repetition (see :meth:`call`), so a cache keyed on the inputs gains nothing."""
        msg: protocol.StageRequest = {"op": "stage", "name": name, "device": device, "sets": True,
               "args": [wire.encode_args(tuple(a), None) for a in sets], "seed": self.seed}
        return str(self._request(msg, timeout or self.limits.call_timeout, f"putting the inputs on {device}")["value"])

    def kept(self, what: str, *, timeout: float | None = None) -> list[Any]:
        """The results of the last call made with ``keep=True``, one per repetition (untimed)."""
        value = self._request({"op": "kept"}, timeout or self.limits.call_timeout, what)["value"]
        return list(value) if isinstance(value, (list, tuple)) else []

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
