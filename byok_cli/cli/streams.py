"""The standard streams, as every command (and `byok run` on its fast path) uses them: the
guards on stdin, stdout and stderr, one-line diagnostics on stderr, an answer streamed to
stdout, JSON on stdout. Tables and questions are in `output`, which `run` does not load."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


# Set by the entry point when the command line asks for --json: errors are then also
# reported as {"error": {...}} on stdout, for scripts.
json_errors = False


def wants_json(argv: Sequence[str]) -> bool:
    """Whether `argv` (the arguments after `byok`) asks for --json before any `--`."""
    options = argv[:list(argv).index("--")] if "--" in argv else argv
    return "--json" in options


def error_json(code: str, message: str, hint: str | None = None) -> None:
    if json_errors:
        from ..errors import ByokError

        try:
            emit_json({"error": {"code": code, "message": message, "hint": hint}})
        except (ByokError, BrokenPipeError):
            pass  # stdout is what failed (closed, full): the line on stderr says so


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


class SparedStderr:
    """sys.stderr, where a failed write (`2>/dev/full`, a closed pipe) is dropped: a
    diagnostic that cannot be shown must not turn into another failure; the exit status
    still says what happened."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str):
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
    sys.stderr = SparedStderr(sys.stderr)


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
    import json  # only for --json: a table or lines need none

    from ..errors import redact

    sys.stdout.write(redact(json.dumps(value, indent=2, ensure_ascii=False, default=str)) + "\n")
    sys.stdout.flush()


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

    def beside(self, say):
        """`say` (a warning on stderr), on a line of its own when the answer and stderr
        share a terminal; piped, the answer's bytes are left exactly as they came."""
        def receive(text: str) -> None:
            if self.last and not self.last.endswith("\n") and _same_terminal():
                sys.stdout.write("\n")
                sys.stdout.flush()
                self.last = "\n"
            say(text)
        return receive


def _same_terminal() -> bool:
    try:
        return os.isatty(1) and os.isatty(2)
    except (OSError, ValueError):
        return False


class ReasoningPrinter:
    """The model's reasoning as it arrives, on stderr, dimmed (never on stdout): someone
    else's text, so control and escape characters go (new lines and tabs stay)."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, piece: str) -> None:
        from ..errors import redact, strip_controls

        shown = "\n".join(strip_controls(redact(line)) for line in piece.split("\n"))
        if shown:
            self.last = shown
            sys.stderr.write(_style(shown, "2"))
            sys.stderr.flush()

    def end(self) -> None:
        if self.last and not self.last.endswith("\n"):
            sys.stderr.write("\n")
            sys.stderr.flush()
        self.last = ""
