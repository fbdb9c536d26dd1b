"""The database file: where it lives, how it is opened, its schema and forward-only migrations.

One file, ``byok.db``, in ``BYOK_HOME`` or the platform's user data dir. The directory is
made 0700 and the database 0600 before SQLite writes a byte; SQLite gives its ``-wal``,
``-shm`` and journal files the database's own mode.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..errors import ByokError, Code

DB_NAME = "byok.db"
BUSY_TIMEOUT_MS = 15_000


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
    # 7: per profile and provider, whether the environment key may go to the profile's
    # base URL for it (`byok config set PROVIDER.send_env_key on`; NULL: off)
    """
    ALTER TABLE provider_settings ADD COLUMN send_env_key TEXT
        CHECK (send_env_key IN ('on', 'off'));
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def data_dir() -> Path:
    home = os.environ.get("BYOK_HOME")
    if home:
        try:
            return Path(home).expanduser()
        except RuntimeError:  # ~nosuchuser
            raise ByokError(Code.USAGE, f"BYOK_HOME: cannot expand {home.split('/')[0]!r}: "
                            "no such user", hint="give a full path") from None
    import platformdirs

    return Path(platformdirs.user_data_dir("byok", appauthor=False))


@contextlib.contextmanager
def _private_umask() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)



def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)



class Database:
    """One connection to the byok database. Opening it creates or migrates it; never alters a
    newer one. The tables' queries live in the mixins that make up :class:`~byok_cli.store.Store`."""

    def __init__(self, home: Path | None = None):
        self.home = Path(home) if home else data_dir()
        self.path = self.home / DB_NAME
        self.conn = self._open()

    # -- opening ------------------------------------------------------------------------
    def _fail(self, what: str, hint: str) -> ByokError:
        return ByokError(Code.STORE_ERROR, f"{what} ({self.path})", hint=hint)

    def _open(self) -> sqlite3.Connection:
        with _private_umask():
            try:
                self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise self._fail(f"cannot create the data directory: {exc.strerror}",
                                 "set BYOK_HOME to a writable directory") from None
            if not self.path.exists():
                try:
                    os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                except FileExistsError:
                    pass  # another byok process made it first
                except OSError as exc:
                    raise self._fail(f"cannot create the database: {exc.strerror}",
                                     "check the directory's permissions or set BYOK_HOME") from None
            elif not self.path.is_file():
                raise self._fail("the database path is not a file", "move it aside")
            try:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None, check_same_thread=False)
                self._prepare(conn)
            except sqlite3.DatabaseError as exc:
                raise self._classify(exc) from None
        return conn

    def _classify(self, exc: sqlite3.DatabaseError) -> ByokError:
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
        if version > SCHEMA_VERSION:
            conn.close()
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
                raise sqlite3.IntegrityError(f"foreign key check failed on {broken[0]}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: writers queue on the busy timeout instead of failing."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self._classify(exc) from None
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self.conn.execute("ROLLBACK")
            raise self._classify(exc) from None

    def checkpoint(self) -> None:
        """Move the WAL's pages back into the file, so freed (zeroed) pages leave no copy."""
        with contextlib.suppress(sqlite3.DatabaseError):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

