"""A `byok gateway` run as a subprocess, and an upstream whose stream the test controls."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import sys

BYOK = Path(sys.executable).with_name("byok")


class RunningGateway:
    """`byok gateway --port 0 --json`, its URL read from the start-up line."""

    def __init__(self, env: dict, *args: str):
        self.proc = subprocess.Popen([str(BYOK), "gateway", "--port", "0", "--json", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=env)
        line = self.proc.stdout.readline()
        try:  # the start-up line; on a failure, --json prints the error as indented JSON
            self.started = json.loads(line)
            self.url = self.started["url"]
        except (ValueError, KeyError, TypeError):
            try:  # a refusal exits by itself: its own status, not that of our signal
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
            code, said = self.stop()
            raise AssertionError(f"the gateway did not start (exit {code}): "
                                 f"{said.strip() or line.decode(errors='replace')}") from None
        self.port = int(self.url.rsplit(":", 1)[1])

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            reply = conn.getresponse()
            return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
        finally:
            conn.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode, self.proc.stderr.read().decode(errors="replace")


class GatedUpstream(ThreadingHTTPServer):
    """An OpenAI-style upstream that streams one chunk, then waits for ``release`` before
    the rest: a client sees the first chunk only if nothing between buffers it."""

    daemon_threads = True

    def __init__(self, handler=None):
        super().__init__(("127.0.0.1", 0), handler or _GatedHandler)
        self.release = threading.Event()
        self.first_sent = threading.Event()
        self.client_gone = threading.Event()
        self.endless = False  # after release: keep streaming until the connection breaks
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "GatedUpstream":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


def _event(data: dict) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


class _GatedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GatedUpstream

    def log_message(self, *args):
        pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers),
                                     "body": body})
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        piece = {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o",
                 "choices": [{"index": 0, "delta": {"content": "first"}}]}
        self._chunk(_event(piece))
        self.server.first_sent.set()
        self.server.release.wait(60)
        try:
            if self.server.endless:  # the gateway dropping us shows as a write that fails
                for i in range(400):
                    piece["choices"][0]["delta"]["content"] = f" more{i}"
                    self._chunk(_event(piece))
                    time.sleep(0.05)
                return
            piece["choices"][0]["delta"]["content"] = " second"
            self._chunk(_event(piece))
            usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
            self._chunk(_event({**piece, "choices": [], "usage": usage}))
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")
        except OSError:
            self.server.client_gone.set()


class SplittingUpstream(GatedUpstream):
    """An OpenAI-style upstream whose 200 stream echoes the key it was sent, split across
    two chunks at every offset in turn. After the first half of each split it waits for
    ``go`` (set by the test once the client has seen that event begin), so that the
    gateway cannot have read the two halves as one."""

    def __init__(self):
        super().__init__(_SplittingHandler)
        self.go = threading.Semaphore(0)


class _SplittingHandler(_GatedHandler):
    server: SplittingUpstream

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        key = self.headers["authorization"].split(" ", 1)[1].encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for at in range(1, len(key)):
            self._chunk(b'data: {"split": %d, "said": "' % at + key[:at])
            if not self.server.go.acquire(timeout=60):
                return
            self._chunk(key[at:] + b'"}\n\n')
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")


class ScriptedStream(GatedUpstream):
    """An upstream whose 200 event stream is ``script(key)`` (the key it was sent, from
    whichever auth header carried it), one chunk per event. ``gated``: after each event it
    waits for ``go`` (the test's sign that the client has seen it)."""

    def __init__(self, script):
        super().__init__(_ScriptedHandler)
        self.script = script
        self.gated = False
        self.go = threading.Semaphore(0)
        self.length = False  # send it whole with a Content-Length, not chunked
        self.content_type = "text/event-stream"


class _ScriptedHandler(_GatedHandler):
    server: ScriptedStream

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        auth = self.headers.get("authorization") or ""
        key = auth.split(" ", 1)[1] if " " in auth else self.headers.get("x-api-key", "")
        events = self.server.script(key)
        self.send_response(200)
        self.send_header("content-type", self.server.content_type)
        if self.server.length:
            whole = b"".join(events)
            self.send_header("content-length", str(len(whole)))
            self.end_headers()
            self.wfile.write(whole)
            return
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                self._chunk(event)
                if self.server.gated and not self.server.go.acquire(timeout=60):
                    return
            self._chunk(b"")
        except OSError:
            self.server.client_gone.set()
