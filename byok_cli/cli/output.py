"""How commands print: results on stdout, diagnostics on stderr.

On a terminal, tables are drawn with rich (imported only then); otherwise they are plain
tab-separated lines that ``cut`` and ``awk`` can read. ``NO_COLOR`` turns colour off. The
stream-level half (diagnostics, an answer streamed to stdout, JSON) lives in `streams`,
which `byok run` loads alone; it is re-exported here for the other commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence

from ..records import tuple_record
from .streams import (  # noqa: F401  (re-exported: output.info, output.warn, ...)
    Printer, ReasoningPrinter, colour_allowed, emit_json, error, error_json, info,
    output_error, read_stdin_text, require_stdout, stderr_is_tty, stdout_is_tty, warn)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any


@tuple_record
class Column:
    """A table column. `whole` values (ids, aliases, URLs, paths, key hints, numbers,
    times) are never cut; the others (descriptions, messages) wrap. When a terminal is
    too narrow, columns with `drop` > 0 are left out, lowest first. `show` formats a
    value for the terminal; tab-separated lines carry the bare value. `only` ("tty" or
    "tsv") keeps a column to one of the two, where they need different shapes (two bare
    numbers in two columns, one compact cell on a terminal). A `clip` column is cut to its
    width with "…" instead of wrapping, so that each row stays one line (a list of
    conversations)."""

    header: str
    whole: bool = True
    drop: int = 0
    show: Callable[[Any], str] | None = None
    only: str | None = None
    clip: bool = False


def text(column: Column | str) -> Column:
    """A column of running text: it wraps, and goes first on a narrow terminal."""
    return Column(column, whole=False, drop=1) if isinstance(column, str) else column


_MIN_WRAP = 16  # narrowest a wrapping column may become
_GAP = 2


def table(columns: Sequence[Column | str], rows: Iterable[Sequence[Any]],
          header: bool = True, empty: str | None = None, drop: bool = True,
          more: str = "--wide") -> None:
    """Rows as a table on a terminal, as tab-separated bare values otherwise (a header
    line first unless `header` is False). With no rows and `empty`, say that instead on
    stderr, in one line. `drop=False` (asked for with --wide) keeps every column however
    narrow the terminal: lines longer than it are the terminal's to wrap (or `less -S`).
    Columns left out are named on stderr, with `more`: the option that shows them."""
    from ..errors import redact, strip_controls

    cols = [c if isinstance(c, Column) else Column(c) for c in columns]
    # Keys masked and control characters gone (a model name may come from a gateway).
    rows = [[strip_controls(redact(v)) if isinstance(v, str) else v for v in row]
            for row in rows]
    if not rows and empty:
        info(empty)
        return
    mode = "tty" if stdout_is_tty() else "tsv"
    keep = [i for i, c in enumerate(cols) if c.only in (None, mode)]
    cols = [cols[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    if mode == "tsv":
        lines = ([[c.header for c in cols]] if header else []) + [
            [_bare(v) for v in row] for row in rows]
        sys.stdout.write("".join("\t".join(line) + "\n" for line in lines))
        sys.stdout.flush()
        return
    shown = [[c.show(v) if c.show and v is not None else _bare(v) for c, v in zip(cols, row)]
             for row in rows]
    left_out = _draw(cols if drop else [c._replace(drop=0) for c in cols], shown, header)
    if left_out:
        import textwrap

        for line in textwrap.wrap(f"left out to fit {left_out[0]} columns: "
                                  f"{', '.join(left_out[1:])} ({more} shows them)",
                                  left_out[0], break_on_hyphens=False):
            info(line)


def _bare(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split("\t"))


def _draw(cols: list[Column], rows: list[list[str]], header: bool) -> list:
    """Draw the table; [the terminal's width, the headers of the columns left out to fit
    it...], or [] when none was."""
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Column as RichColumn, Table

    def natural(i: int) -> int:
        cells = [cols[i].header] if header else []
        cells += [r[i] for r in rows]
        return max([cell_len(line) for cell in cells for line in cell.splitlines() or [""]]
                   or [1])

    colour = colour_allowed(sys.stdout)
    console = Console(no_color=not colour, highlight=False, soft_wrap=False, markup=False)
    width = console.width
    visible = list(range(len(cols)))
    widths = {i: natural(i) for i in visible}

    def longest_word(i: int) -> int:
        return max([cell_len(word) for r in rows for word in r[i].split()] or [1])

    # A wrapping column is at least as wide as its longest word (a URL, a path, an error
    # code in a sentence) where the terminal has room for that: words are not cut.
    words = {i: min(widths[i], _MIN_WRAP if cols[i].clip
                    else max(_MIN_WRAP, longest_word(i)))
             for i in visible if not cols[i].whole}

    def needed(keep: list[int], least: dict | None = None) -> int:
        least = words if least is None else least
        return (sum(widths[i] if cols[i].whole else least[i] for i in keep)
                + _GAP * (len(keep) - 1))

    for level in sorted({c.drop for c in cols if c.drop}):
        if needed(visible) <= width:
            break
        visible = [i for i in visible if cols[i].drop != level]
    wrapping = [i for i in visible if not cols[i].whole]
    room = width - needed([i for i in visible if cols[i].whole]) - _GAP * len(wrapping)
    want = sum(widths[i] for i in wrapping)
    if want > room:  # each its minimum, and what is left in proportion to what it would like
        least = {i: words[i] for i in wrapping}
        # A word too long for any layout folds, the longest first; the shorter stay whole.
        while least and sum(least.values()) > room:
            i = max(least, key=least.get)
            floor = min(widths[i], _MIN_WRAP)
            if least[i] <= floor:
                break
            least[i] = max(floor, least[i] - (sum(least.values()) - room))
        spare = max(0, room - sum(least.values()))
        more = sum(widths[i] - least[i] for i in wrapping) or 1
        for i in wrapping:
            widths[i] = least[i] + spare * (widths[i] - least[i]) // more
    total = sum(widths[i] for i in visible) + _GAP * (len(visible) - 1)
    t = Table(*[RichColumn(cols[i].header, width=widths[i], no_wrap=cols[i].whole
                           or cols[i].clip, overflow="ellipsis" if cols[i].clip else "fold")
                for i in visible],
              show_header=header, header_style="bold" if colour else "", box=None,
              pad_edge=False)
    for row in rows:
        t.add_row(*[row[i] for i in visible])
    if total > width:  # even the whole columns do not fit: let the terminal wrap, never cut
        console.width = total
    console.print(t)
    left_out = [cols[i].header for i in range(len(cols)) if i not in visible]
    return [width, *left_out] if left_out else []


def short_time(value: str | None) -> str:
    """An ISO time as '2026-11-25 14:38' in local time, for people."""
    if not value:
        return "-"
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if when.tzinfo is not None:
        when = when.astimezone()
    return when.strftime("%Y-%m-%d %H:%M")


def confirm(question: str, yes: bool, what: str) -> None:
    """Go on only with --yes or a "yes" at a terminal; never guess from a pipe. A "no"
    is DECLINED (its own exit status), not a failure."""
    if yes:
        return
    import typer

    from ..errors import ByokError, Code

    if not sys.stdin.isatty():
        raise ByokError(Code.USAGE, f"refusing to {what} without confirmation", hint="add --yes")
    try:
        agreed = typer.confirm(question, err=True)
    except typer.Abort:  # end of input (Ctrl-D) at the question is a "no"
        sys.stderr.write("\n")
        agreed = False
    if not agreed:
        raise ByokError(Code.DECLINED, f"declined: did not {what}")


def warn_unwiped(store, what: str) -> None:
    """After a write that removed ``what`` (a key's ciphertext, a conversation's text): say
    so when another process still reads an older snapshot, which keeps it in the file until
    the next byok finishes the wipe (Store.wipe)."""
    if store.wipe_pending():
        warn(f"another process is still reading the database, so the file still holds {what}; "
             "byok wipes it the next time it runs (or now: `byok doctor --fix`, once that "
             "process is done)")
