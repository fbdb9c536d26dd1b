"""A recording server for the contract tests: every request as it arrived on the wire.

It answers like tests/fakeprovider.py (both APIs, streamed and not, paged model lists), so
byok and the SDKs run their whole flow, and keeps each request's method, path, query,
headers and raw body. Clients are told apart by the base URL they are given:
``<url>/t/<tag>`` records under ``tag`` and strips the prefix, so byok and an SDK see the
same paths and host and differ only in what they send.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs, urlsplit

from fakeprovider import FakeProviderServer, Handler


class CapturedRequest(dict):
    """method, path, query ({name: [values]}), headers ({lower-case name: value}), body."""

    @property
    def json(self):
        try:
            return json.loads(self["body"] or b"null")
        except ValueError:
            return self["body"]


class CaptureHandler(Handler):
    def _capture(self) -> bytes:
        url = urlsplit(self.path)
        tag, path = "", url.path
        if path.startswith("/t/"):
            tag, _, rest = path[3:].partition("/")
            path = "/" + rest
        body = b""
        if self.command == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self.server.record(tag, CapturedRequest(
            method=self.command, path=path, query=parse_qs(url.query, keep_blank_values=True),
            headers=headers, body=body))
        self.path = path + (f"?{url.query}" if url.query else "")
        return body

    def do_GET(self):  # noqa: N802
        self._capture()
        super().do_GET()

    def do_POST(self):  # noqa: N802
        # fakeprovider reads the body again: hand it the bytes taken, for this request only
        # (a kept-alive connection brings the next request through the same handler).
        connection = self.rfile
        self.rfile = _Replay(self._capture(), connection)
        try:
            super().do_POST()
        finally:
            self.rfile = connection


class _Replay:
    def __init__(self, data: bytes, rest):
        self.data, self.rest = data, rest

    def read(self, n: int = -1) -> bytes:
        out, self.data = (self.data, b"") if n < 0 else (self.data[:n], self.data[n:])
        return out

    def __getattr__(self, name):
        return getattr(self.rest, name)


class CaptureServer(FakeProviderServer):
    def __init__(self, addr=("127.0.0.1", 0)):
        super().__init__(addr)
        self.RequestHandlerClass = CaptureHandler
        self.captured: dict[str, list[CapturedRequest]] = {}
        self._capture_lock = threading.Lock()

    def record(self, tag: str, request: CapturedRequest) -> None:
        with self._capture_lock:
            self.captured.setdefault(tag, []).append(request)

    def base(self, tag: str) -> str:
        return f"{self.url}/t/{tag}"

    def recorded(self, tag: str) -> list[CapturedRequest]:
        with self._capture_lock:
            return list(self.captured.get(tag, []))
