"""`byok models sync`: fetch LiteLLM's map, check it, and keep byok's part in the data dir.

The new data replaces the old only if it passes the sanity checks (``catalog_source.check``);
otherwise the old data stays. The file is written 0600 beside the database and swapped in
atomically, so a reader sees the old file or the new, never half of one. Every attempt,
kept or refused, is recorded in the database (``catalog_syncs``) with its date and source.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlparse

from . import source as catalog_source, prices
from ..errors import ByokError, Code
from ..store import Store, now
from ..urls import is_loopback, shown

if TYPE_CHECKING:
    from ..wire.types import Settings

URL_ENV = "BYOK_CATALOG_URL"
MAX_BYTES = 64 * 1024 * 1024   # LiteLLM's map is ~3.5 MB


class Synced(NamedTuple):
    url: str
    models: int
    before: int
    taken: str
    skipped: list[str] = []  # "provider/model: why", entries left out as implausible


def source_url(given: str | None = None) -> str:
    url = (given or os.environ.get(URL_ENV) or catalog_source.DEFAULT_URL).strip()
    try:
        parsed = urlparse(url)
        host = parsed.hostname
    except ValueError:  # http://[::1 and the like
        parsed, host = None, None
    if parsed:
        from ..urls import port_of

        port_of(parsed, "--url" if given else URL_ENV if os.environ.get(URL_ENV) else "the URL")
    if parsed and parsed.scheme == "https" and host:
        return url
    if parsed and parsed.scheme == "http" and is_loopback(host):
        return url
    raise ByokError(Code.USAGE, f"{url!r} is not an https URL (plain http only to this machine)",
                    hint=f"set {URL_ENV} or --url to an https URL")


def fetch(url: str, settings: "Settings") -> bytes:
    """The body at ``url``, through byok's own transport, so that its proxy rules hold
    (HTTPS_PROXY / NO_PROXY, a CONNECT tunnel for https, never a proxy for loopback) as
    for every other request byok makes. No key is sent."""
    from ..wire.transport import TransportError, request

    where = shown(url)
    try:
        reply = request("GET", url, {"User-Agent": "byok models sync",
                                     "Accept": "application/json",
                                     "Accept-Encoding": "gzip"}, None, settings)
        try:
            if reply.status != 200:
                code = Code.PROVIDER_UNAVAILABLE if reply.status >= 500 else Code.BAD_REQUEST
                raise ByokError(code, f"{where} answered HTTP {reply.status}")
            return reply.read(MAX_BYTES)
        finally:
            reply.close()
    except TransportError as exc:
        if exc.kind == "too_large":
            raise ByokError(Code.INVALID_FORMAT,
                            f"{where} sent more than {MAX_BYTES >> 20} MiB") from None
        raise ByokError(Code.NETWORK_ERROR, f"cannot fetch {where}: {exc.detail}",
                        hint="check the network, or set BYOK_CATALOG_URL") from None


def sync(store: Store, url: str | None = None, timeout: float | None = None) -> Synced:
    """Refresh the price data in ``store.home`` from ``url``; ByokError if it is refused."""
    from ..wire.types import Settings

    url = source_url(url)
    settings = Settings.from_env()  # BYOK_TIMEOUT and the rest, as for every request
    if timeout:
        settings = settings._replace(timeout=timeout)
    current = prices.load(store.home)
    before = catalog_source.count(current.models)
    try:
        body = fetch(url, settings)
        from ..wire.limits import LimitExceeded, loads

        try:
            raw = loads(body, "it")
        except LimitExceeded as exc:
            raise catalog_source.SourceError(str(exc)) from None
        except (ValueError, UnicodeDecodeError):
            raise catalog_source.SourceError("it is not JSON (truncated?)") from None
        skipped: list[str] = []
        fresh = catalog_source.check(raw, current.models, skipped)
    except catalog_source.SourceError as exc:
        _record(store, url, f"refused: {exc}", None, None)
        raise ByokError(Code.INVALID_FORMAT, f"refused the data from {shown(url)}: {exc}",
                        hint=f"kept the data of {current.source['taken']}") from None
    except ByokError as err:
        _record(store, url, f"failed: {err.message}", None, None)
        raise
    digest = hashlib.sha256(body).hexdigest()
    taken = now()
    data = {"source": {"name": "LiteLLM model_prices_and_context_window.json", "url": shown(url),
                       "taken": taken, "kind": "sync", "sha256": digest}, "models": fresh}
    _write(store.home / prices.SYNCED_NAME, json.dumps(data, separators=(",", ":")))
    prices.load.cache_clear()
    _record(store, url, "ok", catalog_source.count(fresh), digest)
    return Synced(shown(url), catalog_source.count(fresh), before, taken, skipped)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _record(store: Store, url: str, outcome: str, models: int | None,
            digest: str | None) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT INTO catalog_syncs (at, url, outcome, models, sha256) "
                     "VALUES (?, ?, ?, ?, ?)", (now(), shown(url), outcome[:500], models,
                                                digest))  # a password in it is masked


def history(store: Store, limit: int = 10) -> list[dict]:
    rows = store.conn.execute("SELECT at, url, outcome, models, sha256 FROM catalog_syncs "
                              "ORDER BY id DESC LIMIT ?", (limit,))
    return [dict(zip(("at", "url", "outcome", "models", "sha256"), r)) for r in rows]
