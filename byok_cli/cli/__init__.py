"""The command layer. The Typer app is in `root` and one module per command group; this
module is the entry point, and sends the common forms of `byok run` and the reading
commands down a fast path that never imports Typer (see `fast`), and so does a shell's
TAB (see `fast_complete`)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    from ..errors import ByokError
    from . import streams
    from .failures import exit_status, finish, stop_on_signals

    streams.guard_std_streams()
    stop_on_signals()
    streams.json_errors = streams.wants_json(sys.argv[1:])
    completing = bool(os.environ.get("_BYOK_COMPLETE"))
    if completing:  # the shell asks for completions: from the generated table if it can
        from .fast_complete import answer

        found = answer(os.environ)
        if found is not None:
            try:
                sys.stdout.write(found + "\n")
            except (Exception, KeyboardInterrupt) as exc:  # a closed or full stdout
                sys.exit(finish(exit_status(exc, False)))
            sys.exit(finish(0))
    else:
        from .fast import run_fast

        status = run_fast(sys.argv[1:])
        if status is not None:
            sys.exit(finish(status))
    try:
        from .root import app

        if completing:  # the shell asks for completions
            from .complete import init

            init()
        app(prog_name="byok")
    except SystemExit as done:
        sys.exit(finish(done.code))
    except (KeyboardInterrupt, BrokenPipeError) as exc:  # while parsing, before invoke
        sys.exit(finish(exit_status(exc, False)))
    except ByokError as exc:  # while parsing: --help or --version to a closed or full stdout
        sys.exit(finish(exit_status(exc, False)))


def __getattr__(name: str):
    # `from byok_cli.cli import app` for scripts and tests, without importing Typer for
    # the fast path.
    if name == "app":
        from .root import app

        return app
    raise AttributeError(name)
