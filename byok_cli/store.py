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
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, NamedTuple

from .errors import ByokError, Code

DB_NAME = "byok.db"
DAY = 86400  # the usage roll-ups' period, in seconds
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
    # 3: whether a provider's environment key may go to the profile's base URL
    """
    ALTER TABLE profiles ADD COLUMN openai_send_env_key TEXT NOT NULL DEFAULT 'off'
        CHECK (openai_send_env_key IN ('on', 'off'));
    ALTER TABLE profiles ADD COLUMN anthropic_send_env_key TEXT NOT NULL DEFAULT 'off'
        CHECK (anthropic_send_env_key IN ('on', 'off'));
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


class StoredKey(NamedTuple):
    profile: str
    provider: str
    ciphertext: bytes
    hint: str
    master_key_id: str
    status: str
    checked_at: str | None
    created_at: str
    updated_at: str


class Message(NamedTuple):
    role: str
    content: str
    provider: str | None = None
    model: str | None = None
    created_at: str | None = None


class Conversation(NamedTuple):
    id: int
    profile: str
    system: str | None
    created_at: str
    updated_at: str
    messages: list[Message]


SETTING_COLUMNS = ("preferred_provider", "openai_model", "anthropic_model",
                   "openai_base_url", "anthropic_base_url", "logging",
                   "openai_send_env_key", "anthropic_send_env_key")


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
            defaults = {"preferred_provider": "system", "logging": "on"}
            return {c: defaults.get(c) for c in SETTING_COLUMNS}
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

    def reencrypt(self, sealed: list[tuple[str, str, bytes]], old_id: str, new_id: str,
                  fault=lambda step: None) -> None:
        """Swap in re-encrypted keys and retire the old master key, all or nothing."""
        stamp = now()
        with self.transaction() as conn:
            conn.executemany("UPDATE api_keys SET ciphertext = ?, master_key_id = ? "
                             "WHERE profile = ? AND provider = ?",
                             [(blob, new_id, profile, provider)
                              for profile, provider, blob in sealed])
            conn.execute("INSERT OR IGNORE INTO master_keys (id, created_at) VALUES (?, ?)",
                         (new_id, stamp))
            conn.execute("UPDATE master_keys SET retired_at = ? WHERE id = ? AND id != ?",
                         (stamp, old_id, new_id))
            fault("before-commit")

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

    # -- conversations ------------------------------------------------------------------
    def conversations(self, profile: str, limit: int | None = None) -> list[dict]:
        sql = ("SELECT c.id, c.created_at, c.updated_at, COUNT(m.id), "
               "(SELECT content FROM messages WHERE conversation_id = c.id AND role = 'user' "
               " ORDER BY id LIMIT 1), "
               "(SELECT model FROM messages WHERE conversation_id = c.id AND role = 'assistant' "
               " ORDER BY id DESC LIMIT 1) "
               "FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id "
               "WHERE c.profile = ? GROUP BY c.id ORDER BY c.id DESC")
        rows = self.conn.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), (profile,))
        return [{"id": r[0], "created_at": r[1], "updated_at": r[2], "messages": r[3],
                 "first_prompt": r[4], "model": r[5]} for r in rows]


    def conversation(self, profile: str, cid: int) -> Conversation | None:
        row = self.conn.execute("SELECT id, profile, system, created_at, updated_at FROM "
                                "conversations WHERE profile = ? AND id = ?", (profile, cid)).fetchone()
        if row is None:
            return None
        messages = [Message(*m) for m in self.conn.execute(
            "SELECT role, content, provider, model, created_at FROM messages "
            "WHERE conversation_id = ? ORDER BY id", (cid,))]
        return Conversation(*row, messages=messages)


    def latest_conversation_id(self, profile: str) -> int | None:
        row = self.conn.execute("SELECT id FROM conversations WHERE profile = ? "
                                "ORDER BY updated_at DESC, id DESC LIMIT 1", (profile,)).fetchone()
        return row[0] if row else None


    def append_exchange(self, profile: str, cid: int | None, system: str | None,
                         new: list[Message]) -> int:
        """Add messages to a conversation (made if cid is None) in one transaction."""
        stamp = now()
        with self.transaction() as conn:
            if cid is None:
                cid = conn.execute("INSERT INTO conversations (profile, system, created_at, "
                                   "updated_at) VALUES (?, ?, ?, ?)",
                                   (profile, system, stamp, stamp)).lastrowid
            else:
                conn.execute("UPDATE conversations SET system = ?, updated_at = ? WHERE id = ?",
                             (system, stamp, cid))
            conn.executemany("INSERT INTO messages (conversation_id, role, content, provider, model, "
                             "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                             [(cid, m.role, m.content, m.provider, m.model, stamp) for m in new])
        return cid

    def delete_conversations(self, profile: str, cid: int | None = None) -> int:
        with self.transaction() as conn:
            if cid is None:
                cur = conn.execute("DELETE FROM conversations WHERE profile = ?", (profile,))
            else:
                cur = conn.execute("DELETE FROM conversations WHERE profile = ? AND id = ?",
                                   (profile, cid))
        self.checkpoint()
        return cur.rowcount

    # -- usage ----------------------------------------------------------------------------
    def record_usage(self, row: "UsageRow") -> None:
        """One request: its raw row, and the daily roll-ups `byok usage` reads."""
        day = int(row.at // DAY)
        errors, fell_back = int(row.code != "OK"), int(bool(row.fallbacks))
        key = (row.profile, row.provider, row.model, day)
        with self.transaction() as conn:
            conn.execute("INSERT INTO usage (at, profile, provider, model, key_source, fallbacks, "
                         "input_tokens, output_tokens, ttft_ms, latency_ms, code) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            conn.execute(
                "INSERT INTO usage_daily (profile, provider, model, day, requests, errors, "
                "fallbacks, input_tokens, output_tokens) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET requests = requests + 1, errors = errors + excluded.errors, "
                "fallbacks = fallbacks + excluded.fallbacks, "
                "input_tokens = input_tokens + excluded.input_tokens, "
                "output_tokens = output_tokens + excluded.output_tokens",
                (*key, errors, fell_back, row.input_tokens or 0, row.output_tokens or 0))
            for metric, ms in (("ttft", row.ttft_ms), ("total", row.latency_ms)):
                if ms is not None:
                    conn.execute("INSERT INTO usage_buckets VALUES (?, ?, ?, ?, ?, ?, 1) "
                                 "ON CONFLICT DO UPDATE SET n = n + 1",
                                 (*key, metric, bucket(ms)))

    def rebuild_usage_rollups(self) -> None:
        """Derive the roll-ups from the raw usage rows again (after bulk imports)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM usage_daily")
            conn.execute("DELETE FROM usage_buckets")
            conn.execute(
                f"INSERT INTO usage_daily SELECT profile, provider, model, CAST(at / {DAY} AS INT), "
                "COUNT(*), SUM(code != 'OK'), SUM(fallbacks != ''), "
                "TOTAL(input_tokens), TOTAL(output_tokens) FROM usage "
                f"GROUP BY profile, provider, model, CAST(at / {DAY} AS INT)")
            for metric, column in (("ttft", "ttft_ms"), ("total", "latency_ms")):
                conn.execute(
                    f"INSERT INTO usage_buckets SELECT profile, provider, model, "
                    f"CAST(at / {DAY} AS INT), '{metric}', {bucket_sql(column)}, COUNT(*) "
                    f"FROM usage WHERE {column} IS NOT NULL "
                    f"GROUP BY 1, 2, 3, 4, 6")

    def usage_totals(self, profile: str, since: float | None, provider: str | None) -> list[tuple]:
        """(provider, model, requests, errors, fallbacks, input, output) per provider and model.

        Whole days come from the roll-ups; the first, partial day from the raw rows.
        """
        where, whole, raw = self._usage_window(profile, since, provider)
        sql = (
            "SELECT provider, model, SUM(r), SUM(e), SUM(f), SUM(i), SUM(o) FROM ("
            " SELECT provider, model, requests r, errors e, fallbacks f, input_tokens i, "
            " output_tokens o FROM usage_daily WHERE profile = ? AND day > ?" + where +
            " UNION ALL SELECT provider, model, 1, code != 'OK', fallbacks != '', "
            " IFNULL(input_tokens, 0), IFNULL(output_tokens, 0) FROM usage "
            " WHERE profile = ? AND at >= ? AND at < ?" + where +
            ") GROUP BY provider, model ORDER BY provider, model")
        return list(self.conn.execute(sql, whole + raw))

    def usage_buckets(self, profile: str, since: float | None, provider: str | None
                      ) -> list[tuple]:
        """(provider, model, metric, bucket, count), the latency histograms."""
        where, whole, raw_args = self._usage_window(profile, since, provider)
        raw = " UNION ALL ".join(
            f"SELECT provider, model, '{metric}' metric, {bucket_sql(column)} bucket, 1 n "
            f"FROM usage WHERE profile = ? AND at >= ? AND at < ? AND {column} IS NOT NULL"
            + where for metric, column in (("ttft", "ttft_ms"), ("total", "latency_ms")))
        sql = ("SELECT provider, model, metric, bucket, SUM(n) FROM ("
               " SELECT provider, model, metric, bucket, n FROM usage_buckets "
               " WHERE profile = ? AND day > ?" + where + " UNION ALL " + raw +
               ") GROUP BY provider, model, metric, bucket ORDER BY provider, model, metric, bucket")
        return list(self.conn.execute(sql, whole + raw_args + raw_args))

    @staticmethod
    def _usage_window(profile: str, since: float | None, provider: str | None
                      ) -> tuple[str, list, list]:
        """(provider filter, arguments for the whole days, arguments for the partial day)."""
        first_day = -1 if since is None else int(since // DAY)
        start = 0.0 if since is None else since
        edge = 0.0 if since is None else (first_day + 1) * float(DAY)
        extra = [provider] if provider else []
        return (" AND provider = ?" if provider else "", [profile, first_day, *extra],
                [profile, start, edge, *extra])


class UsageRow(NamedTuple):
    """One request in the usage log. Never any key material, nor anything derived from it."""

    at: float
    profile: str
    provider: str
    model: str
    key_source: str | None
    fallbacks: str          # comma-separated kinds, '' when none was taken
    input_tokens: int | None
    output_tokens: int | None
    ttft_ms: int | None
    latency_ms: int | None
    code: str               # 'OK' or an error code


# Latency histograms keep two significant figures (exact below 100 ms): percentiles come
# from a few hundred buckets per model, however many requests there were.
_DECADES = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)


def bucket(ms: int) -> int:
    ms = max(0, int(ms))
    if ms < _DECADES[0]:
        return ms
    for limit in _DECADES[1:]:
        if ms < limit:
            step = limit // 100
            return ms // step * step
    step = _DECADES[-1] // 10
    return ms // step * step


def bucket_sql(column: str) -> str:
    cases = [f"WHEN {column} < {_DECADES[0]} THEN MAX({column}, 0)"]
    cases += [f"WHEN {column} < {limit} THEN {column} / {limit // 100} * {limit // 100}"
              for limit in _DECADES[1:]]
    step = _DECADES[-1] // 10
    return f"(CASE {' '.join(cases)} ELSE {column} / {step} * {step} END)"


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)

