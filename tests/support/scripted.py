"""A server on 127.0.0.1 that answers every POST with the answer a test scripts: a status and a
JSON body, or a status and a list of server-sent events. For answers the fake provider does
not give: the shapes of real stop reasons, refusals, tool calls and gateways' own errors.

    with Scripted() as server:
        server.answer = (200, {"choices": [...]})           # a whole JSON answer
        server.answer = (200, [("message_start", {...}), …])  # an event stream
        server.queue = [answer1, answer2]  # the next POSTs' answers, in turn; then `answer`
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Scripted(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer: tuple[int, object] = (500, {"error": "no answer scripted"})
        self.bodies: list[dict] = []
        self.queue: list[tuple[int, object]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> "Scripted":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Scripted
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
        status, body = self.server.queue.pop(0) if self.server.queue else self.server.answer
        if isinstance(body, list):  # events: (name or None, data)
            data = b"".join((f"event: {name}\n" if name else "").encode()
                            + b"data: " + (d if isinstance(d, str) else json.dumps(d)).encode()
                            + b"\n\n" for name, d in body)
            kind = "text/event-stream"
        else:
            data, kind = json.dumps(body).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
