"""The sandbox's side of the trust boundary: the worker that imports student code and serves the parent.

Whichever backend started it (the Linux zygote, :mod:`grader.sandbox_zygote`, or a fresh interpreter
of the portable backend, :func:`portable_main`), the worker imports the student's module from its
folder and serves requests (:mod:`grader.protocol`): calls of the student's functions, the grader's
probes, staged arguments. Arguments may be tensors in memory shared with the parent
(``wire.Watched``) or stand-ins for grader functions, whose calls the parent answers
(``wire.Callback``). A failure of the grader's own code here (a probe's bug, a set-up that fails)
is reported as the grader's, never as the student's.

Nothing here decides a score: the worker only sends plain data back (see ``grader.wire``).
"""
from __future__ import annotations

import contextlib
import errno
import importlib
import os
import random
import socket
import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterator

try:  # absent on Windows: the portable backend (grader.sandbox_portable) then sets no kernel limits
    import resource
except ImportError:  # pragma: no cover - exercised by tests/test_platforms.py's simulation
    resource = None  # type: ignore[assignment]

# kept in the environment of a session that may use CUDA (which device, in which order)
GPU_ENVIRONMENT = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")


def preload() -> None:
    """Imports done once in the zygote, before any fork (shared copy-on-write)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    try:
        import numpy  # noqa: F401  (students import it; loading it here keeps forks cheap)
    except ImportError:
        pass
    import grader.probes

    grader.probes.load_all()


# --------------------------------------------------------------------------- child


def _limit(which: int, value: int) -> None:
    if resource is None:
        return
    try:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


def status_bytes(field: str, pid: int | str = "self") -> int | None:
    """A size field of /proc/<pid>/status (``VmSize:``, ``VmRSS:``, ``VmHWM:``) in bytes; None without
    /proc (macOS, a container that hides it) or once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _report_setup_failure(channel: int | socket.socket, exc: BaseException) -> None:
    try:
        from grader import protocol, wire

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
        conn = channel if isinstance(channel, socket.socket) else socket.socket(fileno=channel)
        wire.send_frame(conn, wire.dumps({"ok": False, "phase": "import", "kind": protocol.GRADER_FAULT,
                                          "type": type(exc).__name__,
                                          "message": f"the sandbox could not be set up: {type(exc).__name__}: {exc}",
                                          "traceback": text}))
    except BaseException:  # noqa: BLE001 - the parent then sees the exit status alone
        pass


def _student_traceback(exc: BaseException, code_dir: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(code_dir)]
    lines = traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).replace(code_dir.rstrip("/") + "/", "")[-4000:]


def _error_reply(exc: BaseException, code_dir: str) -> dict[str, Any]:
    from grader import protocol

    try:
        message = str(exc)[:2000]
    except Exception:  # noqa: BLE001
        message = "<exception whose message cannot be printed>"
    kind = protocol.EXCEPTION
    if isinstance(exc, SystemExit):
        kind = protocol.EXIT
        message = repr(exc.code)[:200]
    elif isinstance(exc, MemoryError) or "can't allocate memory" in message or "DefaultCPUAllocator" in message:
        kind = protocol.MEMORY
    elif isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        kind = protocol.FILE_SIZE
    elif isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        kind = protocol.DISK_FULL
    elif isinstance(exc, RecursionError):
        kind = protocol.RECURSION
    return {"ok": False, "kind": kind, "type": type(exc).__qualname__, "message": message,
            "traceback": _student_traceback(exc, code_dir)}


def _seed(seed: int) -> None:
    random.seed(seed)
    import torch

    torch.manual_seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.random.seed(seed % (2**32))
        except Exception:  # noqa: BLE001
            pass


def _send(conn: socket.socket, obj: Any) -> None:
    from grader import wire

    try:
        payload = wire.dumps(obj)
    except Exception as exc:  # noqa: BLE001 - unpicklable data inside plain containers
        payload = wire.dumps({"ok": False, "kind": "exception", "type": "ValueError",
                              "message": f"the returned value cannot be sent to the grader: {exc}"[:500],
                              "traceback": ""})
    wire.send_frame(conn, payload)


_GRADER_ERRORS = {"TypeError": TypeError, "ValueError": ValueError}


