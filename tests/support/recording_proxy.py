"""An HTTP proxy on 127.0.0.1 that forwards nothing: it records each request it is asked
to make (method, target, headers) and answers 502.

The CLI tests point HTTP_PROXY / HTTPS_PROXY / ALL_PROXY at it (with NO_PROXY for
loopback), so that a request byok should never have made, to a host that is not this
machine, lands here instead of on the network, and the test can see it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RecordingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[dict] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def env(self) -> dict:
        # ALL_PROXY only, the variable with the lowest priority, so that a test's own
        # HTTPS_PROXY / https_proxy / ALL_PROXY replaces it.
        return {"ALL_PROXY": self.url, "NO_PROXY": "127.0.0.1,localhost,::1"}

    def start(self) -> "RecordingProxy":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class _Handler(BaseHTTPRequestHandler):
    server: RecordingProxy

    def log_message(self, *args) -> None:
        pass

    def _record(self) -> None:
        with self.server.lock:
            self.server.seen.append({"method": self.command, "target": self.path,
                                     "headers": dict(self.headers)})
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    do_GET = do_POST = do_CONNECT = do_PUT = do_DELETE = do_HEAD = _record
