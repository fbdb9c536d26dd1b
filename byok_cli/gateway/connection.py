"""One client connection: aiohttp's request handler with a deadline on every request head,
and the gateway's own answers to what aiohttp cannot parse.

aiohttp bounds a connection that sends nothing (keep-alive idle) but not one that sends a
request head slowly: a client could hold a connection open with a byte at a time. Here
every request head, the first on a connection and each later one on a kept-alive
connection, must arrive whole within the head deadline of its first byte (the first one:
of the connection's opening). When it does not, the client gets a 408 in the API's error
shape (no response is in flight then, so one is still possible) and the connection is
closed. A head that never started is only closed, as an idle connection is.

A head aiohttp refuses (a header line or the header count past the limit) gets 431 rather
than aiohttp's 400, and every refusal is in the API's error shape, never aiohttp's text
(which quotes the request: a token among it).
"""

from __future__ import annotations

import asyncio
from typing import Callable

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from ..wire.errors import error_body

KEPT_HEAD = 512  # bytes of a pending head kept to learn its path (for the error's shape)


class Connection(web.RequestHandler):
    """aiohttp's handler for one connection, told by the gateway's middleware when a
    request head has arrived (`head_arrived`) and when its response is done
    (`request_done`)."""

    def __init__(self, manager: web.Server, *, head_deadline: float,
                 api_of: Callable[[str], str], **kwargs):
        super().__init__(manager, **kwargs)
        self.head_deadline = head_deadline
        self.api_of = api_of            # path -> "openai" | "anthropic"
        self.header_limits = (kwargs.get("max_field_size", 8190), kwargs.get("max_headers", 128))
        self._timer: asyncio.TimerHandle | None = None
        self._head = b""                # the start of the head being waited for
        self._busy = False              # a request is being answered
        self._late = False              # the head deadline passed while busy
        self._body = None               # the last request's body stream

    # -- the head deadline ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        # Bytes after the last request's body are the next request's head.
        if self._timer is None and (self._body is None or self._body.is_eof()):
            self._arm()
        if self._timer is not None and len(self._head) < KEPT_HEAD:
            self._head += data[:KEPT_HEAD]
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def head_arrived(self, request: web.BaseRequest) -> None:
        self._disarm()
        self._busy, self._late, self._body = True, False, request.content

    def request_done(self) -> None:
        self._busy = False
        if self._late:  # a pipelined head came while answering: it gets a fresh deadline
            self._late = False
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(self.head_deadline, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._head = None, b""

    def _expired(self) -> None:
        self._timer = None
        if self.transport is None:
            return
        if self._busy:  # a response is on its way: the head's turn comes after it
            self._late = True
            return
        if self._head:  # a request began: say why it ends (nothing else is in flight)
            body = error_body(self._api(), 408, "the request head did not arrive in time")
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Type: "
                                 b"application/json\r\nContent-Length: %d\r\nConnection: "
                                 b"close\r\n\r\n%s" % (len(body), body))
        self._head = b""
        self.force_close()

    def _api(self, path: str | None = None) -> str:
        if path is None:  # from the pending head's request line, when it came that far
            parts = self._head.split(b" ", 2)
            path = parts[1].decode("latin-1") if len(parts) > 2 else ""
        return self.api_of(path)

    # -- what aiohttp could not parse -----------------------------------------------------
    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None
                     ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: too late for another answer
            raise ConnectionError("a response is already on its way")
        parsed = status != 400 or exc is None
        if status == 400 and (isinstance(exc, LineTooLong) or (
                isinstance(exc, BadHttpMessage) and "too many headers" in str(exc).lower())):
            status, text = 431, ("the request's headers are larger than the gateway's "
                                 "limit (%d bytes a line, %d lines)" % self.header_limits)
        elif status == 400:
            text = "the request is not well-formed HTTP"
        else:
            text = "the gateway could not answer this request"
        api = self._api(request.path if parsed else None)
        self._disarm()  # the connection closes after this answer
        response = web.Response(status=status, body=error_body(api, status, text),
                                content_type="application/json")
        response.force_close()
        return response
