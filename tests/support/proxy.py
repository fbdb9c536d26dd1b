"""A small forward proxy for tests: CONNECT tunnels and absolute-form http requests, all sent
on to one local server, whatever host was asked for (so no name is ever resolved)."""

from __future__ import annotations

import base64
import select
import socket
import socketserver
import threading


class ForwardProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target_port: int, credentials: str | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.target_port = target_port
        self.credentials = credentials  # "user:password" the proxy asks for, or None
        self.heads: list[str] = []      # the request line and headers of each request
        self.relayed = bytearray()      # every byte sent on from the client
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "ForwardProxy":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class _Handler(socketserver.StreamRequestHandler):
    server: ForwardProxy
    rbufsize = 0  # read the head byte by byte: nothing after it may be swallowed

    def handle(self):
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline(65536)
            if not line:
                return
            head += line
        text = head.decode("latin-1")
        with self.server.lock:
            self.server.heads.append(text)
        method = text.split(" ", 1)[0]
        if self.server.credentials:
            want = "Basic " + base64.b64encode(self.server.credentials.encode()).decode()
            if f"proxy-authorization: {want}".lower() not in text.lower():
                self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 b"Proxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n")
                return
        upstream = socket.create_connection(("127.0.0.1", self.server.target_port))
        if method == "CONNECT":
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            upstream.sendall(head)
            self._record(head)
        self._relay(upstream)

    def _record(self, data: bytes) -> None:
        with self.server.lock:
            self.server.relayed += data

    def _relay(self, upstream: socket.socket) -> None:
        client = self.connection
        sockets = [client, upstream]
        try:
            while True:
                ready, _, _ = select.select(sockets, [], [], 10)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    if s is client:
                        upstream.sendall(data)
                        self._record(data)
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            upstream.close()
