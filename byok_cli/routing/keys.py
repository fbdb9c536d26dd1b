"""Which keys a profile has, by name and hint only (no decryption, so no master key): what
resolution chooses from, and what `models list` shows as the key each provider would use.
Light on purpose: listing commands import it without the runner or the vault."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..records import tuple_record
from ..secrets.key_reports import KeyReader, hint_of


@tuple_record
class KeySource:
    source: str        # user | system | none
    name: str | None   # stored key's name, environment variable's, or None
    hint: str


@tuple_record
class KeyAvailability:
    """Which keys exist, by name and hint only: resolution never sees key material."""

    stored: Mapping[str, Sequence[tuple[str, str]]]  # provider -> [(name, hint)], in order
    environment: Mapping[str, tuple[str, str]]       # provider -> (variable, hint)
    keyless: frozenset = frozenset()                 # providers that need no key
    # provider -> why its environment key may not go to this profile's base URL (issue 11)
    refused: Mapping[str, str] = {}

    def sources(self, provider: str, settings: Mapping, key: str | None = None
                ) -> list[KeySource]:
        """The keys tried for a provider, in order: the stored keys in the person's order,
        then the environment's (unless it may not go where this profile sends requests);
        `preferred-provider system` allows only the latter. ``key`` picks one: a stored
        key's name, or the environment variable's. A provider that needs no key and has
        none gets one source, "none"."""
        stored = [KeySource("stored", n, h) for n, h in self.stored.get(provider, ())]
        env = None if provider in self.refused else self.environment.get(provider)
        from_env = [KeySource("environment", *env)] if env else []
        if key is not None:
            return [s for s in stored + from_env if s.name == key]
        system_only = (settings.get("preferred_provider") or "system") == "system"
        found = ([] if system_only else stored) + from_env
        if not found and provider in self.keyless:
            found = [KeySource("none", None, "")]
        return found


def key_availability(keychain: KeyReader, only: str | None = None) -> KeyAvailability:
    """Which keys the profile and the environment have, by name and hint (no decryption),
    and which environment keys may not go where this profile sends requests. ``only``:
    one provider's (the gateway asks on every request)."""
    stored: dict[str, list[tuple[str, str]]] = {}
    for k in keychain.store.keys(keychain.profile):
        if only is None or k.provider == only:
            stored.setdefault(k.provider, []).append((k.name, k.hint))
    registry = keychain.registry
    env = {p.name: (p.key_env, hint_of(k)) for p in registry
           if (only is None or p.name == only) and (k := keychain.env_key(p.name))}
    refused = {}
    if env:  # the route checks (urls, endpoints) load only when there is a key to check
        from .routes import env_key_refusal

        settings = keychain.store.settings(keychain.profile)
        refused = {p: why for p in env if (why := env_key_refusal(
            registry.require(p), settings, keychain.env))}
    return KeyAvailability(stored, env, frozenset(p.name for p in registry if not p.needs_key),
                           refused)
