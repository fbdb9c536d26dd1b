"""One overall deadline per request (limits.DEADLINE, BYOK_DEADLINE), beside the idle read
timeout: the socket's timeout alone is per read, so a server that drips a byte a second,
in its headers or its body, would otherwise keep a request open for ever. http.client reads
every answer (and a proxy's CONNECT answer) through the class :func:`answer_class` makes,
whose reads wait at most what the clock allows."""

from __future__ import annotations

import http.client
import io
import socket
import time

from .types import Settings


class DeadlinePassed(TimeoutError):
    """The request's overall deadline passed (as opposed to an idle read timeout)."""


class Clock:
    """When the request in flight must be over, and how long one read may wait."""

    def __init__(self, settings: Settings):
        self.start(settings)

    def start(self, settings: Settings) -> None:
        self.deadline = settings.deadline
        self.until = time.monotonic() + settings.deadline
        self.idle = settings.timeout

    def wait(self) -> float:
        """How long the next read may wait: the idle timeout, or less as the deadline nears."""
        left = self.until - time.monotonic()
        if left <= 0:
            raise DeadlinePassed(f"the whole request took more than {self.deadline:g} s")
        return min(self.idle, left)


class _Clocked(io.RawIOBase):
    """The socket as a raw stream whose every read waits at most what the clock allows: the
    socket timeout alone is per read, so a server that sends a byte a second (in its headers
    or its body) would otherwise keep a request open for ever."""

    def __init__(self, sock: socket.socket, clock: Clock, plain: io.RawIOBase):
        # ``plain``: the socket file http.client made. Held open until this closes, as it
        # counts as a reference to the socket: a `Connection: close` answer closes its
        # connection at once, and the socket must outlive that until the body is read.
        self._sock, self._clock, self._plain = sock, clock, plain

    def close(self) -> None:
        if not self.closed:
            self._plain.close()
        super().close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._sock.settimeout(self._clock.wait())
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            self._clock.wait()  # DeadlinePassed when that is what ran out
            raise


def answer_class(clock: Clock):
    """http.client's response class, reading through the clock (the proxy's CONNECT answer
    too, which http.client reads with the same class)."""

    def make(sock, *args, **kwargs) -> http.client.HTTPResponse:
        answer = http.client.HTTPResponse(sock, *args, **kwargs)
        answer.fp = io.BufferedReader(_Clocked(sock, clock, answer.fp), 65536)
        return answer

    return make
