"""What a session's processes print: kept up to a size, counted in full, stopped when it floods.

The Linux backend reads the child's pipe on a thread of its own (:meth:`OutputCapture.read_pipe`);
the portable backend's child writes a log file, whose contents are handed over with
:meth:`OutputCapture.replace`. Either way the student reads :attr:`OutputCapture.text`.
"""
from __future__ import annotations

import os
import struct
import threading
import time
from typing import Callable


class OutputCapture:
    """The first ``keep`` bytes of a session's output and the total printed; past ``kill_at`` bytes,
    ``on_flood(reason)`` is called once (the session stops the child)."""

    def __init__(self, *, keep: int, kill_at: int, on_flood: Callable[[str], None]) -> None:
        self.keep = keep
        self.kill_at = kill_at
        self.total = 0
        self.overflow = False
        self._text = bytearray()
        self._on_flood = on_flood
        self._fd: int | None = None
        self._busy = False
        self._reader: threading.Thread | None = None

    # -- what was printed ------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The kept output, with a note of how much there was when it was cut."""
        text = self._text.decode("utf-8", "replace")
        if self.total > len(self._text):
            text += f"\n... [output truncated: {self.total} bytes in all]"
        return text

    def replace(self, kept: bytes, total: int) -> None:
        """The output is ``kept`` (at most ``keep`` bytes of it) of ``total`` bytes in all."""
        self._text = bytearray(kept[:self.keep])
        self.total = total

    def flood_reason(self) -> str:
        return (f"printed more than {self.kill_at // (1024 * 1024)} MB of output and was stopped. Remove print "
                "statements from loops.")

    def check_flood(self) -> bool:
        """Past the limit: call ``on_flood`` (once) and say so."""
        if self.total > self.kill_at and not self.overflow:
            self.overflow = True
            self._on_flood(self.flood_reason())
        return self.overflow

    # -- a pipe read on a thread -------------------------------------------------------------

    def read_pipe(self, fd: int) -> None:
        """Read ``fd`` on a thread of its own until it closes (the capture owns and closes it)."""
        self._fd = fd
        self._reader = threading.Thread(target=self._read, args=(fd,), daemon=True)
        self._reader.start()

    def _read(self, fd: int) -> None:
        import select

        try:
            while True:
                try:
                    select.select([fd], [], [])
                    self._busy = True  # set before the read: see drain
                    chunk = os.read(fd, 1 << 16)
                except OSError:
                    break
                if not chunk:
                    break
                self.total += len(chunk)
                room = self.keep - len(self._text)
                if room > 0:
                    self._text += chunk[:room]
                self.check_flood()
                self._busy = False
        finally:
            self._fd = None
            self._busy = False
            os.close(fd)

    def drain(self, timeout: float = 1.0) -> None:
        """Wait until what the child wrote before its last reply has been read from the pipe."""
        if self._fd is None:
            return
        import fcntl
        import termios

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fd = self._fd
            if fd is None:
                return
            try:
                pending = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
            except OSError:
                return
            if pending == 0 and not self._busy:
                return
            time.sleep(0.002)

    def join(self, timeout: float = 5.0) -> None:
        if self._reader is not None:
            self._reader.join(timeout=timeout)
