"""One small interface over the official SDKs.

Importing this package imports no SDK: :func:`connect` loads the one adapter asked for.
Every adapter offers ``list_models()``, ``validate()`` and ``chat()``; failures come out
as :class:`~byok_cli.errors.ByokError` with the design's codes. Retries are byok's own
(see :func:`with_retries`): the SDKs' are turned off.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Protocol, TypeVar

from ..inputs import env_number
from ..errors import ByokError, Code, redact

T = TypeVar("T")


@dataclass
class ChatRequest:
    model: str
    messages: list[dict]          # [{"role": "user"|"assistant", "content": str}]
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = True


def normalise_turns(messages: list[dict]) -> list[dict]:
    """The turns both APIs accept: no empty messages, roles alternating, a user turn first.

    Consecutive turns of one role (say, after a failed answer) are joined.
    """
    out: list[dict] = []
    for m in messages:
        text = m.get("content") or ""
        if not text.strip():
            continue
        if out and out[-1]["role"] == m["role"]:
            out[-1] = {"role": m["role"], "content": out[-1]["content"] + "\n\n" + text}
        else:
            out.append({"role": m["role"], "content": text})
    while out and out[0]["role"] != "user":
        out.pop(0)
    return out


@dataclass
class ChatResult:
    """Filled in while a chat streams; complete once the generator is exhausted."""

    text_parts: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


class RemoteModel(NamedTuple):
    id: str
    name: str | None = None


class Adapter(Protocol):
    provider: str
    base_url: str

    def list_models(self) -> list[RemoteModel]: ...

    def validate(self) -> None: ...

    def chat(self, request: ChatRequest, result: ChatResult) -> Iterator[str]: ...


class Settings(NamedTuple):
    """Connection settings shared by the adapters."""

    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_retries: int = 2
    max_wait: float = 20.0  # never wait longer than this in total before giving up

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        timeout = env_number("BYOK_TIMEOUT", 60.0, env=env)
        return cls(timeout=timeout, connect_timeout=min(timeout, 10.0),
                   max_retries=env_number("BYOK_MAX_RETRIES", 2, kind=int, high=100, env=env),
                   max_wait=env_number("BYOK_MAX_RETRY_WAIT", 20.0, env=env))


def connect(provider: str, key: str, base_url: str | None = None,
            settings: Settings | None = None) -> Adapter:
    """An adapter for one provider and key; imports that provider's SDK only."""
    settings = settings or Settings.from_env()
    if provider == "openai":
        from .openai import OpenAIAdapter

        return OpenAIAdapter(key, base_url, settings)
    if provider == "anthropic":
        from .anthropic import AnthropicAdapter

        return AnthropicAdapter(key, base_url, settings)
    raise ByokError(Code.USAGE, f"unknown provider {provider!r}")


# --- error mapping shared by the adapters -----------------------------------------------

_NAMES = {"openai": "OpenAI", "anthropic": "Anthropic"}


def _body_error(body: Any) -> tuple[str, str, str]:
    """(type, code, message) out of either API's error body."""
    err = body.get("error", body) if isinstance(body, Mapping) else {}
    if not isinstance(err, Mapping):
        return "", "", str(err)
    return (str(err.get("type") or ""), str(err.get("code") or ""), str(err.get("message") or ""))


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    try:
        if ms is not None:
            return float(ms) / 1000
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        import email.utils

        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def classify(provider: str, status: int | None, body: Any, *, headers=None,
             during: str = "chat", model: str | None = None) -> ByokError:
    """Map an HTTP failure of either API to one ByokError with a message that says what to do."""
    name = _NAMES[provider]
    etype, ecode, emsg = _body_error(body)
    detail = f": {redact(emsg)}" if emsg else ""
    low = f"{etype} {ecode} {emsg}".lower()
    if status in (401, 403) or etype in ("authentication_error", "permission_error"):
        return ByokError(Code.UNAUTHORIZED, f"{name} rejected the key ({status}){detail}",
                         hint=f"check it, or store a new one with `byok key set {provider}`",
                         provider=provider)
    if (status == 402 or "insufficient_quota" in low or "credit balance" in low
            or "billing" in etype):
        return ByokError(Code.QUOTA_EXCEEDED, f"{name} says this key's account is out of quota "
                         f"or credit{detail}", hint="add credit or raise the limit in the "
                         "provider's billing settings", provider=provider)
    if status == 429 or etype == "rate_limit_error":
        wait = retry_after(headers)
        after = f" (retry after {wait:g} s)" if wait is not None else ""
        return ByokError(Code.RATE_LIMITED, f"{name} is rate limiting this key{after}",
                         hint="wait and try again, or lower your request rate",
                         provider=provider, retry_after=wait)
    if status == 404 or etype == "not_found_error":
        if during == "chat":
            return ByokError(Code.MODEL_NOT_FOUND,
                             f"{name} does not know the model {model!r} or this key cannot use it",
                             hint="see `byok models list --remote`", provider=provider)
        return ByokError(Code.PROVIDER_UNAVAILABLE, f"{name}'s models endpoint was not found",
                         hint=f"check the base URL (`byok config get {provider}.base_url`)",
                         provider=provider)
    if (status is not None and status >= 500) or etype in ("overloaded_error", "api_error",
                                                            "server_error"):
        return ByokError(Code.PROVIDER_UNAVAILABLE,
                         f"{name} is unavailable ({status if status and status >= 500 else etype})"
                         f"{detail}", hint="try again later", provider=provider)
    return ByokError(Code.BAD_REQUEST, f"{name} refused the request ({status}){detail}",
                     provider=provider)


