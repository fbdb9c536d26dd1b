"""Profiles (the design's per-user settings) and the cache of providers' model lists."""

from __future__ import annotations

import sqlite3

from .db import now

SETTING_COLUMNS = ("preferred_provider", "openai_model", "anthropic_model",
                   "openai_base_url", "anthropic_base_url", "logging", "show_cost",
                   "allow_unpriced", "openai_send_env_key", "anthropic_send_env_key")


class SettingsTables:
    """A profile row is made on its first write (`key set`, `config set`), never on a read."""

    def _ensure_profile(self, conn: sqlite3.Connection, profile: str) -> None:
        stamp = now()
        conn.execute("INSERT OR IGNORE INTO profiles (name, created_at, updated_at) "
                     "VALUES (?, ?, ?)", (profile, stamp, stamp))

    def settings(self, profile: str) -> dict:
        row = self.conn.execute(
            f"SELECT {', '.join(SETTING_COLUMNS)}, created_at, updated_at FROM profiles "
            "WHERE name = ?", (profile,)).fetchone()
        if row is None:
            defaults = {"preferred_provider": "system", "logging": "on", "show_cost": "off",
                        "allow_unpriced": "off"}
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

    # -- model cache --------------------------------------------------------------------
    def cached_models(self, provider: str, base_url: str) -> tuple[float, str] | None:
        row = self.conn.execute("SELECT fetched_at, payload FROM model_cache "
                                "WHERE provider = ? AND base_url = ?", (provider, base_url))
        return row.fetchone()

    def cache_models(self, provider: str, base_url: str, fetched_at: float, payload: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO model_cache VALUES (?, ?, ?, ?)",
                         (provider, base_url, fetched_at, payload))

