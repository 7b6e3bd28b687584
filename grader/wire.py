"""Values crossing the sandbox boundary.

Everything the parent and the sandboxed child exchange is a frame (8-byte length, then a
``torch.save`` payload). The parent only ever reads frames with ``weights_only=True``, so
a hostile child can send data but never objects with behaviour. Values that are not
plain data (a numpy array, a tensor subclass, an object with a custom ``__eq__``) are
replaced in the child by an :class:`Opaque` description, which the parent reports
("expected a torch.Tensor, got numpy.ndarray") instead of trusting.
"""
from __future__ import annotations

import io
import mmap
import os
import socket
import struct
import sys
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from grader import protocol

try:  # absent on Windows, where Watched tensors travel by value (see Watched)
    import fcntl
except ImportError:  # pragma: no cover - exercised by tests/test_platforms.py's simulation
    fcntl = None  # type: ignore[assignment]

HEADER = struct.Struct("!Q")
MAX_FRAME = 512 * 1024 * 1024
_PLAIN = (int, float, bool, str, bytes, type(None))
_MAX_DEPTH = 8
_MAX_ITEMS = 10_000


@dataclass(frozen=True)
class Opaque:
    """A value the child could not send as plain data; only its description crosses."""

    type_name: str
    summary: str

    def __str__(self) -> str:
        return f"{self.type_name} ({self.summary})" if self.summary else self.type_name


@dataclass(frozen=True)
class NumpyArray(Opaque):
    """A numeric numpy array the student returned. Checks that need a tensor treat it as Opaque
    ("return a torch.Tensor"); checks where any array-like will do (a search grid) read
    ``tensor``, its values as a CPU tensor."""

    tensor: torch.Tensor = field(default_factory=lambda: torch.zeros(0), compare=False, repr=False)


@dataclass(frozen=True)
class Attr:
    """An argument naming an attribute of the student's module (e.g. the class ``LinearSVM``)."""

    name: str


