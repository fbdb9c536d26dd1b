"""How commands print: results on stdout, diagnostics on stderr.

On a terminal, tables are drawn with rich (imported only then); otherwise they are plain
tab-separated lines that ``cut`` and ``awk`` can read. ``NO_COLOR`` turns colour off.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Iterable, Sequence


def output_error(reason: str):
    """The failure of a write to stdout (closed, disk full, I/O error): exit 15."""
    from ..errors import ByokError, Code

    return ByokError(Code.INCOMPLETE_OUTPUT, f"cannot write to stdout: {reason}",
                     hint="check where the output goes (a full disk, a closed descriptor)")


class GuardedStdout:
    """sys.stdout, with a failed write reported as one clear error instead of a traceback.
    A reader that went away (BrokenPipeError) is left to the caller, which exits quietly."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def _guard(self, call, *args):
        if self._stream is None:
            raise output_error("it is closed")
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:
            raise output_error(getattr(exc, "strerror", None) or str(exc)) from None

    def write(self, text: str) -> int:
        return self._guard(lambda: self._stream.write(text))

    def flush(self) -> None:
        if self._stream is not None:  # closed: nothing can be waiting to be written
            self._guard(lambda: self._stream.flush())

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def __getattr__(self, name: str):
        if self._stream is None:
            raise output_error("it is closed")
        return getattr(self._stream, name)


def guard_std_streams() -> None:
    """Before anything opens a file: a closed stdin, stdout or stderr (`<&-`, `>&-`) gets
    /dev/null in its place, so that the database can never land on descriptor 0, 1 or 2
    and have answers written into it; a closed stdout then fails the first write to it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    sys.stdout = GuardedStdout(sys.stdout)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")


def require_stdout() -> None:
    """Fail before sending anything when stdout is closed."""
    if isinstance(sys.stdout, GuardedStdout) and sys.stdout._stream is None:
        raise output_error("it is closed")


def stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def colour_allowed(stream=sys.stderr) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def emit_json(value: Any) -> None:
    """JSON on stdout, keys masked (a provider may echo one in a message or model name)."""
    from ..errors import redact

    sys.stdout.write(redact(json.dumps(value, indent=2, ensure_ascii=False, default=str)) + "\n")
    sys.stdout.flush()


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    """A table on a terminal, tab-separated lines otherwise; cells with keys masked and
    without control characters."""
    from ..errors import redact, strip_controls

    rows = [[strip_controls(redact("" if v is None else str(v))) for v in row] for row in rows]
    if not stdout_is_tty():
        for row in rows:
            sys.stdout.write("\t".join(row) + "\n")
        sys.stdout.flush()
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(*headers, title=title, header_style="bold", box=None, pad_edge=False)
    for row in rows:
        t.add_row(*row)
    Console(no_color=not colour_allowed(sys.stdout), highlight=False, markup=False).print(t)


def _style(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if colour_allowed() else text


def _clean(message: str) -> str:
    """A diagnostic as it may be shown: keys masked, no control or escape characters."""
    from ..errors import redact, strip_controls

    return strip_controls(redact(message))


def warn(message: str) -> None:
    sys.stderr.write(_style("warning:", "33") + " " + _clean(message) + "\n")
    sys.stderr.flush()


def info(message: str) -> None:
    sys.stderr.write(_clean(message) + "\n")
    sys.stderr.flush()


def confirm(question: str, yes: bool, what: str) -> None:
    """Go on only with --yes or a "yes" at a terminal; never guess from a pipe."""
    if yes:
        return
    import typer

    from ..errors import ByokError, Code

    if not sys.stdin.isatty():
        raise ByokError(Code.USAGE, f"refusing to {what} without confirmation", hint="add --yes")
    if not typer.confirm(question, err=True):
        raise typer.Exit(1)


def read_stdin_text(limit: int, outcome: str, hint: str) -> str:
    """All of stdin as UTF-8 text; more than ``limit`` bytes, or bytes that are not text,
    are refused with INVALID_FORMAT. ``outcome`` says what did not happen."""
    from ..errors import ByokError, Code

    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        size = f"{limit // 1024} KiB" if limit < 1024 * 1024 else f"{limit // 1024 // 1024} MiB"
        raise ByokError(Code.INVALID_FORMAT, f"stdin holds more than {size}; {outcome}",
                        hint=hint)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ByokError(Code.INVALID_FORMAT, f"stdin is not UTF-8 text (byte {exc.start}); "
                        f"{outcome}", hint="convert it first, e.g. with iconv") from None


def error(message: str) -> None:
    sys.stderr.write(_style("error:", "31") + " " + _clean(message) + "\n")
    sys.stderr.flush()


class Printer:
    """Streams text to stdout as it arrives, and ends the line afterwards."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.last = ""

    def __call__(self, piece: str) -> None:
        if self.quiet or not piece:
            return
        self.last = piece
        sys.stdout.write(piece)
        sys.stdout.flush()

    def end(self) -> None:
        if self.last and not self.last.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
        self.last = ""
