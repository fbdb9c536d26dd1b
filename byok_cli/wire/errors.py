"""What went wrong with a request, as one ByokError with the design's code.

HTTP statuses and error bodies of either API (and of the gateways in front of them) map
to codes here; transport failures too. Only what this module builds is a provider or
network error: a TypeError or KeyError inside byok stays what it is, a bug (exit 1).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping

from ..errors import ByokError, Code, redact
from .limits import LimitExceeded, loads

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any

MAX_TEXT = 300  # characters of a provider's or gateway's own words kept in a message

# Statuses whose Retry-After is honoured: rate limits, and "come back later" outages.
RETRY_AFTER_STATUSES = (429, 503, 529)


def name_of(provider: str) -> str:
    """How messages call a provider: its registry title (OpenAI, OpenRouter), else its name."""
    from ..registry import builtin

    found = builtin().get(provider)
    return found.title if found else provider


class NotServed(ByokError):
    """The server has no such endpoint (404, 405 or 501 to a models request or a key check):
    a gateway that serves prompts but no model list. It says nothing about the key."""

    status = 404


class Malformed(Exception):
    """The answer could not be read: not JSON, not an event stream, or not the API's shape."""


# --- the words in an error body --------------------------------------------------------------

_PATTERNS: dict[str, re.Pattern] = {}


def _pattern(name: str) -> re.Pattern:
    """Compiled on first use: a run that goes well never needs them."""
    if not _PATTERNS:
        _PATTERNS.update(
            ansi=re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])"),
            control=re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]+"),
            tags=re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.S | re.I),
            title=re.compile(r"<title[^>]*>(.*?)</title\s*>", re.S | re.I),
            status=re.compile(r"\b5(0[0-4]|29)\b"))
    return _PATTERNS[name]


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """One line of someone else's text, safe to print: control and bidi characters gone,
    whitespace collapsed, cut to `limit`, keys masked."""
    text = redact(text)  # first as well: a key split by zero-width characters is whole here
    text = " ".join(_pattern("control").sub(" ", _pattern("ansi").sub("", text)).split())
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return redact(text)


def _html_text(text: str) -> str:
    import html

    title = _pattern("title").search(text)
    body = _pattern("tags").sub(" ", _pattern("title").sub(" ", text))
    words = html.unescape(" ".join(body.split()))
    heading = html.unescape(title.group(1).strip()) if title else ""
    return f"{heading}: {words}" if heading and heading not in words else (words or heading)


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # FastAPI-style {"detail": [{"msg": ...}, ...]}
        return "; ".join(_text_of(v.get("msg") or v.get("message") or v)
                         if isinstance(v, Mapping) else _text_of(v) for v in value)
    if isinstance(value, Mapping):
        for field in ("message", "msg", "detail", "error"):
            if field in value:
                return _text_of(value[field])
    return json.dumps(value, ensure_ascii=False) if value is not None else ""


