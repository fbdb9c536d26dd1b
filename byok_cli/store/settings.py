"""Profiles (the design's per-user settings), per-provider settings, and the cache of
providers' model lists."""

from __future__ import annotations

import sqlite3

from .db import now

PROFILE_SETTINGS = ("preferred_provider", "logging", "fallback", "show_cost",
                    "allow_unpriced", "exec_gateway")
PROVIDER_SETTINGS = ("model", "base_url", "send_env_key")
DEFAULTS = {"preferred_provider": "system", "logging": "on", "fallback": None,
            "show_cost": "off", "allow_unpriced": "off", "exec_gateway": "off"}


class SettingsTables:
    """A profile row is made on its first write (`key set`, `config set`), never on a read."""

    def _ensure_profile(self, conn: sqlite3.Connection, profile: str) -> None:
        stamp = now()
        conn.execute("INSERT OR IGNORE INTO profiles (name, created_at, updated_at) "
                     "VALUES (?, ?, ?)", (profile, stamp, stamp))

    def settings(self, profile: str) -> dict:
        """The profile's settings: preferred_provider, logging, fallback (the chain's text,
        None for the default), and per provider: models {provider: model}, base_urls
        {provider: URL} and send_env_keys {provider: on|off}, holding only what was set."""
        row = self.conn.execute(
            f"SELECT {', '.join(PROFILE_SETTINGS)}, created_at, updated_at FROM profiles "
            "WHERE name = ?", (profile,)).fetchone()
        out = dict(zip(PROFILE_SETTINGS + ("created_at", "updated_at"), row)) if row else {
            **DEFAULTS, "created_at": None, "updated_at": None}
        out["models"], out["base_urls"], out["send_env_keys"] = {}, {}, {}
        for provider, model, base_url, send_env_key in self.conn.execute(
                "SELECT provider, model, base_url, send_env_key FROM provider_settings "
                "WHERE profile = ? ORDER BY provider", (profile,)):
            if model is not None:
                out["models"][provider] = model
            if base_url is not None:
                out["base_urls"][provider] = base_url
            if send_env_key is not None:
                out["send_env_keys"][provider] = send_env_key
        return out

    def set_setting(self, profile: str, name: str, value: str | None) -> None:
        if name not in PROFILE_SETTINGS:
            raise ValueError(name)
        with self.transaction() as conn:
            self._ensure_profile(conn, profile)
            conn.execute(f"UPDATE profiles SET {name} = ?, updated_at = ? WHERE name = ?",
                         (value, now(), profile))

    def set_provider_setting(self, profile: str, provider: str, name: str,
                             value: str | None) -> None:
        """A provider's model, base_url or send_env_key for this profile (None: back to the
        default)."""
        if name not in PROVIDER_SETTINGS:
            raise ValueError(name)
        with self.transaction() as conn:
            self._ensure_profile(conn, profile)
            conn.execute(f"INSERT INTO provider_settings (profile, provider, {name}) "
                         f"VALUES (?, ?, ?) ON CONFLICT (profile, provider) DO UPDATE SET "
                         f"{name} = excluded.{name}", (profile, provider, value))
            conn.execute("DELETE FROM provider_settings WHERE profile = ? AND provider = ? "
                         "AND model IS NULL AND base_url IS NULL AND send_env_key IS NULL",
                         (profile, provider))
            conn.execute("UPDATE profiles SET updated_at = ? WHERE name = ?", (now(), profile))

    def profiles(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM profiles ORDER BY name")]

    def profiles_with_keys(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT profile FROM api_keys "
                                                "ORDER BY profile")]

    # -- model cache --------------------------------------------------------------------
    def cached_models(self, provider: str, base_url: str) -> tuple[float, str] | None:
        row = self.conn.execute("SELECT fetched_at, payload FROM model_cache "
                                "WHERE provider = ? AND base_url = ?", (provider, base_url))
        return row.fetchone()

    def cached_model_lists(self, provider: str) -> list[str]:
        """The payloads of every list cached for ``provider``, whatever its base URL."""
        return [r[0] for r in self.conn.execute("SELECT payload FROM model_cache "
                                                "WHERE provider = ?", (provider,))]

    def cache_models(self, provider: str, base_url: str, fetched_at: float, payload: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO model_cache VALUES (?, ?, ?, ?)",
                         (provider, base_url, fetched_at, payload))
