"""A profile's provider keys: encrypted on the way into the store, decrypted on use.

This is the Python API for keys; the ``byok key`` commands are a thin layer over it. The
master keys that seal them, and their rotation, are in ``master_keys``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from . import key_commands, vault
from ..errors import ByokError, Code, looks_like_key, remember_secret
from .key_reports import KeyReader, KeyReport, hint_of, mask_hint
from .master_keys import SETTLE_ATTEMPTS, MasterKeyMissing, MasterKeys, unsettled
from ..store import Store, StoredKey

__all__ = ["Keychain", "KeyReport", "PROVIDER_VERDICT", "check_key_name", "hint_of",
           "mask_hint", "status_after_check"]


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


class Keychain(KeyReader, MasterKeys):
    """A profile's keys: what :class:`KeyReader` knows of them, and opening, sealing and
    storing them under the master keys."""

    def __init__(self, store: Store, profile: str = "default",
                 env: Mapping[str, str] | None = None,
                 keyring: vault.KeyringStore | None = None):
        super().__init__(store, profile, env)
        self._keyring = keyring
        self._opened: dict[str, vault.MasterKey] = {}  # read from the keyring, by id
        self._plain: dict[tuple, str] = {}  # rows decrypted, by what was sealed: once each

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
        associated = vault.aad(row.profile, row.provider, row.hint, row.name)
        try:
            plain = vault.decrypt(self.master_for(made_with, what), row.ciphertext,
                                  associated, what=what)
        except ByokError as err:  # rotated by another process since this one read it?
            if err.code is not Code.DECRYPT_FAILED or not self.reread_own_master(made_with):
                raise
            plain = vault.decrypt(self.master_for(made_with, what), row.ciphertext,
                                  associated, what=what)
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

    def remove(self, provider: str, name: str = "default") -> bool:
        return self.store.delete_key(self.profile, provider, name)

    def mark(self, provider: str, name: str, status: str) -> None:
        self.store.set_key_status(self.profile, provider, name, status)

    def mark_used(self, provider: str, name: str) -> None:
        """The provider accepted the stored key: it is valid, whatever an earlier check said."""
        row = self.store.get_key(self.profile, provider, name)
        if row is not None and row.status != "valid":
            self.mark(provider, name, "valid")

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
