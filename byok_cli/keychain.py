"""A profile's provider keys: encrypted on the way into the store, decrypted on use.

This is the Python API for keys; the ``byok key`` commands are a thin layer over it.

How keys stay readable while several byok processes run at once (rotations, `key set`,
`key remove`, `run`):

- A key is sealed, and a rotation re-seals every key, inside one write transaction that
  reads the active master key itself: whichever commits first, the other sees.
- A new master key is recorded as pending before the keyring gets it, and becomes active
  only in the transaction that first uses it, so a crash leaves no key byok does not know.
- A master key leaves the keyring only after the transaction that retired it committed,
  and only when no stored key names it. A reader that finds the master key its envelope
  names gone reads the row again, once: a rotation re-sealed it meanwhile.
"""

from __future__ import annotations

import os
import re
from typing import Callable, Mapping, NamedTuple

from . import vault
from .errors import ByokError, Code, remember_secret
from .registry import Provider, Registry, builtin
from .store import Store, StoredKey


class KeyReport(NamedTuple):
    """What may be shown about a provider's keys: never more than the last 4 characters."""

    provider: Provider
    stored: list[StoredKey]   # in the order they are tried
    env_hint: str | None

    @property
    def winner(self) -> str | None:
        return "user" if self.stored else ("system" if self.env_hint else None)

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
                      "checked_at": k.checked_at, "set_at": k.updated_at}
                     for k in self.stored],
            "environment": bool(self.env_hint),
            "environment_variable": self.provider.key_env,
            "environment_key": mask_hint(self.env_hint) if self.env_hint else None,
            "needs_key": self.provider.needs_key,
            "active": self.winner,
        }


def _unsettled() -> ByokError:
    return ByokError(Code.KEYRING_UNAVAILABLE, "other byok processes kept replacing the master "
                     "key while this one needed it", hint="try again")


def mask_hint(hint: str) -> str:
    return "…" + hint


def hint_of(key: str) -> str:
    return key[-4:]


def check_key_name(name: str | None) -> str:
    """A stored key's name: lowercase letters, digits, '.', '_' or '-' (``default`` if none).

    Lowercase only, so that no key name is ever the name of an environment variable, which
    is how usage rows name environment keys.
    """
    given = (name or "default").strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,31}", given):
        raise ByokError(Code.USAGE, f"{name!r} is not a valid key name",
                        hint="use lowercase letters, digits, '.', '_' or '-' (at most 32), "
                             "e.g. work")
    return given


class MasterKeyMissing(ByokError):
    """The keyring has no entry for a master key that a stored key names."""

    def __init__(self, mk_id: str, backend: str):
        super().__init__(
            Code.KEYRING_UNAVAILABLE,
            f"master key {mk_id} is missing from the OS keyring ({backend})",
            hint="keys sealed with it cannot be read here: if it is in another keyring or on "
                 "another machine, use that or set BYOK_MASTER_KEY to it; otherwise store "
                 "those keys again with `byok key set PROVIDER`")
        self.mk_id = mk_id


_SETTLE_ATTEMPTS = 3  # rounds of making a master key before giving up to other processes


