"""What the sandbox tells the student about their code's fate, in one place: an import that failed,
a process that died (by a signal or an exit), a request that failed in the child."""
from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

from grader import hints, protocol
from grader.errors import StudentCrash, StudentException

if TYPE_CHECKING:
    from grader.sandbox import Limits


def import_message(module: str, reply: dict[str, Any]) -> str:
    """Why the student's module could not be imported, from the child's import reply."""
    kind, etype, msg, tb = reply.get("kind"), reply.get("type"), reply.get("message"), reply.get("traceback", "")
    name = f"{module}.py"
    if kind == protocol.EXIT:
        return (f"{name} calls exit() while being imported (exit code {msg}). Remove exit()/sys.exit() calls "
                "from the module: the grader imports it to call your functions.")
    if etype == "SyntaxError" or etype == "IndentationError" or etype == "TabError":
        return f"{name} has a syntax error, so none of its functions can be graded:\n{tb.strip()}"
    if etype in ("ModuleNotFoundError", "ImportError"):
        return (f"{name} could not be imported: {etype}: {msg}. Only torch, numpy and the Python standard "
                f"library are available to your code.\n{tb.strip()}")
    return f"{name} raised {etype} while being imported: {msg}\n{tb.strip()}"


def signal_message(sig: int, limits: Limits) -> str:
    """How the process running the student's code ended, killed by signal ``sig``."""
    texts = {
        "SIGSEGV": "crashed with a segmentation fault (invalid memory access, e.g. through ctypes).",
        "SIGABRT": "aborted (os.abort() or a failed low-level assertion).",
        "SIGXCPU": f"used more than {limits.cpu_seconds} s of CPU time and was stopped.",
        "SIGXFSZ": f"tried to write a file larger than {limits.file_mb} MB and was stopped.",
        "SIGKILL": "was killed (most likely it used too much memory).",
        "SIGBUS": "crashed with a bus error.",
        "SIGFPE": "crashed with a floating-point exception.",
    }
    try:
        name = signal.Signals(sig).name
    except ValueError:
        return f"was killed by signal {sig}."
    return texts.get(name, f"was killed by signal {name}.")


def exit_message(code: int) -> str:
    return (f"ended the process (exit code {code}), e.g. through os._exit(). Do not exit the interpreter "
            "from your code.")


def call_error(reply: dict[str, Any], what: str, *, limits: Limits, private_tmp: bool, grading_device: str, autograd_off: bool,
               output: str) -> Exception:
    """The exception a failed request raises in the grader: a StudentCodeError with a message written
    for the student, or (the grader's own fault in the child) a RuntimeError the runner reports as a
    grader error."""
    kind, etype = reply.get("kind"), str(reply.get("type"))
    msg, tb = str(reply.get("message", "")), str(reply.get("traceback", "")).strip()
    if kind == protocol.GRADER_FAULT:  # not a StudentCodeError: the runner reports a grader error
        return RuntimeError(f"{what}: the grader's request failed in the sandbox: {msg}")
    if kind == protocol.EXIT:
        return StudentCrash(f"{what} called exit()/sys.exit({msg}). Functions must return their result; "
                            "remove the exit call.", output=output)
    if kind == protocol.MEMORY:
        return StudentCrash(f"{what} ran out of memory (limit about {limits.memory_mb} MB above the "
                            "baseline). Avoid building huge intermediate tensors.", output=output)
    if kind == protocol.FILE_SIZE:
        return StudentCrash(f"{what} tried to write a file larger than {limits.file_mb} MB ({etype}: "
                            f"{msg}). Do not write large files from your code.", output=output)
    if kind == protocol.DISK_FULL:
        room = f"{limits.tmp_mb} MB in all" if private_tmp else "the disk is full"
        return StudentCrash(f"{what} ran out of space for files ({room}; {etype}: {msg}). Do not write large "
                            "or many files from your code.", output=output)
    if kind == protocol.RECURSION:
        return StudentException(f"{what} raised RecursionError (unbounded recursion?).\n{tb}",
                                exc_type=etype, traceback=tb, output=output)
    if etype == "NotImplementedError":
        return StudentException(f"{what}: not implemented yet (it raised NotImplementedError: {msg}).",
                                exc_type=etype, traceback=tb, output=output)
    hint = hints.device_or_dtype_hint(msg, tb, grading_device=grading_device, autograd_off=autograd_off)
    return StudentException(f"{what} raised {etype}: {msg}\n{tb}" + (f"\n{hint}" if hint else ""),
                            exc_type=etype, traceback=tb, output=output)
