"""Stored provider keys (ciphertext only) and the registry of master key ids.

A profile may keep several keys per provider, each under a name (``default`` when none is
given), tried in the order the person sets (``position``, then name).
"""

from __future__ import annotations

from typing import NamedTuple

from .db import now


class StoredKey(NamedTuple):
    profile: str
    provider: str
    name: str
    position: int
    ciphertext: bytes
    hint: str
    master_key_id: str
    status: str
    checked_at: str | None
    created_at: str
    updated_at: str


class KeyTables:
    """Keys are kept as ciphertext only; a key's row names the master key that sealed it."""

    _KEY_COLUMNS = ("profile, provider, name, position, ciphertext, hint, master_key_id, status, "
                    "checked_at, created_at, updated_at")
    _KEY_ORDER = "ORDER BY profile, provider, position, name"

    def get_key(self, profile: str, provider: str, name: str = "default") -> StoredKey | None:
        row = self.conn.execute(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE profile = ? "
                                "AND provider = ? AND name = ?", (profile, provider, name))
        found = row.fetchone()
        return StoredKey(*found) if found else None

    def keys(self, profile: str, provider: str | None = None) -> list[StoredKey]:
        """The profile's keys (of one provider, or all), each provider's in the order tried."""
        where, args = ("profile = ?", (profile,)) if provider is None else (
            "profile = ? AND provider = ?", (profile, provider))
        rows = self.conn.execute(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE {where} "
                                 f"{self._KEY_ORDER}", args)
        return [StoredKey(*r) for r in rows]

    def all_keys(self) -> list[StoredKey]:
        rows = self.conn.execute(f"SELECT {self._KEY_COLUMNS} FROM api_keys {self._KEY_ORDER}")
        return [StoredKey(*r) for r in rows]

    def put_key(self, profile: str, provider: str, name: str, ciphertext: bytes, hint: str,
                master_key_id: str, status: str, checked_at: str | None = None) -> None:
        """Insert or replace a key in one statement, so a reader sees the old or the new.

        A new name goes last in the provider's order; a replaced key keeps its place.
        """
        stamp = now()
        with self.transaction() as conn:
            self._ensure_profile(conn, profile)
            conn.execute(
                "INSERT INTO api_keys (profile, provider, name, position, ciphertext, hint, "
                "master_key_id, status, checked_at, created_at, updated_at) VALUES (?, ?, ?, "
                "(SELECT IFNULL(MAX(position) + 1, 0) FROM api_keys WHERE profile = ? AND "
                "provider = ?), ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (profile, provider, name) DO UPDATE SET "
                "ciphertext = excluded.ciphertext, hint = excluded.hint, "
                "master_key_id = excluded.master_key_id, status = excluded.status, "
                "checked_at = excluded.checked_at, created_at = excluded.created_at, "
                "updated_at = excluded.updated_at",
                (profile, provider, name, profile, provider, ciphertext, hint, master_key_id,
                 status, checked_at, stamp, stamp))

    def sealed_with(self) -> dict[str, int]:
        """Master key id -> how many stored keys (of every profile) it seals."""
        return dict(self.conn.execute("SELECT master_key_id, COUNT(*) FROM api_keys "
                                      "GROUP BY master_key_id ORDER BY MIN(created_at)"))

    def set_key_status(self, profile: str, provider: str, name: str, status: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE api_keys SET status = ?, checked_at = ? WHERE profile = ? AND "
                         "provider = ? AND name = ?", (status, now(), profile, provider, name))

    def set_key_order(self, profile: str, provider: str, names: list[str]) -> None:
        """Put these keys first, in this order; the others keep theirs, after them."""
        with self.transaction() as conn:
            rest = [r[0] for r in conn.execute(
                "SELECT name FROM api_keys WHERE profile = ? AND provider = ? "
                "ORDER BY position, name", (profile, provider)) if r[0] not in names]
            conn.executemany("UPDATE api_keys SET position = ? WHERE profile = ? AND "
                             "provider = ? AND name = ?",
                             [(i, profile, provider, n) for i, n in enumerate(names + rest)])

    def delete_key(self, profile: str, provider: str, name: str = "default") -> bool:
        with self.transaction() as conn:
            cur = conn.execute("DELETE FROM api_keys WHERE profile = ? AND provider = ? AND "
                               "name = ?", (profile, provider, name))
        # Move the WAL's copies of the freed pages back into the (securely zeroed) file.
        self.checkpoint()
        return cur.rowcount > 0

    # -- master keys --------------------------------------------------------------------
    def active_master_key_id(self) -> str | None:
        row = self.conn.execute("SELECT id FROM master_keys WHERE retired_at IS NULL "
                                "ORDER BY created_at DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def add_master_key(self, mk_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO master_keys (id, created_at) VALUES (?, ?)",
                         (mk_id, now()))

    def reencrypt(self, sealed: list[tuple[str, str, str, bytes]], old_id: str, new_id: str,
                  fault=lambda step: None) -> None:
        """Swap in re-encrypted keys, each (profile, provider, name, ciphertext), and retire
        the old master key, all or nothing."""
        stamp = now()
        with self.transaction() as conn:
            conn.executemany("UPDATE api_keys SET ciphertext = ?, master_key_id = ? "
                             "WHERE profile = ? AND provider = ? AND name = ?",
                             [(blob, new_id, profile, provider, name)
                              for profile, provider, name, blob in sealed])
            conn.execute("INSERT OR IGNORE INTO master_keys (id, created_at) VALUES (?, ?)",
                         (new_id, stamp))
            conn.execute("UPDATE master_keys SET retired_at = ? WHERE id = ? AND id != ?",
                         (stamp, old_id, new_id))
            fault("before-commit")

    def master_keys(self) -> list[tuple[str, str, str | None]]:
        return list(self.conn.execute("SELECT id, created_at, retired_at FROM master_keys "
                                      "ORDER BY created_at"))