class Keychain:
    def __init__(self, store: Store, profile: str = "default",
                 env: Mapping[str, str] | None = None,
                 keyring: vault.KeyringStore | None = None):
        self.store = store
        self.profile = profile
        self.env = os.environ if env is None else env
        self._keyring = keyring
        self._opened: dict[str, vault.MasterKey] = {}  # read from the keyring, by id
        self._registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        """The providers this profile can use: built-ins, presets and its own."""
        if self._registry is None:
            self._registry = builtin().with_custom(self.store.custom_providers(self.profile))
        return self._registry

    def forget_registry(self) -> None:
        """After a provider was added or removed."""
        self._registry = None

    # -- master keys --------------------------------------------------------------------
    @property
    def keyring(self) -> vault.KeyringStore:
        if self._keyring is None:
            self._keyring = vault.KeyringStore()
        return self._keyring

    def _env_master(self) -> vault.MasterKey | None:
        value = self.env.get("BYOK_MASTER_KEY")
        return vault.master_from_env(value) if value else None

    def master(self) -> vault.MasterKey:
        """The master key new keys are sealed with: BYOK_MASTER_KEY, else the keyring's
        active one."""
        env = self._env_master()
        if env is not None:
            return env
        mk_id = self.store.active_master_key_id()
        if mk_id is None:
            raise ByokError(Code.NO_KEY, "no master key exists yet: no key was ever stored")
        return self.master_for(mk_id)

    def master_for(self, mk_id: str) -> vault.MasterKey:
        """The master key an envelope names: BYOK_MASTER_KEY (vault.decrypt reports a
        mismatch), else that key from the keyring."""
        env = self._env_master()
        if env is not None:
            return env
        if mk_id not in self._opened:
            key = self.keyring.get(mk_id)
            if key is None or vault.key_id(key) != mk_id:
                raise MasterKeyMissing(mk_id, self.keyring.backend_name())
            self._opened[mk_id] = vault.MasterKey(key, "keyring")
        return self._opened[mk_id]

    def _sealing_master(self) -> vault.MasterKey | None:
        """Inside a write transaction: the active master key, or None when a new one must
        be made (there is none yet, or the keyring lost it)."""
        env = self._env_master()
        if env is not None:
            return env
        mk_id = self.store.active_master_key_id()
        if mk_id is None:
            return None
        try:
            return self.master_for(mk_id)
        except MasterKeyMissing as lost:
            self.store.retire_master_key(mk_id)
            self.store.warn(f"{lost.message}; sealing with a new master key (keys sealed with "
                            f"{mk_id} stay unreadable unless it comes back)")
            return None

    def _new_pending_master(self) -> vault.MasterKey:
        """A new master key, recorded as pending, then saved in the keyring."""
        new = vault.MasterKey(vault.new_master_key(), "keyring")
        self.store.add_pending_master_key(new.id)
        self.keyring.put(new.key)
        self._opened[new.id] = new
        return new

    def _make_active_master(self) -> None:
        """Make a master key for a first `key set`. Of several processes doing this at
        once, one wins; the others retire theirs and use the winner's."""
        new = self._new_pending_master()
        with self.store.transaction():
            won = self.store.active_master_key_id() is None and \
                self.store.activate_master_key(new.id)
            if not won:
                self.store.retire_master_key(new.id)
        if not won:
            self._remove_unused_master_keys()

    def _remove_unused_master_keys(self) -> list[str]:
        """Take retired master keys that no stored key names out of the keyring, then out
        of the registry (in that order: a crash between leaves a row, never a lost key)."""
        removed = []
        for mk_id in self.store.unused_master_keys():
            self.keyring.delete(mk_id)
            self.store.forget_master_key(mk_id)
            self._opened.pop(mk_id, None)
            removed.append(mk_id)
        return removed

    def tidy_master_keys(self) -> list[str]:
        """Remove from the keyring every master key no stored key needs: retired ones, and
        pending ones that a crashed rotation or first `key set` left. Returns their ids."""
        self.store.retire_pending_master_keys()
        return self._remove_unused_master_keys()

    def orphan_master_keys(self) -> list[str]:
        """Ids of the master keys `tidy_master_keys` would remove (reads no keyring)."""
        return [mk_id for mk_id, _, _, state in self.store.master_keys()
                if state == "pending"] + self.store.unused_master_keys()

    # -- keys ---------------------------------------------------------------------------
    def set(self, provider: str, raw_key: str, status: str = "unverified",
            checked_at: str | None = None, *, name: str = "default",
            check_shape: bool = True) -> str:
        """Check, encrypt and store a key under a name (replacing a key of that name, which
        keeps its place in the order); return its hint. ``check_shape=False`` (--force)
        skips the provider's shape check, never the basic ones.

        It is sealed with the master key that is active inside its own write transaction,
        so a rotation committing at the same time cannot leave it under a retired key.
        """
        provider = self.registry.require(provider).name
        name = check_key_name(name)
        key = self.registry.normalise_key(provider, raw_key, check_shape=check_shape)
        remember_secret(key)
        hint = hint_of(key)
        for _ in range(_SETTLE_ATTEMPTS):
            with self.store.transaction():
                master = self._sealing_master()
                if master is not None:
                    blob = vault.encrypt(master, key,
                                         vault.aad(self.profile, provider, hint, name))
                    self.store.put_key(self.profile, provider, name, blob, hint, master.id,
                                       status, checked_at)
            if master is not None:
                self.store.wipe()  # leave no copy of a replaced ciphertext behind
                return hint
            self._make_active_master()
        raise _unsettled()

    def _open(self, row: StoredKey) -> str:
        what = f"the stored {row.provider} key {row.name!r} of profile {row.profile!r}"
        made_with = vault.sealed_with(row.ciphertext, what=what)
        key = vault.decrypt(self.master_for(made_with), row.ciphertext,
                            vault.aad(row.profile, row.provider, row.hint, row.name), what=what)
        remember_secret(key)
        return key

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

    def rotate(self, new_key: bytes | None = None,
               fault: Callable[[str], None] = lambda step: None) -> tuple[str, str, int]:
        """Re-encrypt every stored key, of every profile, under a new master key.

        With BYOK_MASTER_KEY, ``new_key`` is the new key (the caller keeps it); otherwise
        byok makes one and keeps it in the keyring. The keys are read, decrypted,
        re-encrypted and written in one write transaction, so a `key set` or `key remove`
        running at the same time lands wholly before or wholly after; the old master key
        leaves the keyring only after the commit. Killed at any point, every key stays
        readable with the old or the new one. Returns (old id, new id, number of keys).
        """
        env = self._env_master()
        if env is not None:
            return self._rotate_environment(env, new_key, fault)
        for _ in range(_SETTLE_ATTEMPTS):
            new = self._new_pending_master()
            fault("after-new-key-saved")
            try:
                with self.store.transaction():
                    old_id = self.store.active_master_key_id() or "-"
                    rotated = self.store.activate_master_key(new.id)
                    if rotated:
                        count = self._reseal_all(new)
                        self.store.retire_pending_master_keys(but=new.id)
                        fault("before-commit")
            except ByokError:
                self.store.retire_master_key(new.id)  # never used: out of the keyring too
                self._remove_unused_master_keys()
                raise
            if rotated:
                fault("after-commit")
                self.store.wipe()
                self._remove_unused_master_keys()
                fault("after-old-key-removed")
                return old_id, new.id, count
            self._remove_unused_master_keys()  # a cleanup retired ours first: start over
        raise _unsettled()

    def _rotate_environment(self, old: vault.MasterKey, new_key: bytes | None,
                            fault: Callable[[str], None]) -> tuple[str, str, int]:
        if new_key is None:
            raise ByokError(Code.USAGE, "the master key comes from BYOK_MASTER_KEY: give the "
                            "new one too (BYOK_NEW_MASTER_KEY)")
        new = vault.MasterKey(new_key, "environment")
        if new.id == old.id:
            raise ByokError(Code.USAGE, "the new master key is the one already in use")
        fault("after-new-key-saved")
        with self.store.transaction():
            count = self._reseal_all(new)
            fault("before-commit")
        fault("after-commit")
        self.store.wipe()
        fault("after-old-key-removed")
        return old.id, new.id, count

    def _reseal_all(self, new: vault.MasterKey) -> int:
        """Inside a write transaction: every stored key, of every profile, under ``new``."""
        rows = self.store.all_keys()
        for row in rows:
            blob = vault.encrypt(new, self._open(row),
                                 vault.aad(row.profile, row.provider, row.hint, row.name))
            self.store.reseal_key(row, blob, new.id)
        return len(rows)

    def key(self, provider: str, source: str, name: str | None = None) -> str | None:
        """The key of a source: "user" (the stored key of that name, decrypted), "system"
        (the provider's environment variable) or "none" (a provider that needs none)."""
        if source == "user":
            return self.get(provider, name or "default")
        return self.env_key(provider) if source == "system" else None

    def env_key(self, provider: str) -> str | None:
        """The provider's own environment variable's key, if it has one and it is set."""
        found = self.registry.get(provider)
        variable = found.key_env if found else None
        value = (self.env.get(variable) or "").strip() if variable else ""
        if value:
            remember_secret(value)
        return value or None

    def remove(self, provider: str, name: str = "default") -> bool:
        return self.store.delete_key(self.profile, provider, name)

    def mark(self, provider: str, name: str, status: str) -> None:
        self.store.set_key_status(self.profile, provider, name, status)

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
