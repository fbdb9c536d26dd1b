"""A fake OpenAI + Anthropic HTTP server for byok's tests and benchmarks: scripted failures.

It speaks the parts of both APIs byok uses, over real HTTP/1.1 on 127.0.0.1 (streams are
chunked on a kept-alive connection, as the real APIs send them), so byok and the official
SDKs talk to it unmodified. The API key of a request decides its fate:

    good     success; any other key that matches no marker of fakefaults.py gets 401;
             the markers script failures (revoked, quota, ratelimitN, servererr, drop,
             errorbody200, gzip, endless, ...: see fakefaults.py)

Two mounts stand for other kinds of endpoint, with both APIs under them:

    /gw/...      a gateway (LiteLLM-style) with model ids of its own (GATEWAY_MODELS)
    /local/...   a local server (Ollama-style) that needs no key at all (LOCAL_MODELS)

A key with ``nomodels`` in it gets a bare 404 for the model list, as a gateway without
/models answers, while its prompts are answered; with ``counttokens``, the same, and
Anthropic's POST /v1/messages/count_tokens is answered (refused as the key's other markers
say). Unknown model ids get 404.  The reply text is ``"Echo[<model>]: <last user text>"``
(with ``answerecho``, ``"the key: <the key sent> end"``);
a prompt containing ``lines:N`` gets N numbered lines instead.  Every request is
recorded (method, mount, path, query, headers, key, body, client port) in
``server.requests``.
"""

from __future__ import annotations

import gzip
import json
import socket
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from fakefaults import Faults, scripted_usage

OPENAI_MODELS = [
    "gpt-6.2-astra", "gpt-6.2-sol", "gpt-6.1-sol", "gpt-6.1-terra", "gpt-6-luna", "gpt-5.6-sol",
    "gpt-5.6-terra", "gpt-5.6-luna", "gpt-5.5", "gpt-4o", "gpt-4o-mini",
    "text-embedding-3-small", "whisper-1", "dall-e-3", "tts-1", "omni-moderation-latest",
    "gpt-7-preview-fake", "gpt-6.2-astro",
]
ANTHROPIC_MODELS = [
    "claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-4-8",
    "claude-sonnet-4-6", "claude-haiku-4-5", "claude-brandnew-9",
]
ANTHROPIC_PAGE = 3  # small pages so that pagination is exercised
GATEWAY_MODELS = ["my-gateway-model", "team/llama-70b", "claude-via-gateway"]
LOCAL_MODELS = ["llama3.2", "qwen2.5:7b"]
MOUNTS = ("/gw", "/local")
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


def _requested_schema(body: dict):
    """The JSON Schema a request asks the answer to fit: OpenAI's response_format or
    Anthropic's output_config.format (structured outputs), else None."""
    fmt = body.get("response_format") or {}
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("schema")
    fmt = (body.get("output_config") or {}).get("format") or {}
    return fmt.get("schema") if fmt.get("type") == "json_schema" else None


