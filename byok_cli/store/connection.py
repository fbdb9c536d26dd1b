"""How byok reads SQLite: every failure as a one-line error, damaged rows leniently.

A statement can fail, and so can a row (a corrupt page is met when it is read): either way
the caller gets the store's :class:`~byok_cli.errors.ByokError`, never sqlite3's exception.
Text that is not UTF-8, or bytes where text belongs, arrive as text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..errors import ByokError


def _guarded(method: Callable) -> Callable:
    """A cursor method whose SQLite errors become the store's one-line errors.
    ProgrammingError (a statement byok got wrong) stays a bug."""
    def call(self, *args):
        try:
            return method(self, *args)
        except sqlite3.ProgrammingError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self.connection.store_error(exc) from None
        except UnicodeDecodeError:  # SQLite's message quoted a damaged schema's bytes
            raise self.connection.store_error(sqlite3.DatabaseError("malformed")) from None
    return call


class _Cursor(sqlite3.Cursor):
    """Rows can fail too (a corrupt page is met when it is read), not only statements."""

    execute = _guarded(sqlite3.Cursor.execute)
    executemany = _guarded(sqlite3.Cursor.executemany)
    fetchone = _guarded(sqlite3.Cursor.fetchone)
    fetchmany = _guarded(sqlite3.Cursor.fetchmany)
    fetchall = _guarded(sqlite3.Cursor.fetchall)
    __next__ = _guarded(sqlite3.Cursor.__next__)


class _Connection(sqlite3.Connection):
    store_error: Callable[[sqlite3.DatabaseError], ByokError]

    def execute(self, sql: str, parameters=()) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor(_Cursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor(_Cursor).executemany(sql, parameters)


def connect(path: str, timeout: float,
            store_error: Callable[[sqlite3.DatabaseError], ByokError]) -> sqlite3.Connection:
    """A connection in autocommit mode (byok opens its transactions itself)."""
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                               check_same_thread=False, factory=_Connection)
    except sqlite3.DatabaseError as exc:
        raise store_error(exc) from None
    conn.store_error = store_error
    conn.text_factory = _text
    conn.row_factory = _text_where_text_belongs
    return conn


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# The only columns that hold bytes; anything else that arrives as bytes was put there by
# damage, and is read as text. (Converters by declared type cannot do this: CPython hands
# them None for an empty string.)
BINARY_COLUMNS = frozenset({"ciphertext", "data"})  # keys; attachments (migration 16)


def _text_where_text_belongs(cursor: sqlite3.Cursor, row: tuple) -> tuple:
    if bytes not in map(type, row):
        return row
    names = [d[0] for d in cursor.description]
    return tuple(_text(v) if type(v) is bytes and names[i] not in BINARY_COLUMNS else v
                 for i, v in enumerate(row))
