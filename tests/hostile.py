"""A hostile HTTP server on 127.0.0.1 for the limits of wire/limits.py (issue 27): it answers
every request the way ``mode`` says, at the socket level, so that it can break HTTP in ways
no framework would let it (drip headers, endless event data, deep JSON).

    mode             what every answer is
    ----             --------------------------------------------------------------------
    datalines        an event stream of `data:` lines that never ends an event (12 MiB)
    longline         an event stream of one line without an end (12 MiB)
    drip_body        an event stream's headers, then one byte every 0.2 s, no newline
    drip_headers     the status line, then a header dripped one byte every 0.2 s
    deep_json        a 200 JSON answer nested 5,000 deep
    huge_json        a 200 JSON answer of 40 MiB, its length not given (not in MODES)
    deep_error       a 400 whose {"detail": [...]} lists nest 5,000 deep
    deep_event       a stream whose first event's data nests 5,000 deep
    choices_number   a stream chunk whose "choices" is 5
    choices_true     a stream chunk whose "choices" is true
    choices_text     a stream chunk whose "choices" is a string
    wide_models      a model list of 30,000 ids in one page
    reject           401 to everything, keeping every key it was sent (``keys``)
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time

DRIP_FOR = 30.0   # a dripping answer stops after this long, whatever the client does
DEEP = 5000


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _chunk(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               b"Connection: close\r\n\r\n")


def _json_head(status: str, length: int) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        try:
            head = self._read_request(sock)
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() in ("authorization", "x-api-key"):
                    self.server.keys.append(value.strip().removeprefix("Bearer "))  # type: ignore
            self.server.hits += 1  # type: ignore[attr-defined]
            getattr(self, "_" + self.server.mode)(sock)  # type: ignore[attr-defined]
        except OSError:
            pass  # the client went away, as it should have

    @staticmethod
    def _read_request(sock: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            if not more:
                raise ConnectionError("closed")
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            body += sock.recv(65536)
        return head

    def _datalines(self, sock) -> None:
        sock.sendall(STREAM_HEAD)
        line = b"data: " + b"x" * 1018 + b"\n"
        for _ in range(12 * 1024):
            sock.sendall(line)

    def _longline(self, sock) -> None:
        sock.sendall(STREAM_HEAD + b"data: ")
        for _ in range(12 * 1024):
            sock.sendall(b"y" * 1024)

    def _drip(self, sock, first: bytes, byte: bytes) -> None:
        sock.sendall(first)
        stop = time.monotonic() + DRIP_FOR
        while time.monotonic() < stop:
            sock.sendall(byte)
            time.sleep(0.2)

    def _drip_body(self, sock) -> None:
        self._drip(sock, STREAM_HEAD + b"data: ", b"z")

    def _drip_headers(self, sock) -> None:
        self._drip(sock, b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a")

    def _deep_json(self, sock) -> None:
        body = _deep(DEEP).encode()
        sock.sendall(_json_head("200 OK", len(body)) + body)

    def _huge_json(self, sock) -> None:
        """A 200 JSON answer of 40 MiB, its length not given (read until the close)."""
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\n\r\n" + b'{"id": "x", "pad": "')
        for _ in range(40 * 1024):
            sock.sendall(b"p" * 1024)
        sock.sendall(b'"}')

    def _deep_error(self, sock) -> None:
        body = ('{"detail": ' + "[" * DEEP + '{"msg": "no"}' + "]" * DEEP + "}").encode()
        sock.sendall(_json_head("400 Bad Request", len(body)) + body)

    def _deep_event(self, sock) -> None:
        sock.sendall(STREAM_HEAD + b"data: " + _deep(DEEP).encode() + b"\n\n")

    def _choices(self, sock, value) -> None:
        sock.sendall(STREAM_HEAD + _chunk({"id": "x", "choices": value}) + b"data: [DONE]\n\n")

    def _choices_number(self, sock) -> None:
        self._choices(sock, 5)

    def _choices_true(self, sock) -> None:
        self._choices(sock, True)

    def _choices_text(self, sock) -> None:
        self._choices(sock, "abc")

    def _wide_models(self, sock) -> None:
        body = json.dumps({"data": [{"id": f"m-{i}"} for i in range(30_000)]}).encode()
        sock.sendall(_json_head("200 OK", len(body)) + body)


    def _reject(self, sock) -> None:
        body = b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}'
        sock.sendall(_json_head("401 Unauthorized", len(body)) + body)


class HostileServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str = "deep_json"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.hits = 0
        self.keys: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "HostileServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


MODES = ("datalines", "longline", "drip_body", "drip_headers", "deep_json", "deep_error",
         "deep_event", "choices_number", "choices_true", "choices_text", "wide_models")