class Watched:
    """A tensor argument whose in-place changes the parent sees for itself.

    The child receives the tensor in memory it shares with the parent (a sealed memfd, passed
    with the request), so whether the student's code wrote into its input is read by the parent
    from that memory after the call, not reported by code running next to the student's. The
    memory's size is sealed: the child can write into it but never shrink it under the parent.
    Where no descriptors can be passed (the portable backend, see :mod:`grader.sandbox_portable`)
    the tensor travels by value and the child sends back what it holds after the call
    (:meth:`value_marker`, :meth:`receive`). Use it as an argument of ``call``/``probe``;
    afterwards ``modified()`` says whether any byte changed and ``current()`` is a copy of what
    the tensor holds now. CPU tensors only.
    """

    def __init__(self, tensor: torch.Tensor) -> None:
        t = tensor.detach()
        if t.device.type != "cpu" or type(t) is not torch.Tensor or t.layout != torch.strided:
            raise ValueError("Watched takes a dense CPU tensor")
        self.original = t.clone().contiguous()
        self.shape = tuple(t.shape)
        self.dtype = t.dtype
        self.nbytes = self.original.numel() * self.original.element_size()
        self.fd: int | None = None
        self._map: mmap.mmap | None = None
        self._view: torch.Tensor | None = None  # the shared memory's bytes, once shared

    def _share(self) -> None:
        """Put the tensor in memory shared with the child (made on first use)."""
        if self._view is None and self.nbytes:
            self.fd = _shared_memory_fd(self.nbytes)
            self._map = mmap.mmap(self.fd, self.nbytes, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            self._view = torch.frombuffer(self._map, dtype=torch.uint8, count=self.nbytes)
            self._view.copy_(self.original.reshape(-1).view(torch.uint8))

    def marker(self, fds: list[int]) -> Any:
        """What crosses in the request: a marker naming the fd (or the tensor itself when empty)."""
        self._share()
        if self.fd is None:
            return self.original.clone()
        fds.append(self.fd)
        return protocol.shared_marker(len(fds) - 1, str(self.dtype).removeprefix("torch."), list(self.shape))

    def value_marker(self, watched: list["Watched"]) -> Any:
        """What crosses where no memory is shared: the tensor itself, to be sent back after the call
        in the order of ``watched`` (see :meth:`receive`)."""
        watched.append(self)
        return protocol.watched_marker(len(watched) - 1, self.original.clone())

    def receive(self, value: Any) -> None:
        """What the child's copy holds after the call (read like any reply: a tensor of the same dtype
        and shape is kept, anything else is ignored as not written)."""
        if type(value) is not torch.Tensor or value.dtype != self.dtype or tuple(value.shape) != self.shape:
            return
        self._view = value.detach().contiguous().reshape(-1).view(torch.uint8).clone() if self.nbytes else None

    def current(self) -> torch.Tensor:
        """A copy of the tensor as the shared memory holds it now."""
        if self._view is None:
            return self.original.clone()
        return self._view.clone().view(self.dtype).reshape(self.shape)

    def modified(self) -> bool:
        """Whether any byte differs from the tensor given (NaNs compare as bytes, so they count)."""
        if self._view is None:
            return False
        return not torch.equal(self._view, self.original.reshape(-1).view(torch.uint8))

    def close(self) -> None:
        self._view = None
        if self._map is not None:
            self._map.close()
            self._map = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class Callback:
    """A function of the grader's that student code calls as if it were its own.

    The child receives a stand-in; each call crosses back to the parent, which runs ``fn`` on
    the arguments (plain data, read like any reply) and sends its result back. What the calls
    were (how many, with what) is therefore seen by the parent itself, e.g. a mocked loss
    function that counts how often a training loop calls it. ``fn`` must treat its arguments
    as untrusted; an exception it raises is raised in the student's code (its type when it is
    a TypeError or ValueError, else RuntimeError) with its message.
    """

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def marker(self, callbacks: list[Any]) -> Any:
        callbacks.append(self.fn)
        return protocol.callback_marker(len(callbacks) - 1)


class CallbackObject:
    """An object whose methods are :class:`Callback` functions (a spy classifier, say).

    The child builds an instance of a class named ``type_name``; after the call, a returned
    value that is that object reaches the parent as ``Opaque("grader.<type_name>")``.
    """

    def __init__(self, type_name: str, **methods: Any) -> None:
        self.type_name = type_name
        self.methods = methods

    def marker(self, callbacks: list[Any]) -> Any:
        return protocol.callback_object_marker(
            self.type_name, {name: Callback(fn).marker(callbacks)[protocol.CALLBACK] for name, fn in self.methods.items()})


class WatchedInputs:
    """Named tensors passed as :class:`Watched` arguments; a context manager that frees them.

    ``args()`` gives them in order for ``call``/``probe``; after the call, ``written()`` names
    the inputs the student's code wrote into, read by the parent from the shared memory.
    """

    def __init__(self, **tensors: torch.Tensor) -> None:
        self.watched = {name: Watched(t) for name, t in tensors.items()}

    def __enter__(self) -> "WatchedInputs":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getitem__(self, name: str) -> Watched:
        return self.watched[name]

    def args(self) -> tuple[Watched, ...]:
        return tuple(self.watched.values())

    def written(self) -> dict[str, str]:
        """Each input written into, with how many of its values changed (NaN kept as NaN is unchanged)."""
        out = {}
        for name, w in self.watched.items():
            if w.modified():
                before, after = w.original, w.current()
                same = after == before
                if before.is_floating_point() or before.is_complex():
                    same |= after.isnan() & before.isnan()
                n = int((~same).sum())
                out[name] = f"{n} of {before.numel()} values changed" if n else "values equal, bits changed"
        return out

    def close(self) -> None:
        for w in self.watched.values():
            w.close()


def _shared_memory_fd(nbytes: int) -> int:
    """A descriptor of ``nbytes`` of memory to share with the child: a memfd whose size is sealed
    (Linux), else an unlinked temporary file (systems without memfd, where the grader offers no
    security boundary anyway)."""
    if hasattr(os, "memfd_create") and fcntl is not None and hasattr(fcntl, "F_ADD_SEALS"):
        fd = os.memfd_create("grader-watched", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        os.ftruncate(fd, nbytes)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
        return fd
    import tempfile

    with tempfile.TemporaryFile() as f:
        fd = os.dup(f.fileno())
    os.set_inheritable(fd, False)
    os.ftruncate(fd, nbytes)
    return fd


def shared_tensor(fd: int, dtype: str, shape: list[int]) -> torch.Tensor:
    """Child side: the tensor behind a ``Watched`` marker, mapped from its fd (which is closed)."""
    try:
        size = os.fstat(fd).st_size
        mapped = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)
    raw = torch.frombuffer(mapped, dtype=torch.uint8, count=size)
    return raw.view(getattr(torch, dtype)).reshape(shape)


def _type_name(x: object) -> str:
    t = type(x)
    mod = getattr(t, "__module__", "") or ""
    name = getattr(t, "__qualname__", getattr(t, "__name__", "object"))
    return name if mod in ("builtins", "") else f"{mod}.{name}"


def _layout_name(t: torch.Tensor) -> str:
    try:
        if t.device.type == "meta":
            return "on device meta (no data)"
        if t.is_quantized:
            return "quantized"
        if getattr(t, "is_nested", False):
            return "nested"
        return str(t.layout).removeprefix("torch.").replace("_", " ")
    except Exception:  # noqa: BLE001
        return "unusual"


def _tensor_kind(t: torch.Tensor) -> str:
    name = _layout_name(t)
    return f"tensor {name}" if name.startswith("on device") else f"{name} tensor"


def _shape_summary(t: torch.Tensor) -> str:
    try:
        return f"shape {tuple(t.shape)}"
    except Exception:  # noqa: BLE001
        return ""


def _plain_tensor(t: Any) -> torch.Tensor | None:
    """``t`` when it is an ordinary dense tensor holding data the parent can compare; None otherwise."""
    try:
        if type(t) is not torch.Tensor or t.layout != torch.strided or t.is_quantized \
                or getattr(t, "is_nested", False) or t.device.type == "meta":
            return None
    except Exception:  # noqa: BLE001
        return None
    return t


def compact(t: torch.Tensor, *, snapshot: bool = False) -> torch.Tensor:
    """``t`` alone: torch.save writes a view's whole storage, so views of big tensors are copied,
    and so are expanded views (zero strides), which the parent refuses as they are. With
    ``snapshot``, always a copy: what is sent later is what ``t`` held now. Only torch's own methods
    are called (through the class), never attributes ``t`` may carry."""
    T = torch.Tensor
    t = T.detach(t)  # a new tensor object: nothing set on the student's object is consulted from here on
    if snapshot or (t.layout == torch.strided and (T.untyped_storage(t).nbytes() != T.numel(t) * T.element_size(t)
                                                   or not _fits_storage(t))):
        return T.clone(t, memory_format=torch.contiguous_format)
    return t


def _shadowing(t: torch.Tensor) -> list[str]:
    """Attributes set on the tensor object itself that stand in for torch's own (``detach``,
    ``__getstate__``, ``__reduce_ex__``...): with them, code of the student's would run when the
    grader reads or sends the tensor, after the call has returned."""
    try:
        own = list(vars(t))
    except TypeError:
        return []
    return [name for name in own if name.startswith("__") or hasattr(torch.Tensor, name)]


_NUMPY_MAX_ELEMENTS = 50_000_000


def _numpy_to_wire(value: Any) -> Any:
    """numpy values students return where a number or an array-like is fine: scalars become Python
    numbers, numeric arrays a marked tensor (``NumpyArray`` in the parent); None for anything else.
    Only numpy's own exact types are read (a subclass could run code)."""
    np = sys.modules.get("numpy")
    if np is None:
        return None
    t = type(value)
    if t in (np.bool_,):
        return bool(value)
    if t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64):
        return int(value)
    if t in (np.float16, np.float32, np.float64):
        return float(value)
    if t is np.ndarray and value.dtype.kind in "biuf" and value.size <= _NUMPY_MAX_ELEMENTS \
            and value.dtype.name in ("bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32",
                                     "float64"):
        return {protocol.NUMPY: torch.from_numpy(np.ascontiguousarray(value).copy()),
                "summary": f"shape {tuple(value.shape)}, dtype {value.dtype.name}"}
    return None