def network_error(provider: str, exc: BaseException, base_url: str) -> ByokError:
    name = _NAMES[provider]
    if isinstance(exc, ValueError):  # undecodable JSON or SSE
        return ByokError(Code.NETWORK_ERROR, f"{name} sent a malformed response ({base_url})",
                         hint="try again; check the base URL if it persists", provider=provider)
    text = type(exc).__name__.lower() + " " + str(exc).lower()
    if "timeout" in text or "timed out" in text:
        return ByokError(Code.NETWORK_ERROR, f"{name} did not answer in time ({base_url})",
                         hint="check your connection, or raise BYOK_TIMEOUT", provider=provider,
                         retryable=False)  # a timeout has already cost the whole budget once
    return ByokError(Code.NETWORK_ERROR, f"could not reach {name} at {base_url}",
                     hint="check your connection, proxy and base URL", provider=provider)


# --- retries: byok's decision, not the SDKs' ------------------------------------------------

RETRYABLE = {Code.RATE_LIMITED, Code.PROVIDER_UNAVAILABLE, Code.NETWORK_ERROR}


def should_retry(err: ByokError, attempt: int, waited: float, settings: Settings) -> float | None:
    """Seconds to wait before the next try, or None to give up.

    Only what can succeed on retry is retried: rate limits, 5xx/529 and connection
    failures, never a rejected key, a missing model or a billing problem.
    """
    if err.code not in RETRYABLE or not err.retryable or attempt >= settings.max_retries:
        return None
    if err.retry_after is not None:
        wait = err.retry_after
    else:
        wait = min(8.0, 0.5 * 2 ** attempt) * (0.5 + random.random() / 2)
    if waited + wait > settings.max_wait:
        return None
    return wait


class Backoff:
    """Counts tries and waiting for one call; sleeps before a retry or re-raises."""

    def __init__(self, settings: Settings,
                 on_retry: Callable[[ByokError, float], None] | None = None):
        self.settings, self.on_retry = settings, on_retry
        self.attempt, self.waited = 0, 0.0

    def wait_or_raise(self, err: ByokError) -> None:
        wait = should_retry(err, self.attempt, self.waited, self.settings)
        if wait is None:
            raise err
        if self.on_retry:
            self.on_retry(err, wait)
        time.sleep(wait)
        self.attempt, self.waited = self.attempt + 1, self.waited + wait


def with_retries(call: Callable[[], T], settings: Settings,
                 on_retry: Callable[[ByokError, float], None] | None = None) -> T:
    backoff = Backoff(settings, on_retry)
    while True:
        try:
            return call()
        except ByokError as err:
            backoff.wait_or_raise(err)


def stream_with_retries(start: Callable[[], Iterator[str]], settings: Settings,
                        on_retry: Callable[[ByokError, float], None] | None = None
                        ) -> Iterator[str]:
    """Retry a streamed call only until its first piece of text has been handed out."""
    backoff = Backoff(settings, on_retry)
    while True:
        started = False
        try:
            for piece in start():
                started = True
                yield piece
            return
        except ByokError as err:
            if started:
                err.partial = True
                raise
            backoff.wait_or_raise(err)


class SDKAdapter:
    """What both adapters share: one client per key per process, retries around chats."""

    provider = ""
    default_base_url = ""
    _clients: dict[tuple, Any] = {}

    def __init__(self, key: str, base_url: str | None, settings: Settings):
        self.settings = settings
        self.base_url = base_url or self.default_base_url
        ident = (self.provider, key, self.base_url, settings.timeout)
        if ident not in SDKAdapter._clients:  # connection reuse within the process
            SDKAdapter._clients[ident] = self._make_client(key)
        self.client = SDKAdapter._clients[ident]

    def _make_client(self, key: str) -> Any:
        raise NotImplementedError

    def _params(self, request: ChatRequest) -> dict:
        raise NotImplementedError

    def _stream(self, params: dict, result: ChatResult) -> Iterator[str]:
        raise NotImplementedError

    def _whole(self, params: dict, result: ChatResult) -> Iterator[str]:
        raise NotImplementedError

    def chat(self, request: ChatRequest, result: ChatResult) -> Iterator[str]:
        params = self._params(request)
        send = self._stream if request.stream else self._whole
        return stream_with_retries(lambda: send(params, result), self.settings)
