"""The gateway's writes, off the event loop: a writer thread with its own connection to
the database commits the usage rows queued since its last commit in one transaction.

A request's answer ends (its last bytes leave) only once its row is committed, so a
gateway killed at any moment has lost no row of an answer a client received whole. The
budget room a request held stays held until the same transaction settles it, so a budget
never shows less spent than it is, to this process or any other byok process.

While the thread commits (and SQLite checkpoints its log), the event loop goes on serving:
before, every open stream waited for each commit. The gateway's other writes (a budget
hold, its release, the tokens' counts) go through the same connection under the same lock
(:meth:`UsageLog.call`): they wait for at most the commit in progress, never for SQLite's
busy timeout, which sleeps. And since a connection's ``PRAGMA data_version`` moves only on
the commits of *other* connections, this connection's is the one that tells the gateway's
kept reads (gateway.reads) that someone else changed the database (:meth:`UsageLog.version`):
the gateway's own usage rows do not make it read everything again. (Python's GIL is
released while SQLite works, so the thread's commit overlaps the loop's work; the loop
never waits on this connection but for the rarer writes of :meth:`UsageLog.call`.)
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any, Awaitable, Callable

from ..errors import ByokError
from ..store import Store, UsageRow


class UsageLog:
    def __init__(self, store: Store, on_warning: Callable[[str], None]):
        """``store``: the gateway's; this log opens a connection of its own to it."""
        self.on_warning = on_warning
        self.store = store.another_connection()
        self.lock = threading.Lock()  # one transaction at a time on self.store
        self._queued = threading.Condition()
        self._rows: list[tuple[UsageRow, int | None, asyncio.Future]] = []
        self._closing = False
        self._thread = threading.Thread(target=self._write, name="byok-usage-log",
                                        daemon=True)
        # Started with every signal blocked, which it keeps: a signal sent to byok is for
        # the thread that waits for it (gateway.child's sigwaitinfo, the event loop's
        # handlers), never taken by this one.
        was = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        try:
            self._thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, was)

    def add(self, row: UsageRow, hold: int | None) -> Awaitable[None]:
        """Queue ``row`` (settling ``hold``); done once it is committed (or could not be)."""
        done = asyncio.get_running_loop().create_future()
        with self._queued:
            if self._closing:
                raise RuntimeError("the usage log is closed")
            self._rows.append((row, hold, done))
            self._queued.notify()
        # shielded: a request cancelled while it waits must not lose its row, nor fail it
        return asyncio.shield(done)

    def call(self, name: str, *args) -> Any:
        """The store's method ``name`` on this log's connection, between two commits."""
        with self.lock:
            return getattr(self.store, name)(*args)

    def version(self) -> int | None:
        """``PRAGMA data_version`` here: it moves when any other connection commits (not
        on this log's own commits). None while the writer is in a transaction: the event
        loop does not wait for it (the caller falls back on its own connection's)."""
        if not self.lock.acquire(blocking=False):
            return None
        try:
            return self.store.conn.execute("PRAGMA data_version").fetchone()[0]
        finally:
            self.lock.release()

    def close(self) -> None:
        """Write what is queued, stop the thread, close the connection."""
        with self._queued:
            self._closing = True
            self._queued.notify()
        self._thread.join()
        self.store.close()

    def _write(self) -> None:
        while True:
            with self._queued:
                while not self._rows and not self._closing:
                    self._queued.wait()
                batch, self._rows = self._rows, []
            if not batch:
                return  # closing, and nothing left
            self._commit(batch)

    def _commit(self, batch: list[tuple[UsageRow, int | None, asyncio.Future]]) -> None:
        """One transaction for ``batch``, in the order queued; then its waiters are told,
        one wake-up of each event loop for the whole batch."""
        warning = None
        try:
            with self.lock:
                self.store.record_usages([(row, hold) for row, hold, _ in batch])
        except ByokError as err:
            warning = f"{len(batch)} request(s) missing from the usage log: {err.message}"
        except Exception as exc:  # the thread must outlive anything one batch meets
            warning = (f"{len(batch)} request(s) missing from the usage log: "
                       f"{type(exc).__name__}")
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future]] = {}
        for _, _, done in batch:
            by_loop.setdefault(done.get_loop(), []).append(done)
        for loop, waiters in by_loop.items():
            try:
                loop.call_soon_threadsafe(self._written, waiters, warning)
            except RuntimeError:  # that loop has closed: nobody is waiting any more
                pass

    def _written(self, waiters: list[asyncio.Future], warning: str | None) -> None:
        if warning is not None:
            self.on_warning(warning)
        for done in waiters:
            if not done.done():
                done.set_result(None)
