"""SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE for Python 3.11, whose sqlite3 module cannot set it
(``Connection.setconfig`` came in 3.12).

Without it, the last connection to close copies the WAL into byok.db and deletes it: two
syncs, and the next write creates and syncs a new WAL and its directory, two more (see
``store.db`` for what the close's copy bought and how ``wipe`` keeps that). This sets the
option the way 3.12's ``setconfig`` does, through ctypes on the connection's ``sqlite3 *``,
and only where that pointer's place is known: CPython 3.11 exactly (its
``pysqlite_Connection``, Modules/_sqlite/connection.h, starts with ``sqlite3 *db`` right after
``PyObject_HEAD``), on Linux x86_64 or aarch64 (where a variadic C function takes its int
and pointer arguments as a plain one does). It checks the pointer by asking SQLite for the
connection's file name before it sets anything, and reads the option back. On any doubt it
sets nothing: the close copies the WAL in, as before.
"""

from __future__ import annotations

import os
import sqlite3
import sys

NO_CKPT_ON_CLOSE = 1006  # sqlite3.h: SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE (SQLite 3.25+)
_functions: list = []    # (ctypes, sqlite3_db_config, sqlite3_db_filename), once loaded


def possible() -> bool:
    """Whether this Python is one whose connection layout is known (no import needed)."""
    return (sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11)
            and sys.platform.startswith("linux") and os.uname().machine in ("x86_64", "aarch64")
            and sqlite3.sqlite_version_info >= (3, 25, 0))


def _load() -> tuple | None:
    if not _functions:
        try:
            import ctypes

            import _sqlite3

            # The module's own handle: dlsym looks in it, then in the libsqlite3 it links,
            # so these are the functions of the SQLite that Python's connections use.
            lib = ctypes.CDLL(_sqlite3.__file__)
            config, filename = lib.sqlite3_db_config, lib.sqlite3_db_filename
        except (ImportError, OSError, AttributeError, TypeError):
            _functions.append(None)
        else:
            config.restype = ctypes.c_int
            config.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                               ctypes.POINTER(ctypes.c_int))
            filename.restype = ctypes.c_char_p
            filename.argtypes = (ctypes.c_void_p, ctypes.c_char_p)
            _functions.append((ctypes, config, filename))
    return _functions[0]


def available() -> bool:
    """Whether :func:`skip_checkpoint_on_close` can work here."""
    return possible() and _load() is not None


def skip_checkpoint_on_close(conn: sqlite3.Connection, path: str) -> bool:
    """Leave ``conn``'s WAL for SQLite's automatic checkpoint when it closes, as Python 3.12+'s
    ``conn.setconfig(SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, True)`` does. ``path`` is the database
    file ``conn`` opened. True when the option is set."""
    loaded = possible() and _load()
    if not loaded:
        return False
    ctypes, config, filename = loaded
    db = ctypes.c_void_p.from_address(id(conn) + object.__basicsize__).value
    if not db:  # closed
        return False
    name = filename(db, b"main")
    if not name or os.path.realpath(os.fsdecode(name)) != os.path.realpath(path):
        return False
    state = ctypes.c_int(-1)
    return config(db, NO_CKPT_ON_CLOSE, 1, ctypes.byref(state)) == 0 and state.value == 1
