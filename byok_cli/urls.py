"""Base URLs: which ones a key may be sent to, and how they are shown.

The rules, in one place for every HTTP client byok has:

- **Transport.** ``https://`` anywhere; plain ``http://`` only to a loopback host
  (127.0.0.0/8, ::1, ``localhost``), unless ``BYOK_ALLOW_INSECURE_HTTP=1``. Any other
  scheme, or a URL that does not parse, is a usage error.
- **Which key goes where** (:meth:`Endpoint.refusal`). A stored key may go to any
  endpoint that passed the transport rule. An environment key goes to the provider's
  official endpoint, or to a base URL that came from the environment too (the person set
  both); to a base URL from the profile only if the profile opts in.
- **Display.** Credentials in a URL (``https://user:pass@host``) are masked wherever it is
  shown (:func:`shown`).

Nothing here knows a provider's name: callers pass the variable and setting names.
"""

from __future__ import annotations

import os
from typing import Mapping, NamedTuple

from .errors import ByokError, Code, looks_like_key, redact

ALLOW_INSECURE_HTTP = "BYOK_ALLOW_INSECURE_HTTP"

OFFICIAL = "official"        # no base URL configured: the provider's own endpoint
ENVIRONMENT = "environment"  # OPENAI_BASE_URL / ANTHROPIC_BASE_URL
PROFILE = "profile"          # `byok config set <provider>.base_url`

STORED_KEY = "user"          # key sources, as resolve names them
ENVIRONMENT_KEY = "system"


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) or ``localhost``; nothing that needs DNS."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    import ipaddress  # here, not at the top: listing commands never parse a URL

    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def insecure_http_allowed(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(ALLOW_INSECURE_HTTP, "").strip() == "1"


def shown(url: str | None) -> str:
    """The URL as it may be printed: user info masked (``https://user:***@host``)."""
    return redact(url) if url else ""


def check(text: str, source: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` as a base URL that keys may be sent to, without a trailing slash; a usage
    error naming ``source`` (a variable or setting) otherwise."""
    url = text.strip()

    def refuse(why: str, hint: str | None = None) -> ByokError:
        return ByokError(Code.USAGE, f"{source}: {why}", hint=hint)

    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        raise refuse("the URL is not valid UTF-8") from None
    if not url or any(not ch.isprintable() or ch.isspace() for ch in url):
        raise refuse(f"{shown(url)!r} is not a URL (empty, or spaces or control characters "
                     "in it)")
    if looks_like_key(url):
        raise refuse("the URL contains what looks like an API key; it was not used",
                     hint="give the key with `byok key set`, never inside a URL")
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
        host = parts.hostname
    except ValueError as exc:
        raise refuse(f"{shown(url)!r} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise refuse(f"{shown(url)!r} is not an http(s) URL",
                     hint="use https://…, or http:// for a server on this machine")
    if not host:
        raise refuse(f"{shown(url)!r} has no host")
    if scheme == "http" and not is_loopback(host) and not insecure_http_allowed(env):
        raise refuse(f"refusing to send keys over plain http to {host} (only https, or http "
                     "to this machine: 127.0.0.1, ::1, localhost)",
                     hint=f"use https://, or set {ALLOW_INSECURE_HTTP}=1 for a trusted network")
    return url.rstrip("/")


class Endpoint(NamedTuple):
    """Where requests for one provider go, and where that was decided."""

    url: str | None  # None: the provider's official endpoint (the client's default)
    origin: str      # OFFICIAL, ENVIRONMENT or PROFILE
    source: str      # the variable or setting it came from ("" for OFFICIAL)

    def refusal(self, key_source: str, key_name: str, opt_in: bool, opt_in_setting: str
                ) -> str | None:
        """Why a key from ``key_source`` must not be sent here, or None when it may.
        ``key_name`` names the environment key (OPENAI_API_KEY); ``opt_in`` is the
        profile's ``opt_in_setting``."""
        if key_source != ENVIRONMENT_KEY or self.origin != PROFILE or opt_in:
            return None
        return (f"{key_name} is not sent to the profile's base URL {shown(self.url)} "
                f"({self.source}); only the profile's stored key is (opt in with "
                f"`byok config set {opt_in_setting} on`)")

    def require(self, key_source: str, key_name: str, opt_in: bool, opt_in_setting: str
                ) -> str | None:
        """The URL to send a key from ``key_source`` to; a NO_KEY error if it may not go."""
        why = self.refusal(key_source, key_name, opt_in, opt_in_setting)
        if why:
            raise ByokError(Code.NO_KEY, why, hint="or store a key for this profile with "
                            "`byok key set`")
        return self.url

    @property
    def label(self) -> str:
        if self.origin == OFFICIAL:
            return "the official endpoint"
        return f"{shown(self.url)} (from {self.source})"


def endpoint(variable: str, setting: str, configured: str | None,
             env: Mapping[str, str] | None = None, *, checked: bool = True) -> Endpoint:
    """The endpoint for one provider: the environment's ``variable`` wins over the
    profile's ``setting`` (value ``configured``); each is checked by :func:`check` unless
    ``checked`` is False (to learn only where it came from)."""
    env = os.environ if env is None else env
    from_env = (env.get(variable) or "").strip()
    configured = (configured or "").strip()
    if from_env:
        return Endpoint(check(from_env, variable, env) if checked else from_env,
                        ENVIRONMENT, variable)
    if configured:
        return Endpoint(check(configured, setting, env) if checked else configured,
                        PROFILE, setting)
    return Endpoint(None, OFFICIAL, "")
