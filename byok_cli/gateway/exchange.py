"""What the gateway understands of a request and its answer, with no HTTP library.

Three kinds of request are policed (budgets held, usage recorded): OpenAI-style chat
completions and responses, and Anthropic messages. Everything else is passed through with
the key swapped in. The body is never rewritten: it is read here only to learn the model,
the worst case to hold, and, from the answer, the usage.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Callable

from ..errors import ByokError, Code, secrets_seen
from ..wire.limits import MAX_LINE, LimitExceeded, loads


# Percent-encoded characters a path must not carry: they would change, once decoded by
# the upstream or a proxy, which resource the request is for (/, ?, #, \\, NUL).
_ENCODED_SEPARATOR = re.compile(r"%(?:2[fF]|3[fF]|23|5[cC]|00)")


def upstream_path(raw_path: str, provider: str) -> tuple[str, str]:
    """(the path after the provider's name as the upstream will receive it, still
    percent-encoded; its query) from the request's raw path, ``/PROVIDER/REST?QUERY``.
    Dot segments are resolved here, so that policy is decided on the path that is sent;
    an encoded separator or dot segment, or a ``..`` above the provider's base URL, is a
    usage error (400)."""
    path, _, query = raw_path.partition("?")
    if _ENCODED_SEPARATOR.search(path):
        raise ByokError(Code.USAGE, "the path holds an encoded /, ?, # or \\: spell it plainly")
    from urllib.parse import quote, unquote

    kept: list[str] = []
    segments = path.split("/")
    if len(segments) < 2 or unquote(segments[1]) != provider:
        raise ByokError(Code.USAGE, "the path must begin with the provider's name")
    segments = segments[2:]
    for i, segment in enumerate(segments):
        plain = unquote(segment)
        if plain in (".", "..") and segment != plain:
            raise ByokError(Code.USAGE, "the path holds an encoded dot segment")
        if plain == "..":
            if not kept:
                raise ByokError(Code.USAGE, "the path leaves the provider's base URL (..)")
            kept.pop()
        elif plain != ".":
            kept.append(segment)
            continue
        if i == len(segments) - 1:
            kept.append("")  # "a/b/." is "a/b/"
    # what a client sent unencoded outside ASCII goes on percent-encoded, as a URL carries it
    return quote("/".join(kept), safe=_URL_SAFE), quote(query, safe=_URL_SAFE + "?/")


_URL_SAFE = "%:@!$&'()*+,;=-._~/"


@dataclass
class Policed:
    """A request the gateway applies policy to."""

    kind: str                   # chat | responses | messages
    model: str
    system: str | None
    messages: list[dict]
    max_tokens: int | None
    stream: bool
    choices: int = 1            # chat: the request's ``n`` (the choice indexes it may get)


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
        data = loads(body, "the request")
    except LimitExceeded as exc:  # not read, so not policed: not sent either
        raise ByokError(Code.LIMIT_EXCEEDED, exc.detail) from None
    except ValueError:
        return None  # not JSON: the upstream says what is wrong with it
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
                   limit if limit and limit > 0 else None, data.get("stream") is True,
                   _choices(data) if kind == "chat" else 1)


def _choices(data: dict) -> int:
    n = data.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1


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
        if len(self._tail) > MAX_LINE:  # not read for usage
            self._tail = b""
        for line in lines:
            # parsed only where it says something new: usage that is not null, or the
            # model before one is known (every chunk of a stream names it)
            if line.startswith(b"data:") and (
                    (b'"usage"' in line and _SOME_USAGE.search(line))
                    or (self.usage.model is None and b'"model"' in line)):
                try:
                    self.usage.read(loads(line[5:]))
                except (ValueError, LimitExceeded):
                    pass


_SOME_USAGE = re.compile(rb'"usage"\s*:\s*(?!null)')


class KeyMasker:
    """Masks the key in an answer passed on chunk by chunk, also when it is split across
    chunks, without holding the stream back: all that waits for the next chunk is a
    chunk's tail that could begin the key (at most len(key) - 1 bytes), and only when it
    could. The key shows by its last four characters, as byok shows keys everywhere."""

    def __init__(self, key: str | None):
        self.raw = key.encode() if key and len(key) >= 8 else b""
        self.key, self.key_shown = (key, "…" + key[-4:]) if self.raw else ("", "")
        self.shown = ("…" + key[-4:]).encode() if self.raw else b""
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        if not self.raw:
            return chunk
        data = self._held + chunk if self._held else chunk
        if self.raw in data:
            data = data.replace(self.raw, self.shown)
        if b"\\u" in data:
            data = _unescaped(data, self._fix)
        cut = self._key_begins(data)
        window = max(0, len(data) - 6 * len(self.raw))  # the key, every character escaped
        if b"\\" in data[window:]:
            # a tail of escapes and key characters may be the key's escaped beginning
            run = _OPEN_RUN.search(data[window:])
            if run and b"\\" in run.group(0):
                cut = min(cut, window + run.start())
        self._held = data[cut:]
        return data[:cut]

    def _fix(self, text: str) -> str:
        return text.replace(self.key, self.key_shown) if self.key in text else text

    def end(self) -> bytes:
        """What is still held when the answer ends (it never became the key)."""
        held, self._held = self._held, b""
        return held

    def _key_begins(self, data: bytes) -> int:
        """Where the longest tail of ``data`` that begins the key starts; len(data): none."""
        i = data.find(self.raw[:1], max(0, len(data) - len(self.raw) + 1))
        while i != -1:
            if self.raw.startswith(data[i:]):
                return i
            i = data.find(self.raw[:1], i + 1)
        return len(data)


def masked(data: bytes, key: str | None, thorough: bool = False) -> bytes:
    """``data`` with the key shown only by its last four characters, also where JSON
    writes it in \\uXXXX escapes. ``thorough`` (an error answer or a header, where a
    hostile or careless server may echo the key split, upper-cased or encoded): masked as
    byok masks everything it prints (errors.redact)."""
    if thorough:
        from ..errors import redact

        text = data.decode("utf-8", "surrogateescape")
        cleaned = redact(text)
        data = data if cleaned == text else cleaned.encode("utf-8", "surrogateescape")
    usable = bool(key) and len(key) >= 8
    if b"\\u" in data and (usable or thorough):
        data = _unescaped(data, lambda text: _masked_text(text, key if usable else None,
                                                          thorough))
    if not usable:
        return data
    raw = key.encode()
    return data.replace(raw, ("…" + key[-4:]).encode()) if raw in data else data


def masked_header(value: str, key: str | None) -> str:
    """A response header's value as the client may see it: masked as an error body is
    (errors.redact), the key shown by its last four characters."""
    if len(value) > 256:  # not kept: a hostile upstream could fill the cache
        value = _redacted.__wrapped__(value, 0)
    elif len(value) >= 8:  # shorter, it cannot hold a piece of a key
        value = _redacted(value, secrets_seen())
    return value.replace(key, "…" + key[-4:]) if key and len(key) >= 8 and key in value \
        else value


@functools.lru_cache(maxsize=4096)
def _redacted(value: str, seen: int) -> str:
    """errors.redact, kept: most header values recur from one answer to the next (dates
    once a second), and redact costs microseconds each. ``seen``: a new secret to mask
    makes what was kept stale."""
    from ..errors import redact

    return redact(value)


def _masked_text(text: str, key: str | None, thorough: bool) -> str:
    if thorough:
        from ..errors import redact

        text = redact(text)
    return text.replace(key, "…" + key[-4:]) if key and key in text else text


# A run of key characters and JSON \uXXXX escapes with at least one escape (a key written
# escaped, whole or in part); _OPEN_RUN: such a run at the end of a chunk, perhaps cut
# inside an escape.
_KEY_CHAR = rb"[A-Za-z0-9_.~+/=\-]"
_ESCAPE = rb"\\u[0-9A-Fa-f]{4}"
_RUN_START = rb"(?<![A-Za-z0-9_.~+/=\-])"  # runs are tried from their start only: linear
_ESCAPED_RUN = re.compile(rb"%s(?:%s|%s)*%s(?:%s|%s)*" % (
    _RUN_START, _ESCAPE, _KEY_CHAR, _ESCAPE, _ESCAPE, _KEY_CHAR))
_OPEN_RUN = re.compile(rb"%s(?:%s|%s)*(?:\\(?:u[0-9A-Fa-f]{0,3})?)?\Z" % (
    _RUN_START, _ESCAPE, _KEY_CHAR))


def _unescaped(data: bytes, fix: Callable[[str], str]) -> bytes:
    """``data`` with each escaped run that ``fix`` changes, once decoded, replaced by the
    fixed text, escaped again (so the JSON around it stays valid)."""
    def one(m: re.Match) -> bytes:
        run = m.group(0).decode("ascii")
        plain = re.sub(r"\\u([0-9A-Fa-f]{4})", lambda e: chr(int(e.group(1), 16)), run)
        fixed = fix(plain)
        return m.group(0) if fixed == plain else json.dumps(fixed)[1:-1].encode()

    return _ESCAPED_RUN.sub(one, data)
