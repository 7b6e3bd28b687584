"""What crosses the sandbox boundary, in both directions, stated in one place.

Transport: :mod:`grader.wire` frames (an 8-byte length, then a ``torch.save`` payload that the
parent only ever reads with ``weights_only=True``). Over the frames:

Parent -> zygote (Linux backend) or child (portable backend), once per session
    :class:`SpawnRequest`; the child answers with an :class:`ImportReply` once it has imported
    the student's module (or failed to).

Parent -> child, one at a time
    :class:`CallRequest` (``op`` "call"), :class:`ProbeRequest` ("probe"), :class:`StageRequest`
    ("stage"), :class:`KeptRequest` ("kept"); each is answered by exactly one :class:`Reply`,
    before which the child may send any number of :class:`CallbackRequest` (student code calling a
    grader function it was given), each answered by a :class:`CallbackAnswer`.

Markers inside arguments (parent -> child), made by :mod:`grader.wire`, resolved by the child
    (:func:`argument_marker` tells them apart): :data:`ATTR` (an attribute of the student's module),
    :data:`SHARED` (a tensor in memory shared with the parent: the n-th descriptor sent with the
    request), :data:`WATCHED` (the same sent by value, returned in the reply's ``watched``),
    :data:`CALLBACK` and :data:`CALLBACK_OBJECT` (stand-ins for the parent's functions).

Markers inside replies (child -> parent), made by ``wire.to_wire``, read by ``wire.from_wire``:
    :data:`OPAQUE` (a value that is not plain data, described), :data:`NUMPY` (an array, as a
    tensor), :data:`DTYPE` (a torch dtype), and :data:`ESCAPED_KEY` (a student's own dict key that
    starts with ``__``, so that no student data can pass for a marker).

An error :class:`Reply` has ``ok`` False and a ``kind`` from :data:`ERROR_KINDS`: every kind but
:data:`GRADER_FAULT` is the student's code's doing; :data:`GRADER_FAULT` is the grader's own
failure inside the child (a set-up that failed before student code ran, a probe it does not
have or a bug in one) and is reported as a grader error, never as the student's failure.
"""
from __future__ import annotations

from typing import Any, Literal, TypedDict

# ------------------------------------------------------------------ argument markers (parent -> child)
ATTR = "__attr__"
SHARED = "__shared__"
WATCHED = "__watched__"
CALLBACK = "__callback__"
CALLBACK_OBJECT = "__callback_object__"

# each marker is a dict with exactly these keys (a student's dict never reaches the child as an argument)
_ARGUMENT_KEYS = {
    ATTR: frozenset({ATTR}),
    SHARED: frozenset({SHARED, "dtype", "shape"}),
    WATCHED: frozenset({WATCHED, "tensor"}),
    CALLBACK: frozenset({CALLBACK}),
    CALLBACK_OBJECT: frozenset({CALLBACK_OBJECT, "methods"}),
}


def attr_marker(name: str) -> dict[str, Any]:
    return {ATTR: name}


def shared_marker(index: int, dtype: str, shape: list[int]) -> dict[str, Any]:
    return {SHARED: index, "dtype": dtype, "shape": shape}


def watched_marker(index: int, tensor: Any) -> dict[str, Any]:
    return {WATCHED: index, "tensor": tensor}


def callback_marker(index: int) -> dict[str, Any]:
    return {CALLBACK: index}


def callback_object_marker(type_name: str, methods: dict[str, int]) -> dict[str, Any]:
    return {CALLBACK_OBJECT: type_name, "methods": methods}


def argument_marker(value: dict[str, Any]) -> str | None:
    """Which argument marker ``value`` is (one of the constants above), or None for plain data."""
    keys = frozenset(value)
    return next((kind for kind, expected in _ARGUMENT_KEYS.items() if keys == expected), None)


# ------------------------------------------------------------------ value markers (child -> parent)
OPAQUE = "__opaque__"
NUMPY = "__numpy__"
DTYPE = "__dtype__"
ESCAPED_KEY = "__key__"


def opaque_marker(type_name: str, summary: str) -> dict[str, Any]:
    return {OPAQUE: type_name, "summary": summary}


def escape_key(key: Any) -> Any:
    """A student's dict key as it crosses: one that starts with ``__`` is escaped."""
    return ESCAPED_KEY + key if isinstance(key, str) and key.startswith("__") else key


