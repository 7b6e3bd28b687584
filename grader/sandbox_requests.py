"""The conversation with a sandboxed child: one request at a time, its callbacks served, its reply judged.

:class:`Conversation` is the part of a session that speaks the protocol (:mod:`grader.protocol`):
it sends a request with its arguments encoded, serves the grader functions that student code
calls through ``wire.Callback`` while the request runs, reads the reply under the request's
deadline and turns every way it can go wrong into a :class:`~grader.errors.StudentCodeError` with
a message for the student (or a grader error). How the child is started, how its output is
captured and how it is stopped are the session's (:class:`grader.sandbox.StudentSession` and
:class:`grader.sandbox_portable.PortableSession`).
"""
from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Any, Sequence

from grader import protocol, sandbox_texts as texts, wire
from grader.errors import StudentCrash, StudentTimeout

if TYPE_CHECKING:
    from grader.sandbox import Limits


class Conversation:
    """Requests to one child and their replies. A session provides the connection and the hooks
    below (how to stop the child, why it died, what it printed, which processes are its)."""

    limits: Limits
    seed: int
    isolated: bool
    private_tmp: bool
    grading_device: str
    deadline: float | None  # monotonic time after which no call may run
    _conn: socket.socket | None
    _dead_reason: str | None
    _requests: int  # requests sent so far
    _extra_processes: int

    # -- what the session provides -------------------------------------------------------------

    @property
    def output(self) -> str:
        """What the child has printed so far (as the student reads it)."""
        raise NotImplementedError

    def _kill(self) -> None:
        raise NotImplementedError

    def _death_message(self) -> str:
        """Why the child is gone, in the student's words ("was killed ...")."""
        raise NotImplementedError

    def _drain_output(self, timeout: float = 1.0) -> None:
        """Wait until what the child printed before its last reply has been captured."""

    def _session_pids(self) -> list[int]:
        raise NotImplementedError

    # -- the conversation ----------------------------------------------------------------------

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

    def stage(self, name: str, *args: Any, device: str = "cpu", timeout: float | None = None) -> str:
        """Put ``args`` in the child, on ``device``, for later calls with ``staged=name``.

        Timed calls on staged arguments measure the student's function, not the transfer of its
        inputs. Returns the device the child placed them on (``"cuda:0"``, say). A device the
        child cannot use raises :class:`StudentException` (the child's error is in its message).
        """
        msg: protocol.StageRequest = {"op": "stage", "name": name, "device": device,
                                      "args": wire.encode_args(args, None), "seed": self.seed}
        return str(self._request(msg, timeout or self.limits.call_timeout, f"putting the inputs on {device}")["value"])

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