def body_error(body: Any) -> tuple[str, str, str]:
    """(type, code, message) out of an error body of either API or of a gateway:
    {"error": {...}}, {"type": "error", "error": {...}}, {"error": "text"}, {"detail": ...},
    {"message": ...}, HTML, or plain text."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", "replace")
    if isinstance(body, str):
        stripped = body.strip()
        try:
            body = loads(stripped, "the error body") if stripped[:1] in ("{", "[") else stripped
        except LimitExceeded as exc:
            body = str(exc)  # its words cannot be read safely; the status still says enough
        except ValueError:
            body = stripped
    if isinstance(body, str):
        is_html = body[:200].lstrip().lower().startswith(("<!doctype", "<html", "<head", "<body"))
        return "", "", _html_text(body) if is_html else body
    if not isinstance(body, Mapping):
        return "", "", _text_of(body)
    err = body.get("error")
    if isinstance(err, Mapping):
        return (str(err.get("type") or ""), str(err.get("code") or ""),
                _text_of(err.get("message") if "message" in err else err))
    if err is not None:
        return str(body.get("type") or "") if body.get("type") != "error" else "", \
            str(body.get("code") or ""), _text_of(err)
    for field in ("detail", "message", "msg"):
        if field in body:
            return str(body.get("type") or ""), str(body.get("code") or ""), _text_of(body[field])
    return "", "", ""


def is_error_body(body: Any) -> bool:
    """A JSON object that is an error rather than an answer, whatever its HTTP status."""
    return isinstance(body, Mapping) and (body.get("type") == "error" or (
        "error" in body and body["error"] not in (None, "", {})) or (
        "detail" in body and len(body) <= 2))


_SERVER_WORDS = ("internal server error", "server error", "service unavailable", "bad gateway",
                 "gateway timeout", "overloaded", "upstream", "temporarily unavailable",
                 "try again later", "timed out", "timeout")


def _looks_like_outage(etype: str, ecode: str, message: str) -> bool:
    if etype in ("overloaded_error", "api_error", "server_error", "service_unavailable",
                 "timeout_error"):
        return True
    if (len(ecode.strip()) == 3 and ecode.strip().startswith("5") and ecode.strip().isdigit()) \
            or _pattern("status").search(message):
        return True
    low = message.lower()
    return any(w in low for w in _SERVER_WORDS)


# A gateway's own budget for a key (LiteLLM: type budget_exceeded in a 400, 422 or 429, or its
# words "Budget has been exceeded" / "Max budget limit reached"): spent, not rate limited.
_BUDGET_WORDS = ("budget has been exceeded", "max budget limit reached", "budget exceeded",
                 "exceeded budget", "exceeded your budget")


def is_budget_answer(etype: str, message: str) -> bool:
    low = message.lower()
    return etype == "budget_exceeded" or any(w in low for w in _BUDGET_WORDS)


def is_unknown_model(ecode: str, message: str) -> bool:
    """A 400 that says the model is unknown, as gateways word it (LiteLLM "Invalid model name
    passed in model=…", vLLM and Ollama "model … does not exist / not found", OpenRouter
    "… is not a valid model ID"): the model fallback and the chain apply, as to a 404."""
    if ecode == "model_not_found":
        return True
    if "unknown_model" not in _PATTERNS:
        _PATTERNS["unknown_model"] = re.compile(
            r"\b(invalid|unknown|unsupported|no such) model\b|not a valid model"
            r"|\bmodel\b[^.;]{0,120}\b(does not exist|doesn't exist|not found|is not supported)"
            r"|model_not_found", re.I)
    return bool(_PATTERNS["unknown_model"].search(message[:2000]))


# --- errors in each API's own shape ------------------------------------------------------------
# What classify reads, written: the error bodies and stream events the gateway answers with,
# so that each API's SDK reads them as its own.

ERROR_TYPES = {
    "anthropic": {400: "invalid_request_error", 401: "authentication_error",
                  402: "billing_error", 403: "permission_error", 404: "not_found_error",
                  408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error",
                  431: "request_too_large", 529: "overloaded_error"},
    "openai": {400: "invalid_request_error", 401: "invalid_api_key", 402: "insufficient_quota",
               403: "permission_denied", 404: "not_found", 408: "timeout",
               413: "request_too_large", 429: "rate_limit_exceeded",
               431: "request_too_large"},
}
_OTHER_TYPE = {"anthropic": "api_error", "openai": "gateway_error"}


def error_body(api: str, status: int, message: str) -> bytes:
    """An error answer as ``api`` ("openai" or "anthropic") words one."""
    api = api if api in ERROR_TYPES else "openai"
    kind = ERROR_TYPES[api].get(status, _OTHER_TYPE[api])
    if api == "anthropic":
        shaped: dict = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        shaped = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    return json.dumps(shaped).encode()


def stream_error(api: str, message: str, status: int = 502) -> bytes:
    """The event that ends a stream broken off upstream, as ``api`` reports errors in one
    (what openai_chat and anthropic_messages read as an error mid-stream)."""
    body = error_body(api, status, message)
    return (b"event: error\ndata: " if api == "anthropic" else b"data: ") + body + b"\n\n"


# --- Retry-After ------------------------------------------------------------------------------

def _seconds(text: str | None, per_second: float = 1.0) -> float | None:
    """A finite, non-negative number of seconds, or None (nan, inf, -1, words: ignored)."""
    if text is None:
        return None
    try:
        value = float(text) / per_second
    except ValueError:
        return None
    return value if 0 <= value < float("inf") else None


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait, from retry-after-ms (OpenAI's and Anthropic's) or Retry-After
    (seconds or an HTTP date). A value that is not a finite, non-negative number is
    ignored, as if the header were not there."""
    if not headers:
        headers = {}
    low = {k.lower(): v for k, v in headers.items()}
    wait = _seconds(low.get("retry-after-ms"), 1000)
    if wait is not None:
        return wait
    value = low.get("retry-after")
    if value is None:
        return None
    wait = _seconds(value)
    if wait is not None:
        return wait
    import email.utils

    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time()) if parsed else None


