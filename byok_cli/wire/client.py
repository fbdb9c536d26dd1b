"""What both wire protocols share: sending a request with a key, reading the answer in
whatever shape it comes, paging through model lists, and the one retry policy.

A protocol module (openai_chat, anthropic_messages) says how its requests and answers
look; this module never names a vendor. Whatever it raises is a ByokError built in
`errors`, or a bug: no `except Exception` here turns a TypeError into an outage.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

from ..version import __version__
from ..errors import ByokError, Code
from . import sse, transport
from .errors import (Malformed, NotServed, classify, incomplete, is_error_body, limit_error, name_of,
                     network_error)
from .limits import (MAX_DEPTH, MAX_ERROR_BODY, MAX_MODELS, MAX_PAGES, LimitExceeded, depth_ok,
                     loads, size)
from .retry import OnRetry, stream_with_retries, with_retries
from .types import ChatRequest, ChatResult, RemoteModel, Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any

USER_AGENT = f"byok/{__version__}"


class Client:
    """One provider, one key, one base URL. Subclasses fill in the protocol."""

    chat_path = ""
    models_path = ""
    cursor_param = "after"     # the query parameter that asks for the page after a cursor
    page_limit: int | None = None
    validate_limit: int | None = None
    check_path: str | None = None  # a prompt-free, free check of a key, where the API has one
    max_pages = MAX_PAGES      # a model list longer than this many pages is cut short

    def __init__(self, provider: str, key: str | None, base_url: str, settings: Settings, *,
                 own_models_only: bool = False):
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self._key = key         # None: a provider that needs none; no credentials are sent
        # The API's own endpoint lists more than chat models; a gateway lists what it serves.
        self.own_models_only = own_models_only
        self.truncated = False  # set when list_models stopped at max_pages

    # -- what a protocol module provides -------------------------------------------------
    def auth_headers(self, key: str | None) -> dict[str, str]:
        raise NotImplementedError

    def chat_body(self, request: ChatRequest) -> dict:
        raise NotImplementedError

    def read_whole(self, data: Any, result: ChatResult) -> str:
        """The text of a whole (non-streamed) answer; fills in `result`."""
        raise NotImplementedError

    def read_stream(self, events: Iterator[sse.Event], result: ChatResult) -> Iterator[str]:
        """The pieces of a streamed answer; returns only once the answer is complete."""
        raise NotImplementedError

    def keep_model(self, model_id: str) -> bool:
        return True

    # -- sending ---------------------------------------------------------------------------
    def headers(self, with_body: bool) -> dict[str, str]:
        out = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate",
               "Connection": "keep-alive", "User-Agent": USER_AGENT}
        if with_body:
            out["Content-Type"] = "application/json"
        if self._key is not None and not sendable(self._key):
            raise ByokError(Code.USAGE, f"the {name_of(self.provider)} key has a character an "
                            "HTTP header cannot carry (a line break, a control character or "
                            "non-ASCII text); nothing was sent", provider=self.provider,
                            hint=f"store it again with `byok key set {self.provider}`, or fix "
                                 "the variable it came from")
        out.update(self.auth_headers(self._key))
        return out

    def url(self, path: str, query: dict | None = None) -> str:
        return self.base_url + path + ("?" + urlencode(query) if query else "")

    def send(self, method: str, path: str, *, query: dict | None = None,
             body: dict | None = None, during: str, model: str | None = None
             ) -> transport.Response:
        """One request; returns a 2xx answer, raises ByokError for anything else."""
        data = None if body is None else json.dumps(
            body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        try:
            resp = transport.request(method, self.url(path, query), self.headers(data is not None),
                                     data, self.settings)
        except transport.TransportError as exc:
            raise network_error(self.provider, exc, self.base_url) from None
        if 200 <= resp.status < 300:
            return resp
        if 300 <= resp.status < 400:
            resp.close()
            where = resp.headers.get("location", "elsewhere")
            raise ByokError(Code.BAD_REQUEST, f"{name_of(self.provider)} answered with a redirect "
                            f"({resp.status} to {where})",
                            hint="check the base URL: byok does not follow redirects with a key",
                            provider=self.provider)
        past = None  # why the error body cannot be read, when it is past a limit
        try:
            text = resp.read(MAX_ERROR_BODY)
        except transport.TransportError as exc:
            text = b""
            if exc.kind == "too_large":
                past = f"more than {size(MAX_ERROR_BODY)} of error body"
        if past is None and text.lstrip()[:1] in (b"{", b"[") and not depth_ok(text):
            past = f"an error body that nests JSON more than {MAX_DEPTH} levels deep"
        err = classify(self.provider, resp.status, text, headers=resp.headers, during=during,
                       model=model)
        if past and err.code == Code.BAD_REQUEST:
            # The status alone says nothing more than "refused": what it refused is in the
            # words byok will not read, so this is an answer past a limit, as a 2xx one is.
            raise limit_error(self.provider, LimitExceeded("error", f"a {resp.status} answer "
                              f"with {past}"), self.base_url) from None
        raise err

    def read_json(self, resp: transport.Response) -> Any:
        try:
            raw = resp.read()
        except transport.TransportError as exc:
            raise network_error(self.provider, exc, self.base_url) from None
        try:
            return loads(raw)
        except LimitExceeded as exc:
            raise limit_error(self.provider, exc, self.base_url) from None
        except ValueError:
            shown = raw[:80].decode("utf-8", "replace")
            raise network_error(self.provider, Malformed(f"not JSON: {shown!r}"),
                                self.base_url) from None

    # -- chat ------------------------------------------------------------------------------
    def chat(self, request: ChatRequest, result: ChatResult,
             on_retry: OnRetry | None = None) -> Iterator[str]:
        body = self.chat_body(request)
        return stream_with_retries(lambda: self._chat_once(body, request, result),
                                   self.settings, on_retry)

    def _chat_once(self, body: dict, request: ChatRequest, result: ChatResult) -> Iterator[str]:
        result.reset()
        resp = self.send("POST", self.chat_path, body=body, during="chat", model=request.model)
        watch = None
        try:
            if _is_event_stream(resp, request.stream):
                watch = _Watch(resp.where, self.settings.timeout)
                events = watch.events(sse.events(watch.lines(resp.lines())))
                pieces = watch.text(self.read_stream(events, result))
                if request.stream:
                    yield from pieces
                else:  # asked whole, sent as a stream anyway: read as one, under the same
                    for _ in pieces:  # limits, and handed on whole once it is complete
                        pass
                resp.finish()  # complete: the connection may serve the next turn
                if not request.stream:
                    yield result.text
                return
            # Not streamed, or a gateway that answered a streamed request in one piece.
            data = self.read_json(resp)
            if is_error_body(data):
                raise classify(self.provider, None, data, during="chat", model=request.model)
            text = self.read_whole(data, result)
            result.text_parts.append(text)
            yield text
        except ByokError as err:  # the answer's own error event, or its end before all of it
            raise _after_keepalives(err, watch) from None
        except Malformed as exc:
            raise _after_keepalives(network_error(self.provider, exc, self.base_url),
                                    watch) from None
        except LimitExceeded as exc:
            raise limit_error(self.provider, exc, self.base_url) from None
        except transport.TransportError as exc:
            raise _after_keepalives(network_error(self.provider, exc, self.base_url),
                                    watch) from None
        finally:
            resp.close()

    def decode_event(self, event: sse.Event) -> Any:
        try:
            return loads(event.data, "an event of the stream")
        except ValueError:
            raise Malformed(f"an event that is not JSON: {event.data[:80]!r}") from None

    def incomplete(self) -> ByokError:
        return incomplete(self.provider)

    # -- models ----------------------------------------------------------------------------
    def _page(self, cursor: str | None, limit: int | None) -> Any:
        query: dict = {}
        if cursor:
            query[self.cursor_param] = cursor
        if limit:
            query["limit"] = limit
        resp = self.send("GET", self.models_path, query=query or None, during="models")
        return self.read_json(resp)

    def list_models(self) -> list[RemoteModel]:
        """Every model the key can use, following pages while a cursor is new and for at
        most `max_pages` pages. A bare JSON array is accepted as the whole list."""
        found: dict[str, RemoteModel] = {}
        seen: set[str | None] = {None}
        cursor = None
        self.truncated = False
        for _ in range(self.max_pages):
            data = with_retries(lambda: self._page(cursor, self.page_limit), self.settings)
            models, cursor = _models_page(data, self.provider, self.base_url)
            for m in models:
                if self.keep_model(m.id):
                    found.setdefault(m.id, m)
            if len(found) >= MAX_MODELS:  # a list no real provider has: cut, and say so
                self.truncated = True
                return list(found.values())[:MAX_MODELS]
            if cursor in seen:
                break
            seen.add(cursor)
        else:
            self.truncated = True
        return list(found.values())

    def validate(self, model: str | None = None) -> int:
        """One cheap authenticated request; returns its latency in milliseconds (connection
        set-up included, byok's own start-up not). The model list first; where the server
        has none (NotServed) and the API has a prompt-free check, that, for ``model``. Only
        a success or a verdict on the key counts from it: anything else leaves NotServed."""
        def call() -> int:
            started = time.monotonic()
            _models_page(self._page(None, self.validate_limit), self.provider, self.base_url)
            return int((time.monotonic() - started) * 1000)

        def check() -> int:
            started = time.monotonic()
            resp = self.send("POST", self.check_path or "", body=self.check_body(model or ""),
                             during="check", model=model)
            self.read_json(resp)
            return int((time.monotonic() - started) * 1000)

        try:
            return with_retries(call, self.settings)
        except NotServed as missing:
            if not (model and self.check_path):
                raise
            try:
                return with_retries(check, self.settings)
            except ByokError as err:
                if err.code in (Code.UNAUTHORIZED, Code.QUOTA_EXCEEDED):
                    raise
                raise missing from None

    def check_body(self, model: str) -> dict:
        raise NotImplementedError


class _Watch:
    """Bounds on a streamed answer that the socket's read timeout cannot see: the text kept
    (in memory and then the history) is capped as a whole body is, and a stream must make
    progress (an event other than a ping) within the read timeout, whatever keep-alive
    comments or pings keep its connection busy."""

    def __init__(self, where: str, timeout: float):
        self.where, self.timeout = where, timeout
        self.opened = self.last = time.monotonic()
        self.kept = 0
        self.kept_alive = False  # a keep-alive (comment or ping) came, and no text yet

    def lines(self, lines: Iterator[str]) -> Iterator[str]:
        for line in lines:
            if time.monotonic() - self.last > self.timeout:
                raise transport.TransportError("stalled", f"{self.where} sent nothing but "
                                               f"keep-alives for {self.timeout:g} s")
            if line.startswith(":") and not self.kept:
                self.kept_alive = True
            yield line

    def events(self, events: Iterator[sse.Event]) -> Iterator[sse.Event]:
        for event in events:
            if event.event != "ping" and event.data.replace(" ", "") != '{"type":"ping"}':
                self.last = time.monotonic()
            elif not self.kept:
                self.kept_alive = True
            yield event

    def text(self, pieces: Iterator[str]) -> Iterator[str]:
        for piece in pieces:
            self.kept += len(piece.encode("utf-8", "surrogatepass"))
            if self.kept > transport.MAX_BODY:
                raise transport.TransportError(
                    "too_large", f"{self.where} sent an answer of more than "
                    f"{transport.MAX_BODY >> 20} MiB of text")
            yield piece


def _after_keepalives(err: ByokError, watch: _Watch | None) -> ByokError:
    """A stream that kept the request open with keep-alives and then broke off or ended
    before any text is not retried: the server was holding the request, not losing it, and a
    retry would most likely wait as long again (one that broke without keep-alives is, as a
    dropped connection is)."""
    if watch is not None and watch.kept_alive and not watch.kept \
            and err.code == Code.NETWORK_ERROR and err.retryable:
        waited = time.monotonic() - watch.opened
        err.message += f" (after only keep-alives for {waited:.0f} s; not retried)"
        err.retryable = False
        err.hint = "try again later; if it persists, the server is not answering this model"
    return err


def sendable(value: str) -> bool:
    """Printable ASCII: what a header value may hold. http.client refuses
    line breaks (ValueError) and cannot encode most non-ASCII text."""
    return value.isascii() and value.isprintable()


def header_value(value: str, variable: str) -> str:
    """``value`` of the environment ``variable``, or a usage error naming both."""
    if not sendable(value):
        raise ByokError(Code.USAGE, f"{variable} cannot be sent as an HTTP header: {value!r}",
                        hint=f"fix or unset {variable}")
    return value


def _is_event_stream(resp: transport.Response, asked: bool) -> bool:
    """Whether the answer is an event stream: as it says, or as its first bytes show (any
    answer but JSON to a streamed request; one that starts as events to a whole one)."""
    kind = resp.content_type
    if kind == "text/event-stream":
        return True
    if kind == "application/json" or kind.endswith("+json"):
        return False
    first = resp.peek().lstrip()
    if asked:
        return first[:1] not in (b"{", b"[")
    return first.startswith((b"data:", b"event:", b":"))


def _models_page(data: Any, provider: str, base_url: str) -> tuple[list[RemoteModel], str | None]:
    """(models, cursor of the next page or None) out of {"data": [...]} or a bare array."""
    if isinstance(data, dict) and is_error_body(data):
        raise classify(provider, None, data, during="models")
    items = data if isinstance(data, list) else (
        data.get("data", data.get("models")) if isinstance(data, dict) else None)
    if not isinstance(items, list):
        raise network_error(provider, Malformed("a model list without a list of models"),
                            base_url)
    models = []
    for item in items:
        if isinstance(item, str):
            models.append(RemoteModel(item))
        elif isinstance(item, dict) and isinstance(item.get("id") or item.get("name"), str):
            mid = item.get("id") or item["name"]
            label = item.get("display_name") or item.get("name")
            models.append(RemoteModel(mid, label if isinstance(label, str) and label != mid
                                      else None))
    cursor = None
    if isinstance(data, dict) and data.get("has_more") is True:
        last = data.get("last_id") or (models[-1].id if models else None)
        cursor = last if isinstance(last, str) and last else None
    return models, cursor
