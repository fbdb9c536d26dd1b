"""Where the master key comes from, in one order: the first that is set wins.

1. ``BYOK_MASTER_KEY``: the key itself (url-safe base64 of 32 bytes).
2. ``BYOK_MASTER_KEY_FILE``: a file holding it, the user's own and private (0600 or
   stricter), refused otherwise as OpenSSH refuses a loose key file.
3. ``BYOK_MASTER_KEY_COMMAND``: a program that prints it (``pass show byok/master``), run
   without a shell.
4. The unlock agent, when the data dir holds a passphrase-sealed master key
   (``vault init --passphrase``; ``byok unlock`` starts the agent).
5. The OS keyring.

The first four are the user's own master key: byok reads it and never stores it. Only the
keyring holds master keys byok makes and rotates by itself.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping

from ..errors import ByokError, Code
from . import sealed
from .vault import SOURCE_NAMES, MasterKey, master_from_env

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from pathlib import Path  # imported where a file is read: `byok run` needs none

NAMES = SOURCE_NAMES  # how each source is named to the user

FILE_VARIABLE = "BYOK_MASTER_KEY_FILE"
COMMAND_VARIABLE = "BYOK_MASTER_KEY_COMMAND"
ENV_VARIABLE = "BYOK_MASTER_KEY"
MAX_FILE = 4096


def configured(env: Mapping[str, str], data_dir: str | os.PathLike) -> list[str]:
    """Every source that is set, in the order they are tried (the keyring is not listed:
    it is what is left)."""
    found = [kind for kind, variable in (("environment", ENV_VARIABLE), ("file", FILE_VARIABLE),
                                         ("command", COMMAND_VARIABLE)) if env.get(variable)]
    if os.path.exists(os.path.join(data_dir, sealed.SEALED_NAME)):
        found.append("agent")
    return found


def chosen(env: Mapping[str, str], data_dir: str | os.PathLike) -> str:
    """The source in use: the first one set, else the keyring."""
    found = configured(env, data_dir)
    return found[0] if found else "keyring"


def own_master(env: Mapping[str, str], data_dir: str | os.PathLike) -> MasterKey | None:
    """The user's own master key from the first source set; None when the keyring is the
    source. A source that is set but fails is an error: byok never falls to the next."""
    kind = chosen(env, data_dir)
    if kind == "environment":
        return master_from_env(env[ENV_VARIABLE])
    if kind == "file":
        import pathlib

        return from_file(pathlib.Path(env[FILE_VARIABLE]).expanduser())
    if kind == "command":
        return from_command(env[COMMAND_VARIABLE], env)
    if kind == "agent":
        import pathlib

        from . import agent

        return agent.master_key(agent.socket_path(pathlib.Path(data_dir), env))[0]
    return None


def from_file(path: Path) -> MasterKey:
    """The master key in ``path``, which must be a regular file of the user's, not readable
    or writable by group or others."""
    shown = f"{FILE_VARIABLE} ({path})"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ByokError(Code.KEYRING_UNAVAILABLE, f"{shown} cannot be read: "
                        f"{exc.strerror or type(exc).__name__}",
                        hint="point it at the file `byok vault init --file` wrote") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ByokError(Code.KEYRING_UNAVAILABLE, f"{shown} is not a regular file",
                            hint="point it at the file `byok vault init --file` wrote")
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise ByokError(Code.KEYRING_UNAVAILABLE, f"{shown} belongs to uid {st.st_uid}, "
                            "not to you; byok refuses a master key file of someone else's",
                            hint=f"chown it to yourself and chmod 600 {path}")
        if st.st_mode & 0o077:
            raise ByokError(Code.KEYRING_UNAVAILABLE, f"{shown} is readable or writable by "
                            f"others (mode {stat.S_IMODE(st.st_mode):04o}); byok refuses a "
                            "loose master key file", hint=f"chmod 600 {path}")
        data = os.read(fd, MAX_FILE + 1)
    finally:
        os.close(fd)
    try:
        text = data.decode("ascii") if len(data) <= MAX_FILE else ""
    except UnicodeDecodeError:
        text = ""
    key = master_from_env(text, f"the master key file {path}")
    return MasterKey(key.key, "file")


def from_command(cmdline: str, env: Mapping[str, str] | None = None) -> MasterKey:
    """The master key a command prints on its first line."""
    from . import commands

    what = f"{COMMAND_VARIABLE}"
    printed = commands.fetch(cmdline, what, env=env)
    try:
        key = master_from_env(printed, f"what {COMMAND_VARIABLE} printed")
    except ByokError as err:
        raise ByokError(err.code, f"{what} `{cmdline}` did not print a master key: it must "
                        "print url-safe base64 of exactly 32 bytes on its first line",
                        hint="store the key `byok vault init --file` makes in your store") \
            from None
    return MasterKey(key.key, "command")


def finish_file_rotation(path: Path, current: MasterKey, sealed_ids) -> MasterKey:
    """A `vault rotate` under BYOK_MASTER_KEY_FILE killed after its commit, before the new
    key took the file's place, left it staged in ``PATH.new``: when the stored keys need that
    one and not the file's, finish the move. (Never the other way: a staged key the keys do
    not need yet may belong to a rotation still under way.)"""
    staged = path.with_name(path.name + ".new")
    if not staged.exists():
        return current
    try:
        new = from_file(staged)
    except ByokError:
        return current
    ids = set(sealed_ids)
    if new.id in ids and current.id not in ids:
        os.replace(staged, path)
        return new
    return current


def new_key_file(path: Path, key: bytes, *, replace: bool = False) -> None:
    """Write ``key`` to a master key file, 0600 (a new one, or in place of the old)."""
    import base64

    sealed.write_private(path, base64.urlsafe_b64encode(key) + b"\n", replace=replace)


class KeyPlace:
    """Where a rotation puts the new master key, in two steps around the transaction:
    ``prepare`` (the new key, saved beside the old), ``commit`` (in the old one's place),
    ``abort`` (the new one thrown away)."""

    def prepare(self) -> MasterKey:
        raise NotImplementedError

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


class GivenKey(KeyPlace):
    """A new key the user gave (BYOK_NEW_MASTER_KEY) and keeps wherever they keep keys."""

    def __init__(self, key: MasterKey):
        self.key = key

    def prepare(self) -> MasterKey:
        return self.key


class NewFile(KeyPlace):
    """A new random master key in a file (``PATH.new`` until the commit)."""

    def __init__(self, path: Path):
        self.path = path
        self.staged = path.with_name(path.name + ".new")

    def prepare(self) -> MasterKey:
        import base64

        from .vault import new_master_key

        key = new_master_key()
        if self.path.exists():
            sealed.write_private(self.staged, base64.urlsafe_b64encode(key) + b"\n",
                                 replace=True, rename=False)
        else:
            new_key_file(self.path, key)
            self.staged = self.path
        return MasterKey(key, "file")

    def commit(self) -> None:
        if self.staged != self.path:
            os.replace(self.staged, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.staged)


class NewSealed(KeyPlace):
    """A new random master key sealed with a passphrase in the data dir."""

    def __init__(self, data_dir: Path, passphrase: str):
        self.path = sealed.sealed_path(data_dir)
        self.staged = sealed.staged_path(data_dir)
        self.passphrase = passphrase

    def prepare(self) -> MasterKey:
        from .vault import new_master_key

        key = new_master_key()
        sealed.write_private(self.staged, sealed.seal(key, self.passphrase), replace=True,
                             rename=False)
        return MasterKey(key, "agent")

    def commit(self) -> None:
        os.replace(self.staged, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.staged)
