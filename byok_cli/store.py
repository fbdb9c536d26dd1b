"""SQLite storage: where the file lives, its schema and forward-only migrations, queries.

One file, ``byok.db``, in ``BYOK_HOME`` or the platform's user data dir. The directory is
made 0700 and the database 0600 before SQLite writes a byte; SQLite gives its ``-wal``,
``-shm`` and journal files the database's own mode.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .errors import ByokError, Code

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
]
SCHEMA_VERSION = len(MIGRATIONS)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def data_dir() -> Path:
    home = os.environ.get("BYOK_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("byok", appauthor=False))


@contextlib.contextmanager
def _private_umask() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


@dataclass
class StoredKey:
    profile: str
    provider: str
    ciphertext: bytes
    hint: str
    master_key_id: str
    status: str
    checked_at: str | None
    created_at: str
    updated_at: str


SETTING_COLUMNS = ("preferred_provider", "openai_model", "anthropic_model",
                   "openai_base_url", "anthropic_base_url")


class Store:
    """The byok database. Opening it creates or migrates it; never alters a newer one."""

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
        if "disk" in text and "full" in text:
            return self._fail("the disk is full; nothing was changed", "free some space")
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
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may
            for step in range(version, SCHEMA_VERSION):                 # have migrated first
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

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

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    # -- profiles -----------------------------------------------------------------------
    def _ensure_profile(self, conn: sqlite3.Connection, profile: str) -> None:
        stamp = now()
        conn.execute("INSERT OR IGNORE INTO profiles (name, created_at, updated_at) "
                     "VALUES (?, ?, ?)", (profile, stamp, stamp))

    def settings(self, profile: str) -> dict:
        row = self.conn.execute(
            f"SELECT {', '.join(SETTING_COLUMNS)}, created_at, updated_at FROM profiles "
            "WHERE name = ?", (profile,)).fetchone()
        if row is None:
            return {c: ("system" if c == "preferred_provider" else None) for c in SETTING_COLUMNS}
        names = SETTING_COLUMNS + ("created_at", "updated_at")
        return dict(zip(names, row))

    def set_setting(self, profile: str, column: str, value: str | None) -> None:
        if column not in SETTING_COLUMNS:
            raise ValueError(column)
        with self.transaction() as conn:
            self._ensure_profile(conn, profile)
            conn.execute(f"UPDATE profiles SET {column} = ?, updated_at = ? WHERE name = ?",
                         (value, now(), profile))

    def profiles(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM profiles ORDER BY name")]

    # -- keys ---------------------------------------------------------------------------
    _KEY_COLUMNS = ("profile, provider, ciphertext, hint, master_key_id, status, checked_at, "
                    "created_at, updated_at")

    def get_key(self, profile: str, provider: str) -> StoredKey | None:
        row = self.conn.execute(f"SELECT {self._KEY_COLUMNS} FROM api_keys "
                                "WHERE profile = ? AND provider = ?", (profile, provider)).fetchone()
        return StoredKey(*row) if row else None

    def keys(self, profile: str) -> dict[str, StoredKey]:
        rows = self.conn.execute(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE profile = ?",
                                 (profile,))
        return {r[1]: StoredKey(*r) for r in rows}

    def all_keys(self) -> list[StoredKey]:
        rows = self.conn.execute(f"SELECT {self._KEY_COLUMNS} FROM api_keys")
        return [StoredKey(*r) for r in rows]

    def put_key(self, profile: str, provider: str, ciphertext: bytes, hint: str,
                master_key_id: str, status: str, checked_at: str | None = None) -> None:
        """Insert or replace a key in one statement, so a reader sees the old or the new."""
        stamp = now()
        with self.transaction() as conn:
            self._ensure_profile(conn, profile)
            conn.execute(
                "INSERT INTO api_keys (profile, provider, ciphertext, hint, master_key_id, status, "
                "checked_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (profile, provider) DO UPDATE SET ciphertext = excluded.ciphertext, "
                "hint = excluded.hint, master_key_id = excluded.master_key_id, "
                "status = excluded.status, checked_at = excluded.checked_at, "
                "created_at = excluded.created_at, updated_at = excluded.updated_at",
                (profile, provider, ciphertext, hint, master_key_id, status, checked_at,
                 stamp, stamp))

    def set_key_status(self, profile: str, provider: str, status: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE api_keys SET status = ?, checked_at = ? "
                         "WHERE profile = ? AND provider = ?", (status, now(), profile, provider))

    def delete_key(self, profile: str, provider: str) -> bool:
        with self.transaction() as conn:
            cur = conn.execute("DELETE FROM api_keys WHERE profile = ? AND provider = ?",
                               (profile, provider))
        # Move the WAL's copies of the freed pages back into the (securely zeroed) file.
        self.checkpoint()
        return cur.rowcount > 0

    def checkpoint(self) -> None:
        with contextlib.suppress(sqlite3.DatabaseError):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- master keys --------------------------------------------------------------------
    def active_master_key_id(self) -> str | None:
        row = self.conn.execute("SELECT id FROM master_keys WHERE retired_at IS NULL "
                                "ORDER BY created_at DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def add_master_key(self, mk_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO master_keys (id, created_at) VALUES (?, ?)",
                         (mk_id, now()))

    def master_keys(self) -> list[tuple[str, str, str | None]]:
        return list(self.conn.execute("SELECT id, created_at, retired_at FROM master_keys "
                                      "ORDER BY created_at"))

    # -- model cache --------------------------------------------------------------------
    def cached_models(self, provider: str, base_url: str) -> tuple[float, str] | None:
        row = self.conn.execute("SELECT fetched_at, payload FROM model_cache "
                                "WHERE provider = ? AND base_url = ?", (provider, base_url))
        return row.fetchone()

    def cache_models(self, provider: str, base_url: str, fetched_at: float, payload: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO model_cache VALUES (?, ?, ?, ?)",
                         (provider, base_url, fetched_at, payload))


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
