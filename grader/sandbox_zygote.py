"""The Linux backend's confinement: the zygote, and the child it forks for each session.

The zygote imports torch once and then forks one child per check. It never runs student
code and never imports the hidden checks or the reference solution. Each child:

* when the grader runs as root, lives in fresh PID and network namespaces (killing it
  kills everything it started, ``setsid`` included; no network), then drops to an
  unprivileged user;
* otherwise leads its own process group (killed as a group);
* has resource limits (address space, or private data for a session that may use CUDA;
  processes, file size, CPU, open files), and on x86_64 and aarch64 a seccomp filter that
  refuses the kernel's rarer interfaces (new namespaces, io_uring, userfaultfd, BPF, ptrace...);
* then becomes the worker of :mod:`grader.sandbox_child`, which imports the student's module from
  a read-only copy and serves calls from the parent.

Started by the parent as ``python -m grader.sandbox_zygote FD`` (or forked from it).
"""
from __future__ import annotations

import ctypes
import errno
import gc
import json
import os
import resource  # this module runs only where the Linux backend does
import signal
import socket
import sys
from typing import Any, cast

from grader.sandbox_child import (
    GPU_ENVIRONMENT,
    _limit,
    _report_setup_failure,
    _serve,
    _student_path,
    preload,
    status_bytes,
)

CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNS = 0x00020000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
O_PATH = 0o10000000
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")
# Never searched for places anyone may write to: kernel views (not storage), and what the private tmpfs
# replaces anyway.
_NOT_STORAGE = ("/proc", "/sys")
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _set_pdeathsig() -> None:
    try:
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort on unusual libcs
        pass


def _unshare(flags: int) -> bool:
    try:
        return cast(bool, _libc().unshare(flags) == 0)
    except Exception:  # noqa: BLE001
        return False


# --------------------------------------------------------------------------- zygote


def zygote_main(sock_fd: int) -> None:
    """Serve spawn requests from the parent until it closes the control socket."""
    _set_pdeathsig()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # intermediates are reaped automatically
    ctl = socket.socket(fileno=sock_fd)
    preload()
    # Everything loaded so far lives on in every session. Moved out of the collector's sight, its
    # objects are not written to by the collections a session runs, so their pages stay shared
    # with the zygote instead of being copied into each session.
    gc.collect()
    gc.freeze()
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctl, 65536, 8)
        except (ConnectionError, OSError):
            break
        if not msg:
            break
        request = json.loads(msg.decode())
        if request.get("op") == "ping":
            ctl.sendall(b"pong\n")
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            try:
                ctl.close()
                _intermediate(request, fds)
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
    os._exit(0)


def _intermediate(request: dict[str, Any], fds: list[int]) -> None:
    """Between zygote and child: enters new namespaces, forks the child, reports its fate.

    Isolated (root): the first process of the new PID namespace is a small init that
    runs no student code; it forks the worker that does. The worker is therefore not
    PID 1 (whose signals with default actions the kernel ignores, so ``os.abort()`` or
    ``os.kill(os.getpid(), ...)`` would misbehave), and when the worker ends the init
    exits, which kills every process left in the namespace (``setsid`` daemons included).
    """
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    call_fd, out_fd, status_fd = fds
    _set_pdeathsig()
    isolate = bool(request.get("isolate")) and os.geteuid() == 0
    if isolate and not _unshare(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC):
        isolate = False
    private_tmp = False
    if isolate and request.get("tmp_bytes") and _unshare(CLONE_NEWNS):
        private_tmp = _private_tmp(request)
    request["own_mounts"] = private_tmp  # the worker may then mount a /proc of its own namespace
    if not isolate:
        # orphans of the child (double fork + setsid included) become ours, to be killed below
        try:
            _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except Exception:  # noqa: BLE001
            pass
    init = _spawn_init(fds) if isolate else None
    if init is not None:
        _run_with_spawned_init(request, init, call_fd, out_fd, status_fd, private_tmp)
        return
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        try:
            if isolate:
                _namespace_init(request, call_fd, out_fd, status_fd, ready_w)
            else:
                os.close(status_fd)
                os.close(ready_w)
                _child(request, call_fd, out_fd, isolate)
        except BaseException:  # noqa: BLE001
            pass
        os._exit(70)
    os.close(call_fd)
    os.close(out_fd)
    os.close(ready_w)
    worker = pid
    if isolate:
        os.read(ready_r, 1)  # the init has forked the worker (or died)
        worker = next(iter(_children_of(pid)), pid)
    os.close(ready_r)
    os.write(status_fd, f"pid {pid} {int(isolate)} {worker} {int(private_tmp)}\n".encode())
    status = _wait(pid)
    # isolated: the init has already reported the worker's status; this line is then unread
    _report(status_fd, f"status {status}\n")
    if not isolate:
        _kill_descendants()


