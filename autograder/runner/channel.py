"""Frames over inherited pipes: how the grader and the sandboxed runner talk.

One frame is a 4-byte big-endian length and that many bytes of plain JSON (autograder.plain's
wire format). Nothing is exchanged through files, so nothing the learner's code could replace
in its home is ever opened by the grader. The grader's requests travel over an AF_UNIX stream
socket rather than a pipe so that a request can carry file descriptors (SCM_RIGHTS): the
connected TCP sockets a socket exercise hands to the learner's function (autograder.production),
which live in the grader's network namespace, where it observes them. A reader gives up at a deadline (ChannelTimeout) or
when the other end is gone (ChannelClosed); anything that is not a frame is a ProtocolError.
"""

from __future__ import annotations

import os
import select
import socket
import stat
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
        # Descriptors that arrived with frames (a socket's SCM_RIGHTS), oldest first: take_fds() takes them.
        self.fds: list[int] = []
        self._sock = socket.socket(fileno=rfd) if stat.S_ISSOCK(os.fstat(rfd).st_mode) else None

    def send(self, obj: object) -> None:
        write_frame(self.wfd, obj, self.limits)

    def send_with_fds(self, obj: object, fds: list[int]) -> None:
        """Send one frame with `fds` attached (the writing end must be a Unix socket); the other
        side gets duplicates, so the caller closes its own to hand them over."""
        data = HEADER.pack(len(body := dumps(obj, self.limits))) + body
        sock = socket.socket(fileno=os.dup(self.wfd))
        try:
            sent = socket.send_fds(sock, [data], list(fds))
            view = memoryview(data)[sent:]
            while view:
                view = view[sock.send(view) :]
        except OSError as e:
            raise ChannelClosed(str(e)) from None
        finally:
            sock.close()

    def take_fds(self, n: int) -> list[int]:
        """The n oldest descriptors received (fewer if fewer came)."""
        taken, self.fds = self.fds[:n], self.fds[n:]
        return taken

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
                if self._sock is not None:
                    chunk, fds, _, _ = socket.recv_fds(self._sock, max(n - len(self._buffer), 1 << 16), 253)
                    self.fds += fds
                else:
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
        for fd in self.take_fds(len(self.fds)):
            os.close(fd)
        if self._sock is not None:
            self._sock.close()  # it owns rfd
        for fd in (self.wfd,) if self._sock is not None else (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass
