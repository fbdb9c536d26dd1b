"""Every failure becomes one line on stderr and a distinct exit status, never a traceback.

Shared by the Typer app and the fast path of `byok run`, so both fail alike.
"""

from __future__ import annotations

import os
import sys

from ..errors import ByokError, Code, Terminated, redact
from . import streams


def exit_status(exc: BaseException, debug: bool, st=None) -> int:
    """Report `exc` on stderr (with a masked traceback under --debug) and return the exit
    status it stands for. With the invocation's state `st`, a missing key in a profile
    that has none names the profiles that do."""
    if isinstance(exc, ByokError) and exc.code == Code.NO_KEY and st is not None:
        _name_profiles(exc, st)
    if isinstance(exc, ByokError):
        if debug:
            print_traceback()
        streams.error(exc.one_line())
        streams.error_json(exc.code.value, exc.message, exc.hint)
        return exc.exit_status
    if isinstance(exc, Terminated):
        sys.stderr.write(f"\nterminated ({exc.name})\n")
        streams.error_json(Code.INTERRUPTED.value, f"terminated ({exc.name})")
        return exc.exit_status
    if isinstance(exc, KeyboardInterrupt):
        sys.stderr.write("\ninterrupted\n")
        streams.error_json(Code.INTERRUPTED.value, "interrupted")
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
    message = redact(f"internal error: {what}")
    streams.error(message + " (run with --debug for details)")
    streams.error_json(Code.INTERNAL.value, message, "run with --debug for details")
    return Code.INTERNAL.exit_status


def _name_profiles(exc: ByokError, st) -> None:
    try:
        note = st.keychain.missing_profile_note()
    except ByokError:
        return  # the original failure is what matters
    if note:
        exc.message = note
        exc.hint = "check --profile (or BYOK_PROFILE)" + (f", or {exc.hint}" if exc.hint else "")


def print_traceback() -> None:
    import traceback  # only under --debug: it costs more than a reading command's work

    sys.stderr.write(redact(traceback.format_exc()))


def silence_stdout() -> None:
    # The reader went away (`| head -1`): point stdout at /dev/null so that the
    # interpreter's final flush does not complain either.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except Exception:  # no file descriptor behind stdout (closed, or a test's buffer)
        pass


def finish(status: object) -> object:
    """The exit status, once stdout's last buffered bytes are out (a full disk or a closed
    stdout is reported here rather than by the interpreter on its way out)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except ByokError as err:
        silence_stdout()
        streams.error(err.one_line())
        return status or err.exit_status
    return status


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP stop byok as Ctrl-C does (the usage row is written), with exit
    status 128 + the signal's number; a second one of them ends it at once."""
    try:  # what `signal` wraps: the same calls, without the three IntEnum classes `signal`
        import _signal as signal  # builds on import (~1 ms of every command)
    except ImportError:
        import signal
    names = {signal.SIGTERM: "SIGTERM"}
    if hasattr(signal, "SIGHUP"):  # not on Windows
        names[signal.SIGHUP] = "SIGHUP"

    def stop(signum, frame) -> None:
        signal.signal(signum, signal.SIG_DFL)
        raise Terminated(signum, names[signum])

    for sig in names:
        signal.signal(sig, stop)