# PID 1 of a session's namespace when started by posix_spawn (no copy of the zygote's memory):
# it only reaps orphans until the session ends. SIGCHLD is blocked and waited for, so no exit
# is missed between two waits.
_INIT_CODE = """
import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
    signal.sigtimedwait({signal.SIGCHLD}, 5.0)
"""


def _spawn_init(fds: list[int]) -> int | None:
    """Start the namespace's init with posix_spawn (vfork: no page tables copied), or None.

    Forking the torch-sized zygote costs about 10 ms per fork and as much again at exit;
    the init needs none of that memory. It must be the first process of the new namespace.
    """
    for fd in fds:
        os.set_inheritable(fd, False)
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            return os.posix_spawn(sys.executable, [sys.executable, "-S", "-I", "-c", _INIT_CODE],
                                  {"PATH": "/usr/bin:/bin"},
                                  file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                                                (os.POSIX_SPAWN_DUP2, devnull, 2)])
        finally:
            os.close(devnull)
    except OSError:
        return None


def _run_with_spawned_init(request: dict[str, Any], init: int, call_fd: int, out_fd: int, status_fd: int,
                           private_tmp: bool) -> None:
    """Isolated session whose init was spawned: fork the worker (PID 2 of the namespace) from
    here, report its fate, then end the namespace (every process left in it dies with init)."""
    worker = _fork_worker(request, call_fd, out_fd, close_in_worker=(status_fd,))
    os.write(status_fd, f"pid {init} 1 {worker} {int(private_tmp)}\n".encode())
    status = _wait(worker)
    _report(status_fd, f"status {status}\n")
    try:
        os.kill(init, signal.SIGKILL)
        os.waitpid(init, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _fork_worker(request: dict[str, Any], call_fd: int, out_fd: int, close_in_worker: tuple[int, ...]) -> int:
    """Fork the isolated worker that runs student code; here, its channel ends are closed."""
    worker = os.fork()
    if worker == 0:
        for fd in close_in_worker:
            os.close(fd)
        try:
            _child(request, call_fd, out_fd, True)
        except BaseException:  # noqa: BLE001
            pass
        os._exit(70)
    os.close(call_fd)
    os.close(out_fd)
    return worker


def _wait(pid: int) -> int:
    """The wait status of the child ``pid`` (-1 when it cannot be waited for)."""
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue
        except ChildProcessError:
            return -1


def _kill_descendants() -> None:
    """Kill and reap every process left below this one (it is their subreaper)."""
    for _ in range(10_000):
        children = _children_of(os.getpid())
        if not children:
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                pass
            if not _children_of(os.getpid()):
                return
            continue
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _child_pid in children:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    libc = _libc()
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    rc = libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                    data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _private_tmp(request: dict[str, Any]) -> bool:
    """In the child's own mount namespace, replace /tmp, /var/tmp, /dev/shm, every other place
    anyone may write to (``world_writable``) and the work folder by one small tmpfs: what the
    student writes is bounded in total, invisible to other sessions, and gone when the session ends. The code folder stays reachable, and so
    do the interpreter and the grader where they live under /tmp (a checkout there): each such
    folder is bound back at its own path, with its own permissions.

    Skipped (False) when the interpreter or the grader lives under /var/tmp or /dev/shm, or
    when the kernel refuses; the session then runs with the shared folders.
    """
    import torch

    code_dir = os.path.realpath(request["code_dir"])
    workdir = os.path.realpath(request["workdir"])
    scratch = os.path.dirname(code_dir)
    needed = [sys.prefix, sys.base_prefix, os.path.dirname(os.__file__), os.path.dirname(torch.__file__),
              os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    needed += [p for p in sys.path if p and os.path.isabs(p) and not p.startswith(scratch)]
    if any(os.path.realpath(p) == d or os.path.realpath(p).startswith(d + "/")
           for p in needed for d in SHARED_WRITABLE[1:]):
        return False
    if os.path.dirname(workdir) != scratch:
        return False
    # the top folders under /tmp to bind back: the sandbox's scratch, and whatever holds the interpreter
    keep_paths = {os.path.join("/tmp", os.path.realpath(p)[len("/tmp/"):].split("/", 1)[0])
                  for p in needed + [scratch] if os.path.realpath(p).startswith("/tmp/")}
    if any(path == "/tmp/" or not os.path.isdir(path) for path in keep_paths):
        return False
    try:
        _mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates to the host
        kept = {path: os.open(path, O_PATH) for path in sorted(keep_paths)}
        _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(request['tmp_bytes'])},mode=1777")
        for folder in SHARED_WRITABLE[1:]:
            if os.path.isdir(folder):
                inner = "/tmp/.sandbox" + folder.replace("/", "-")
                os.mkdir(inner)
                os.chmod(inner, 0o1777)
                _mount(inner, folder, None, MS_BIND)
        for path, fd in kept.items():
            os.makedirs(path, mode=0o711)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)
        _private_shared_places(request, needed)
        work = "/tmp/.sandbox-work"
        os.mkdir(work, 0o700)
        if request.get("uid") is not None:
            os.chown(work, int(request["uid"]), int(request["gid"]))
        _mount(work, workdir, None, MS_BIND)
    except OSError:
        # half-made mounts stay inside this namespace; without the code folder there is no session
        if not os.path.isdir(code_dir):
            os._exit(71)
        return False
    return True