def _instance(schema, body: dict, root, depth: int = 0):
    """A value that fits the schema (its first choice everywhere), as a model held to it
    would answer: strings are "Echo[<model>]", numbers 42, lists of one item."""
    if not isinstance(schema, dict) or depth > 20:
        return None
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        target = root
        for part in schema["$ref"][2:].split("/"):
            target = target.get(part, {})
        return _instance(target, body, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for word in ("anyOf", "oneOf"):
        if schema.get(word):
            return _instance(schema[word][0], body, root, depth + 1)
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        return {name: _instance(sub, body, root, depth + 1)
                for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_instance(schema.get("items") or {}, body, root, depth + 1)]
    return {"string": f"Echo[{body.get('model')}]", "integer": 42, "number": 4.2,
            "boolean": True, "null": None}.get(kind)


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

    def connections(self) -> set[int]:
        """The client ports requests came from: one per TCP connection."""
        return {r["client_port"] for r in self.requests}

    def start(self) -> "FakeProviderServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class Handler(Faults, BaseHTTPRequestHandler):
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

    def _route(self) -> tuple[str, str]:
        """(mount, path under it): "" for the providers' own endpoints."""
        path = urlparse(self.path).path
        for mount in MOUNTS:
            if path.startswith(mount + "/"):
                return mount, path[len(mount):]
        return "", path

    def _models(self, anthropic: bool) -> list[str]:
        mount = self._route()[0]
        if mount:
            return GATEWAY_MODELS if mount == "/gw" else LOCAL_MODELS
        return ANTHROPIC_MODELS if anthropic else OPENAI_MODELS

    def _flavour(self) -> str:
        return "anthropic" if self._route()[1].startswith("/v1/messages") or self.headers.get(
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
        mount, path = self._route()
        record = {"method": self.command, "mount": mount, "path": path,
                  "query": parse_qs(url.query),
                  "raw_query": url.query, "headers": {k.lower(): v for k, v in self.headers.items()},
                  "key": self._key(), "flavour": self._flavour(),
                  "client_port": self.client_address[1], "body": body}
        if body is not None:
            record.update(model=body.get("model"), messages=body.get("messages"),
                          system=body.get("system"), stream=bool(body.get("stream")))
        self.server.requests.append(record)
        return record

    # -- routes -----------------------------------------------------------------------
    def _refused(self, key: str) -> bool:
        # a local server takes any key, or none
        return self._route()[0] != "/local" and self._refuse_by_key(key)

    def do_GET(self):  # noqa: N802
        url = urlparse(self.path)
        path = self._route()[1]
        key = self._key()
        self._record(None)
        if path != "/v1/models":
            return self._error(404, "not_found_error", f"Unknown path {path}")
        if "nomodels" in key or "counttokens" in key:  # a gateway with no model list
            return self._send_json(404, {"detail": "Not Found"})  # (FastAPI's 404)
        if self._refused(key):
            return
        known = self._models(self._flavour() == "anthropic")
        q = parse_qs(url.query)
        if "barelist" in key:
            return self._send_json(200, [{"id": m, "object": "model"} for m in known])
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
            start = known.index(after) + 1 if after in known else 0
            page = known[start:start + min(limit, ANTHROPIC_PAGE)]
            data = [{"type": "model", "id": m, "display_name": m.replace("-", " ").title()
                     + ("\x1b[31m\x9b2J" if "hostile" in key else ""),
                     "created_at": "2026-01-01T00:00:00Z"} for m in page]
            return self._send_json(200, {
                "data": data, "has_more": start + len(page) < len(known),
                "first_id": page[0] if page else None, "last_id": page[-1] if page else None})
        models = known + (["gpt-evil\x1b]0;pwned\x07\x1b[2J"] if "hostile" in key else [])
        data = [{"id": m, "object": "model", "created": 1767225600, "owned_by": "openai"}
                for m in models]
        return self._send_json(200, {"object": "list", "data": data})

    def do_POST(self):  # noqa: N802
        path = self._route()[1]
        key = self._key()
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._error(400, "invalid_request_error", "Body is not JSON.")
        self._record(body)
        if path == "/v1/responses":
            return self._responses(key, body)
        if path == "/v1/messages/count_tokens" and "counttokens" in key:
            if self._refused(key) or not self._model_ok(body, True):
                return
            return self._send_json(200, {"input_tokens": 8})
        if path not in ("/v1/chat/completions", "/v1/messages"):
            return self._error(404, "not_found_error", f"Unknown path {path}")
        anth = path == "/v1/messages"
        if self._refused(key) or not self._model_ok(body, anth):
            return
        if "errorbody200" in key:
            return self._error(200, "invalid_request_error",
                               "The model is busy with another request of yours")
        if "outage200" in key:
            return self._send_json(200, {"error": "Internal Server Error: upstream connect "
                                                  "error or disconnect/reset before headers"})
        if self._endless_answer(key, anth):
            return
        schema = _requested_schema(body)
        text = (_reply_text(body["model"], body.get("messages") or []) if schema is None
                else json.dumps(_instance(schema, body, schema)))
        if "answerecho" in key:  # a hostile answer: the key sent, cut across stream events
            text = f"the key: {key} end" if schema is None else json.dumps({"key": key})
        whole = not body.get("stream") or "wholejson" in key or "wholenoct" in key
        content_type = None if "wholenoct" in key else "application/json"
        if not whole:
            return self._messages(key, body, text) if anth else self._chat(key, body, text)
        answer = (_anthropic_whole if anth else _openai_whole)(body["model"], text)
        names = ("input_tokens", "output_tokens") if anth else ("prompt_tokens",
                                                                "completion_tokens")
        answer["usage"] = scripted_usage(key, answer["usage"], *names)
        return self._send_json(200, answer, content_type=content_type)

    def _model_ok(self, body: dict, anthropic: bool) -> bool:
        if body.get("model") in self._models(anthropic):
            return True
        if self._flavour() == "anthropic":
            self._error(404, "not_found_error", f"model: {body.get('model')}")
        else:
            self._error(404, "invalid_request_error",
                        f"The model `{body.get('model')}` does not exist or you do not have "
                        "access to it.", "model_not_found")
        return False

    def _chat(self, key: str, body: dict, text: str) -> None:
        model = body["model"]
        usage = scripted_usage(key, _openai_usage(text), "prompt_tokens", "completion_tokens")
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

    def _responses(self, key: str, body: dict) -> None:
        """OpenAI's Responses API: the reply as a response object, or streamed as its typed
        events, the usage (input/output tokens) only in `response.completed`."""
        if self._refused(key) or not self._model_ok(body, False):
            return
        given = body.get("input")
        turns = [{"role": "user", "content": given}] if isinstance(given, str) else given or []
        text = _reply_text(body["model"], turns)
        chat = _openai_usage(text)
        usage = {"input_tokens": chat["prompt_tokens"], "output_tokens": chat["completion_tokens"],
                 "total_tokens": chat["total_tokens"],
                 "input_tokens_details": {"cached_tokens": (chat.get("prompt_tokens_details")
                                                            or {}).get("cached_tokens", 0)},
                 "output_tokens_details": {"reasoning_tokens": 0}}
        item = {"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}
        done = {"id": "resp_fake", "object": "response", "created_at": 1767225600,
                "model": body["model"], "status": "completed", "output": [item], "usage": usage}
        if not body.get("stream"):
            return self._send_json(200, done)
        self._start_sse()
        started = {**done, "status": "in_progress", "output": [], "usage": None}
        self._sse({"type": "response.created", "response": started}, "response.created")
        # each output item and content part added before its deltas, as OpenAI writes
        # them (the gateway refuses a delta to one not added: gateway.indexes)
        where = {"item_id": "msg_fake", "output_index": 0, "content_index": 0}
        part = {"type": "output_text", "text": "", "annotations": []}
        for kind, event in (
                ("response.output_item.added", {"output_index": 0, "item": {
                    **item, "status": "in_progress", "content": []}}),
                ("response.content_part.added", {**where, "part": part})):
            self._sse({"type": kind, **event}, kind)
        for piece in _chunks(text):
            self._sse({"type": "response.output_text.delta", **where, "delta": piece},
                      "response.output_text.delta")
        for kind, event in (
                ("response.output_text.done", {**where, "text": text}),
                ("response.content_part.done", {**where, "part": item["content"][0]}),
                ("response.output_item.done", {"output_index": 0, "item": item}),
                ("response.completed", {"response": done})):
            self._sse({"type": kind, **event}, kind)
        self._end_sse()

    def _messages(self, key: str, body: dict, text: str) -> None:
        model = body["model"]
        out_tokens = len(text.split())
        gateway = "gwtokens" in key
        message = {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                   "stop_reason": None, "stop_sequence": None,
                   "usage": scripted_usage(key, {"input_tokens": 0 if gateway else 13,
                                                 "output_tokens": 1}, "input_tokens",
                                           "output_tokens")}
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
    """11 prompt tokens, of which 8 came from OpenAI's prompt cache when the prompt says
    "cached", and one completion token per word of the reply."""
    words = len(text.split())
    usage = {"prompt_tokens": 11, "completion_tokens": words, "total_tokens": 11 + words}
    if "cached" in text:
        usage["prompt_tokens_details"] = {"cached_tokens": 8}
    return usage


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


USAGE = "usage: python tests/fakeprovider.py [PORT]  (0 or none: any free port; prints its URL)"


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(USAGE + "\n\n" + (__doc__ or "").strip())
        return
    if len(args) > 1 or (args and not (args[0].isdigit() and int(args[0]) < 65536)):
        sys.exit(f"{USAGE}\nnot a port: {' '.join(args)}")
    port = int(args[0]) if args else 0
    server = FakeProviderServer(("127.0.0.1", port))
    print(server.url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
