"""A fake OpenAI + Anthropic HTTP server for byok's tests and benchmarks: scripted failures.

It speaks the parts of both APIs byok uses, over real HTTP/1.1 on 127.0.0.1 (streams are
chunked on a kept-alive connection, as the real APIs send them), so byok and the official
SDKs talk to it unmodified. The API key of a request decides its fate:

    key contains     behaviour
    ------------     ------------------------------------------------------------------------
    good             success (any other key that matches no marker below gets 401)
    revoked          401 (also on streaming requests)
    forbidden        403
    quota            OpenAI 429 insufficient_quota / Anthropic 400 credit balance too low
    ratelimitN       429 with Retry-After: N (and retry-after-ms) once, then success
    limitforeverN    429 with Retry-After: N every time
    servererr        500 every time
    flaky            500 on the first request of that key, then success
    overloaded       529 (Anthropic) / 503 (OpenAI)
    onceNNN          status NNN with retry-after-ms: 300 once, then success (503, 529, 404...)
    alwaysNNN        status NNN with Retry-After: 9 every time
    slow             sleeps `slow_seconds` before answering (to time out)
    drop             streams a few chunks, then drops the connection
    streamerr        200 then an error event mid-stream (Anthropic `error` event / OpenAI error chunk)
    malformed        streams invalid SSE data
    errorbody200     200 whose JSON body is an error object ("busy with another request")
    outage200        200 whose body is {"error": "Internal Server Error: upstream ..."}
    errstrNNN        status NNN, body {"error": "<text with control characters>"}
    errdetailNNN     status NNN, body {"detail": "..."}
    errhtmlNNN       status NNN, an HTML page (title, script, control characters)
    errlongNNN       status NNN, 5000 characters of plain text
    wholejson        a streamed request answered with one whole JSON body
    wholenoct        the same without a Content-Type
    nofinish         OpenAI: a stream whose chunks have no finish_reason, then [DONE]
    nostop           Anthropic: a stream that ends cleanly without message_stop
    gwtokens         Anthropic: input tokens 0 in message_start, 21 in message_delta
    sseclose         streams with Connection: close instead of chunks
    gzip             gzip-compressed answers (when the client accepts gzip)
    barelist         GET /v1/models answers a bare JSON array
    cursorloop       GET /v1/models: has_more forever, the same cursor each time
    endless          GET /v1/models: has_more forever, a new cursor each time

Unknown model ids get 404.  The reply text is ``"Echo[<model>]: <last user text>"``;
a prompt containing ``lines:N`` gets N numbered lines instead.  Every request is
recorded (method, path, query, headers, key, body, client port) in ``server.requests``.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

OPENAI_MODELS = [
    "gpt-6.2-astra", "gpt-6.2-sol", "gpt-6.1-terra", "gpt-6-luna", "gpt-5.6-sol",
    "gpt-5.6-terra", "gpt-5.6-luna", "gpt-5.5", "gpt-4o", "gpt-4o-mini",
    "text-embedding-3-small", "whisper-1", "dall-e-3", "tts-1", "omni-moderation-latest",
    "gpt-7-preview-fake",
]
ANTHROPIC_MODELS = [
    "claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-4-8",
    "claude-sonnet-4-6", "claude-haiku-4-5", "claude-brandnew-9",
]
ANTHROPIC_PAGE = 3  # small pages so that pagination is exercised
MARKERS = ("good", "revoked", "forbidden", "quota", "ratelimit", "limitforever", "servererr",
           "flaky", "overloaded", "once", "always", "slow", "drop", "streamerr", "malformed",
           "errorbody200", "outage200", "errstr", "errdetail", "errhtml", "errlong",
           "wholejson", "wholenoct", "nofinish", "nostop", "gwtokens", "sseclose", "gzip",
           "barelist", "cursorloop", "endless")
GATEWAY_TEXT = "upstream\x1b[31m said:\x00 no\u202e thanks"


def _reply_text(model: str, messages: list) -> str:
    last = ""
    for m in reversed(messages):
        if m.get("role") == "user":
            c = m.get("content")
            last = c if isinstance(c, str) else "".join(
                p.get("text", "") for p in c if isinstance(p, dict))
            break
    if "lines:" in last:
        n = int(last.split("lines:")[1].split()[0])
        return "\n".join(f"line {i}" for i in range(1, n + 1))
    return f"Echo[{model}]: {last}"


def _chunks(text: str, size: int = 4) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _number_after(key: str, marker: str, default: int = 0) -> int:
    found = re.search(re.escape(marker) + r"(\d+)", key)
    return int(found.group(1)) if found else default


class FakeProviderServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr=("127.0.0.1", 0)):
        super().__init__(addr, Handler)
        self.requests: list[dict] = []
        self.seen_keys: dict[str, int] = {}
        self.lock = threading.Lock()
        self.slow_seconds = 5.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address):
        # Clients that hang up mid-answer are part of the tests; keep their noise out.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.seen_keys.clear()

    def count(self, key: str) -> int:
        with self.lock:
            n = self.seen_keys.get(key, 0)
            self.seen_keys[key] = n + 1
            return n

    def connections(self) -> set[int]:
        """The client ports requests came from: one per TCP connection."""
        return {r["client_port"] for r in self.requests}

    def start(self) -> "FakeProviderServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class Handler(BaseHTTPRequestHandler):
    server: FakeProviderServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as real servers do: no 40 ms wait for a delayed ACK

    def log_message(self, *args):  # keep test output clean
        pass

    # -- plumbing ---------------------------------------------------------------------
    def _key(self) -> str:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:]
        return self.headers.get("x-api-key", "")

    def _flavour(self) -> str:
        return "anthropic" if self.path.startswith("/v1/messages") or self.headers.get(
            "x-api-key") or self.headers.get("anthropic-version") else "openai"

    def _gzip(self) -> bool:
        return "gzip" in self._key() and "gzip" in self.headers.get("Accept-Encoding", "")

    def _send_body(self, status: int, data: bytes, content_type: str | None,
                   headers: dict | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if self._gzip():
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, body, headers: dict | None = None,
                   content_type: str | None = "application/json") -> None:
        self._send_body(status, json.dumps(body).encode(), content_type, headers)

    def _error(self, status: int, etype: str, message: str, code: str | None = None,
               headers: dict | None = None) -> None:
        if self._flavour() == "anthropic":
            body = {"type": "error", "error": {"type": etype, "message": message}}
        else:
            body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
        self._send_json(status, body, headers)

    def _start_sse(self) -> None:
        close = "sseclose" in self._key()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self._zip = zlib.compressobj(wbits=31) if self._gzip() else None
        if self._zip:
            self.send_header("Content-Encoding", "gzip")
        self._chunked = not close
        self.end_headers()

    def _write(self, data: bytes) -> None:
        if self._zip:
            data = self._zip.compress(data) + self._zip.flush(zlib.Z_SYNC_FLUSH)
        if self._chunked:
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        self.wfile.write(data)
        self.wfile.flush()

    def _sse(self, data: dict | str, event: str | None = None) -> None:
        payload = data if isinstance(data, str) else json.dumps(data)
        self._write(((f"event: {event}\n" if event else "") + f"data: {payload}\n\n").encode())

    def _end_sse(self) -> None:
        if self._zip:
            tail = self._zip.flush()
            self._zip = None
            if tail:
                self._write(tail)
        if self._chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _drop(self) -> None:
        # An abrupt close mid-stream: no terminating events, no chunk trailer.
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _record(self, body: dict | None) -> dict:
        url = urlparse(self.path)
        record = {"method": self.command, "path": url.path, "query": parse_qs(url.query),
                  "raw_query": url.query, "headers": {k.lower(): v for k, v in self.headers.items()},
                  "key": self._key(), "flavour": self._flavour(),
                  "client_port": self.client_address[1], "body": body}
        if body is not None:
            record.update(model=body.get("model"), messages=body.get("messages"),
                          system=body.get("system"), stream=bool(body.get("stream")))
        self.server.requests.append(record)
        return record

    # -- behaviour by key -------------------------------------------------------------
    def _refuse_by_key(self, key: str) -> bool:
        """Send the error the key asks for; return True when the request is finished."""
        anth = self._flavour() == "anthropic"
        n = self.server.count(key)
        if not any(m in key for m in MARKERS):
            # Like the real OpenAI API, echo a partly masked key back.
            shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
            if anth:
                self._error(401, "authentication_error", "invalid x-api-key")
            else:
                self._error(401, "invalid_request_error",
                            f"Incorrect API key provided: {shown}. You can find your API key at "
                            "https://platform.openai.com/account/api-keys.", "invalid_api_key")
            return True
        if "revoked" in key:
            self._error(401, "authentication_error" if anth else "invalid_request_error",
                        "This key has been revoked.", "invalid_api_key")
            return True
        if "forbidden" in key:
            self._error(403, "permission_error", "Your key lacks permission for this resource.")
            return True
        if "quota" in key:
            if anth:
                self._error(400, "invalid_request_error",
                            "Your credit balance is too low to access the Anthropic API. Please go to "
                            "Plans & Billing to upgrade or purchase credits.")
            else:
                self._error(429, "insufficient_quota",
                            "You exceeded your current quota, please check your plan and billing "
                            "details.", "insufficient_quota")
            return True
        if "limitforever" in key or ("ratelimit" in key and n == 0):
            marker = "limitforever" if "limitforever" in key else "ratelimit"
            wait = _number_after(key, marker)
            self._error(429, "rate_limit_error" if anth else "requests",
                        "Rate limit reached for requests.", "rate_limit_exceeded",
                        headers={"Retry-After": str(wait), "retry-after-ms": str(wait * 1000)})
            return True
        if "servererr" in key or ("flaky" in key and n == 0):
            self._error(500, "api_error" if anth else "server_error", "The server had an error.")
            return True
        if "overloaded" in key:
            if anth:
                self._error(529, "overloaded_error", "Overloaded")
            else:
                self._error(503, "server_error", "The engine is currently overloaded.")
            return True
        if ("once" in key and n == 0) or "always" in key:
            status = _number_after(key, "once" if "once" in key else "always", 503)
            wait = {"retry-after-ms": "300", "Retry-After": "1"} if "once" in key else {
                "Retry-After": "9"}
            etype = "overloaded_error" if status == 529 else (
                "not_found_error" if status == 404 else "server_error")
            self._error(status, etype, f"scripted {status}", headers=wait)
            return True
        for marker in ("errstr", "errdetail", "errhtml", "errlong"):
            if marker in key:
                self._gateway_error(marker, _number_after(key, marker, 502))
                return True
        if "slow" in key:
            time.sleep(self.server.slow_seconds)
        return False

    def _gateway_error(self, marker: str, status: int) -> None:
        if marker == "errstr":
            return self._send_json(status, {"error": GATEWAY_TEXT})
        if marker == "errdetail":
            return self._send_json(status, {"detail": "gateway detail: " + GATEWAY_TEXT})
        if marker == "errhtml":
            page = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
                    "<script>var secret = 1;</script></head><body><h1>Bad Gateway</h1>"
                    f"<p>The proxy said: {GATEWAY_TEXT} &amp; gave up.</p></body></html>")
            return self._send_body(status, page.encode(), "text/html")
        self._send_body(status, (("x" * 40 + "\x07") * 120 + "END").encode(), "text/plain")

    # -- routes -----------------------------------------------------------------------
    def do_GET(self):  # noqa: N802
        url = urlparse(self.path)
        key = self._key()
        self._record(None)
        if url.path != "/v1/models":
            return self._error(404, "not_found_error", f"Unknown path {url.path}")
        if self._refuse_by_key(key):
            return
        q = parse_qs(url.query)
        if "barelist" in key:
            ids = ANTHROPIC_MODELS if self._flavour() == "anthropic" else OPENAI_MODELS
            return self._send_json(200, [{"id": m, "object": "model"} for m in ids])
        if "cursorloop" in key or "endless" in key:
            after = q.get("after_id", q.get("after", ["p0"]))[0]
            cursor = "p1" if "cursorloop" in key else f"p{int(after[1:]) + 1}"
            name = f"claude-{cursor}" if self._flavour() == "anthropic" else f"gpt-{cursor}"
            return self._send_json(200, {"data": [{"id": name, "type": "model"}],
                                         "has_more": True, "first_id": cursor,
                                         "last_id": cursor})
        if self._flavour() == "anthropic":
            after = q.get("after_id", [None])[0]
            limit = int(q.get("limit", [ANTHROPIC_PAGE])[0])
            start = ANTHROPIC_MODELS.index(after) + 1 if after in ANTHROPIC_MODELS else 0
            page = ANTHROPIC_MODELS[start:start + min(limit, ANTHROPIC_PAGE)]
            data = [{"type": "model", "id": m, "display_name": m.replace("-", " ").title(),
                     "created_at": "2026-01-01T00:00:00Z"} for m in page]
            return self._send_json(200, {
                "data": data, "has_more": start + len(page) < len(ANTHROPIC_MODELS),
                "first_id": page[0] if page else None, "last_id": page[-1] if page else None})
        data = [{"id": m, "object": "model", "created": 1767225600, "owned_by": "openai"}
                for m in OPENAI_MODELS]
        return self._send_json(200, {"object": "list", "data": data})

    def do_POST(self):  # noqa: N802
        url = urlparse(self.path)
        key = self._key()
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._error(400, "invalid_request_error", "Body is not JSON.")
        self._record(body)
        if url.path not in ("/v1/chat/completions", "/v1/messages"):
            return self._error(404, "not_found_error", f"Unknown path {url.path}")
        anth = url.path == "/v1/messages"
        if self._refuse_by_key(key) or not self._model_ok(body, anth):
            return
        if "errorbody200" in key:
            return self._error(200, "invalid_request_error",
                               "The model is busy with another request of yours")
        if "outage200" in key:
            return self._send_json(200, {"error": "Internal Server Error: upstream connect "
                                                  "error or disconnect/reset before headers"})
        text = _reply_text(body["model"], body.get("messages") or [])
        whole = not body.get("stream") or "wholejson" in key or "wholenoct" in key
        content_type = None if "wholenoct" in key else "application/json"
        if anth:
            return self._messages(key, body, text) if not whole else self._send_json(
                200, _anthropic_whole(body["model"], text), content_type=content_type)
        return self._chat(key, body, text) if not whole else self._send_json(
            200, _openai_whole(body["model"], text), content_type=content_type)

    def _model_ok(self, body: dict, anthropic: bool) -> bool:
        if body.get("model") in (ANTHROPIC_MODELS if anthropic else OPENAI_MODELS):
            return True
        if self._flavour() == "anthropic":
            self._error(404, "not_found_error", f"model: {body.get('model')}")
        else:
            self._error(404, "invalid_request_error",
                        f"The model `{body.get('model')}` does not exist or you do not have "
                        "access to it.", "model_not_found")
        return False

    def _mid_stream_fault(self, key: str, i: int, anthropic: bool) -> bool:
        """The fault a key asks for at the third piece; True when the stream must stop."""
        if i != 2:
            return False
        if "drop" in key:
            self._drop()
            return True
        if "streamerr" in key:
            if anthropic:
                self._sse({"type": "error", "error": {"type": "overloaded_error",
                                                      "message": "Overloaded"}}, "error")
            else:
                self._sse({"error": {"message": "The server had an error while processing "
                                     "your request.", "type": "server_error"}})
        elif "malformed" in key:
            self._write(b"event: content_block_delta\ndata: {not json\n\n" if anthropic
                        else b"data: {not json\n\n")
        else:
            return False
        self._end_sse()
        return True

    def _chat(self, key: str, body: dict, text: str) -> None:
        model = body["model"]
        usage = _openai_usage(text)
        chunk = {"id": "chatcmpl-fake", "created": 1767225600, "model": model,
                 "object": "chat.completion.chunk"}
        finish = None if "nofinish" in key else "stop"
        self._start_sse()
        self._sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                         "finish_reason": None}]})
        for i, piece in enumerate(_chunks(text)):
            if self._mid_stream_fault(key, i, False):
                return
            self._sse({**chunk, "choices": [{"index": 0, "delta": {"content": piece},
                                             "finish_reason": None}]})
        self._sse({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            self._sse({**chunk, "choices": [], "usage": usage})
        self._sse("[DONE]")
        self._end_sse()

    def _messages(self, key: str, body: dict, text: str) -> None:
        model = body["model"]
        out_tokens = len(text.split())
        gateway = "gwtokens" in key
        message = {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                   "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 0 if gateway else 13, "output_tokens": 1}}
        self._start_sse()
        self._sse({"type": "message_start", "message": {**message, "content": []}}, "message_start")
        self._sse({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "text", "text": ""}}, "content_block_start")
        self._sse({"type": "ping"}, "ping")
        for i, piece in enumerate(_chunks(text)):
            if self._mid_stream_fault(key, i, True):
                return
            self._sse({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
        self._sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        usage = {"output_tokens": out_tokens, **({"input_tokens": 21} if gateway else {})}
        self._sse({"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                      "stop_sequence": None},
                   "usage": usage}, "message_delta")
        if "nostop" not in key:
            self._sse({"type": "message_stop"}, "message_stop")
        self._end_sse()


def _openai_usage(text: str) -> dict:
    words = len(text.split())
    return {"prompt_tokens": 11, "completion_tokens": words, "total_tokens": 11 + words}


def _openai_whole(model: str, text: str) -> dict:
    return {"id": "chatcmpl-fake", "created": 1767225600, "model": model,
            "object": "chat.completion", "usage": _openai_usage(text),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}]}


def _anthropic_whole(model: str, text: str) -> dict:
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "stop_reason": "end_turn", "stop_sequence": None,
            "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": 13, "output_tokens": len(text.split())}}


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = FakeProviderServer(("127.0.0.1", port))
    print(server.url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