def world_writable(*, limit: int = 400_000) -> tuple[list[str], list[str]]:
    """The directories and regular files on this machine that anyone may write to (mode o+w), other
    than /tmp, /var/tmp and /dev/shm, which the private tmpfs replaces anyway, and what lies below
    /proc and /sys; symbolic links are not followed, and nothing below a listed directory is listed.
    A session's user (an id of its own, no groups) can write only there: each becomes a private,
    bounded place in its namespace, so that nothing a session writes outlives it or reaches another
    (``/run/lock``, say). At most ``limit`` directories are read."""
    import stat

    dirs: list[str] = []
    files: list[str] = []
    skip = set(SHARED_WRITABLE) | set(_NOT_STORAGE)
    stack, seen = ["/"], 0
    while stack and seen < limit:
        folder = stack.pop()
        try:
            entries = os.scandir(folder)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if entry.path in skip:
                        continue
                    seen += 1
                    if st.st_mode & stat.S_IWOTH:
                        dirs.append(entry.path)
                    else:
                        stack.append(entry.path)
                elif stat.S_ISREG(st.st_mode) and st.st_mode & stat.S_IWOTH:
                    files.append(entry.path)
    return sorted(dirs), sorted(files)


def _private_shared_places(request: dict[str, Any], needed: list[str]) -> None:
    """The places anyone may write to (``world_writable``, found by the parent) each replaced by a
    folder or an empty file of the private tmpfs; one that holds what the session needs (the
    interpreter, the grader) is left as it is, and one that cannot be covered is skipped."""
    reals = [os.path.realpath(p) for p in needed]
    for i, folder in enumerate(request.get("writable_dirs") or []):
        if any(r == folder or r.startswith(folder + "/") for r in reals):
            continue
        try:
            if os.path.islink(folder) or not os.path.isdir(folder):
                continue
            inner = f"/tmp/.sandbox-shared-{i}"
            os.mkdir(inner)
            os.chmod(inner, 0o1777)
            _mount(inner, folder, None, MS_BIND)
        except OSError:
            continue
    for i, path in enumerate(request.get("writable_files") or []):
        try:
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            inner = f"/tmp/.sandbox-file-{i}"
            os.close(os.open(inner, os.O_CREAT | os.O_WRONLY, 0o666))
            os.chmod(inner, 0o666)
            _mount(inner, path, None, MS_BIND)
        except OSError:
            continue


def _report(fd: int, line: str) -> None:
    """Write a status line; the parent may have stopped listening (session closed)."""
    try:
        os.write(fd, line.encode())
    except OSError:
        pass
    try:
        os.close(fd)
    except OSError:
        pass


def _children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        pass
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    for line in f:
                        if line.startswith("PPid:"):
                            if int(line.split()[1]) == pid:
                                out.append(int(entry))
                            break
            except (OSError, ValueError):
                pass
    return out


