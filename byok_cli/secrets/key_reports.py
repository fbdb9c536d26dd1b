"""What may be known about a profile's keys without opening one: which are stored (their
names, last 4 characters and status, from their rows), which environment variables hold
one, and which providers the profile can use. ``key list`` and ``config show`` read this
alone, so they import neither the vault nor the master keys (nor hashlib, secrets, the
keyring); :class:`~byok_cli.secrets.keychain.Keychain` builds on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from . import key_commands
from ..errors import remember_secret
from ..records import tuple_record
from ..registry import Provider, Registry, builtin
from ..store import Store, StoredKey

# Where a master key may come from the environment: never passed to a child (`exec`), and
# remembered for masking as soon as byok starts, before any is parsed.
MASTER_KEY_VARIABLES = ("BYOK_MASTER_KEY", "BYOK_NEW_MASTER_KEY")


@tuple_record
class KeyReport:
    """What may be shown about a provider's keys: never more than the last 4 characters."""

    provider: Provider
    stored: list[StoredKey]   # in the order they are tried
    env_hint: str | None

    @property
    def winner(self) -> str | None:
        return "stored" if self.stored else ("environment" if self.env_hint else None)

    def to_dict(self) -> dict:
        first = self.stored[0] if self.stored else None
        return {
            "provider": self.provider.name,
            "stored": bool(first),
            "stored_key": mask_hint(first.hint) if first else None,
            "stored_name": first.name if first else None,
            "stored_status": first.status if first else None,
            "stored_checked_at": first.checked_at if first else None,
            "stored_set_at": first.updated_at if first else None,
            "keys": [{"name": k.name, "key": mask_hint(k.hint), "status": k.status,
                      "checked_at": k.checked_at, "set_at": k.updated_at,
                      "base_url": k.base_url}
                     for k in self.stored],
            "environment": bool(self.env_hint),
            "environment_variable": self.provider.key_env,
            "environment_key": mask_hint(self.env_hint) if self.env_hint else None,
            "needs_key": self.provider.needs_key,
            "active": self.winner,
        }


def mask_hint(hint: str) -> str:
    return key_commands.shown(hint)


def hint_of(key: str) -> str:
    return key[-4:]


class KeyReader:
    """A profile's keys as far as they can be known without decrypting any."""

    def __init__(self, store: Store, profile: str = "default",
                 env: Mapping[str, str] | None = None):
        self.store = store
        self.profile = profile
        self.env = os.environ if env is None else env
        self._registry: Registry | None = None
        for variable in MASTER_KEY_VARIABLES:  # masked, and warned about in a prompt,
            remember_secret((self.env.get(variable) or "").strip())  # before it is parsed

    @property
    def registry(self) -> Registry:
        """The providers this profile can use: built-ins, presets and its own."""
        if self._registry is None:
            self._registry = builtin().with_custom(self.store.custom_providers(self.profile))
        return self._registry

    def forget_registry(self) -> None:
        """After a provider was added or removed."""
        self._registry = None

    def env_key(self, provider: str) -> str | None:
        """The provider's own environment variable's key, if it has one and it is set."""
        found = self.registry.get(provider)
        variable = found.key_env if found else None
        value = (self.env.get(variable) or "").strip() if variable else ""
        if value:
            remember_secret(value)
        return value or None

    def report(self, providers: list[str] | None = None) -> list[KeyReport]:
        """What `key list` shows; reads no secret from the keyring. Without a list: the
        built-ins, and every other provider with a stored or an environment key."""
        stored: dict[str, list[StoredKey]] = {}
        for k in self.store.keys(self.profile):
            stored.setdefault(k.provider, []).append(k)
        out = []
        for p in self.registry:
            if providers is not None and p.name not in providers:
                continue
            env = self.env_key(p.name)
            if providers is None and p.kind != "builtin" and not env and p.name not in stored:
                continue
            out.append(KeyReport(p, stored.get(p.name, []), hint_of(env) if env else None))
        return out

    def stored_for(self, provider: str, name: str | None) -> str | None:
        """The base URL a stored key was stored for (`key set --base-url`), or None."""
        row = self.store.get_key(self.profile, provider, name or "default")
        return row.base_url if row else None

    def missing_profile_note(self) -> str | None:
        """"profile 'wrok' has no keys; profiles: default, work" when this profile has no
        stored key and others have (a mistyped --profile, most likely)."""
        with_keys = self.store.profiles_with_keys()
        if not with_keys or self.profile in with_keys:
            return None
        names = sorted(set(self.store.profiles()) | set(with_keys))
        return f"profile {self.profile!r} has no keys; profiles: {', '.join(names)}"
