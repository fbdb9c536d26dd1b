"""Base URLs: which ones a key may be sent to, and how they are shown.

The rules, in one place for every HTTP client byok has (wire's transport, the SDK clients
that `Byok.client` hands out, `exec`'s child):

- **Transport** (:func:`check`). ``https://`` anywhere; plain ``http://`` only to a loopback
  host (127.0.0.0/8, ::1, ``localhost``), unless ``BYOK_ALLOW_INSECURE_HTTP=1``. Any other
  scheme, a URL that does not parse, one with control characters or one that carries
  something shaped like a key is a usage error naming where it came from.
- **Which key goes where** (:func:`env_key_refusal`). A stored key may go to any endpoint
  that passed the transport rule. An environment key goes to the provider's official
  endpoint, or to a base URL the person gave now too (the environment, or --base-url); to a
  base URL from the profile only if the profile opts in.
- **Whose endpoint it is** (:func:`is_own_endpoint`). A key's own endpoints are the
  provider's official one (a custom provider's own URL is its official one), and for a
  stored key the base URL it was stored for (`key set --base-url`), for an environment key
  a base URL given with it (OPENAI_BASE_URL, --base-url). Any other endpoint receives at
  most one key per run, and only a verdict at a key's own endpoint marks it failed.
- **Display** (:func:`shown`). Credentials in a URL (``https://user:pass@host``) are
  masked wherever it is shown.

Nothing here knows a provider: callers pass names (see routes.py and wire/endpoint.py).
Imports only errors, and urllib only when a URL is checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import ByokError, Code, looks_like_key, redact

ALLOW_INSECURE_HTTP = "BYOK_ALLOW_INSECURE_HTTP"

# Where a base URL came from, as wire.endpoint.Endpoint.source names it.
FLAG = "flag"                # --base-url
ENVIRONMENT = "environment"  # OPENAI_BASE_URL / ANTHROPIC_BASE_URL
PROFILE = "profile"          # `byok config set <provider>.base_url`
DEFAULT = "default"          # the provider's own endpoint

# The loopback names byok hands out URLs under, as NO_PROXY and the SDKs' mounts name them:
# whatever byok gives another client (an `exec` child, Byok.client()) must not proxy them.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def no_proxy_with_loopback(current: str | None) -> str:
    """A NO_PROXY value that keeps ``current``'s entries and adds the loopback names."""
    entries = [e.strip() for e in (current or "").split(",") if e.strip()]
    entries += [name for name in LOOPBACK_NAMES if name not in entries]
    return ",".join(entries)


def sdk_mounts() -> dict:
    """httpx mounts that send loopback requests direct (None: the client's own transport),
    whatever HTTP_PROXY / ALL_PROXY say: for the SDK clients Byok.client() builds."""
    return {f"all://{f'[{n}]' if ':' in n else n}": None for n in LOOPBACK_NAMES}


