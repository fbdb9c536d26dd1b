"""The data directory and the database's files: where they are, whose they are, their modes.

byok keeps keys only in a directory that belongs to the person running it: owned by them
and writable by nobody else (a symlinked directory is followed, then checked where it
points). ``byok.db`` and its ``-wal``/``-shm`` are never opened through a symbolic link;
one that is readable by others is made private (0600), and the caller is told so.

Paths are strings here (os.path): opening the database must not import pathlib and what it
imports (urllib.parse, ipaddress), ~3.5 ms of every reading command. ``data_dir`` still
gives a Path to the callers that want one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator

from ..errors import ByokError, Code

DB_NAME = "byok.db"
DB_FILES = (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm")
# Left by a `key remove` whose freed pages another process was still reading: the next
# byok to open the database finishes the wipe.
WIPE_MARKER = DB_NAME + "-wipe"

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_POSIX = hasattr(os, "geteuid")


TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from pathlib import Path


def data_home() -> str:
    """The data directory: BYOK_HOME (``~`` expanded), else the platform's."""
    home = os.environ.get("BYOK_HOME")
    if home is not None and not home.strip():  # an unset script variable: never the default
        raise ByokError(Code.USAGE, "BYOK_HOME is set but empty",
                        hint="unset it to use the default data directory, or give a path")
    if home:
        return expand_user(home, "BYOK_HOME")
    import platformdirs

    return platformdirs.user_data_dir("byok", appauthor=False)


def data_dir() -> Path:
    import pathlib

    return pathlib.Path(data_home())


def expand_user(path: str, what: str) -> str:
    """``~`` and ``~user`` expanded; refused, as pathlib refuses it, when that user (or the
    home directory) is unknown."""
    expanded = os.path.expanduser(path)
    if expanded.startswith("~"):
        raise ByokError(Code.USAGE, f"{what}: cannot expand {path.split('/')[0]!r}: "
                        "no such user", hint="give a full path")
    return expanded


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def file_mode(path: str | os.PathLike) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _refuse(message: str, hint: str) -> ByokError:
    return ByokError(Code.STORE_ERROR, message, hint=hint)


def _owner_name(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _check_ownership(st: os.stat_result, path: str, what: str, private_mode: int) -> None:
    """Refuse a file or directory that is not the person's own, or that others may write."""
    if not _POSIX:
        return
    me = os.geteuid()
    if st.st_uid != me:
        raise _refuse(f"the {what} {path} belongs to {_owner_name(st.st_uid)}, not to you "
                      f"({_owner_name(me)}); byok keeps keys only in a place of your own",
                      "chown it to yourself, or set BYOK_HOME to a directory of your own")
    if st.st_mode & 0o022:
        raise _refuse(f"the {what} {path} can be written by other users (mode "
                      f"{stat.S_IMODE(st.st_mode):04o}); byok will not use it",
                      f"chmod {private_mode:o} {path}" + (", or set BYOK_HOME to a directory "
                      "of your own" if stat.S_ISDIR(st.st_mode) else ""))


def private_dir(home: str | os.PathLike) -> str:
    """The data directory's real path, made 0700 if it is new, and checked to be the
    person's own."""
    home = os.path.realpath(expand_user(os.fspath(home), "the data directory"))
    with private_umask():
        try:
            os.makedirs(home, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise _refuse(f"cannot create the data directory: {exc.strerror} ({home})",
                          "set BYOK_HOME to a writable directory") from None
    try:
        st = os.stat(home)
    except OSError as exc:
        raise _refuse(f"cannot read the data directory: {exc.strerror} ({home})",
                      "set BYOK_HOME to a directory of your own") from None
    _check_ownership(st, home, "data directory", 0o700)
    return home


def private_database_files(home: str) -> list[str]:
    """Create ``byok.db`` (0600) if it is missing; refuse the database or its -wal/-shm
    when one is a symbolic link, not a regular file, not the person's own, or writable by
    others; make any that others can read private. Returns what was made private, as
    "name (mode)"."""
    tightened = []
    for name in DB_FILES:
        path = os.path.join(home, name)
        # O_NONBLOCK: a FIFO put in the database's place must not hang the open.
        flags = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
        if name == DB_NAME:
            flags |= os.O_CREAT
        try:
            with private_umask():
                fd = os.open(path, flags, 0o600)
        except FileNotFoundError:
            continue  # no -wal or -shm yet: SQLite makes them with the database's mode
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a link
                raise _refuse(f"{path} is a symbolic link; byok does not follow links for "
                              "its database", f"remove the link (or move the file it points "
                              f"to into {home})") from None
            verb = "open" if os.path.exists(path) else "create"
            raise _refuse(f"cannot {verb} {path}: {exc.strerror}",
                          "check the directory's permissions or set BYOK_HOME") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _refuse(f"{path} is not a regular file", "move it aside")
            _check_ownership(st, path, "database file", 0o600)
            mode = stat.S_IMODE(st.st_mode)
            if _POSIX and mode & 0o077:
                try:
                    os.fchmod(fd, 0o600)
                except OSError as exc:
                    raise _refuse(f"{path} can be read by other users (mode {mode:04o}) and "
                                  f"cannot be made private: {exc.strerror}",
                                  f"chmod 600 {path}") from None
                tightened.append(f"{name} ({mode:04o})")
        finally:
            os.close(fd)
    return tightened


def mark(path: str) -> None:
    """Create an empty private marker file (never through a link); best effort."""
    with contextlib.suppress(OSError):
        with private_umask():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | _NOFOLLOW, 0o600))


def unmark(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
