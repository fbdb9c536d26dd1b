"""The database file: how it is opened and migrated (the schema is in ``migrations``).

One file, ``byok.db``, in ``BYOK_HOME`` or the platform's user data dir (see ``files``
for who may own it and its modes). SQLite gives its ``-wal``, ``-shm`` and journal files
the database's own mode. Every SQLite failure reaches callers as a one-line
:class:`~byok_cli.errors.ByokError` (``STORE_ERROR``), whichever statement or row met it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from ..errors import ByokError, Code
from . import connection, files
from .files import DB_NAME, data_home
from .migrations import MIGRATIONS, SCHEMA_VERSION

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from pathlib import Path

BUSY_TIMEOUT_MS = 15_000
# The tables that grow with every request and message. `byok doctor` checks the others
# (keys, master keys, settings, budgets: what byok cannot do without) and leaves these to
# `doctor --full`, so that its default check takes as long on a large log as on a new one.
LOGS = frozenset({"usage", "usage_buckets", "usage_buckets_upto", "conversations", "messages"})
WIPE_WAIT = 3.0        # seconds a wipe waits for other processes to stop reading old pages
WIPE_WAIT_AT_OPEN = 0.2
# SQLite copies the WAL into the file when the last connection closes: ~1.5 ms of every
# command that wrote (run's usage rows), and more on a busy disk. Python 3.12+ can leave it
# for SQLite's automatic checkpoint, which copies the WAL once it reaches WAL_PAGES (pages of
# 4 KiB) and starts it over; journal_size_limit then cuts the file back. What the close bought
# is kept where it matters: every write that removes or replaces a key's ciphertext, or a
# conversation, ends with `wipe` (a checkpoint that empties the WAL), so nothing removed
# outlives its removal there, and the WAL holds what byok.db holds (ciphertexts, never a
# key). The next byok to open the file reads the WAL back in (at most WAL_PAGES).
# Python 3.11's sqlite3 cannot set the option: store.sqlite311 does it through ctypes, where it
# safely can, and only on a connection about to write (so a reading command imports no
# ctypes; when it is the last to close, it copies in what earlier writes left, as before).
NO_CHECKPOINT_ON_CLOSE = getattr(sqlite3, "SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE", None)
WAL_PAGES = 64
WAL_LIMIT = 1 << 20    # bytes a WAL file keeps after a checkpoint (a migration's can be larger)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Database:
    """One connection to the byok database. Opening it creates or migrates it; never alters a
    newer one. The tables' queries live in the mixins that make up :class:`~byok_cli.store.Store`.

    ``warn`` hears what opening changed (files made private); by default, Python's warnings.
    """

    def __init__(self, home: str | os.PathLike | None = None,
                 warn: Callable[[str], None] | None = None):
        # Kept as strings (see store.files); `home` and `path` give Paths to those who ask.
        self._home = os.fspath(home) if home else data_home()
        self._path = os.path.join(self._home, DB_NAME)
        self.warn = warn or _python_warning
        self._depth = 0  # transactions open (nested ones join the outermost)
        self._wipe_unfinished = False
        self._leave_wal_pending = False  # Python 3.11: see leave_wal_at_close
        self.conn = self._open()

    @property
    def home(self) -> Path:
        """The data directory (its real path, once opened)."""
        import pathlib

        return pathlib.Path(self._home)

    @property
    def home_dir(self) -> str:
        """The same, as a string: for the hot paths, which import no pathlib."""
        return self._home

    @property
    def path(self) -> Path:
        """The database file."""
        import pathlib

        return pathlib.Path(self._path)

    # -- opening ------------------------------------------------------------------------
    def _fail(self, what: str, hint: str) -> ByokError:
        return ByokError(Code.STORE_ERROR, f"{what} ({self._path})", hint=hint)

    def _open(self) -> sqlite3.Connection:
        self._home = files.private_dir(self._home)
        self._path = os.path.join(self._home, DB_NAME)
        tightened = files.private_database_files(self._home)
        if tightened:
            self.warn(f"made {', '.join(tightened)} private (0600) in {self._home}: other "
                       "users could read it")
        conn = connection.connect(self._path, BUSY_TIMEOUT_MS / 1000, self.store_error)
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        if os.path.exists(os.path.join(self._home, files.WIPE_MARKER)):
            self.wipe(WIPE_WAIT_AT_OPEN)  # an earlier `key remove` could not finish its wipe
        return conn

    def another_connection(self):
        """The same database (already opened, checked and migrated) through a connection of
        its own, for another thread. Nothing but SQLite opens the files: closing any other
        descriptor on them would drop the POSIX locks this process's connections hold
        there, and another process could then rebuild the WAL index under them."""
        import copy

        other = copy.copy(self)
        other._depth = 0
        other.conn = connection.connect(self._path, BUSY_TIMEOUT_MS / 1000, other.store_error)
        try:
            other._prepare(other.conn)
        except BaseException:
            other.conn.close()
            raise
        return other

    def store_error(self, exc: sqlite3.DatabaseError) -> ByokError:
        """What an SQLite failure means for the person, in one line."""
        text = str(exc).lower()
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return self._fail("the database is corrupt; byok left it untouched",
                              "move the file aside and run byok again (stored keys in it are lost "
                              "unless you restore a backup)")
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return self._fail("the database or its directory is not writable",
                              "fix the permissions, or set BYOK_HOME to a writable directory")
        if "disk" in text:  # SQLite says "database or disk is full" or "disk I/O error"
            import shutil

            try:
                full = shutil.disk_usage(self._home).free < 256 * 1024
            except OSError:
                full = False
            if full or "full" in text:
                return self._fail("the disk is full; nothing was changed", "free some space")
            return self._fail("the disk reported an I/O error; nothing was changed",
                              "check the disk, then run `byok doctor`")
        if "locked" in text or "busy" in text:
            return self._fail("the database stayed locked by another byok process",
                              "try again in a moment")
        return self._fail(f"database error: {exc}", "run `byok doctor`")

    def _prepare(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._leave_wal_pending = NO_CHECKPOINT_ON_CLOSE is None
        # Read the version before anything writes: a newer database must not be altered.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < 0:  # byok never writes one: a damaged header
            raise self.store_error(sqlite3.DatabaseError("malformed"))
        if version > SCHEMA_VERSION:
            raise self._fail(
                f"the database was written by a newer byok (schema {version}, this byok knows "
                f"{SCHEMA_VERSION}); it was left untouched", "upgrade byok")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        if _checkpoint_left_to_sqlite(conn):
            _bound_the_wal(conn)
        if version < SCHEMA_VERSION:
            self._migrate(conn)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        # Foreign keys are off while tables are rebuilt (SQLite's documented procedure):
        # dropping a parent table would otherwise delete its children's rows. They are
        # checked before the commit instead. The pragma has no effect inside a transaction.
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may
            for step in range(version, SCHEMA_VERSION):                 # have migrated first
                for statement in statements(MIGRATIONS[step]):
                    conn.execute(statement)
            broken = conn.execute("PRAGMA foreign_key_check").fetchone()
            if broken is not None:
                raise self.store_error(sqlite3.IntegrityError(
                    f"foreign key check failed on {broken[0]}"))
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        finally:
            conn.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: writers queue on the busy timeout instead of failing.
        Inside another, it joins that one: all of it commits, or none."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.leave_wal_at_close()
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            _rollback(self.conn)
            raise
        finally:
            self._depth = 0

    def wipe(self, wait: float = WIPE_WAIT) -> bool:
        """Checkpoint the WAL into the file and truncate it, so that pages freed (and
        zeroed, with secure_delete) keep no old copy. A process still reading an older
        snapshot holds on to the old pages: wait for it up to ``wait`` seconds; if it is
        still there, leave a marker so that the next byok to open the database finishes.
        True when the wipe is done."""
        marker = os.path.join(self._home, files.WIPE_MARKER)
        deadline = time.monotonic() + wait
        self.conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            while True:
                try:
                    busy = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                except ByokError:
                    busy = 1
                if not busy:
                    files.unmark(marker)
                    self._wipe_unfinished = False
                    return True
                if time.monotonic() >= deadline:
                    files.mark(marker)
                    self._wipe_unfinished = True
                    return False
                time.sleep(0.05)
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def leave_wal_at_close(self) -> None:
        """Leave the WAL for SQLite's automatic checkpoint when this connection closes (see
        NO_CHECKPOINT_ON_CLOSE): what every connection does on Python 3.12+, and on 3.11 a
        connection before its first write, or one that reports the WAL (`doctor`, which
        should not change what it reports)."""
        if self._leave_wal_pending:
            self._leave_wal_pending = False
            from . import sqlite311

            if sqlite311.skip_checkpoint_on_close(self.conn, self._path):
                _bound_the_wal(self.conn)

    def wal_bytes(self) -> int:
        """The WAL file's size: 0 once a wipe emptied it, or a last close that could not skip
        its checkpoint copied it into the file and removed it."""
        try:
            return os.stat(self._path + "-wal").st_size
        except OSError:
            return 0

    def wipe_pending(self) -> bool:
        """Whether a wipe is left for the next byok to finish (see :meth:`wipe`)."""
        return self._wipe_unfinished or os.path.exists(os.path.join(self._home, files.WIPE_MARKER))

    def check(self, full: bool = False, most: int = 5) -> list[str]:
        """What SQLite finds wrong in the file, at most ``most`` lines (``['ok']`` when
        nothing): with ``full``, ``PRAGMA integrity_check`` over everything; else ``PRAGMA
        quick_check`` of each table but the LOGS (and their indexes)."""
        if full:
            return [str(r[0]) for r in self.conn.execute(f"PRAGMA integrity_check({most})")]
        problems: list[str] = []
        for (table,) in self.conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").fetchall():
            if table not in LOGS:
                found = [str(r[0]) for r in self.conn.execute(
                    "SELECT * FROM pragma_quick_check(?, 'main')", (table,))]
                problems += [] if found == ["ok"] else found
        return problems[:most] or ["ok"]

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]


def statements(script: str) -> Iterator[str]:
    """A migration's statements one by one (a trigger's body holds semicolons of its own)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
    if pending.strip(" \n;"):
        yield pending


def _checkpoint_left_to_sqlite(conn: sqlite3.Connection) -> bool:
    if NO_CHECKPOINT_ON_CLOSE is None:
        return False
    try:
        conn.setconfig(NO_CHECKPOINT_ON_CLOSE, True)
    except sqlite3.Error:  # an SQLite older than the headers Python was built with
        return False
    return True


def _bound_the_wal(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_PAGES}")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}")


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite has already rolled back after some failures (a full disk): nothing to undo.
    with contextlib.suppress(sqlite3.Error, ByokError):
        conn.execute("ROLLBACK")


def _python_warning(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)