def to_wire(value: Any, depth: int = 0, *, snapshot: bool = False) -> Any:
    """Child side: turn a student's return value into plain data (tensors, numbers, containers) made
    by the grader. With ``snapshot``, every tensor is copied, so that nothing the student's code does
    later (a thread writing into the storage it returned) changes what the grader reads."""
    if depth > _MAX_DEPTH:
        return protocol.opaque_marker("nested structure", "nested too deeply")
    t = type(value)
    if t is torch.Tensor:
        shadowing = _shadowing(value)
        if shadowing:
            return protocol.opaque_marker(f"tensor with attributes that replace torch's own ({', '.join(shadowing[:3])})",
                                          "return plain tensors")
        plain = _plain_tensor(value)
        if plain is not None:
            return compact(plain, snapshot=snapshot)
        return protocol.opaque_marker(_tensor_kind(value), _shape_summary(value))
    if isinstance(value, torch.Tensor):
        try:
            summary = f"shape {tuple(value.shape)}"
        except Exception:  # noqa: BLE001 - hostile objects may raise anything
            summary = ""
        return protocol.opaque_marker(f"tensor subclass {_type_name(value)}", summary)
    if t in _PLAIN:
        return value
    numpy_value = _numpy_to_wire(value)
    if numpy_value is not None:
        return numpy_value
    if t in (list, tuple):
        if len(value) > _MAX_ITEMS:
            return protocol.opaque_marker(_type_name(value), f"{len(value)} items (too many to send)")
        items = [to_wire(v, depth + 1, snapshot=snapshot) for v in value]
        return items if t is list else tuple(items)
    if t is dict:
        if len(value) > _MAX_ITEMS:
            return protocol.opaque_marker("dict", f"{len(value)} items (too many to send)")
        return {protocol.escape_key(k) if type(k) in (str, int) else str(k): to_wire(v, depth + 1, snapshot=snapshot)
                for k, v in value.items()}
    if t is torch.dtype:
        return {protocol.DTYPE: str(value)}
    summary = ""
    shape = getattr(value, "shape", None)
    if type(shape) is tuple:
        summary = f"shape {shape}"
    dtype = getattr(value, "dtype", None)
    if dtype is not None and type(getattr(dtype, "name", None)) is str:
        summary += f", dtype {dtype.name}"
    return protocol.opaque_marker(_type_name(value), summary.strip(", "))