# --- HTTP failures -----------------------------------------------------------------------------

def classify(provider: str, status: int | None, body: Any, *, headers=None,
             during: str = "chat", model: str | None = None) -> ByokError:
    """One ByokError for an HTTP failure (status None: an error inside a 200 answer), with a
    message that carries the provider's (or gateway's) own words and says what to do."""
    name = name_of(provider)
    etype, ecode, emsg = body_error(body)
    said = clean(emsg)
    detail = f": {said}" if said else ""
    shown = status if status is not None else (etype or "in a 200 answer")
    low = f"{etype} {ecode} {emsg}".lower()
    if is_budget_answer(etype, emsg):  # a gateway's budget for this key: the next key may do
        return ByokError(Code.QUOTA_EXCEEDED, f"{name} says this key's budget is spent "
                         f"({shown}){detail}", hint="raise the key's budget on the gateway, or "
                         "use another key", provider=provider)
    if status in (401, 403) or etype in ("authentication_error", "permission_error"):
        return ByokError(Code.UNAUTHORIZED, f"{name} rejected the key ({shown}){detail}",
                         hint=f"check it, or store a new one with `byok key set {provider}`",
                         provider=provider)
    if (status == 402 or "insufficient_quota" in low or "credit balance" in low
            or "billing" in etype):
        return ByokError(Code.QUOTA_EXCEEDED, f"{name} says this key's account is out of quota "
                         f"or credit{detail}", hint="add credit or raise the limit in the "
                         "provider's billing settings", provider=provider)
    wait = retry_after(headers) if status in RETRY_AFTER_STATUSES else None
    after = f" (retry after {wait:g} s)" if wait is not None else ""
    if status == 429 or etype == "rate_limit_error":
        return ByokError(Code.RATE_LIMITED, f"{name} is rate limiting this key{after}{detail}",
                         hint="wait and try again, or lower your request rate",
                         provider=provider, retry_after=wait)
    if during in ("models", "check") and status in (404, 405, 501):
        # A wrong base URL, or a gateway without /models: retrying or falling back cannot
        # mend it, and it is no verdict on the key.
        missing = NotServed(Code.PROVIDER_UNAVAILABLE,
                            f"{name}'s {during} endpoint was not found ({status}){detail}",
                            hint=f"prompts may still work (try `byok run -p {provider} hi`); "
                                 "if they fail too, check the base URL (`byok doctor`)",
                            provider=provider, retryable=False)
        missing.status = status
        return missing
    if status == 404 or etype == "not_found_error" or (
            status == 400 and during == "chat" and is_unknown_model(ecode, emsg)):
        if during == "chat":
            return ByokError(Code.MODEL_NOT_FOUND,
                             f"{name} does not know the model {model!r} or this key cannot use "
                             f"it ({shown}){detail}",
                             hint=f"see `byok models list -p {provider} --remote`",
                             provider=provider)
        # A wrong base URL, not an outage: retrying or falling back cannot mend it.
        return ByokError(Code.PROVIDER_UNAVAILABLE,
                         f"{name}'s {during} endpoint was not found ({shown}){detail}",
                         hint="check the base URL (`byok doctor`)", provider=provider,
                         retryable=False)
    if (status is not None and status >= 500) or (status is None and _looks_like_outage(
            etype, ecode, emsg)):
        return ByokError(Code.PROVIDER_UNAVAILABLE,
                         f"{name} is unavailable ({shown}){after}{detail}",
                         hint="try again later", provider=provider, retry_after=wait)
    # What it refused is in its own words above; say where to look on byok's side.
    asked = f"`byok models show {provider}/{model}` says what it takes" if model else \
        "`byok doctor` checks the base URL"
    return ByokError(Code.BAD_REQUEST, f"{name} refused the request ({shown}){detail}",
                     hint=f"change what its message names (an option, an attachment); "
                          f"{asked}", provider=provider)


