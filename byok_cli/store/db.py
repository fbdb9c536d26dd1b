"""The database file: how it is opened, its schema and forward-only migrations.

One file, ``byok.db``, in ``BYOK_HOME`` or the platform's user data dir (see ``files``
for who may own it and its modes). SQLite gives its ``-wal``, ``-shm`` and journal files
the database's own mode. Every SQLite failure reaches callers as a one-line
:class:`~byok_cli.errors.ByokError` (``STORE_ERROR``), whichever statement or row met it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from ..errors import ByokError, Code
from . import connection, files
from .files import DB_NAME, data_dir

BUSY_TIMEOUT_MS = 15_000
WIPE_WAIT = 3.0        # seconds a wipe waits for other processes to stop reading old pages
WIPE_WAIT_AT_OPEN = 0.2


# Each entry moves the schema from version i to i+1. Never edit a released entry:
# add a new one.
MIGRATIONS: list[str] = [
    # 1: profiles (the design's UserSettings), keys, master key registry, model cache
    """
    CREATE TABLE profiles (
        name               TEXT PRIMARY KEY,
        preferred_provider TEXT NOT NULL DEFAULT 'system'
                           CHECK (preferred_provider IN ('openai', 'anthropic', 'system')),
        openai_model       TEXT,
        anthropic_model    TEXT,
        openai_base_url    TEXT,
        anthropic_base_url TEXT,
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        id            INTEGER PRIMARY KEY,
        profile       TEXT NOT NULL REFERENCES profiles(name) ON DELETE CASCADE,
        provider      TEXT NOT NULL CHECK (provider IN ('openai', 'anthropic')),
        ciphertext    BLOB NOT NULL,
        hint          TEXT NOT NULL,
        master_key_id TEXT NOT NULL,
        status        TEXT NOT NULL DEFAULT 'unverified',
        checked_at    TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        UNIQUE (profile, provider)
    );
    CREATE INDEX api_keys_profile ON api_keys(profile);
    CREATE TABLE master_keys (
        id         TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        retired_at TEXT
    );
    CREATE TABLE model_cache (
        provider   TEXT NOT NULL,
        base_url   TEXT NOT NULL,
        fetched_at REAL NOT NULL,
        payload    TEXT NOT NULL,
        PRIMARY KEY (provider, base_url)
    );
    """,
    # 2: conversations, usage log with daily roll-ups, the `logging` setting
    """
    ALTER TABLE profiles ADD COLUMN logging TEXT NOT NULL DEFAULT 'on'
        CHECK (logging IN ('on', 'off'));
    CREATE TABLE conversations (
        id         INTEGER PRIMARY KEY,
        profile    TEXT NOT NULL,
        system     TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX conversations_profile ON conversations(profile, id);
    CREATE TABLE messages (
        id              INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role            TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content         TEXT NOT NULL,
        provider        TEXT,
        model           TEXT,
        created_at      TEXT NOT NULL
    );
    CREATE INDEX messages_conversation ON messages(conversation_id, id);
    CREATE TABLE usage (
        id            INTEGER PRIMARY KEY,
        at            REAL NOT NULL,
        profile       TEXT NOT NULL,
        provider      TEXT,
        model         TEXT,
        key_source    TEXT,
        fallbacks     TEXT NOT NULL DEFAULT '',
        input_tokens  INTEGER,
        output_tokens INTEGER,
        ttft_ms       INTEGER,
        latency_ms    INTEGER,
        code          TEXT NOT NULL
    );
    CREATE INDEX usage_profile_at ON usage(profile, at);
    CREATE TABLE usage_daily (
        profile       TEXT NOT NULL,
        provider      TEXT NOT NULL,
        model         TEXT NOT NULL,
        day           INTEGER NOT NULL,
        requests      INTEGER NOT NULL DEFAULT 0,
        errors        INTEGER NOT NULL DEFAULT 0,
        fallbacks     INTEGER NOT NULL DEFAULT 0,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (profile, day, provider, model)
    );
    CREATE TABLE usage_buckets (
        profile  TEXT NOT NULL,
        provider TEXT NOT NULL,
        model    TEXT NOT NULL,
        day      INTEGER NOT NULL,
        metric   TEXT NOT NULL CHECK (metric IN ('ttft', 'total')),
        bucket   INTEGER NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (profile, day, provider, model, metric, bucket)
    );
    """,
    # 3: hand-offs (`byok key get`): which key went to which program; never the key itself
    """
    CREATE TABLE handoffs (
        id       INTEGER PRIMARY KEY,
        at       REAL NOT NULL,
        profile  TEXT NOT NULL,
        provider TEXT NOT NULL,
        key_name TEXT NOT NULL DEFAULT 'default',
        source   TEXT NOT NULL CHECK (source IN ('stored', 'environment')),
        parent   TEXT NOT NULL,
        caller   TEXT
    );
    CREATE INDEX handoffs_profile_at ON handoffs(profile, at);
    """,
    # 4: what requests cost (micro-dollars at the price in force; NULL when unknown), budgets
    # and the reservations that hold their room while a request is in flight; each price sync
    """
    ALTER TABLE usage ADD COLUMN cached_input_tokens INTEGER;
    ALTER TABLE usage ADD COLUMN cost_micros INTEGER;
    ALTER TABLE usage_daily ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage_daily ADD COLUMN cost_unknown INTEGER NOT NULL DEFAULT 0;
    UPDATE usage_daily SET cost_unknown = requests - errors;
    ALTER TABLE profiles ADD COLUMN show_cost TEXT NOT NULL DEFAULT 'off'
        CHECK (show_cost IN ('on', 'off'));
    ALTER TABLE profiles ADD COLUMN allow_unpriced TEXT NOT NULL DEFAULT 'off'
        CHECK (allow_unpriced IN ('on', 'off'));
    CREATE TABLE budgets (
        profile      TEXT NOT NULL,
        scope        TEXT NOT NULL CHECK (scope IN ('profile', 'provider', 'key')),
        name         TEXT NOT NULL DEFAULT '',
        period       TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
        limit_micros INTEGER NOT NULL CHECK (limit_micros > 0),
        created_at   TEXT NOT NULL,
        PRIMARY KEY (profile, scope, name, period)
    );
    CREATE TABLE budget_holds (
        id         INTEGER PRIMARY KEY,
        profile    TEXT NOT NULL,
        provider   TEXT NOT NULL,
        key_name   TEXT,
        micros     INTEGER NOT NULL,
        at         REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX budget_holds_profile ON budget_holds(profile, at);
    CREATE TABLE catalog_syncs (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        url     TEXT NOT NULL,
        outcome TEXT NOT NULL,
        models  INTEGER,
        sha256  TEXT
    );
    """,
    # 5: the person's own providers (`byok provider add`), per profile
    """
    CREATE TABLE providers (
        profile    TEXT NOT NULL,
        name       TEXT NOT NULL,
        api        TEXT NOT NULL,
        base_url   TEXT NOT NULL,
        key_env    TEXT,
        needs_key  INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        PRIMARY KEY (profile, name)
    );
    """,
    # 6: named keys in an order the person sets; model and base URL per provider name
    # instead of one column each for two providers; the fallback chain; the key's name on
    # usage rows. The CHECK constraints naming the two providers go: profiles and api_keys
    # are rebuilt (with foreign keys off, see _migrate), keeping every row, row id and
    # ciphertext (a key named `default` has the associated data it always had).
    """
    CREATE TABLE profiles_next (
        name               TEXT PRIMARY KEY,
        preferred_provider TEXT NOT NULL DEFAULT 'system',
        logging            TEXT NOT NULL DEFAULT 'on' CHECK (logging IN ('on', 'off')),
        show_cost          TEXT NOT NULL DEFAULT 'off' CHECK (show_cost IN ('on', 'off')),
        allow_unpriced     TEXT NOT NULL DEFAULT 'off' CHECK (allow_unpriced IN ('on', 'off')),
        fallback           TEXT,
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL
    );
    INSERT INTO profiles_next (name, preferred_provider, logging, show_cost, allow_unpriced,
                               created_at, updated_at)
        SELECT name, preferred_provider, logging, show_cost, allow_unpriced, created_at,
               updated_at FROM profiles;
    INSERT OR IGNORE INTO profiles_next (name, created_at, updated_at)
        SELECT profile, MIN(created_at), MAX(updated_at) FROM api_keys GROUP BY profile;
    CREATE TABLE provider_settings (
        profile  TEXT NOT NULL,
        provider TEXT NOT NULL,
        model    TEXT,
        base_url TEXT,
        PRIMARY KEY (profile, provider)
    );
    INSERT INTO provider_settings (profile, provider, model, base_url)
        SELECT name, 'openai', openai_model, openai_base_url FROM profiles
        WHERE openai_model IS NOT NULL OR openai_base_url IS NOT NULL;
    INSERT INTO provider_settings (profile, provider, model, base_url)
        SELECT name, 'anthropic', anthropic_model, anthropic_base_url FROM profiles
        WHERE anthropic_model IS NOT NULL OR anthropic_base_url IS NOT NULL;
    CREATE TABLE api_keys_next (
        id            INTEGER PRIMARY KEY,
        profile       TEXT NOT NULL REFERENCES profiles(name) ON DELETE CASCADE,
        provider      TEXT NOT NULL,
        name          TEXT NOT NULL DEFAULT 'default',
        position      INTEGER NOT NULL DEFAULT 0,
        ciphertext    BLOB NOT NULL,
        hint          TEXT NOT NULL,
        master_key_id TEXT NOT NULL,
        status        TEXT NOT NULL DEFAULT 'unverified',
        checked_at    TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        UNIQUE (profile, provider, name)
    );
    INSERT INTO api_keys_next (id, profile, provider, name, position, ciphertext, hint,
                             master_key_id, status, checked_at, created_at, updated_at)
        SELECT id, profile, provider, 'default', 0, ciphertext, hint, master_key_id, status,
               checked_at, created_at, updated_at FROM api_keys;
    DROP TABLE api_keys;
    DROP TABLE profiles;
    ALTER TABLE profiles_next RENAME TO profiles;
    ALTER TABLE api_keys_next RENAME TO api_keys;
    CREATE INDEX api_keys_profile ON api_keys(profile, provider, position);
    ALTER TABLE usage ADD COLUMN key_name TEXT;
    """,
    # 7: master key states. A new master key is recorded as 'pending' before the keyring
    # holds it, so a crash leaves no key byok does not know of; at most one is 'active'.
    """
    ALTER TABLE master_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
        CHECK (state IN ('pending', 'active', 'retired'));
    UPDATE master_keys SET state = 'retired' WHERE retired_at IS NOT NULL;
    UPDATE master_keys SET state = 'retired', retired_at = strftime('%Y-%m-%dT%H:%M:%S+00:00')
        WHERE state = 'active' AND id != (SELECT id FROM master_keys WHERE state = 'active'
                                          ORDER BY created_at DESC, rowid DESC LIMIT 1);
    CREATE UNIQUE INDEX master_keys_one_active ON master_keys(state) WHERE state = 'active';
    """,
    # 8: per profile and provider, whether the environment key may go to the profile's
    # base URL for it (`byok config set PROVIDER.send_env_key on`; NULL: off)
    """
    ALTER TABLE provider_settings ADD COLUMN send_env_key TEXT
        CHECK (send_env_key IN ('on', 'off'));
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Database:
    """One connection to the byok database. Opening it creates or migrates it; never alters a
    newer one. The tables' queries live in the mixins that make up :class:`~byok_cli.store.Store`.

    ``warn`` hears what opening changed (files made private); by default, Python's warnings.
    """

    def __init__(self, home: Path | None = None, warn: Callable[[str], None] | None = None):
        self.home = Path(home) if home else data_dir()
        self.path = self.home / DB_NAME
        self.warn = warn or _python_warning
        self._depth = 0  # transactions open (nested ones join the outermost)
        self._wipe_unfinished = False
        self.conn = self._open()

    # -- opening ------------------------------------------------------------------------
    def _fail(self, what: str, hint: str) -> ByokError:
        return ByokError(Code.STORE_ERROR, f"{what} ({self.path})", hint=hint)

    def _open(self) -> sqlite3.Connection:
        self.home = files.private_dir(self.home)
        self.path = self.home / DB_NAME
        tightened = files.private_database_files(self.home)
        if tightened:
            self.warn(f"made {', '.join(tightened)} private (0600) in {self.home}: other "
                       "users could read it")
        conn = connection.connect(self.path, BUSY_TIMEOUT_MS / 1000, self.store_error)
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        if (self.home / files.WIPE_MARKER).exists():
            self.wipe(WIPE_WAIT_AT_OPEN)  # an earlier `key remove` could not finish its wipe
        return conn

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
                full = shutil.disk_usage(self.home).free < 256 * 1024
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
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
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
        marker = self.home / files.WIPE_MARKER
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

    def wipe_pending(self) -> bool:
        """Whether a wipe is left for the next byok to finish (see :meth:`wipe`)."""
        return self._wipe_unfinished or (self.home / files.WIPE_MARKER).exists()

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite has already rolled back after some failures (a full disk): nothing to undo.
    with contextlib.suppress(sqlite3.Error, ByokError):
        conn.execute("ROLLBACK")


def _python_warning(message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)
