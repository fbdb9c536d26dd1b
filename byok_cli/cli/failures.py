"""Every failure becomes one line on stderr and a distinct exit status, never a traceback.

Shared by the Typer app and the fast path of `byok run`, so both fail alike.
"""

from __future__ import annotations

import os
import sys
import traceback

from ..errors import ByokError, Code, redact
from . import output


def exit_status(exc: BaseException, debug: bool) -> int:
    """Report `exc` on stderr (with a masked traceback under --debug) and return the exit
    status it stands for."""
    if isinstance(exc, ByokError):
        if debug:
            print_traceback()
        output.error(exc.one_line())
        return exc.exit_status
    if isinstance(exc, KeyboardInterrupt):
        sys.stderr.write("\ninterrupted\n")
        return Code.INTERRUPTED.exit_status
    if isinstance(exc, BrokenPipeError):
        silence_stdout()
        return 0
    # A bug: say so plainly, on one line, keys masked. Never a provider or network error:
    # those are ByokErrors, built where byok knows what happened.
    if debug:
        print_traceback()
    what = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(what) > 200:
        what = what[:199] + "…"
    output.error(redact(f"internal error: {what}") + " (run with --debug for details)")
    return Code.INTERNAL.exit_status


def print_traceback() -> None:
    sys.stderr.write(redact(traceback.format_exc()))


def silence_stdout() -> None:
    # The reader went away (`| head -1`): point stdout at /dev/null so that the
    # interpreter's final flush does not complain either.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
