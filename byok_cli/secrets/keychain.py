"""A profile's provider keys: encrypted on the way into the store, decrypted on use.

This is the Python API for keys; the ``byok key`` commands are a thin layer over it. The
master keys that seal them, and their rotation, are in ``master_keys``.
"""

from __future__ import annotations

import os
import re
from typing import Mapping, NamedTuple

from . import key_commands, vault
from ..errors import ByokError, Code, looks_like_key, remember_secret
from .master_keys import SETTLE_ATTEMPTS, MasterKeyMissing, MasterKeys, unsettled
from ..registry import Provider, Registry, builtin
from ..store import Store, StoredKey


# The provider's verdict on a key (it refused it, or the account has no credit): the only
# failures that mark a stored key failed. An outage, a network error or a rate limit says
# nothing about the key, so its status stays as it was.
PROVIDER_VERDICT = frozenset({Code.UNAUTHORIZED, Code.QUOTA_EXCEEDED})


def status_after_check(err: ByokError | None) -> str | None:
    """A stored key's status after a live check that ended in ``err`` (None: it answered);
    None when the check says nothing about the key."""
    if err is None:
        return "valid"
    return f"failed: {err.code.value}" if err.code in PROVIDER_VERDICT else None


class KeyReport(NamedTuple):
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


def check_key_name(name: str | None) -> str:
    """A stored key's name: lowercase letters, digits, '.', '_' or '-' (``default`` if none).

    Lowercase only, so that no key name is ever the name of an environment variable, which
    is how usage rows name environment keys.
    """
    given = (name or "default").strip()
    if looks_like_key(given):
        raise ByokError(Code.USAGE, "the key name looks like an API key; it was not used",
                        hint="name it for what it is for (e.g. work); the key itself goes "
                             "to the prompt or stdin")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,31}", given):
        raise ByokError(Code.USAGE, f"{name!r} is not a valid key name",
                        hint="use lowercase letters, digits, '.', '_' or '-' (at most 32), "
                             "e.g. work")
    return given


def _is_master(key: str, master: "vault.MasterKey") -> bool:
    import base64

    return key.strip().rstrip("=") == base64.urlsafe_b64encode(master.key).decode().rstrip("=")


def _master_refused() -> ByokError:
    return ByokError(Code.INVALID_FORMAT, "that is byok's master key, not a provider key; "
                     "nothing was stored", hint="paste the provider's API key")