def _grader_function(link: tuple[socket.socket, threading.Lock, Any], index: int) -> Any:
    """The stand-in for a ``wire.Callback``: each call is answered by the parent. ``link`` is the
    connection, its lock and the number of the request that brought the stand-in (the parent
    refuses stand-ins kept from an earlier request)."""
    from grader import wire

    conn, lock, request = link

    def grader_function(*args: Any, **kwargs: Any) -> Any:
        with lock:  # one call at a time on the connection, whatever threads the student starts
            _send(conn, {"op": "callback", "index": index, "request": request, "args": wire.to_wire(args),
                         "kwargs": wire.to_wire(kwargs)})
            data = wire.recv_frame(conn)
        if data is None:
            os._exit(0)  # the grader has gone
        answer = wire.loads(data)
        if answer.get("ok"):
            return answer["value"]
        raise _GRADER_ERRORS.get(answer.get("type"), RuntimeError)(answer.get("message", ""))

    return grader_function


def _resolve(value: Any, module: Any, fds: list[int], link: tuple[socket.socket, threading.Lock, Any],
             watched: list[Any] | None = None) -> Any:
    """The parent's markers made real: module attributes, tensors shared with the parent (or, where
    no memory can be shared, sent by value and sent back after the call: ``watched``), and the
    parent's functions (callbacks) and objects made of them."""
    from grader import protocol

    t = type(value)
    if t is dict:
        marker = protocol.argument_marker(value)
        if marker == protocol.ATTR:
            return getattr(module, value[protocol.ATTR])
        if marker == protocol.WATCHED and watched is not None:
            tensor = value["tensor"].clone()
            watched.append(tensor)
            return tensor
        if marker == protocol.SHARED:
            from grader import wire

            fd, fds[value[protocol.SHARED]] = fds[value[protocol.SHARED]], -1
            return wire.shared_tensor(fd, value["dtype"], value["shape"])
        if marker == protocol.CALLBACK:
            return _grader_function(link, int(value[protocol.CALLBACK]))
        if marker == protocol.CALLBACK_OBJECT:
            methods = {name: staticmethod(_grader_function(link, int(i))) for name, i in value["methods"].items()}
            return type(str(value[protocol.CALLBACK_OBJECT]), (), {"__module__": "grader", **methods})()
        return {k: _resolve(v, module, fds, link, watched) for k, v in value.items()}
    if t in (list, tuple):
        items = [_resolve(v, module, fds, link, watched) for v in value]
        return items if t is list else tuple(items)
    return value


