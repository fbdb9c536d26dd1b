"""A hostile gateway on 127.0.0.1 that lists whatever model ids a test gives it.

GET /v1/models answers ``{"data": [{"id": …}, …]}`` with ``ids``; anything else is a 404.
Used to check what byok does with text a gateway chose (ids that echo the key, ids with
control characters)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ListingGateway(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, ids: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.ids = ids
        self.keys_seen: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> "ListingGateway":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: ListingGateway

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.keys_seen.append(self.headers.get("Authorization", ""))
        if self.path.split("?")[0] != "/v1/models":
            body, status = b'{"error": {"message": "not found"}}', 404
        else:
            data = [{"id": i, "object": "model", "owned_by": "gw"} for i in self.server.ids]
            body, status = json.dumps({"object": "list", "data": data}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
