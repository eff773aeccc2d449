"""Frames over inherited pipes: how the grader and the sandboxed runner talk.

One frame is a 4-byte big-endian length and that many bytes of plain JSON (autograder.plain's
wire format). Nothing is exchanged through files, so nothing the learner's code could replace
in its home is ever opened by the grader. A reader gives up at a deadline (ChannelTimeout) or
when the other end is gone (ChannelClosed); anything that is not a frame is a ProtocolError.
"""

from __future__ import annotations

import os
import select
import struct
import time

from autograder.plain import LIMITS, Limits, PlainError, dumps, loads

HEADER = struct.Struct(">I")


class ChannelClosed(Exception):
    """The other end closed its pipe (it exited, or was killed)."""


class ChannelTimeout(Exception):
    """No whole frame arrived before the deadline."""


class ProtocolError(Exception):
    """Bytes arrived that are not a frame of plain JSON; the message says what."""


def write_frame(fd: int, obj: object, limits: Limits = LIMITS) -> None:
    """Send one frame (blocking until the reader has room for it)."""
    data = dumps(obj, limits)
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        try:
            n = os.write(fd, view)
        except (BrokenPipeError, OSError) as e:
            raise ChannelClosed(str(e)) from None
        view = view[n:]


class Channel:
    """The reading and writing ends of one conversation."""

    def __init__(self, rfd: int, wfd: int, limits: Limits = LIMITS) -> None:
        self.rfd, self.wfd, self.limits = rfd, wfd, limits
        self._buffer = bytearray()
        self._poll = select.poll()
        self._poll.register(rfd, select.POLLIN | select.POLLHUP | select.POLLERR)

    def send(self, obj: object) -> None:
        write_frame(self.wfd, obj, self.limits)

    def recv(self, deadline: float | None = None) -> object:
        """The next frame's value; deadline is a time.monotonic() value (None: wait for ever)."""
        (size,) = HEADER.unpack(self._read(HEADER.size, deadline))
        if size > self.limits.message:
            raise ProtocolError(f"a frame of {size} bytes (limit {self.limits.message})")
        try:
            return loads(self._read(size, deadline), self.limits)
        except PlainError as e:
            raise ProtocolError(e.sentence) from None

    def _read(self, n: int, deadline: float | None) -> bytes:
        """Exactly n bytes: from what was read ahead, then from the pipe (reading whatever is there)."""
        while len(self._buffer) < n:
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0 or not self._poll.poll(wait * 1000):
                    raise ChannelTimeout
            try:
                chunk = os.read(self.rfd, max(n - len(self._buffer), 1 << 16))
            except OSError as e:
                raise ChannelClosed(str(e)) from None
            if not chunk:
                raise ChannelClosed("end of file")
            self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass
