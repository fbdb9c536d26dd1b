"""Stored provider keys (ciphertext only) and the registry of master key ids.

A profile may keep several keys per provider, each under a name (``default`` when none is
given), tried in the order the person sets (``position``, then name).
"""

from __future__ import annotations

from ..records import tuple_record
from .db import now


@tuple_record
class StoredKey:
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
    base_url: str | None = None  # the endpoint it was stored for, besides the official one


def _stored_key(row: tuple) -> StoredKey:
    """A row as a StoredKey; a NULL that damage left where text belongs reads as '' (0 for
    the position).
    The ciphertext stays as it is, for vault.decrypt to judge."""
    key = StoredKey(*row)
    if None not in key:
        return key
    return key._replace(**{f: 0 if f == "position" else "" for f, v in zip(key._fields, key)
                           if v is None and f not in ("ciphertext", "checked_at", "base_url")})


# Master keys that no stored key names, by the row or by its envelope's header.
_UNREFERENCED = ("id NOT IN (SELECT master_key_id FROM api_keys UNION "
                 "SELECT lower(hex(substr(ciphertext, 2, 8))) FROM api_keys "
                 "WHERE typeof(ciphertext) = 'blob')")


class KeyTables:
    """Keys are kept as ciphertext only; a key's row names the master key that sealed it.

    The master key registry holds ids only: 'pending' (made, maybe in the keyring, not yet
    used), 'active' (the one new keys are sealed with; at most one) and 'retired' (to be
    removed from the keyring once no stored key needs it).
    """

    _KEY_COLUMNS = ("profile, provider, name, position, ciphertext, hint, master_key_id, status, "
                    "checked_at, created_at, updated_at, base_url")
    _KEY_ORDER = "ORDER BY profile, provider, position, name"

    def get_key(self, profile: str, provider: str, name: str = "default") -> StoredKey | None:
        row = self.conn.execute(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE profile = ? "
                                "AND provider = ? AND name = ?", (profile, provider, name))
        found = row.fetchone()
        return _stored_key(found) if found else None

    def keys(self, profile: str, provider: str | None = None) -> list[StoredKey]:
        """The profile's keys (of one provider, or all), each provider's in the order tried."""
        where, args = ("profile = ?", (profile,)) if provider is None else (
            "profile = ? AND provider = ?", (profile, provider))
        rows = self.conn.execute(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE {where} "
                                 f"{self._KEY_ORDER}", args)
        return [_stored_key(r) for r in rows]

    def all_keys(self) -> list[StoredKey]:
        rows = self.conn.execute(f"SELECT {self._KEY_COLUMNS} FROM api_keys {self._KEY_ORDER}")
        return [_stored_key(r) for r in rows]

    def put_key(self, profile: str, provider: str, name: str, ciphertext: bytes, hint: str,
                master_key_id: str, status: str, checked_at: str | None = None,
                base_url: str | None = None) -> None:
        """Insert or replace a key in one statement, so a reader sees the old or the new.

        A new name goes last in the provider's order; a replaced key keeps its place.
        """
        stamp = now()
        with self.transaction() as conn:
            self._ensure_profile(conn, profile)
            conn.execute(
                "INSERT INTO api_keys (profile, provider, name, position, ciphertext, hint, "
                "master_key_id, status, checked_at, created_at, updated_at, base_url) VALUES "
                "(?, ?, ?, (SELECT IFNULL(MAX(position) + 1, 0) FROM api_keys WHERE "
                "profile = ? AND provider = ?), ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (profile, provider, name) DO UPDATE SET "
                "ciphertext = excluded.ciphertext, hint = excluded.hint, "
                "master_key_id = excluded.master_key_id, status = excluded.status, "
                "checked_at = excluded.checked_at, created_at = excluded.created_at, "
                "updated_at = excluded.updated_at, base_url = excluded.base_url",
                (profile, provider, name, profile, provider, ciphertext, hint, master_key_id,
                 status, checked_at, stamp, stamp, base_url))

    def reseal_key(self, key: StoredKey, ciphertext: bytes, master_key_id: str) -> bool:
        """Replace a key's ciphertext only if it is still the one read (compare-and-swap):
        a key set in between is never overwritten with an older value."""
        with self.transaction() as conn:
            cur = conn.execute("UPDATE api_keys SET ciphertext = ?, master_key_id = ? "
                               "WHERE profile = ? AND provider = ? AND name = ? AND "
                               "ciphertext = ?", (ciphertext, master_key_id, key.profile,
                                                  key.provider, key.name, key.ciphertext))
        return cur.rowcount == 1

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
        self.wipe()
        return cur.rowcount > 0

    # -- master keys --------------------------------------------------------------------
    def active_master_key_id(self) -> str | None:
        row = self.conn.execute("SELECT id FROM master_keys WHERE state = 'active'").fetchone()
        return row[0] if row else None

    def knows_master_key(self, mk_id: str) -> bool:
        """Whether the keyring should hold this master key (any state): one it never held
        (a BYOK_MASTER_KEY's) is not looked for there."""
        return self.conn.execute("SELECT 1 FROM master_keys WHERE id = ?",
                                 (mk_id,)).fetchone() is not None

    def add_pending_master_key(self, mk_id: str) -> None:
        """Record a new master key before the keyring holds it (see the class's note)."""
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO master_keys (id, created_at, state) "
                         "VALUES (?, ?, 'pending')", (mk_id, now()))

    def activate_master_key(self, mk_id: str) -> bool:
        """Make a pending master key the active one and retire the one before it. False
        when it is no longer pending (a cleanup retired it meanwhile): nothing changes."""
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM master_keys WHERE id = ? AND state = 'pending'",
                            (mk_id,)).fetchone() is None:
                return False
            conn.execute("UPDATE master_keys SET state = 'retired', retired_at = ? "
                         "WHERE state = 'active'", (now(),))
            conn.execute("UPDATE master_keys SET state = 'active' WHERE id = ?", (mk_id,))
        return True

    def retire_master_key(self, mk_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE master_keys SET state = 'retired', retired_at = ? "
                         "WHERE id = ? AND state != 'retired'", (now(), mk_id))

    def retire_pending_master_keys(self, but: str | None = None) -> None:
        """Retire the pending master keys (but one): left by a crash, or by a process that
        will see its key retired and start over."""
        with self.transaction() as conn:
            conn.execute("UPDATE master_keys SET state = 'retired', retired_at = ? "
                         "WHERE state = 'pending' AND id IS NOT ?", (now(), but))

    def unused_master_keys(self) -> list[str]:
        """Retired master keys no stored key needs: to be removed from the keyring."""
        return [r[0] for r in self.conn.execute(
            f"SELECT id FROM master_keys WHERE state = 'retired' AND {_UNREFERENCED}")]

    def forget_master_key(self, mk_id: str) -> None:
        """Drop a retired master key from the registry, once the keyring no longer has it."""
        with self.transaction() as conn:
            conn.execute(f"DELETE FROM master_keys WHERE id = ? AND state = 'retired' AND "
                         f"{_UNREFERENCED}", (mk_id,))

    def master_keys(self) -> list[tuple[str, str, str | None, str]]:
        """(id, created at, retired at, state), oldest first."""
        return list(self.conn.execute("SELECT id, created_at, retired_at, state FROM master_keys "
                                      "ORDER BY created_at, rowid"))
