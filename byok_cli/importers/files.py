"""Reading a tool's file safely, and rewriting it atomically with the same mode.

A file is refused when it is a symlink, not a regular file, someone else's, too large or
not UTF-8; a rewrite is refused when the file changed since it was read. The rewrite goes
to a temporary file in the same directory, which replaces the original in one rename: no
copy holding the key is left behind.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from ..errors import ByokError, Code

MAX_SIZE = 4 * 1024 * 1024


def _refuse(path: Path, why: str, hint: str | None = None) -> ByokError:
    return ByokError(Code.INVALID_FORMAT, f"{path}: {why}; nothing was changed", hint=hint)


def read_file(path: Path) -> tuple[bytes, str, tuple, int]:
    """(bytes, text, identity, mode) of a regular file of this user."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ByokError(Code.USAGE, f"{path}: no such file") from None
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        target = os.path.realpath(path)
        raise _refuse(path, "is a symlink", hint=f"give the file it points to: {target}")
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(path, "is not a regular file")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise _refuse(path, f"belongs to another user (uid {st.st_uid})")
    if st.st_size > MAX_SIZE:
        raise _refuse(path, f"is larger than {MAX_SIZE // 1024 // 1024} MiB, too large for a "
                            "configuration file")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror})") from None
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            raise _refuse(path, "was replaced while it was being read")
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
            if sum(map(len, chunks)) > MAX_SIZE:
                raise _refuse(path, "grew while it was being read")
    finally:
        os.close(fd)
    data = b"".join(chunks)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(path, f"is not UTF-8 text (byte {exc.start})") from None
    return data, text, identity(opened), stat.S_IMODE(opened.st_mode)


def identity(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _unchanged(path: Path, data: bytes, ident: tuple) -> None:
    try:
        now_data, _, now_ident, _ = read_file(path)
    except ByokError:
        raise _refuse(path, "changed since it was read (it is no longer the same file)",
                      hint="run the import again") from None
    if now_ident != ident or now_data != data:
        raise _refuse(path, "changed since it was read", hint="run the import again")


def refuse_hard_links(path: Path, done: str = "nothing was changed") -> None:
    """A file with more than one name (a hard link) cannot be scrubbed: the rewrite replaces
    this name only, and the key stays in the file under its other names."""
    try:
        links = os.lstat(path).st_nlink
    except OSError:
        return  # read_file says what is wrong with it
    if links > 1:
        raise ByokError(Code.INVALID_FORMAT,
                        f"{path}: has {links} hard links, so scrubbing it would leave the key "
                        f"under the other {links - 1} name{'s' if links > 2 else ''}; {done}",
                        hint=f"find them with `find / -xdev -samefile {path}` and remove the "
                             "extra links, or import without --scrub")


def rewrite_file(path: Path, old: bytes, ident: tuple, mode: int, new: bytes) -> None:
    """Replace the file's contents with `new`, atomically, if it still holds `old`."""
    _unchanged(path, old, ident)
    refuse_hard_links(path)
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".byok-tmp", dir=directory)
    except OSError as exc:
        raise _refuse(path, f"cannot write in its directory ({exc.strerror})") from None
    try:
        try:
            os.fchmod(fd, mode)
            if hasattr(os, "fchown"):
                try:
                    os.fchown(fd, -1, os.stat(path).st_gid)
                except OSError:
                    pass  # a group we are not in: the file gets our default group
            view = memoryview(new)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        _unchanged(path, old, ident)  # last look, just before the swap
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):  # a full disk, say: the original is still in place
            raise _refuse(path, f"could not be rewritten ({exc.strerror})") from None
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