STORED_KEY = "stored"        # key sources, as resolve names them
ENVIRONMENT_KEY = "environment"


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) or ``localhost``: addresses that never
    leave the machine. Nothing that needs DNS (``app.localhost`` or ``localhost.`` may
    resolve anywhere); the transport connects to ``localhost`` without asking a resolver."""
    if not host:
        return False
    host = host.strip("[]").lower()  # "localhost." is a DNS name, looked up as such: not here
    if "%" in host:  # only an IPv6 address has a zone ("fe80::1%eth0"); a name never has one
        if ":" not in host:
            return False
        host = host.split("%", 1)[0]
    if host == "localhost":
        return True
    import ipaddress  # urllib.parse has loaded it already; socket would cost ~5 ms more

    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def insecure_http_allowed(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(ALLOW_INSECURE_HTTP, "").strip() == "1"


# A path segment that is a token, not a name: long, and mixed-case letters with digits, or
# long hex (a name like gpt-4o-mini-2024-07-18 is neither).
_TOKEN_SEGMENT = (r"(?=[A-Za-z0-9_\-]*[0-9])(?=[A-Za-z0-9_\-]*[a-z])(?=[A-Za-z0-9_\-]*[A-Z])"
                  r"[A-Za-z0-9_\-]{20,}|[0-9a-fA-F]{32,}")


def shown(url: str | None) -> str:
    """The URL as it may be printed (and kept, as a sync's source is): user info masked
    (``https://user:***@host``), the values of its query (``?token=***``: tokens travel
    there, as on raw GitHub URLs), a path segment shaped like a token, and the fragment."""
    if not url:
        return ""
    import re

    text = redact(url)
    text, hash_mark, fragment = text.partition("#")
    fragment = "***" if fragment else ""
    base, mark, query = text.partition("?")
    scheme, sep, path = base.partition("://")
    host, slash, path = path.partition("/")
    path = "/".join("***" if re.fullmatch(_TOKEN_SEGMENT, seg) else seg
                    for seg in path.split("/"))
    base = f"{scheme}{sep}{host}{slash}{path}"
    if not mark:
        return f"{base}{hash_mark}{fragment}"
    masked = "&".join(name + ("=***" if eq else "") for name, eq, _ in
                      (pair.partition("=") for pair in query.split("&")))
    return f"{base}?{masked}{hash_mark}{fragment}"


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
        host = parts.hostname
    except ValueError as exc:
        raise refuse(f"{shown(url)!r} is not an http(s) URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise refuse(f"{shown(url)!r} is not an http(s) URL",
                     hint="use https://…, or http:// for a server on this machine")
    if not host:
        raise refuse(f"{shown(url)!r} is not an http(s) URL (no host)")
    if "%" in host and ":" not in host:  # a percent sign is no part of a host name
        raise refuse(f"{shown(url)!r} is not an http(s) URL (a '%' in the host name)")
    port_of(parts, source)
    if scheme == "http" and not is_loopback(host) and not insecure_http_allowed(env):
        raise refuse(f"refusing to send a key over plain http to {host}: it would cross the "
                     "network unencrypted (only https, or http to this machine: 127.0.0.1, "
                     "::1, localhost)", hint=f"use https://, or set {ALLOW_INSECURE_HTTP}=1 "
                     "if the whole network path is yours")
    return url.rstrip("/")


def port_of(parts, where: str) -> int | None:
    """The URL's explicit port (None when it has none), or a usage error naming the URL:
    urllib raises ValueError for ports over 65535 or not numeric, and takes :0 for no port
    at all, where a connection would silently go to port 80 or 443. (``parts``: a
    urllib.parse SplitResult or ParseResult.)"""
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None and parts.netloc.rpartition("@")[2].endswith(":"):
        return None  # "host:" is an empty port, which means the default
    if port is not None and not 1 <= port <= 65535:
        bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        raise ByokError(Code.USAGE, f"{where} has a bad port: {bare!r}",
                        hint="a port is a number from 1 to 65535, or none for the default")
    return port


OFFICIAL = (DEFAULT, "provider")  # the provider's own endpoint (a custom provider's URL)


def is_own_endpoint(key_source: str, origin: str, url: str, stored_for: str | None) -> bool:
    """Whether ``url`` (which came from ``origin``) is one of the key's own endpoints (see
    the module's rules); ``stored_for`` is a stored key's base URL, normalised."""
    if key_source not in (STORED_KEY, ENVIRONMENT_KEY) or origin in OFFICIAL:
        return True  # no key at all, or the provider's own endpoint
    if key_source == ENVIRONMENT_KEY:
        return origin in (FLAG, ENVIRONMENT)
    return bool(stored_for) and stored_for.rstrip("/") == url.rstrip("/")


def env_key_refusal(key_source: str, origin: str, url: str | None, where: str,
                    key_name: str, opt_in: bool, opt_in_setting: str) -> str | None:
    """Why a key from ``key_source`` ("stored", or "environment") must not
    go to ``url``, which came from ``origin`` (named ``where``), or None when it may.
    ``key_name`` names the environment key (OPENAI_API_KEY); ``opt_in`` is the profile's
    ``opt_in_setting``."""
    if key_source != ENVIRONMENT_KEY or origin != PROFILE or opt_in:
        return None
    return (f"{key_name} is not sent to the profile's base URL {shown(url)} ({where}); only "
            f"the profile's stored key is (opt in with `byok config set {opt_in_setting} on`)")
