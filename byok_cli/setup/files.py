"""Writing a tool's file with a backup beside it, and putting it back (``--undo``).

The first setup of a file copies it to ``FILE.byok-backup`` (same bytes, same mode) before
rewriting it atomically with its mode kept; a file setup created is marked by an empty
``FILE.byok-new``. A later setup keeps the first backup, so undo always restores the file as
it was before byok touched it, byte for byte, or removes the file byok created.
"""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ByokError, Code
from ..importers.files import read_file, rewrite_file

BACKUP, CREATED = ".byok-backup", ".byok-new"


@dataclass
class Edit:
    path: Path
    before: str | None        # None: the file does not exist yet
    after: str
    data: bytes = b""
    identity: tuple = ()
    mode: int = 0o600

    @property
    def changes(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        old = (self.before or "").splitlines(keepends=True)
        new = self.after.splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, "/dev/null" if self.before is None
                                     else str(self.path), str(self.path))
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of "
                       "file\n" for line in lines)


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP)


def created_path(path: Path) -> Path:
    return path.with_name(path.name + CREATED)


def read(path: Path) -> Edit:
    """The file as it is now (an Edit that changes nothing yet)."""
    if not os.path.lexists(path):
        return Edit(path, None, "")
    data, text, ident, mode = read_file(path)
    return Edit(path, text, text, data, ident, mode)


def write(edit: Edit) -> None:
    if not edit.changes:
        return
    if edit.before is None:
        _create(edit.path, edit.after.encode("utf-8"))
        return
    backup = backup_path(edit.path)
    if not os.path.lexists(backup) and not os.path.lexists(created_path(edit.path)):
        _write_new(backup, edit.data, edit.mode)
    rewrite_file(edit.path, edit.data, edit.identity, edit.mode, edit.after.encode("utf-8"))


def undo(path: Path) -> str:
    """Put the file back as it was before setup; says what was done."""
    backup, created = backup_path(path), created_path(path)
    if os.path.lexists(backup):
        data, _text, _ident, mode = read_file(backup)
        _replace(path, data, mode)
        os.unlink(backup)
        return f"restored {path} from {backup.name}"
    if os.path.lexists(created):
        if os.path.lexists(path):
            os.unlink(path)
        os.unlink(created)
        return f"removed {path}, which setup had created"
    raise ByokError(Code.USAGE, f"{path}: byok setup has not changed it (no {backup.name})",
                    hint="nothing to undo")


def has_backup(path: Path) -> bool:
    return os.path.lexists(backup_path(path)) or os.path.lexists(created_path(path))


def _create(path: Path, data: bytes) -> None:
    """A new file, readable by its owner only, its directories made as the tool would."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ByokError(Code.INVALID_FORMAT, f"{path.parent}: cannot be created "
                        f"({exc.strerror}); nothing was changed") from None
    _write_new(created_path(path), b"", 0o600)
    try:
        _write_new(path, data, 0o600)
    except ByokError:
        os.unlink(created_path(path))
        raise


def _write_new(path: Path, data: bytes, mode: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        raise ByokError(Code.INVALID_FORMAT, f"{path}: cannot be written ({exc.strerror}); "
                        "nothing was changed") from None
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".byok-tmp", dir=path.parent)
    try:
        try:
            os.fchmod(fd, stat.S_IMODE(mode))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