def unescape_key(key: Any) -> Any:
    return key[len(ESCAPED_KEY):] if isinstance(key, str) and key.startswith(ESCAPED_KEY) else key


# ------------------------------------------------------------------ error kinds
EXCEPTION = "exception"      # the student's code raised (type, message, traceback of its own frames)
EXIT = "exit"                # it called exit() / sys.exit() (message: the exit code)
MEMORY = "memory"            # it ran out of memory under the session's limit
FILE_SIZE = "file_size"      # it wrote a file over the size limit
DISK_FULL = "disk_full"      # it filled the private /tmp (or the disk)
RECURSION = "recursion"      # RecursionError
GRADER_FAULT = "grader"      # the grader's own failure inside the child: a grader error
ERROR_KINDS = (EXCEPTION, EXIT, MEMORY, FILE_SIZE, DISK_FULL, RECURSION, GRADER_FAULT)

# ------------------------------------------------------------------ messages
Op = Literal["spawn", "call", "probe", "stage", "kept", "callback"]


class SpawnRequest(TypedDict, total=False):
    """One session: where the student's code is, who runs it and under which limits."""

    op: Literal["spawn"]
    module: str                 # the student's module ("" for a session that runs only probes)
    code_dir: str               # the read-only copy of the submission
    workdir: str                # the session's own writable folder
    seed: int
    uid: int | None             # Linux, as root: the session's own user id (and gid)
    gid: int | None
    isolate: bool               # Linux, as root: PID, network and IPC namespaces
    memory_bytes: int
    file_bytes: int
    cpu_seconds: int
    max_processes: int
    hidden_paths: list[str]     # taken off sys.path in the child
    tmp_bytes: int              # Linux, as root: the private tmpfs's size
    writable_dirs: list[str]    # Linux, as root: the other places anyone may write to, made private too
    writable_files: list[str]
    gpu: bool
    cpu_cgroup: str             # Linux: the control group's cgroup.procs the worker joins
    portable: bool              # the portable backend: no descriptors travel with frames


class _Invocation(TypedDict, total=False):
    args: Any                   # encoded with wire.encode_args (markers above)
    kwargs: Any
    seed: int
    request: int                # its number: callbacks name the request whose stand-ins they are
    staged: str | None          # run on arguments put in the child earlier by a "stage" request
    repeat: int
    offset: int


class CallRequest(_Invocation, total=False):
    op: Literal["call"]
    func: str                   # a dotted attribute path in the student's module
    want_value: bool
    keep: bool                  # keep every repetition's result for a later "kept" request
    grad: bool                  # False: run under torch.no_grad()


class ProbeRequest(_Invocation, total=False):
    op: Literal["probe"]
    probe: str                  # a grader.probes name, "part.function"


class StageRequest(TypedDict, total=False):
    op: Literal["stage"]
    name: str
    device: str
    sets: bool                  # args is a list of argument sets
    args: Any
    seed: int
    request: int


class KeptRequest(TypedDict, total=False):
    op: Literal["kept"]
    request: int


class CallbackRequest(TypedDict):
    """Child -> parent while a request runs: student code called the grader function ``index``."""

    op: Literal["callback"]
    index: int
    request: int
    args: Any
    kwargs: Any


class CallbackAnswer(TypedDict, total=False):
    ok: bool
    value: Any                  # ok: what the grader function returned (encoded)
    type: str                   # not ok: TypeError, ValueError or RuntimeError, raised in the student's code
    message: str


class Reply(TypedDict, total=False):
    """Child -> parent: the one answer to a request."""

    ok: bool
    value: Any                  # ok: the result, as wire.to_wire made it
    child_cpu: float            # ok: process time the child measured (a fallback clock only)
    watched: list[Any]          # ok or not: WATCHED arguments' contents after the call
    kind: str                   # not ok: one of ERROR_KINDS
    type: str
    message: str
    traceback: str              # the student's own frames (GRADER_FAULT: the grader's)


class ImportReply(Reply, total=False):
    phase: Literal["import"]
    filtered: bool              # the worker runs under the system-call filter


#: Any request the parent sends during a session.
Request = CallRequest | ProbeRequest | StageRequest | KeptRequest
