"""A hostile OpenAI-style upstream that echoes the key it was sent, in the ways a gateway
in front of it must still mask: in response headers, in a compressed body it was not asked
for, and in JSON \\uXXXX escapes; whole and streamed, at 200 and at 400. ``mode`` chooses
(see ``_EchoingHandler``); every request's path and headers are kept in ``requests``."""

from __future__ import annotations

import gzip
import json
import zlib

from support.byok_gateway import GatedUpstream, _GatedHandler


def escaped(text: str) -> str:
    """``text`` with every character written as a JSON \\uXXXX escape."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


class EchoingUpstream(GatedUpstream):
    def __init__(self, mode: str = "plain"):
        super().__init__(_EchoingHandler)
        self.mode = mode


class _EchoingHandler(_GatedHandler):
    server: EchoingUpstream

    def do_GET(self):  # noqa: N802
        self.do_POST()

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers)})
        key = self.headers.get("authorization", " ").split(" ", 1)[1]
        mode = self.server.mode
        if mode.endswith("stream"):
            return self._stream(key, mode)
        status = 400 if mode.endswith("400") else 200
        said = escaped(key) if mode.startswith("jsonesc") else key
        body = ('{"id": "c1", "object": "chat.completion", "model": "gpt-4o", "choices": '
                '[{"index": 0, "message": {"role": "assistant", "content": "your key is '
                + said + '"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, '
                '"completion_tokens": 2}}') if status == 200 else (
                '{"error": {"message": "bad key ' + said + '", "type": "invalid_request"}}')
        data, extra = body.encode(), {}
        if mode.startswith("gzip"):
            data, extra = gzip.compress(data), {"Content-Encoding": "gzip"}
        elif mode.startswith("deflate"):
            data, extra = zlib.compress(data), {"Content-Encoding": "deflate"}
        elif mode.startswith("br"):  # not inflated by byok: refused, never forwarded
            extra = {"Content-Encoding": "br"}
        elif mode == "header":
            extra = {"X-Echo-Key": key, "WWW-Authenticate": f'Bearer realm="{key}"'}
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, key: str, mode: str) -> None:
        """The key in one event, escaped (jsonescstream) or gzipped (gzipstream), sent in
        7-byte pieces so that it is split across chunks."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        zipped = zlib.compressobj(wbits=31) if mode.startswith("gzip") else None
        if zipped:
            self.send_header("content-encoding", "gzip")
        self.end_headers()
        said = escaped(key[:9]) + key[9:20] + escaped(key[20:]) if mode.startswith(
            "jsonesc") else key
        event = (b'data: {"choices": [{"index": 0, "delta": {"content": "the key: '
                 + said.encode() + b' end"}}]}\n\n')
        usage = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
        whole = event + b"data: " + json.dumps(usage).encode() + b"\n\ndata: [DONE]\n\n"
        if zipped:
            whole = zipped.compress(whole) + zipped.flush()
        for i in range(0, len(whole), 7):
            self._chunk(whole[i:i + 7])
        self._chunk(b"")