# --- no HTTP answer -----------------------------------------------------------------------------

def network_error(provider: str, exc: BaseException, base_url: str) -> ByokError:
    """A transport failure (see transport.TransportError) or an unreadable answer."""
    name = name_of(provider)
    if isinstance(exc, Malformed) or getattr(exc, "kind", None) == "malformed":
        return ByokError(Code.NETWORK_ERROR, f"{name} sent a malformed response ({base_url}): "
                         f"{clean(str(exc), 120)}",
                         hint="try again; check the base URL if it persists", provider=provider)
    kind = getattr(exc, "kind", "connect")
    detail = clean(str(exc), 200)
    if kind == "timeout":
        return ByokError(Code.NETWORK_ERROR, f"{name} did not answer in time ({base_url})",
                         hint="check your connection, or raise BYOK_TIMEOUT", provider=provider,
                         retryable=False)  # a timeout has already cost the whole budget once
    if kind == "stalled":
        return ByokError(Code.NETWORK_ERROR, f"{name} made no progress in time ({base_url}): "
                         f"{detail}", hint="try again later, or raise BYOK_TIMEOUT",
                         provider=provider, retryable=False)
    if kind == "tls":
        return ByokError(Code.NETWORK_ERROR, f"could not reach {name} securely: {detail}",
                         hint="if a proxy or firewall re-signs TLS, point SSL_CERT_FILE at its "
                              "CA bundle", provider=provider, retryable=False)
    if kind == "proxy":
        return ByokError(Code.NETWORK_ERROR, f"could not reach {name}: {detail}",
                         hint="check HTTPS_PROXY / NO_PROXY and the proxy's credentials",
                         provider=provider, retryable=False)
    if kind == "too_large":
        return limit_error(provider, LimitExceeded("size", str(exc)), base_url)
    if kind == "deadline":
        from .limits import DEADLINE_VARIABLE

        return ByokError(Code.NETWORK_ERROR, f"{name} did not finish in time ({base_url}): "
                         f"{detail}", hint=f"raise {DEADLINE_VARIABLE} for longer answers",
                         provider=provider, retryable=False)
    if kind == "dropped":
        return ByokError(Code.NETWORK_ERROR, f"the connection to {name} broke ({base_url})",
                         hint="try again", provider=provider)
    return ByokError(Code.NETWORK_ERROR, f"could not reach {name} at {base_url} ({detail})",
                     hint="check your connection, proxy and base URL", provider=provider)


def limit_error(provider: str, exc: LimitExceeded, base_url: str) -> ByokError:
    """An answer past one of wire/limits.py's bounds: exit 23, never retried (the same
    server would send the same), and the provider counts as unavailable for fallbacks."""
    return ByokError(Code.LIMIT_EXCEEDED, f"{name_of(provider)} sent an answer byok will not "
                     f"read ({base_url}): {clean(exc.detail, 200)}",
                     hint="check the base URL; the limits are in the README", provider=provider,
                     retryable=False)


def incomplete(provider: str) -> ByokError:
    return ByokError(Code.NETWORK_ERROR, f"the connection to {name_of(provider)} closed before "
                     "the answer was complete", hint="try again", provider=provider)