def _serve(conn: socket.socket, request: dict[str, Any]) -> None:
    from grader import protocol, wire

    code_dir = request["code_dir"]
    module_name = request["module"]
    sys.setrecursionlimit(max(1000, int(request.get("recursion_limit", 3000))))
    _seed(int(request.get("seed", 0)))
    try:
        # no module: a session that runs only the grader's own probes (a calibration next to no student code)
        module = importlib.import_module(module_name) if module_name else None
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
        reply = _error_reply(exc, code_dir)
        reply["phase"] = "import"
        _flush()
        _send(conn, reply)
        return
    _flush()
    _send(conn, {"ok": True, "phase": "import", "filtered": bool(request.get("filtered"))})
    import grader.probes

    staged: dict[str, tuple[tuple[Any, ...], Any]] = {}  # name -> (arguments already on their device, device)
    staged_sets: set[str] = set()  # staged names that hold several argument sets
    kept: list[Any] = []  # results of the last timed call made with keep=True
    lock = threading.Lock()  # the connection, shared with the stand-ins of the grader's functions
    carries_fds = not request.get("portable")  # a TCP connection (portable backend) carries no descriptors
    while True:
        fds: list[int] = []
        watched: list[Any] = []  # Watched inputs sent by value: sent back after the call, whatever it did
        data = wire.recv_frame(conn, fds=fds if carries_fds else None)
        if data is None:
            return
        msg = wire.loads(data)
        op = msg.get("op")
        try:
            _seed(int(msg.get("seed", 0)))
            try:
                link = (conn, lock, msg.get("request"))
                args = _resolve(msg.get("args", ()), module, fds, link, watched)
                kwargs = _resolve(msg.get("kwargs", {}), module, fds, link, watched)
            finally:
                for fd in fds:  # sent but not (or not yet) mapped
                    if fd >= 0:
                        os.close(fd)
            device = None
            sets: list[Any] | None = None  # argument sets: repetition i uses set (offset + i) mod len(sets)
            if msg.get("staged") is not None:
                args, device = staged[str(msg["staged"])]
                if str(msg["staged"]) in staged_sets:
                    sets, args = list(args), ()
            if op == "stage":
                device = _device(str(msg["device"]))
                name = str(msg["name"])
                if msg.get("sets"):
                    staged[name] = (tuple(_to_device(tuple(a), device) for a in args), device)
                    staged_sets.add(name)
                else:
                    staged[name] = (_to_device(tuple(args), device), device)
                    staged_sets.discard(name)
                _synchronize(device)
                _flush()
                with lock:
                    _send(conn, {"ok": True, "value": str(device)})
                continue
            if op == "kept":  # already the grader's data (see below)
                done, kept = kept, []
                _flush()
                with lock:
                    _send(conn, {"ok": True, "value": done})
                continue
            fn: Callable[..., Any]
            if op == "call":
                target: Any = module
                for part in str(msg["func"]).split("."):
                    target = getattr(target, part)
                fn = target
            elif op == "probe":
                try:
                    probe = grader.probes.get(str(msg["probe"]))
                except KeyError:  # the grader asked for a probe it does not have: its bug, not the student's
                    _flush()
                    with lock:
                        _send(conn, {"ok": False, "kind": protocol.GRADER_FAULT, "type": "KeyError",
                                     "message": f"no probe named {msg['probe']!r}", "traceback": ""})
                    continue

                def run_probe(*a: Any, **k: Any) -> Any:
                    return probe(module, *a, **k)
                fn = run_probe
            else:
                raise ValueError(f"unknown operation {op!r}")
            repeat = int(msg.get("repeat", 1))
            keep = bool(msg.get("keep"))
            offset = int(msg.get("offset", 0))
            result = None
            kept = []
            import torch

            off = not msg.get("grad", True)
            value: Any = None
            t0 = time.process_time()
            # a part that forbids autograd calls with it off, and with backward passes refused in every
            # thread: a loss that needs autograd fails. What the call returns becomes the grader's own
            # data before either is lifted and before the call's time is read: work the student's code
            # defers (to a thread, or to hooks on what it returned) cannot escape the timing or use autograd
            with torch.no_grad() if off else contextlib.nullcontext(), _backward_refused(off):
                for i in range(repeat):
                    if sets is not None:
                        result = fn(*sets[(offset + i) % len(sets)], **kwargs)
                    else:
                        result = fn(*args, **kwargs)
                    if keep:  # a copy, made now: read back by a later, untimed "kept" request
                        kept.append(wire.to_wire(result, snapshot=True))
                if device is not None:
                    _synchronize(device)  # queued device work belongs to the call being timed
                if msg.get("want_value", True):
                    value = wire.to_wire(result, snapshot=True)
            elapsed = time.process_time() - t0
            reply = {"ok": True, "value": value, "child_cpu": elapsed}
        except BaseException as exc:  # noqa: BLE001
            reply = _error_reply(exc, code_dir)
            if op == "probe" and _probe_fault(exc, code_dir):
                reply = {"ok": False, "kind": protocol.GRADER_FAULT, "type": type(exc).__qualname__,
                         "message": f"the probe {msg.get('probe')!r} failed: {reply['message']}",
                         "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]}
        if watched:
            reply["watched"] = [wire.compact(t.detach()) for t in watched]
        _flush()
        with lock:
            _send(conn, reply)


class _RefusingEngine:
    """Stands in for autograd's engine while a call that forbids autograd runs. Grad mode is per thread,
    the engine one per process: with it replaced, no thread of the student's can run a backward pass
    (``.backward()``, ``torch.autograd.grad``, ``torch.func``...) during the call."""

    MESSAGE = ("backward pass refused: the grader runs this function with autograd switched off (torch.no_grad(), "
               "and no backward pass in any thread)")

    def run_backward(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(self.MESSAGE)

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(self.MESSAGE)


@contextlib.contextmanager
def _backward_refused(refuse: bool) -> Iterator[None]:
    if not refuse:
        yield
        return
    from torch.autograd.variable import Variable

    engine = Variable._execution_engine
    Variable._execution_engine = _RefusingEngine()  # type: ignore[assignment]
    try:
        yield
    finally:
        Variable._execution_engine = engine


# Exceptions that only the grader's own code can cause when no frame of the student's code is
# involved: a name or import that does not exist in a probe, a probe called with arguments it does
# not take. Anything else a probe raises may come from what the student's code returned (a probe
# reading the shape of a None, say), and stays the student's, with its message.
_GRADER_ONLY = (NameError, ImportError, SyntaxError)


def _probe_fault(exc: BaseException, code_dir: str) -> bool:
    """Whether an exception out of a probe is the probe's own bug (a grader error), not the student's."""
    frames = traceback.extract_tb(exc.__traceback__)
    if any(f.filename.startswith(code_dir) for f in frames):
        return False
    if isinstance(exc, _GRADER_ONLY):
        return True
    # a TypeError raised by the call of the probe itself (its innermost frame is the caller's): the
    # grader asked for it with arguments it does not take
    return isinstance(exc, TypeError) and bool(frames) and frames[-1].name == "run_probe"


def _device(name: str) -> Any:
    import torch

    device = torch.device(name)
    if device.type == "cuda":
        torch.cuda.init()  # a clear error here when CUDA cannot start in the sandbox
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    return device


def _to_device(value: Any, device: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.to(device)
    if type(value) in (list, tuple):
        items = [_to_device(v, device) for v in value]
        return items if type(value) is list else tuple(items)
    if type(value) is dict:
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


def _synchronize(device: Any) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass


# --------------------------------------------------------------------------- portable backend


def portable_main(address: str) -> None:
    """A child of the portable backend (see :mod:`grader.sandbox_portable`): a fresh interpreter that
    imports torch, connects back to the parent over TCP on the loopback interface (proving itself
    with the token read from stdin), then waits for the one session it will serve."""
    host, port = address.rsplit(":", 1)
    token = sys.stdin.readline().strip()
    preload()  # before connecting: a connected child is a ready one, whose baseline memory the parent reads
    conn = socket.create_connection((host, int(port)))
    conn.sendall(token.encode() + b"\n")
    from grader import wire

    data = wire.recv_frame(conn)
    if data is None:
        return
    request = wire.loads(data)
    try:
        _set_up_portable(request)
    except BaseException as exc:  # noqa: BLE001 - reported as the grader's, then the child ends
        _report_setup_failure(conn, exc)
        os._exit(70)
    _serve(conn, request)


def _set_up_portable(request: dict[str, Any]) -> None:
    """What the portable child can do on any system: its own folder, the student's code first on
    the path, a clean environment for the student's code, and the kernel limits the system has."""
    workdir = str(request["workdir"])
    os.chdir(workdir)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(0, "r", closefd=False)
    if resource is not None:
        if sys.platform.startswith("linux"):  # elsewhere RLIMIT_AS is not enforced (macOS) or refused
            baseline = status_bytes("VmSize:")
            if baseline is not None and not request.get("gpu"):
                _limit(resource.RLIMIT_AS, baseline + int(request["memory_bytes"]))
        _limit(resource.RLIMIT_FSIZE, int(request["file_bytes"]))
        _limit(resource.RLIMIT_CORE, 0)
        _limit(resource.RLIMIT_CPU, int(request["cpu_seconds"]))
    for name in ("TMPDIR", "TEMP", "TMP", "HOME"):
        os.environ[name] = workdir
    os.environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"})
    _student_path(str(request["code_dir"]), [])


def _student_path(code_dir: str, hidden: list[str]) -> None:
    """The student's code first on the import path, then the interpreter's own absolute entries (never
    the working folder, a copy of the code or a hidden path), and a neutral argv."""
    sys.path[:] = [code_dir] + [p for p in sys.path if p and os.path.isabs(p) and not p.startswith(code_dir)
                                and p != os.getcwd() and p not in hidden]
    sys.argv = ["student"]


if __name__ == "__main__":
    if sys.argv[1:2] != ["--portable"] or len(sys.argv) != 3:
        raise SystemExit("usage: python -m grader.sandbox_child --portable HOST:PORT "
                         "(the Linux backend's zygote is python -m grader.sandbox_zygote FD)")
    portable_main(sys.argv[2])
