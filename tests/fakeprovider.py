"""A fake OpenAI + Anthropic HTTP server for byok's tests and benchmarks.

It speaks the parts of both APIs byok uses, over real HTTP on 127.0.0.1, so the
official SDKs talk to it unmodified. The API key of a request decides its fate:

    key contains   behaviour
    ------------   ---------------------------------------------------------------
    good           success (any other key that matches no marker below gets 401)
    revoked        401 (also on streaming requests)
    forbidden      403
    quota          OpenAI 429 insufficient_quota / Anthropic 400 credit balance too low
    ratelimit      429 with Retry-After (seconds in the key: ratelimit0 -> 0 s), then success
    limitforever   429 with Retry-After every time
    servererr      500 every time
    flaky          500 on the first request of that key, then success
    overloaded     529 (Anthropic) / 503 (OpenAI)
    slow           sleeps 5 s before answering (to time out)
    drop           streams a few chunks, then drops the connection
    streamerr      200 then an error event mid-stream (Anthropic `error` event / OpenAI error chunk)
    malformed      streams invalid SSE data
    echoes         400 whose message echoes the key whole, upper-cased, base64-encoded and
                   split across lines, with terminal escape sequences (a hostile gateway)
    hostile        success, but model ids and names carry terminal escape sequences
    trickle        (with good) streams one chunk every 0.2 s, to be interrupted mid-answer

Unknown model ids get 404.  The reply text is ``"Echo[<model>]: <last user text>"``;
a prompt containing ``lines:N`` gets N numbered lines instead.  Every request is
recorded (path, key, model, messages, system, stream) in ``server.requests``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
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

    def start(self) -> "FakeProviderServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class Handler(BaseHTTPRequestHandler):
    server: FakeProviderServer
    protocol_version = "HTTP/1.1"

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

    def _send_json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, etype: str, message: str, code: str | None = None,
               headers: dict | None = None) -> None:
        if self._flavour() == "anthropic":
            body = {"type": "error", "error": {"type": etype, "message": message}}
        else:
            body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
        self._send_json(status, body, headers)

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _sse(self, data: dict | str, event: str | None = None) -> None:
        payload = data if isinstance(data, str) else json.dumps(data)
        out = (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"
        self.wfile.write(out.encode())
        self.wfile.flush()

    def _drop(self) -> None:
        # An abrupt close mid-stream: no terminating events, no chunk trailer.
        self.wfile.flush()
        self.close_connection = True
        try:
            import socket
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- behaviour by key -------------------------------------------------------------
    def _refuse_by_key(self, key: str, streaming: bool) -> bool:
        """Send the error the key asks for; return True when the request is finished."""
        anth = self._flavour() == "anthropic"
        n = self.server.count(key)
        if "good" not in key and not any(m in key for m in (
                "quota", "ratelimit", "limitforever", "servererr", "flaky", "overloaded",
                "slow", "drop", "streamerr", "malformed", "forbidden", "echoes", "hostile")):
            # Like the real OpenAI API, echo a partly masked key back.
            shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
            if anth:
                self._error(401, "authentication_error", "invalid x-api-key")
            else:
                self._error(401, "invalid_request_error",
                            f"Incorrect API key provided: {shown}. You can find your API key at "
                            "https://platform.openai.com/account/api-keys.", "invalid_api_key")
            return True
        if "echoes" in key:
            import base64

            half = len(key) // 2
            self._error(400, "invalid_request_error",
                        f"bad key {key}; as sent: {key.upper()}; decoded from "
                        f"{base64.b64encode(('Basic ' + key).encode()).decode()}; "
                        f"wrapped: {key[:half]}\n{key[half:]} "
                        "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b1;1H\u202edone")
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
            digits = "".join(ch for ch in key.split(marker)[1][:3] if ch.isdigit()) or "0"
            self._error(429, "rate_limit_error" if anth else "requests",
                        "Rate limit reached for requests.", "rate_limit_exceeded",
                        headers={"Retry-After": digits, "retry-after-ms": str(int(digits) * 1000)})
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
        if "slow" in key:
            time.sleep(self.server.slow_seconds)
        return False

    # -- routes -----------------------------------------------------------------------
    def do_GET(self):  # noqa: N802
        url = urlparse(self.path)
        key = self._key()
        self.server.requests.append({"method": "GET", "path": url.path, "key": key,
                                     "flavour": self._flavour()})
        if url.path != "/v1/models":
            return self._error(404, "not_found_error", f"Unknown path {url.path}")
        if self._refuse_by_key(key, False):
            return
        if self._flavour() == "anthropic":
            q = parse_qs(url.query)
            after = q.get("after_id", [None])[0]
            start = ANTHROPIC_MODELS.index(after) + 1 if after in ANTHROPIC_MODELS else 0
            page = ANTHROPIC_MODELS[start:start + ANTHROPIC_PAGE]
            data = [{"type": "model", "id": m, "display_name": m.replace("-", " ").title()
                     + ("\x1b[31m\x9b2J" if "hostile" in key else ""),
                     "created_at": "2026-01-01T00:00:00Z"} for m in page]
            return self._send_json(200, {
                "data": data, "has_more": start + ANTHROPIC_PAGE < len(ANTHROPIC_MODELS),
                "first_id": page[0] if page else None, "last_id": page[-1] if page else None})
        models = OPENAI_MODELS + (["gpt-evil\x1b]0;pwned\x07\x1b[2J"] if "hostile" in key else [])
        data = [{"id": m, "object": "model", "created": 1767225600, "owned_by": "openai"}
                for m in models]
        return self._send_json(200, {"object": "list", "data": data})

    def do_POST(self):  # noqa: N802
        url = urlparse(self.path)
        key = self._key()
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._error(400, "invalid_request_error", "Body is not JSON.")
        record = {"method": "POST", "path": url.path, "key": key, "model": body.get("model"),
                  "messages": body.get("messages"), "system": body.get("system"),
                  "stream": bool(body.get("stream")), "body": body, "flavour": self._flavour()}
        self.server.requests.append(record)
        if url.path == "/v1/chat/completions":
            return self._chat(key, body)
        if url.path == "/v1/messages":
            return self._messages(key, body)
        return self._error(404, "not_found_error", f"Unknown path {url.path}")

    def _model_ok(self, body: dict, known: list[str]) -> bool:
        if body.get("model") in known:
            return True
        if self._flavour() == "anthropic":
            self._error(404, "not_found_error", f"model: {body.get('model')}")
        else:
            self._error(404, "invalid_request_error",
                        f"The model `{body.get('model')}` does not exist or you do not have "
                        "access to it.", "model_not_found")
        return False

    def _chat(self, key: str, body: dict) -> None:
        stream = bool(body.get("stream"))
        if self._refuse_by_key(key, stream) or not self._model_ok(body, OPENAI_MODELS):
            return
        model = body["model"]
        text = _reply_text(model, body.get("messages") or [])
        usage = {"prompt_tokens": 11, "completion_tokens": len(text.split()),
                 "total_tokens": 11 + len(text.split())}
        base = {"id": "chatcmpl-fake", "created": 1767225600, "model": model}
        if not stream:
            return self._send_json(200, {
                **base, "object": "chat.completion",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": usage})
        self._start_sse()
        chunk = {**base, "object": "chat.completion.chunk"}
        self._sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                         "finish_reason": None}]})
        for i, piece in enumerate(_chunks(text)):
            if "trickle" in key:
                time.sleep(0.2)
            if "drop" in key and i == 2:
                return self._drop()
            if "streamerr" in key and i == 2:
                return self._sse({"error": {"message": "The server had an error while "
                                            "processing your request.", "type": "server_error"}})
            if "malformed" in key and i == 2:
                self.wfile.write(b"data: {not json\n\n")
                self.wfile.flush()
                return
            self._sse({**chunk, "choices": [{"index": 0, "delta": {"content": piece},
                                             "finish_reason": None}]})
        self._sse({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            self._sse({**chunk, "choices": [], "usage": usage})
        self._sse("[DONE]")

    def _messages(self, key: str, body: dict) -> None:
        stream = bool(body.get("stream"))
        if self._refuse_by_key(key, stream) or not self._model_ok(body, ANTHROPIC_MODELS):
            return
        model = body["model"]
        text = _reply_text(model, body.get("messages") or [])
        out_tokens = len(text.split())
        message = {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                   "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 13, "output_tokens": 1}}
        if not stream:
            return self._send_json(200, {**message, "stop_reason": "end_turn",
                                         "content": [{"type": "text", "text": text}],
                                         "usage": {"input_tokens": 13, "output_tokens": out_tokens}})
        self._start_sse()
        self._sse({"type": "message_start", "message": {**message, "content": []}}, "message_start")
        self._sse({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "text", "text": ""}}, "content_block_start")
        self._sse({"type": "ping"}, "ping")
        for i, piece in enumerate(_chunks(text)):
            if "trickle" in key:
                time.sleep(0.2)
            if "drop" in key and i == 2:
                return self._drop()
            if "streamerr" in key and i == 2:
                return self._sse({"type": "error", "error": {"type": "overloaded_error",
                                                             "message": "Overloaded"}}, "error")
            if "malformed" in key and i == 2:
                self.wfile.write(b"event: content_block_delta\ndata: {not json\n\n")
                self.wfile.flush()
                return
            self._sse({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
        self._sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self._sse({"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                      "stop_sequence": None},
                   "usage": {"output_tokens": out_tokens}}, "message_delta")
        self._sse({"type": "message_stop"}, "message_stop")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = FakeProviderServer(("127.0.0.1", port))
    print(server.url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
