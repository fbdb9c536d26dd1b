"""What the gateway understands of a request and its answer, with no HTTP library.

Three kinds of request are policed (budgets held, usage recorded): OpenAI-style chat
completions and responses, and Anthropic messages. Everything else is passed through with
the key swapped in. The body is never rewritten: it is read here only to learn the model,
the worst case to hold, and, from the answer, the usage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_SCANNED_LINE = 1 << 20   # an SSE line longer than this is not read for usage


@dataclass
class Policed:
    """A request the gateway applies policy to."""

    kind: str                   # chat | responses | messages
    model: str
    system: str | None
    messages: list[dict]
    max_tokens: int | None
    stream: bool


def policed(api: str, method: str, path: str, body: bytes) -> Policed | None:
    """The request, if it is one byok polices (``path``: after the provider's name)."""
    if method != "POST":
        return None
    path = "/" + path.strip("/")
    if api == "anthropic":
        kind = "messages" if path in ("/v1/messages", "/messages") else None
    else:
        kind = ("chat" if path.endswith("/chat/completions") or path == "/chat/completions"
                else "responses" if path.endswith("/responses") else None)
    if kind is None:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None  # the upstream says what is wrong with it
    if not isinstance(data, dict) or not isinstance(data.get("model"), str):
        return None
    system = data.get("system") if kind == "messages" else data.get("instructions")
    messages = data.get("messages") if kind != "responses" else data.get("input")
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not isinstance(messages, list):
        messages = []
    limit = next((data[k] for k in ("max_tokens", "max_completion_tokens", "max_output_tokens")
                  if isinstance(data.get(k), int) and not isinstance(data.get(k), bool)), None)
    return Policed(kind, data["model"], system if isinstance(system, str) else
                   (json.dumps(system) if system else None),
                   [m if isinstance(m, dict) else {"content": m} for m in messages],
                   limit if limit and limit > 0 else None, data.get("stream") is True)


@dataclass
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    model: str | None = None    # the served model, as the answer names it

    def read(self, data: object) -> None:
        """Take what one answer, or one streamed event, says."""
        if not isinstance(data, dict):
            return
        if data.get("type") == "message_start":       # anthropic stream
            data = data.get("message") or {}
        elif isinstance(data.get("response"), dict):    # responses stream events
            data = data["response"]
        if isinstance(data.get("model"), str) and data["model"]:
            self.model = data["model"]
        usage = data.get("usage")
        if not isinstance(usage, dict):
            return
        tokens_in = _count(usage, "prompt_tokens", "input_tokens")
        tokens_out = _count(usage, "completion_tokens", "output_tokens")
        if tokens_in is not None:
            cached = (_count(usage, "cache_read_input_tokens")
                      or _count(usage.get("prompt_tokens_details") or {}, "cached_tokens")
                      or _count(usage.get("input_tokens_details") or {}, "cached_tokens"))
            created = _count(usage, "cache_creation_input_tokens") or 0
            if "cache_read_input_tokens" in usage or created:  # anthropic counts them apart
                tokens_in += (cached or 0) + created
            self.input_tokens, self.cached_input_tokens = tokens_in, cached
        if tokens_out is not None:
            self.output_tokens = tokens_out

    @property
    def known(self) -> bool:
        return self.input_tokens is not None and self.output_tokens is not None


def _count(usage: dict, *names: str) -> int | None:
    for name in names:
        value = usage.get(name) if isinstance(usage, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


class StreamScanner:
    """Reads the usage out of a server-sent event stream as it passes, chunk by chunk,
    without holding the stream back (only an unfinished line is kept)."""

    def __init__(self, usage: Usage):
        self.usage = usage
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        data = self._tail + chunk
        lines = data.split(b"\n")
        self._tail = lines.pop()
        if len(self._tail) > MAX_SCANNED_LINE:
            self._tail = b""
        for line in lines:
            if line.startswith(b"data:") and (b'"usage"' in line or b'"model"' in line):
                try:
                    self.usage.read(json.loads(line[5:]))
                except (ValueError, UnicodeDecodeError, RecursionError):
                    pass


def error_body(api: str, status: int, message: str) -> bytes:
    """An error in the shape of the provider's API, so its SDK reads it as its own."""
    if api == "anthropic":
        kind = {400: "invalid_request_error", 401: "authentication_error",
                402: "billing_error", 403: "permission_error", 404: "not_found_error",
                413: "request_too_large",
                429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}
                          ).encode()
    kind = {401: "invalid_api_key", 403: "permission_denied", 404: "not_found",
            413: "request_too_large", 429: "rate_limit_exceeded",
            402: "insufficient_quota"}.get(status, "gateway_error")
    return json.dumps({"error": {"message": message, "type": kind, "param": None,
                                 "code": kind}}).encode()


def stream_error(api: str, message: str) -> bytes:
    """The event that ends a stream the upstream broke off, as that API reports errors."""
    if api == "anthropic":
        return (b"event: error\ndata: " + error_body(api, 502, message) + b"\n\n")
    return b"data: " + error_body(api, 502, message) + b"\n\n"


def masked(data: bytes, key: str | None, thorough: bool = False) -> bytes:
    """``data`` with the key shown only by its last four characters. ``thorough`` (an error
    answer, where a hostile or careless server may echo the key split, upper-cased or
    encoded): masked as byok masks everything it prints (errors.redact)."""
    if thorough:
        from ..errors import redact

        text = data.decode("utf-8", "surrogateescape")
        cleaned = redact(text)
        data = data if cleaned == text else cleaned.encode("utf-8", "surrogateescape")
    if not key or len(key) < 8:
        return data
    raw = key.encode()
    return data.replace(raw, ("…" + key[-4:]).encode()) if raw in data else data