def _namespace_init(request: dict[str, Any], call_fd: int, out_fd: int, status_fd: int, ready_w: int) -> None:
    """PID 1 of the child's namespace: fork the worker, reap, report its status, exit."""
    worker = _fork_worker(request, call_fd, out_fd, close_in_worker=(status_fd, ready_w))
    os.write(ready_w, b"r")
    os.close(ready_w)
    status = -1
    while True:
        try:
            done, st = os.wait()
        except InterruptedError:
            continue
        except ChildProcessError:
            break
        if done == worker:
            status = st
            break
    _report(status_fd, f"status {status}\n")
    os._exit(0)  # the init leaving kills every process still in the namespace


def _count_processes(uid: int) -> int | None:
    """Tasks (threads included, as RLIMIT_NPROC counts them) whose real user is ``uid``; None without /proc.

    Read from /proc/<pid>/status: the owner of /proc/<pid> is root for processes that are
    not dumpable, which every sandboxed child is after dropping privileges.
    """
    n = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    real_uid = threads = None
                    for line in f:
                        if line.startswith("Uid:"):
                            real_uid = int(line.split()[1])
                        elif line.startswith("Threads:"):
                            threads = int(line.split()[1])
                            break
                if real_uid == uid:
                    n += threads or 1
            except (OSError, ValueError, IndexError):
                pass
    return n


def _child(request: dict[str, Any], call_fd: int, out_fd: int, isolate: bool) -> None:
    """The worker: set up (streams, limits, user, filter), then import the student's module and serve.
    A failure of the set-up is the grader's (no student code has run yet): it is sent to the parent as
    a grader error before the worker exits, never left to read as the student's exit."""
    try:
        _set_up_child(request, call_fd, out_fd, isolate)
    except BaseException as exc:  # noqa: BLE001 - reported, then the worker ends
        _report_setup_failure(call_fd, exc)
        os._exit(70)
    conn = socket.socket(fileno=call_fd)
    _serve(conn, request)


