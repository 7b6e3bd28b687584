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

import functools
import gc
import json
import itertools
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from grader import cpu_cgroup, protocol, sandbox_accounting as accounting, sandbox_texts as texts, wire
from grader.sandbox_output import OutputCapture
from grader.layout import ROOT
from grader.sandbox_child import GPU_ENVIRONMENT
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
                    from grader.sandbox_zygote import zygote_main

                    zygote_main(child_sock.fileno())
                finally:
                    os._exit(0)
            self.pid = pid
        else:
            env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME") + GPU_ENVIRONMENT}
            env["PYTHONPATH"] = str(ROOT)
            env["OMP_NUM_THREADS"] = "1"
            proc = subprocess.Popen(
                [sys.executable, "-m", "grader.sandbox_zygote", str(child_sock.fileno())],
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


_writable: tuple[list[str], list[str]] | None = None
_writable_lock = threading.Lock()


def writable_places(*, again: bool = False) -> tuple[list[str], list[str]]:
    """The machine's other places anyone may write to (``sandbox_zygote.world_writable``), which
    isolated sessions get private copies of: looked for once per process (about a second), in the
    background from the first isolated sandbox on; ``again`` looks again."""
    global _writable
    with _writable_lock:
        if _writable is None or again:
            from grader.sandbox_zygote import world_writable

            _writable = world_writable()
        return _writable


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
            if _writable is None and self.limits.tmp_mb:  # looked for while the zygote starts
                threading.Thread(target=writable_places, daemon=True).start()
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


class StudentSession(accounting.Measurements):
    """One sandboxed child with the student's module imported; a context manager.

    The session starts the child (through the zygote), captures its output
    (:class:`~grader.sandbox_output.OutputCapture`) and stops it; the requests and their replies are
    its :class:`~grader.sandbox_requests.Conversation`, the measurements its
    :class:`~grader.sandbox_accounting.Measurements`."""

    def __init__(self, sandbox: Sandbox, module: str, *, seed: int, limits: Limits) -> None:
        self.sandbox = sandbox
        self.module = module
        self.seed = seed
        self.limits = limits
        self.pid = None
        self._worker_pid = None
        self.isolated = False  # True once the child runs in its own PID and network namespaces
        self.private_tmp = False  # True when /tmp and the work folder are a private, bounded tmpfs
        self.syscall_filter = False  # True when the worker runs under the seccomp filter (as it reports)
        self._requests = 0
        self._extra_processes = 0
        self._conn = None
        self._status_r: int | None = None
        self._capture = OutputCapture(keep=limits.output_kb * 1024, kill_at=limits.output_kill_mb * 1024 * 1024,
                                      on_flood=self._flooded)
        self._dead_reason = None
        self._workdir: Path | None = None
        self.deadline = None
        self._cpu_group = None
        self._cpu_group_joined = None
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
        if sb.isolated and lim.tmp_mb:
            request["writable_dirs"], request["writable_files"] = writable_places()
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
        self._capture.read_pipe(out_r)
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
        self._capture.join(timeout=5)
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

    def _flooded(self, reason: str) -> None:
        self._dead_reason = reason
        self._kill()

    def _drain_output(self, timeout: float = 1.0) -> None:
        self._capture.drain(timeout)

    @property
    def output(self) -> str:
        return self._capture.text

    # -- how it ended -------------------------------------------------------------------

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