class ReplyTooLarge(Exception):
    """A reply whose decoded form would exceed the parent's budgets (nodes, depth, tensor bytes)."""


MAX_REPLY_NODES = 200_000          # containers and values visited while decoding one reply
MAX_REPLY_TENSOR_BYTES = 1 << 30   # bytes of tensor data one reply may reference, counted per reference


def from_wire(value: Any, *, max_nodes: int = MAX_REPLY_NODES,
              max_tensor_bytes: int = MAX_REPLY_TENSOR_BYTES) -> Any:
    """Parent side: restore Opaque markers after a ``weights_only`` load.

    A hostile child controls the bytes: a small pickle can hold shared references that a walk
    would expand into an exponential tree, or a tensor whose strides repeat four bytes a billion
    times. Decoding is bounded: at most ``max_nodes`` values and ``_MAX_DEPTH`` levels, and at most
    ``max_tensor_bytes`` of tensor data counted every time a tensor is referenced; beyond that
    :class:`ReplyTooLarge`. A tensor that claims more elements than its storage holds (zero or
    overlapping strides) arrives as an :class:`Opaque` description, never as data to compute on.
    """
    budget = [max_nodes, max_tensor_bytes]

    def walk(v: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise ReplyTooLarge(f"more than {max_nodes} values")
        if depth > _MAX_DEPTH + 2:
            raise ReplyTooLarge(f"nested more than {_MAX_DEPTH} levels deep")
        t = type(v)
        if isinstance(v, torch.Tensor):
            if _plain_tensor(v) is None or not _fits_storage(v):
                return Opaque(_tensor_kind(v), _shape_summary(v))
            budget[1] -= v.numel() * v.element_size()
            if budget[1] < 0:
                raise ReplyTooLarge(f"more than {max_tensor_bytes >> 20} MB of tensor data")
            return v
        if t is dict:
            if protocol.OPAQUE in v:
                return Opaque(str(v[protocol.OPAQUE])[:200], str(v.get("summary", ""))[:200])
            if protocol.DTYPE in v:
                return Opaque("torch.dtype", str(v[protocol.DTYPE])[:100])
            if protocol.NUMPY in v and isinstance(v[protocol.NUMPY], torch.Tensor):
                arr = walk(v[protocol.NUMPY], depth + 1)
                if isinstance(arr, torch.Tensor):
                    return NumpyArray("numpy.ndarray", str(v.get("summary", ""))[:200], arr)
                return arr
            return {protocol.unescape_key(k): walk(x, depth + 1) for k, x in v.items()}
        if t is list:
            return [walk(x, depth + 1) for x in v]
        if t is tuple:
            return tuple(walk(x, depth + 1) for x in v)
        return v

    return walk(value, 0)


def _fits_storage(t: torch.Tensor) -> bool:
    """Every element of ``t`` has its own bytes in its storage (no expanded or overlapping strides)."""
    try:
        if t.numel() <= 1:
            return True
        if any(st <= 0 for st, sz in zip(t.stride(), t.shape) if sz > 1):
            return False
        extent = 1 + sum((sz - 1) * st for st, sz in zip(t.stride(), t.shape))
        if t.numel() > extent or (t.storage_offset() + extent) * t.element_size() > t.untyped_storage().nbytes():
            return False
        # distinct elements: with strides sorted, each must step over everything below it
        span = 1
        for st, sz in sorted((st, sz) for st, sz in zip(t.stride(), t.shape) if sz > 1):
            if st < span:
                return False
            span = st * sz
        return True
    except Exception:  # noqa: BLE001
        return False


def encode_args(value: Any, fds: list[int] | None = None, callbacks: list[Any] | None = None,
                watched: list[Watched] | None = None) -> Any:
    """Parent side: arguments for the child. ``Attr``, ``Watched``, ``Callback`` and
    ``CallbackObject`` become markers the child resolves; a ``Watched`` tensor's fd is appended
    to ``fds`` (sent with the request), or with a list as ``watched`` the tensor goes by value and
    is appended there (see :meth:`Watched.value_marker`); a callback's function goes to
    ``callbacks`` (served by the parent while the request runs)."""
    if isinstance(value, Attr):
        return protocol.attr_marker(value.name)
    if isinstance(value, Watched):
        if watched is not None:
            return value.value_marker(watched)
        if fds is None:
            raise ValueError("a Watched argument needs a request that carries file descriptors")
        return value.marker(fds)
    if isinstance(value, (Callback, CallbackObject)):
        if callbacks is None:
            raise ValueError("a Callback argument needs a request whose callbacks the parent serves")
        return value.marker(callbacks)
    if type(value) is torch.Tensor:
        return compact(value)
    if type(value) in (list, tuple):
        items = [encode_args(v, fds, callbacks, watched) for v in value]
        return items if type(value) is list else tuple(items)
    if type(value) is dict:
        return {k: encode_args(v, fds, callbacks, watched) for k, v in value.items()}
    return value


def dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


MAX_PICKLE = 8 * 1024 * 1024  # the non-tensor part of a frame: containers, numbers, strings


def check_archive(source: bytes | str | os.PathLike[str], *, max_bytes: int, max_pickle: int = MAX_PICKLE) -> None:
    """Refuse a ``torch.save`` archive that would inflate when read: every entry must be stored
    uncompressed (as ``torch.save`` writes them), so what is read is what is on disk, and the
    entries' sizes must add up to at most ``max_bytes`` (the pickled structure to ``max_pickle``).
    Raises ValueError for what is not such an archive, FrameTooLarge for one too large."""
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        raise ValueError(f"not a torch.save archive ({exc})") from None
    packed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if packed:
        raise FrameTooLarge(f"compressed entries ({packed[0]}), which torch.save never writes")
    pickled = sum(i.file_size for i in infos if i.filename.endswith(".pkl"))
    if pickled > max_pickle:
        raise FrameTooLarge(f"{pickled} bytes of nested containers")
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        raise FrameTooLarge(f"{total} bytes once read (at most {max_bytes} allowed)")


def loads(data: bytes, max_pickle: int = MAX_PICKLE) -> Any:
    """Read a frame with ``weights_only`` (data only, never code).

    The pickled structure around the tensors is bounded too: a hostile child could
    otherwise pack millions of small items in a frame and blow up the reader's memory;
    and no entry may be compressed, so a frame never inflates beyond its own size.
    """
    check_archive(data, max_bytes=len(data), max_pickle=max_pickle)
    return torch.load(io.BytesIO(data), weights_only=True, map_location=None)


def load_saved_model(path: str | os.PathLike[str], *, max_bytes: int) -> Any:
    """A student's saved ``.pt`` file, read as data only and never larger in memory than on disk
    (see :func:`check_archive`; ``max_bytes`` bounds the file itself)."""
    size = os.path.getsize(path)
    if size > max_bytes:
        raise FrameTooLarge(f"{size} bytes (at most {max_bytes} allowed)")
    check_archive(path, max_bytes=max_bytes)
    return torch.load(path, map_location="cpu", weights_only=True)


MAX_FDS = 64  # file descriptors one frame may carry (Watched arguments)


def send_frame(sock: socket.socket, payload: bytes, fds: Sequence[int] = ()) -> None:
    """One frame; ``fds`` travel with its header (SCM_RIGHTS) and arrive with it."""
    if fds:
        if len(fds) > MAX_FDS:
            raise ValueError(f"at most {MAX_FDS} file descriptors per frame")
        header = HEADER.pack(len(payload))
        sent = socket.send_fds(sock, [header], list(fds))
        sock.sendall(header[sent:] + payload)
    else:
        sock.sendall(HEADER.pack(len(payload)) + payload)


class FrameTooLarge(Exception):
    pass


def recv_frame(sock: socket.socket, deadline: float | None = None, limit: int = MAX_FRAME,
               fds: list[int] | None = None) -> bytes | None:
    """Read one frame; None on end of stream; TimeoutError past ``deadline`` (monotonic).

    With a list as ``fds``, file descriptors sent with the frame are appended to it; without
    one, any that were sent are closed by the kernel unread.
    """
    if fds is None:
        header = _recv_exact(sock, HEADER.size, deadline)
    else:
        sock.settimeout(None if deadline is None else max(1e-3, deadline - time.monotonic()))
        try:
            first, received, _, _ = socket.recv_fds(sock, HEADER.size, MAX_FDS)
        except socket.timeout:
            raise TimeoutError from None
        except (ConnectionResetError, BrokenPipeError):
            return None
        fds.extend(received)
        if not first:
            return None
        rest = _recv_exact(sock, HEADER.size - len(first), deadline)
        header = None if rest is None else first + rest
    if header is None:
        return None
    (n,) = HEADER.unpack(header)
    if n > limit:
        raise FrameTooLarge(f"{n} bytes")
    data = _recv_exact(sock, n, deadline)
    if data is None:
        return None
    return data


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
        else:
            sock.settimeout(None)
        try:
            chunk = sock.recv(min(n - len(chunks), 1 << 20))
        except socket.timeout:
            raise TimeoutError from None
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)