def _set_up_child(request: dict[str, Any], call_fd: int, out_fd: int, isolate: bool) -> None:
    _set_pdeathsig()
    if not isolate:
        os.setsid()
    # stdout and stderr go to the parent's capture pipe; stdin is empty
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(devnull)
    os.close(out_fd)
    keep = {0, 1, 2, call_fd}
    os.closerange(3, call_fd)
    os.closerange(call_fd + 1, 65536)
    del keep
    # the parent's sys.stdout may be anything (a test runner's capture, say): write to fds 1 and 2
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", buffering=1, errors="replace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, errors="replace", closefd=False)
    # typeshed marks these Final, but rebinding them is what makes them name the new streams
    sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr  # type: ignore[misc]
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    workdir = request["workdir"]
    os.chdir(workdir)
    uid = request.get("uid")
    gid = request.get("gid")
    memory = int(request["memory_bytes"])
    # without /proc the baseline is unknown: no memory limit rather than one the interpreter is already over
    if request.get("gpu"):
        # CUDA reserves tens of GB of address space it never touches, which an address-space limit
        # cannot tolerate; RLIMIT_DATA counts private writable memory (the heap and torch's CPU
        # tensors), not reservations or the driver's shared device mappings
        baseline = status_bytes("VmData:")
        if baseline is not None:
            _limit(resource.RLIMIT_DATA, baseline + memory)
    else:
        baseline = status_bytes("VmSize:")
        if baseline is not None:
            _limit(resource.RLIMIT_AS, baseline + memory)
    _limit(resource.RLIMIT_FSIZE, int(request["file_bytes"]))
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_NOFILE, 256)
    _limit(resource.RLIMIT_CPU, int(request["cpu_seconds"]))
    # RLIMIT_NPROC counts the user's tasks machine-wide: count them while the host's /proc is visible
    running = _count_processes(int(uid) if uid is not None and os.geteuid() == 0 else os.getuid())
    if isolate and request.get("own_mounts"):
        try:  # a /proc of the session's PID namespace: the host's processes are not listed
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError:
            pass
    if request.get("cpu_cgroup"):
        # join the session's control group while still root: everything this worker starts inherits it
        # and counts in its CPU time (see grader.cpu_cgroup); the grader checks that the join happened
        try:
            with open(str(request["cpu_cgroup"]), "w") as f:
                f.write(str(os.getpid()))
        except OSError:
            pass
    if uid is not None and os.geteuid() == 0:
        assert gid is not None  # the grader sends uid and gid together, from one passwd entry
        os.setgroups([])
        os.setgid(int(gid))
        os.setuid(int(uid))
    nproc = int(request["max_processes"])
    if running is not None:  # without /proc, a limit on the user's processes could stop the worker itself
        _limit(resource.RLIMIT_NPROC, running + nproc)
    env = {"HOME": workdir, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONHASHSEED": "0", "TMPDIR": workdir, "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
    if request.get("gpu"):
        env.update({k: v for k, v in os.environ.items() if k in GPU_ENVIRONMENT})
        env["CUDA_CACHE_PATH"] = os.path.join(workdir, ".nv")
    os.environ.clear()
    os.environ.update(env)
    _student_path(str(request["code_dir"]), request.get("hidden_paths", []))
    request["filtered"] = _install_syscall_filter()


# The system calls the worker is refused, once it has dropped privileges and before it imports
# student code: the kernel's rarer interfaces, through which most of its privilege-escalation
# bugs are reached, and which no assignment needs. Among them, new namespaces of any kind (user
# namespaces would give an unprivileged process root-like powers inside them), io_uring,
# userfaultfd, BPF, perf events, keyrings, ptrace, mounts and module loading. Refused calls fail
# with EPERM, as if not permitted. Numbers per architecture, from the kernel's headers
# (asm/unistd_64.h for x86_64, asm-generic/unistd.h for aarch64).
SYSCALL_DENY = {
    "x86_64": {
        "ptrace": 101, "syslog": 103, "vhangup": 153, "pivot_root": 155, "chroot": 161, "acct": 163,
        "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "init_module": 175,
        "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212, "kexec_load": 246, "add_key": 248,
        "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298, "fanotify_init": 300,
        "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
        "process_vm_writev": 311, "kcmp": 312, "finit_module": 313, "kexec_file_load": 320, "bpf": 321,
        "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "pidfd_getfd": 438, "mount_setattr": 442,
    },
    "aarch64": {
        "lookup_dcookie": 18, "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51, "vhangup": 58,
        "quotactl": 60, "acct": 89, "unshare": 97, "kexec_load": 104, "init_module": 105, "delete_module": 106,
        "syslog": 116, "ptrace": 117, "reboot": 142, "add_key": 217, "request_key": 218, "keyctl": 219,
        "swapon": 224, "swapoff": 225, "perf_event_open": 241, "fanotify_init": 262, "name_to_handle_at": 264,
        "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272,
        "finit_module": 273, "bpf": 280, "userfaultfd": 282, "kexec_file_load": 294, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "pidfd_getfd": 438, "mount_setattr": 442,
    },
}
# (the calling convention's audit number, clone, clone3) per architecture
SYSCALL_ARCH = {"x86_64": (0xC000003E, 56, 435), "aarch64": (0xC00000B7, 220, 435)}
# clone() may not create namespaces either (CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER,
# NEWPID, NEWNET); clone3() passes its flags in memory a filter cannot read, so it answers ENOSYS
# and the C library falls back to clone() (threads and processes work as before).
CLONE_NAMESPACES = 0x80 | 0x20000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def syscall_filter_program(machine: str) -> list[tuple[int, int, int, int]]:
    """The seccomp BPF program for ``machine`` (``platform.machine()``), as (code, jt, jf, k)."""
    ld_abs, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
    audit_arch, sys_clone, sys_clone3 = SYSCALL_ARCH[machine]
    prog = [(ld_abs, 0, 0, 4),                        # the calling convention: any other is refused
            (jeq, 1, 0, audit_arch), (ret, 0, 0, eperm),
            (ld_abs, 0, 0, 0),                        # the system call number
            (jge, 0, 1, 0x40000000), (ret, 0, 0, eperm)]  # x86_64's x32 numbers (none elsewhere)
    for nr in sorted(SYSCALL_DENY[machine].values()):
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, eperm)]
    prog += [(jeq, 0, 1, sys_clone3), (ret, 0, 0, enosys),
             (jeq, 0, 3, sys_clone), (ld_abs, 0, 0, 16),  # clone's flags: the low half of its first argument
             (jset, 0, 1, CLONE_NAMESPACES), (ret, 0, 0, eperm),
             (ret, 0, 0, allow)]
    return prog


def _install_syscall_filter() -> bool:
    """Refuse the worker (and every process it starts) the calls above; False where this machine
    cannot (an architecture without a table here, a kernel without seccomp)."""
    import platform

    machine = platform.machine()
    if machine not in SYSCALL_ARCH:
        return False
    prog = syscall_filter_program(machine)
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    libc = _libc()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return cast(bool, libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0)


if __name__ == "__main__":
    zygote_main(int(sys.argv[1]))
