"""A profile's provider keys: encrypted on the way into the store, decrypted on use.

This is the Python API for keys; the ``byok key`` commands are a thin layer over it.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, NamedTuple

from . import vault
from .errors import ByokError, Code, remember_secret
from .hardening import no_core_dumps
from .keys import ENV_VARS, PROVIDERS, normalise_key
from .store import Store, StoredKey


class KeyReport(NamedTuple):
    """What may be shown about a provider's keys: never more than the last 4 characters."""

    provider: str
    stored: StoredKey | None
    env_hint: str | None

    @property
    def winner(self) -> str | None:
        return "user" if self.stored else ("system" if self.env_hint else None)

    def to_dict(self) -> dict:
        s = self.stored
        return {
            "provider": self.provider,
            "stored": bool(s),
            "stored_key": mask_hint(s.hint) if s else None,
            "stored_status": s.status if s else None,
            "stored_checked_at": s.checked_at if s else None,
            "stored_set_at": s.updated_at if s else None,
            "environment": bool(self.env_hint),
            "environment_variable": ENV_VARS[self.provider],
            "environment_key": mask_hint(self.env_hint) if self.env_hint else None,
            "active": self.winner,
        }


def mask_hint(hint: str) -> str:
    return "…" + hint


def hint_of(key: str) -> str:
    return key[-4:]


class Keychain:
    def __init__(self, store: Store, profile: str = "default",
                 env: Mapping[str, str] | None = None,
                 keyring: vault.KeyringStore | None = None):
        self.store = store
        self.profile = profile
        self.env = os.environ if env is None else env
        self._keyring = keyring
        self._master: vault.MasterKey | None = None

    # -- master key ---------------------------------------------------------------------
    @property
    def keyring(self) -> vault.KeyringStore:
        if self._keyring is None:
            self._keyring = vault.KeyringStore()
        return self._keyring

    def master(self, create: bool = False) -> vault.MasterKey:
        """The master key in use: BYOK_MASTER_KEY, else the keyring's (made on first use)."""
        if self._master is None:
            no_core_dumps()
            env_value = self.env.get("BYOK_MASTER_KEY")
            if env_value:
                self._master = vault.master_from_env(env_value)
            else:
                self._master = self._master_from_keyring(create)
        return self._master

    def _master_from_keyring(self, create: bool) -> vault.MasterKey:
        mk_id = self.store.active_master_key_id()
        if mk_id is None:
            if not create:
                raise ByokError(Code.NO_KEY, "no master key exists yet: no key was ever stored")
            key = vault.new_master_key()
            mk_id = self.keyring.put(key)
            self.store.add_master_key(mk_id)
            return vault.MasterKey(key, "keyring")
        key = self.keyring.get(mk_id)
        if key is None or vault.key_id(key) != mk_id:
            raise ByokError(
                Code.KEYRING_UNAVAILABLE,
                f"master key {mk_id} is missing from the OS keyring ({self.keyring.backend_name()})",
                hint="it was deleted, or this is another user or machine; set BYOK_MASTER_KEY to "
                     "the key it was, or store your provider keys again after `byok vault reset`")
        return vault.MasterKey(key, "keyring")

    # -- keys ---------------------------------------------------------------------------
    def set(self, provider: str, raw_key: str, status: str = "unverified",
            checked_at: str | None = None) -> str:
        """Check, encrypt and store a key (replacing any earlier one); return its hint."""
        key = normalise_key(provider, raw_key)
        remember_secret(key)
        master = self.master(create=True)
        hint = hint_of(key)
        blob = vault.encrypt(master, key, vault.aad(self.profile, provider, hint))
        self.store.put_key(self.profile, provider, blob, hint, master.id, status, checked_at)
        self.store.checkpoint()  # leave no copy of the replaced ciphertext in the WAL
        return hint

    def master_for(self, mk_id: str) -> vault.MasterKey:
        """The master key an envelope names: the one in use, or an older one still in the
        keyring (a rotation interrupted between its steps leaves both readable)."""
        current = self.master()
        if current.id == mk_id or current.source == "environment":
            return current  # a mismatch is reported by vault.decrypt
        key = self.keyring.get(mk_id)
        return vault.MasterKey(key, "keyring") if key else current

    def _open(self, row: StoredKey) -> str:
        what = f"the stored {row.provider} key of profile {row.profile!r}"
        key = vault.decrypt(self.master_for(vault.envelope_key_id(row.ciphertext) or ""),
                            row.ciphertext, vault.aad(row.profile, row.provider, row.hint),
                            what=what)
        remember_secret(key)
        return key

    def get(self, provider: str) -> str | None:
        """The decrypted stored key, or None when none is stored."""
        row = self.store.get_key(self.profile, provider)
        return self._open(row) if row else None

    def rotate(self, new_key: bytes | None = None,
               fault: Callable[[str], None] = lambda step: None) -> tuple[str, str, int]:
        """Re-encrypt every stored key, of every profile, under a new master key.

        Order matters for crash safety: the new master key is saved first, the keys are
        re-encrypted in one transaction, and the old master key is removed only after the
        commit. Killed at any point, every key stays readable with the old or the new one.
        Returns (old id, new id, number of keys).
        """
        old = self.master()
        rows = self.store.all_keys()
        plain = {(r.profile, r.provider): self._open(r) for r in rows}
        new = vault.MasterKey(new_key or vault.new_master_key(), old.source)
        if new.id == old.id:
            raise ByokError(Code.USAGE, "the new master key is the one already in use")
        if old.source == "keyring":
            self.keyring.put(new.key)
        fault("after-new-key-saved")
        sealed = [(r.profile, r.provider, vault.encrypt(
            new, plain[(r.profile, r.provider)], vault.aad(r.profile, r.provider, r.hint)))
            for r in rows]
        self.store.reencrypt(sealed, old.id, new.id, fault)
        fault("after-commit")
        self.store.checkpoint()
        if old.source == "keyring":
            self.keyring.delete(old.id)
        fault("after-old-key-removed")
        self._master = new
        return old.id, new.id, len(rows)

    def key(self, provider: str, source: str) -> str | None:
        """The key of a source: "user" (stored, decrypted) or "system" (environment), to be
        sent. An environment key that no HTTP header can carry (control or non-ASCII
        characters) is refused here, naming the variable, rather than sent and failing as
        a network error."""
        if source == "user":
            return self.get(provider)
        key = self.env_key(provider)
        if key and not all(" " <= ch <= "~" for ch in key):
            raise ByokError(Code.INVALID_FORMAT, f"{ENV_VARS[provider]} contains control or "
                            "non-ASCII characters; it was not sent", provider=provider,
                            hint=f"set {ENV_VARS[provider]} to the key alone")
        return key

    def env_key(self, provider: str) -> str | None:
        value = (self.env.get(ENV_VARS[provider]) or "").strip()
        if value:
            remember_secret(value)
        return value or None

    def remove(self, provider: str) -> bool:
        return self.store.delete_key(self.profile, provider)

    def mark(self, provider: str, status: str) -> None:
        self.store.set_key_status(self.profile, provider, status)

    def report(self, providers: tuple[str, ...] = PROVIDERS) -> list[KeyReport]:
        """What `key list` shows; reads no secret from the keyring."""
        stored = self.store.keys(self.profile)
        out = []
        for p in providers:
            env = self.env_key(p)
            out.append(KeyReport(p, stored.get(p), hint_of(env) if env else None))
        return out
