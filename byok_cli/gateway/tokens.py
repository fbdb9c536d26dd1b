"""Client tokens: what a program presents to the gateway instead of a key.

A token is 32 random bytes (``byok-gw-`` and 43 URL-safe characters); only its SHA-256 digest
is stored, and a presented token is accepted only when the digest of what was presented
equals a stored one, compared with :func:`hmac.compare_digest`. A token may be limited to
some providers and may expire; revoking one ends it at once, for a running gateway too (it
reads a token again as soon as the table has changed: reads.KeptReads).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Mapping, NamedTuple

from ..errors import ByokError, Code
from ..store import ClientToken, Store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .reads import KeptReads

PREFIX = "byok-gw-"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_DURATION = re.compile(r"(\d{1,9})([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# where clients put a key; the gateway reads its token from whichever one is sent
AUTH_HEADERS = ("authorization", "x-api-key", "api-key")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def same(presented: str, token: str) -> bool:
    return hmac.compare_digest(digest(presented), digest(token))


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise ByokError(Code.USAGE, f"{name!r} is not a token name",
                        hint="letters, digits, '.', '_' and '-', at most 64, starting with a "
                             "letter or digit")
    if name.startswith(PREFIX):
        raise ByokError(Code.USAGE, "a token's name must not look like a token")
    return name


def parse_duration(text: str) -> float:
    """'90s', '30m', '12h', '7d', '2w' -> seconds (at most ten years)."""
    found = _DURATION.fullmatch((text or "").strip())
    seconds = int(found.group(1)) * _SECONDS[found.group(2)] if found else 0
    if not found or seconds <= 0 or seconds > 3650 * 86400:
        raise ByokError(Code.USAGE, f"{text!r} is not a duration",
                        hint="a whole number and a unit: 90s, 30m, 12h, 7d or 2w")
    return float(seconds)


def create(store: Store, profile: str, name: str, providers: list[str],
           ttl: float | None = None, at: float | None = None) -> str:
    """A new token, stored as its digest; the token itself is returned once."""
    at = time.time() if at is None else at
    token = PREFIX + secrets.token_urlsafe(32)
    if not store.add_token(profile, check_name(name), digest(token), providers, at,
                           None if ttl is None else at + ttl):
        raise ByokError(Code.USAGE, f"a token called {name!r} already exists",
                        hint=f"revoke it first (`byok token revoke {name}`), or choose "
                             "another name")
    return token


def presented(headers: Mapping[str, str]) -> str | None:
    """The token a request carries: the one value of its auth headers (Bearer or not).
    None when it carries none, or different values in different headers."""
    found = set()
    for name in AUTH_HEADERS:
        value = (headers.get(name) or "").strip()
        if name == "authorization":
            scheme, _, rest = value.partition(" ")
            value = rest.strip() if scheme.lower() == "bearer" else ""
        if value:
            found.add(value)
    return found.pop() if len(found) == 1 else None


def without_tokens(query: str) -> str:
    """``query`` (raw) without any parameter that carries a gateway token: a token is for
    the gateway, never for the provider."""
    if PREFIX not in query and "%" not in query:
        return query
    from urllib.parse import unquote_plus

    kept = [p for p in query.split("&") if PREFIX not in unquote_plus(p)]
    return "&".join(kept)


def hidden(text: str) -> str:
    """``text`` (a path for the request log) with any gateway token in it cut to its
    prefix."""
    return re.sub(re.escape(PREFIX) + r"[A-Za-z0-9_\-%]+", PREFIX + "…", text) \
        if PREFIX in text else text


# How stale a stream's view of its token may be: the database is looked at (two PRAGMAs)
# at most this often between chunks, by all open streams together, so a revocation ends an
# open stream before any chunk that arrives later than this after its commit.
LIVE_EVERY = 0.010


class StillLive:
    """Whether a token admitted at a stream's start is still live, asked between its
    chunks: revoking a token ends its open streams too. Cheap: ``store`` is the gateway's
    reads.KeptReads, which looks for another connection's commits at most every
    LIVE_EVERY seconds here (PRAGMA data_version) and reads the token again only once one
    has come (what is kept was forgotten); expiry is checked against the clock."""

    def __init__(self, store: KeptReads, token: ClientToken):
        self.store, self.token = store, token
        self._seen = store.generation  # the token was read in this generation

    def __call__(self) -> bool:
        now = time.time()
        if self.token.expires_at is not None and now >= self.token.expires_at:
            return False
        self.store.fresh(LIVE_EVERY)
        if self.store.generation == self._seen:
            return True  # nothing changed since the token was read live
        found = self.store.token_by_digest(self.token.digest)
        if found is None or not found.live(now):
            return False
        self._seen = self.store.generation
        return True


class Verdict(NamedTuple):
    token: ClientToken | None
    status: int        # 200: accepted; 401: no valid token; 403: not for this provider
    reason: str


def check(store: Store, profile: str, token: str | None, provider: str,
          at: float | None = None) -> Verdict:
    """Whether ``token`` may be used for ``provider`` with ``profile`` right now."""
    if not token:
        return Verdict(None, 401, "no client token was sent (Authorization: Bearer, "
                                  "x-api-key or api-key)")
    wanted = digest(token)
    found = store.token_by_digest(wanted)
    at = time.time() if at is None else at
    if (found is None or not hmac.compare_digest(found.digest, wanted)
            or found.profile != profile):
        return Verdict(None, 401, "the client token is not valid")
    if not found.live(at):
        ended = "been revoked" if found.revoked_at is not None else "expired"
        return Verdict(None, 401, f"the client token {found.name!r} has {ended}")
    if not found.allows(provider):
        return Verdict(found, 403, f"the client token {found.name!r} is not for {provider}")
    return Verdict(found, 200, "")
