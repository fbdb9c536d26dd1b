"""The master keys that seal the stored keys: which one seals new keys, how a new one is
made and an old one leaves the keyring, and rotation. Mixed into :class:`Keychain`.

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

import contextlib
from collections.abc import Callable, Mapping

from . import master_sources, vault
from ..errors import ByokError, Code
from .hardening import no_core_dumps
from ..store import Store, StoredKey

SETTLE_ATTEMPTS = 3  # rounds of making a master key before giving up to other processes


class MasterKeyMissing(ByokError):
    """Something is sealed with a master key that neither BYOK_MASTER_KEY nor the keyring
    provides: which key is needed, and how to give it."""

    def __init__(self, mk_id: str, what: str, env_state: str = "not set"):
        super().__init__(
            Code.DECRYPT_FAILED,
            f"{what} {'are' if what.endswith('keys') else 'is'} sealed with master key {mk_id}, "
            f"which BYOK_MASTER_KEY ({env_state}) and the OS keyring do not provide",
            hint=f"set BYOK_MASTER_KEY to that master key (byok checks that its id is {mk_id}); "
                 "if it is lost, remove the stored keys with `byok key remove` and store them "
                 "again")
        self.mk_id = mk_id


def unsettled() -> ByokError:
    return ByokError(Code.KEYRING_UNAVAILABLE, "other byok processes kept replacing the master "
                     "key while this one needed it", hint="try again")


class MasterKeys:
    """Needs ``store``, ``env``, ``_keyring`` and ``_opened`` (set by Keychain) and
    ``_decrypt`` (what a stored key's row seals)."""

    store: Store
    env: Mapping[str, str]
    _keyring: vault.KeyringStore | None
    _opened: dict[str, vault.MasterKey]
    _decrypt: Callable[[StoredKey], str]

    @property
    def keyring(self) -> vault.KeyringStore:
        if self._keyring is None:
            self._keyring = vault.KeyringStore()
        return self._keyring

    def _env_master(self) -> vault.MasterKey | None:
        """The user's own master key (BYOK_MASTER_KEY, _FILE, _COMMAND or the unlock agent,
        in master_sources' order), read once per process; None when the keyring is the
        source."""
        cached = self.__dict__.get("_own_master")
        if cached is not None:
            return cached or None
        if master_sources.chosen(self.env, self.store.home_dir) == "keyring":
            return None
        no_core_dumps()  # every path that seals or opens a key reads it here first
        found = master_sources.own_master(self.env, self.store.home_dir)
        if found is not None and found.source == "file":
            from pathlib import Path  # only for a key file: `byok run` imports no pathlib

            found = master_sources.finish_file_rotation(
                Path(self.env[master_sources.FILE_VARIABLE]).expanduser(), found,
                self.store.sealed_with())
        self.__dict__["_own_master"] = found or False
        return found

    def reread_own_master(self, needed: str) -> bool:
        """Forget the user's own master key read earlier when a row names another
        (``needed``) and its source can have changed since: the key file or the unlock
        agent, after a `byok vault rotate` by another process while this one (a gateway)
        runs. True when the next use reads it again; never for BYOK_MASTER_KEY itself,
        which no other process can change, nor a command, which may be slow to run."""
        own = self.__dict__.get("_own_master")
        if not own or own.id == needed or own.source not in ("file", "agent"):
            return False
        del self.__dict__["_own_master"]
        return True

    @property
    def master_source(self) -> str:
        """Where the master key comes from: environment, file, command, agent or keyring."""
        return master_sources.chosen(self.env, self.store.home_dir)

    def master(self, create: bool = False) -> vault.MasterKey:
        """The master key new keys are sealed with: BYOK_MASTER_KEY, else the keyring's
        active one; with ``create``, made when there is none (or none that the keyring
        still has and a stored key needs)."""
        no_core_dumps()  # before any master key is read (issue 11, item 10)
        try:
            env = self._env_master()
            if env is not None:
                return env
            for _ in range(SETTLE_ATTEMPTS):
                with self.store.transaction():
                    found = self._sealing_master(replace_lost=create)
                    sealed = self.store.sealed_with()
                if found is not None:
                    return found
                if sealed:  # sealed with a BYOK_MASTER_KEY that is not set now
                    raise self.unavailable(next(iter(sealed)), "the stored keys")
                if not create:
                    raise ByokError(Code.NO_KEY, "no master key exists yet: no key was ever "
                                    "stored")
                self._make_active_master()
            raise unsettled()
        except ByokError as err:
            raise self.advised(err) from None

    def unavailable(self, mk_id: str, what: str) -> MasterKeyMissing:
        """`what` is sealed with master key `mk_id`, which neither BYOK_MASTER_KEY nor the
        keyring provides."""
        source = self.master_source
        if source not in ("keyring", "environment"):  # the file, the command or the agent
            return MasterKeyMissing(mk_id, what, f"not set; {vault.SOURCE_NAMES[source]} is "
                                    "in use and gives another")
        return MasterKeyMissing(mk_id, what,
                                "empty" if "BYOK_MASTER_KEY" in self.env else "not set")

    def advised(self, err: ByokError) -> ByokError:
        """Complete a keyring failure's hint with what suits this vault: a master key of
        one's own only while nothing is sealed yet (a new one cannot open sealed keys)."""
        if err.code != Code.KEYRING_UNAVAILABLE or self.master_source != "keyring":
            return err
        sealed = self.store.sealed_with()
        if sealed:
            extra = (f"your stored keys need master key {', '.join(sealed)}; if you made it "
                     "yourself, set BYOK_MASTER_KEY to it (a new one cannot open them)")
        else:
            extra = vault.MAKE_KEY_HINT
        err.hint = f"{err.hint}; or, {extra}" if err.hint else extra
        return err

    def master_for(self, mk_id: str, what: str = "the stored key") -> vault.MasterKey:
        """The master key an envelope names: BYOK_MASTER_KEY when set (vault.decrypt reports
        a mismatch), else that key from the keyring (the active one, or an older one a
        rotation has not removed yet)."""
        no_core_dumps()
        env = self._env_master()
        if env is not None:
            return env
        if mk_id not in self._opened:
            if not self.store.knows_master_key(mk_id):
                raise self.unavailable(mk_id, what)  # a BYOK_MASTER_KEY's, most likely
            try:
                key = self.keyring.get(mk_id)
            except ByokError as err:
                raise self.advised(err) from None
            if key is None or vault.key_id(key) != mk_id:
                raise self.unavailable(mk_id, what)
            self._opened[mk_id] = vault.MasterKey(key, "keyring")
        return self._opened[mk_id]

    def _sealing_master(self, replace_lost: bool = True) -> vault.MasterKey | None:
        """Inside a write transaction: the active master key, or None when a new one must
        be made: there is none yet or, with ``replace_lost``, the keyring lost it and no
        stored key needs it (while one does, a new master key would only hide the loss)."""
        env = self._env_master()
        if env is not None:
            return env
        mk_id = self.store.active_master_key_id()
        if mk_id is None:
            return None
        try:
            return self.master_for(mk_id, "the stored keys")
        except MasterKeyMissing:
            if not replace_lost or mk_id in self.store.sealed_with():
                raise
            self.store.retire_master_key(mk_id)
            self.store.warn(f"master key {mk_id} is missing from the OS keyring and no stored "
                            "key needs it: new keys are sealed with a new master key")
            return None

    def _new_pending_master(self) -> vault.MasterKey:
        """A new master key, recorded as pending, then saved in the keyring."""
        self.keyring.backend()  # a keyring byok refuses gets no record either
        new = vault.MasterKey(vault.new_master_key(), "keyring")
        self.store.add_pending_master_key(new.id)
        try:
            self.keyring.put(new.key)
        except ByokError:
            self.store.retire_master_key(new.id)  # out of the keyring too, when it answers
            with contextlib.suppress(ByokError):
                self._remove_unused_master_keys()
            raise
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
        if env is not None and env.source in ("file", "agent"):
            raise ByokError(Code.USAGE, f"the master key comes from "
                            f"{vault.SOURCE_NAMES[env.source]}: say where the new one goes",
                            hint="byok vault rotate --to file|passphrase|keyring")
        if env is not None:
            return self._rotate_environment(env, new_key, fault)
        return self.rotate_to_keyring(fault)

    def rotate_to_keyring(self, fault: Callable[[str], None] = lambda step: None
                          ) -> tuple[str, str, int]:
        """A new master key in the keyring, every stored key re-sealed under it (from the
        keyring's old one or from the user's own source)."""
        own = self._env_master()
        for _ in range(SETTLE_ATTEMPTS):
            new = self._new_pending_master()
            fault("after-new-key-saved")
            try:
                with self.store.transaction():
                    old_id = (own.id if own else self.store.active_master_key_id()) or "-"
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
                self.__dict__["_own_master"] = False  # the keyring's from now on
                fault("after-commit")
                self.store.wipe()
                self._remove_unused_master_keys()
                fault("after-old-key-removed")
                return old_id, new.id, count
            self._remove_unused_master_keys()  # a cleanup retired ours first: start over
        raise unsettled()

    def _rotate_environment(self, old: vault.MasterKey, new_key: bytes | None,
                            fault: Callable[[str], None]) -> tuple[str, str, int]:
        """Under a master key the user keeps in a variable or a store byok cannot write
        (BYOK_MASTER_KEY, BYOK_MASTER_KEY_COMMAND): the new one is given."""
        if new_key is None:
            name = vault.SOURCE_NAMES[old.source]
            raise ByokError(Code.USAGE, f"the master key comes from {name}: give the "
                            "new one too (BYOK_NEW_MASTER_KEY)")
        new = vault.MasterKey(new_key, old.source)
        if new.id == old.id:
            raise ByokError(Code.USAGE, "the new master key is the one already in use")
        return self.rotate_to_own(master_sources.GivenKey(new), fault)

    def rotate_to_own(self, place: "master_sources.KeyPlace",
                      fault: Callable[[str], None] = lambda step: None) -> tuple[str, str, int]:
        """Re-seal every stored key under a new master key the user keeps (a file, a
        passphrase-sealed file, or one they were given), from whatever source is in use.

        The new key is written beside the old (``place.prepare``), every key is re-sealed
        in one write transaction, and only after it committed does the new key take the
        old one's place (``place.commit``) and the keyring's master keys, if the vault
        came from there, leave it. Killed before the commit, the old key opens every key;
        after, the new one does (and an unfinished ``commit`` is finished by the next
        `byok unlock`, or is the ``.new`` file beside the old one)."""
        came_from_keyring = self.master_source == "keyring"
        old = self.master() if came_from_keyring else self._env_master()
        assert old is not None
        new = place.prepare()
        if new.id == old.id:
            place.abort()
            raise ByokError(Code.USAGE, "the new master key is the one already in use")
        fault("after-new-key-saved")
        try:
            with self.store.transaction():
                count = self._reseal_all(new)
                if came_from_keyring:
                    for mk_id, _, _, state in self.store.master_keys():
                        if state != "retired":
                            self.store.retire_master_key(mk_id)
                fault("before-commit")
        except BaseException:
            place.abort()
            raise
        fault("after-commit")
        place.commit()
        self.__dict__.pop("_own_master", None)
        self.store.wipe()
        if came_from_keyring:
            with contextlib.suppress(ByokError):
                self._remove_unused_master_keys()
        fault("after-old-key-removed")
        return old.id, new.id, count

    def _reseal_all(self, new: vault.MasterKey) -> int:
        """Inside a write transaction: every stored key, of every profile, under ``new``."""
        rows = self.store.all_keys()
        for row in rows:
            blob = vault.encrypt(new, self._decrypt(row),
                                 vault.aad(row.profile, row.provider, row.hint, row.name))
            self.store.reseal_key(row, blob, new.id)
        return len(rows)

