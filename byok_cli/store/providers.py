"""The person's own providers (`byok provider add`), per profile.

Built-ins and presets are data (data/providers.json); only what a person adds lives here.
"""

from __future__ import annotations

from ..errors import ByokError, Code
from .db import now


class ProviderTables:
    def custom_providers(self, profile: str) -> list[tuple]:
        """(name, api, base_url, key_env, needs_key) of each, in the order they were added."""
        return list(self.conn.execute(
            "SELECT name, api, base_url, key_env, needs_key FROM providers WHERE profile = ? "
            "ORDER BY created_at, name", (profile,)))

    def add_provider(self, profile: str, name: str, api: str, base_url: str,
                     key_env: str | None, needs_key: bool) -> None:
        with self.transaction() as conn:
            self._ensure_profile(conn, profile)
            if conn.execute("SELECT 1 FROM providers WHERE profile = ? AND name = ?",
                            (profile, name)).fetchone():
                raise ByokError(Code.USAGE, f"the provider {name!r} already exists in profile "
                                f"{profile!r}")
            conn.execute("INSERT INTO providers (profile, name, api, base_url, key_env, "
                         "needs_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (profile, name, api, base_url, key_env, int(needs_key), now()))

    def remove_provider(self, profile: str, name: str) -> int:
        """Remove it with its settings, its budgets and stored keys, in one transaction;
        return how many keys went with it."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM providers WHERE profile = ? AND name = ?", (profile, name))
            conn.execute("DELETE FROM provider_settings WHERE profile = ? AND provider = ?",
                         (profile, name))
            conn.execute("DELETE FROM budgets WHERE profile = ? AND scope = 'provider' "
                         "AND name = ?", (profile, name))
            keys = conn.execute("DELETE FROM api_keys WHERE profile = ? AND provider = ?",
                                (profile, name)).rowcount
        self.wipe()  # no copy of the removed ciphertexts stays in the WAL
        return keys