class Keychain(MasterKeys):
    def __init__(self, store: Store, profile: str = "default",
                 env: Mapping[str, str] | None = None,
                 keyring: vault.KeyringStore | None = None):
        self.store = store
        self.profile = profile
        self.env = os.environ if env is None else env
        self._keyring = keyring
        self._opened: dict[str, vault.MasterKey] = {}  # read from the keyring, by id
        self._plain: dict[tuple, str] = {}  # rows decrypted, by what was sealed: once each
        self._registry: Registry | None = None
        for variable in vault.MASTER_KEY_VARIABLES:  # masked, and warned about in a prompt,
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

    # -- keys ---------------------------------------------------------------------------
    def set(self, provider: str, raw_key: str, status: str = "unverified",
            checked_at: str | None = None, *, name: str = "default",
            check_shape: bool = True, base_url: str | None = None) -> str:
        """Check, encrypt and store a key under a name (replacing a key of that name, which
        keeps its place in the order); return its hint. ``check_shape=False`` (--force)
        skips the provider's shape check, never the basic ones. ``base_url``: the endpoint
        it is stored for (normalised, see wire.endpoint), besides the official one.

        It is sealed with the master key that is active inside its own write transaction,
        so a rotation committing at the same time cannot leave it under a retired key.
        """
        provider = self.registry.require(provider).name
        name = check_key_name(name)
        key = self.registry.normalise_key(provider, raw_key, check_shape=check_shape)
        remember_secret(key)
        self._refuse_master_key(key)
        return self._put_sealed(provider, name, key, hint_of(key), status, checked_at, base_url)

    def set_command(self, provider: str, cmdline: str, status: str = "unverified",
                    checked_at: str | None = None, *, name: str = "default",
                    base_url: str | None = None) -> str:
        """Store a command that prints the key (sealed like a key); its hint."""
        provider = self.registry.require(provider).name
        name = check_key_name(name)
        return self._put_sealed(provider, name, key_commands.sealed_text(cmdline),
                                key_commands.hint_for(cmdline), status, checked_at, base_url)

    def _put_sealed(self, provider: str, name: str, plaintext: str, hint: str, status: str,
                    checked_at: str | None, base_url: str | None) -> str:
        for _ in range(SETTLE_ATTEMPTS):
            with self.store.transaction():
                master = self._sealing_master()
                if master is not None:
                    if _is_master(plaintext, master):
                        raise _master_refused()
                    blob = vault.encrypt(master, plaintext,
                                         vault.aad(self.profile, provider, hint, name))
                    self.store.put_key(self.profile, provider, name, blob, hint, master.id,
                                       status, checked_at, base_url)
            if master is not None:
                self.store.wipe()  # leave no copy of a replaced ciphertext behind
                return hint
            self.master(create=True)  # make one, or say why not
        raise unsettled()

    def _refuse_master_key(self, key: str) -> None:
        """The master key (pasted where a provider key belongs) is never stored as one: it
        would be sent to the provider, and shown as a key's last 4 characters."""
        given = {(self.env.get(v) or "").strip().rstrip("=") for v in vault.MASTER_KEY_VARIABLES}
        if key.strip().rstrip("=") in given - {""}:
            raise _master_refused()

    def _decrypt(self, row: StoredKey) -> str:
        """What is sealed in a row: a key, or a key command (see key_commands)."""
        sealed = (row.ciphertext, row.profile, row.provider, row.hint, row.name)
        if sealed in self._plain:  # a long-lived process (the gateway) reads it per request
            return self._plain[sealed]
        what = f"the stored {row.provider} key {row.name!r} of profile {row.profile!r}"
        made_with = vault.sealed_with(row.ciphertext, what=what)
        plain = vault.decrypt(self.master_for(made_with, what), row.ciphertext,
                              vault.aad(row.profile, row.provider, row.hint, row.name),
                              what=what)
        if not key_commands.is_command(plain):
            remember_secret(plain)
        self._plain[sealed] = plain
        return plain

    def _open(self, row: StoredKey) -> str:
        """A stored key, decrypted (and, for a key command, fetched)."""
        return key_commands.key_of(self._decrypt(row), f"the stored {row.provider} key "
                                   f"{row.name!r}")

    def get(self, provider: str, name: str = "default") -> str | None:
        """The decrypted stored key of that name, or None when none is stored.

        A rotation that commits between reading the row and reading the master key it
        names is no failure: the row is read again, once.
        """
        row = self.store.get_key(self.profile, provider, name)
        if row is None:
            return None
        try:
            return self._open(row)
        except MasterKeyMissing:
            again = self.store.get_key(self.profile, provider, name)
            if again is None:
                return None  # removed meanwhile
            if again.ciphertext == row.ciphertext:
                raise  # nothing re-sealed it: the master key is really gone
            return self._open(again)

    def name_holding(self, provider: str, key: str) -> str | None:
        """The name this very key is stored under for ``provider``, or None. Only the rows
        whose hint matches are opened, and a key command is never run for this."""
        for row in self.store.keys(self.profile, provider):
            if row.hint == hint_of(key) and not key_commands.is_command_hint(row.hint):
                plain = self._decrypt(row)
                if not key_commands.is_command(plain) and plain == key:
                    return row.name
        return None

    def key(self, provider: str, source: str, name: str | None = None) -> str | None:
        """The key of a source: "stored" (the stored key of that name, decrypted), "environment"
        (the provider's environment variable) or "none" (a provider that needs none)."""
        if source == "stored":
            return self.get(provider, name or "default")
        return self.env_key(provider) if source == "environment" else None

    def env_key(self, provider: str) -> str | None:
        """The provider's own environment variable's key, if it has one and it is set."""
        found = self.registry.get(provider)
        variable = found.key_env if found else None
        value = (self.env.get(variable) or "").strip() if variable else ""
        if value:
            remember_secret(value)
        return value or None

    def stored_for(self, provider: str, name: str | None) -> str | None:
        """The base URL a stored key was stored for (`key set --base-url`), or None."""
        row = self.store.get_key(self.profile, provider, name or "default")
        return row.base_url if row else None

    def remove(self, provider: str, name: str = "default") -> bool:
        return self.store.delete_key(self.profile, provider, name)

    def mark(self, provider: str, name: str, status: str) -> None:
        self.store.set_key_status(self.profile, provider, name, status)

    def mark_used(self, provider: str, name: str) -> None:
        """The provider accepted the stored key: it is valid, whatever an earlier check said."""
        row = self.store.get_key(self.profile, provider, name)
        if row is not None and row.status != "valid":
            self.mark(provider, name, "valid")

    def missing_profile_note(self) -> str | None:
        """"profile 'wrok' has no keys; profiles: default, work" when this profile has no
        stored key and others have (a mistyped --profile, most likely)."""
        with_keys = self.store.profiles_with_keys()
        if not with_keys or self.profile in with_keys:
            return None
        names = sorted(set(self.store.profiles()) | set(with_keys))
        return f"profile {self.profile!r} has no keys; profiles: {', '.join(names)}"

    def order(self, provider: str, names: list[str]) -> list[str]:
        """Try these stored keys first, in this order; return the whole order."""
        provider = self.registry.require(provider).name
        stored = [k.name for k in self.store.keys(self.profile, provider)]
        wanted = [check_key_name(n) for n in names]
        unknown = [n for n in wanted if n not in stored]
        if unknown or len(set(wanted)) != len(wanted):
            raise ByokError(Code.USAGE, f"no stored {provider} key is called {unknown[0]!r}"
                            if unknown else "a key is named twice",
                            hint=f"the stored {provider} keys: " + (", ".join(stored) or "none"))
        self.store.set_key_order(self.profile, provider, wanted)
        return [k.name for k in self.store.keys(self.profile, provider)]

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
