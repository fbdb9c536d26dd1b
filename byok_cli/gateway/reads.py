"""The store as the gateway reads it on every request, without reading it every time.

A request reads the profile's settings, its budgets and the provider's keys, and these
change only when someone runs `byok key set`, `budget set`, `config set`…: SQLite's
`PRAGMA data_version` moves when another connection commits, so those reads are kept
until it moves (one cheap statement per request, in `fresh`, instead of a dozen). A change this
gateway makes itself (a key marked failed) clears them too; the usage rows and token
counts it writes on every request touch none of them. Tokens are kept the same way: a
revocation is another connection's commit, so the next request (and the next chunk of an
open stream: tokens.StillLive) reads the token again and is refused at once; expiry is
checked on every request against the clock. What the gateway derives from kept reads
alone (a provider's plan: its keys in order, its endpoint) is kept with them (`kept`).

With a ``writer`` (gateway.usage_log), the gateway's own writes go through the writer's
connection, and the writer's `data_version` is the one looked at: it moves on every commit
but the writer's, so the gateway's own usage rows, holds and token counts leave what is kept
in place, and anyone else's commit (this connection's included) clears it. While the writer
is in a transaction, its version is not waited for: this connection's is looked at instead,
and any move clears what is kept (the writer's commit cannot be told from another's).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ..store import Store

KEPT = frozenset({"settings", "budgets", "get_key", "keys", "token_by_digest"})
MAX_KEPT = 4096
# Writes that touch nothing KEPT (token_used: a token's counts, which no check reads;
# reserve: a budget hold): they leave what is kept in place.
APART = frozenset({"record_usage", "record_usages", "token_used", "reserve", "release_hold",
                   "conn", "home", "home_dir", "another_connection"})
# Those the writer makes, when there is one (see the module's docstring)
WRITTEN = frozenset({"token_used", "reserve", "release_hold"})


class KeptReads:
    """Stands in for a :class:`Store`: the same methods, KEPT ones answered from memory
    while the database has not changed."""

    def __init__(self, store: Store, on_change: Callable[[], None] = lambda: None):
        # on_change: what the owner derives from the database outside these reads (the
        # providers) is read again after another connection's commit, whoever noticed it
        self._store, self._on_change = store, on_change
        self._version: int | None = None  # the writer's data_version, if any, else own
        self._own_version: int | None = None  # this connection's
        self._kept: dict[tuple, Any] = {}
        self._looked = float("-inf")  # when fresh() last looked (time.monotonic)
        self.generation = 0  # moves each time what is kept is forgotten
        self.writer = None  # a gateway.usage_log.UsageLog, once the gateway has started

    def __getattr__(self, name: str):
        if name in WRITTEN and self.writer is not None:
            return lambda *args: self.writer.call(name, *args)
        found = getattr(self._store, name)
        if name in KEPT:
            return lambda *args: self._read(name, found, args)
        if name not in APART:  # anything else may change what is kept
            self._kept.clear()
        return found

    def fresh(self, within: float = 0.0) -> None:
        """At the start of a request (and between a stream's chunks: tokens.StillLive):
        forget what another connection has changed since. ``within`` (seconds): not looked
        again if this gateway looked that recently (for any request or stream)."""
        now = time.monotonic()
        if within and now - self._looked < within:
            return
        self._looked = now
        own = self._store.conn.execute("PRAGMA data_version").fetchone()[0]
        version = own if self.writer is None else self.writer.version()
        if version is None:
            # the writer is mid-transaction: its commits and anyone else's look alike from
            # here, so any move of this connection's version clears what is kept
            if own != self._own_version:
                self._forget()
                self._own_version = own
            return
        if version != self._version:
            self._forget()
            self._version = version
        self._own_version = own

    def _forget(self) -> None:
        self.generation += 1
        self._kept.clear()
        self._on_change()

    def kept(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()``, kept under ``key`` as long as the reads it is made of are (the
        caller must not change what it gets)."""
        if key not in self._kept:
            self._room()
            self._kept[key] = compute()
        return self._kept[key]

    def _room(self) -> None:
        # keys come from clients (a model's name, a presented token's digest): bounded
        if len(self._kept) >= MAX_KEPT:
            self._kept.clear()

    def _read(self, name: str, method, args: tuple):
        key = (name, *args)
        if key not in self._kept:
            self._room()
            self._kept[key] = method(*args)
        value = self._kept[key]
        # callers get their own copy of what they could change: a list (of named tuples),
        # a settings dict (of strings and dicts of strings)
        if isinstance(value, list):
            return list(value)
        if isinstance(value, dict):
            return {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}
        return value
