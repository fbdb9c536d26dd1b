"""The fast path: the usual forms of `byok run`, of the read-only commands whose bodies
live in `readers` (key list, config show, usage, history list) and `model_listing` (models
list), `byok --version` and
`byok --help` (its text generated), parsed without importing Typer.

Importing Typer (and the click inside it) costs ~30 ms, more than the offline floor (Python
reading one SQLite row) itself. So `main` first tries this parser, which reads the option
tables generated from the Typer commands (`run_options.py`, by scripts/generate.py) and
follows click's rules for them: options before and after the prompt words, `--opt=value`, `-mVALUE`, clustered short flags,
`--` ending the options, the last of a repeated option winning, BYOK_PROFILE and
BYOK_DEBUG, and --profile and --debug after `run` too. On anything else (--help,
--version, an unknown option, a number that does not parse or is out of range, a bad
profile name, another command, words a reader does not take) it returns None and Typer parses instead, so that every
usage error still gets Typer's message. A property test holds this parser to Typer's
results.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from ..inputs import number
from ..records import tuple_record
from ..version import version_line
from . import run_options as spec

TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "n", "f", ""})


def flag_value(text: str) -> bool | None:
    """A boolean from an environment variable's text, or None when it is not one."""
    word = text.strip().lower()
    return word in TRUE_WORDS if word in TRUE_WORDS | FALSE_WORDS else None


class _GiveUp(Exception):
    """Not a form this parser is sure of: let Typer parse it."""


def _convert(kind: str, text, low, high):
    if kind in ("text", "list"):
        return text
    try:
        return number(int if kind == "int" else float, text, low, high)
    except ValueError:
        raise _GiveUp from None


def _take_option(argv: Sequence[str], i: int, table: Mapping, values: dict) -> int:
    """Parse the option at argv[i] into `values` (flags as True, others as their text to
    convert once parsing is done: like click, only the last of a repeated option must be
    valid); return the index of the next token."""
    token = argv[i]
    if token.startswith("--"):
        name, eq, attached = token.partition("=")
        if name not in table:
            raise _GiveUp
        dest, kind, low, high = table[name]
        if kind == "flag":
            if eq:
                raise _GiveUp
            values[dest] = True
            return i + 1
        if not eq:
            if i + 1 >= len(argv):
                raise _GiveUp
            attached, i = argv[i + 1], i + 1
        _put(values, dest, kind, attached, low, high)
        return i + 1
    # Short options: "-c", "-cs TEXT", "-mgpt-5" (click's clustering).
    for at in range(1, len(token)):
        name = "-" + token[at]
        if name not in table:
            raise _GiveUp
        dest, kind, low, high = table[name]
        if kind == "flag":
            values[dest] = True
            continue
        rest = token[at + 1:]
        if not rest:
            if i + 1 >= len(argv):
                raise _GiveUp
            rest, i = argv[i + 1], i + 1
        _put(values, dest, kind, rest, low, high)
        break
    return i + 1


def _put(values: dict, dest: str, kind: str, text: str, low, high) -> None:
    """An option's value; a repeatable one's values in order, as a list."""
    if kind == "list":
        earlier = values.get(dest)
        values[dest] = (kind, (earlier[1] if earlier else []) + [text], low, high)
    else:
        values[dest] = (kind, text, low, high)


def _is_option(token: str) -> bool:
    return token.startswith("-") and token != "-"


@tuple_record
class Command:
    """A command the fast path runs: its words, its option table and defaults (generated
    from its Typer command), its argument's name if it takes words, and its body."""

    path: tuple[str, ...]
    options: Mapping
    defaults: Mapping
    argument: str | None
    body: str  # module:function, in this package


RUN = Command((spec.COMMAND,), spec.OPTIONS, spec.DEFAULTS, spec.ARGUMENT, "run_body:run")
COMMANDS = [RUN] + [Command(tuple(r["path"]), r["options"], r["defaults"], None, r["body"])
                    for r in spec.READERS.values()]


def parse(argv: Sequence[str], environ: Mapping[str, str], command: Command = RUN
          ) -> tuple[dict, dict] | None:
    """(root parameters, the command's parameters) as Typer would pass them, or None to let
    Typer parse `argv` (the arguments after `byok`)."""
    try:
        root: dict = {}
        i = 0
        while i < len(argv) and _is_option(argv[i]):
            if argv[i] == "--":
                i += 1
                break
            i = _take_option(argv, i, spec.ROOT_OPTIONS, root)
        if tuple(argv[i:i + len(command.path)]) != command.path:
            return None
        for dest, variable in spec.ROOT_ENVVARS.items():
            if dest not in root and environ.get(variable):
                root[dest] = _from_environment(dest, environ[variable])
        params: dict = {}
        words: list[str] = []
        i += len(command.path)
        while i < len(argv):
            token = argv[i]
            if token == "--":
                words += argv[i + 1:]
                break
            if _is_option(token):
                name = token.partition("=")[0]
                if name in spec.ROOT_OPTIONS and name not in command.options:
                    i = _take_option(argv, i, spec.ROOT_OPTIONS, root)  # `run … --profile w`
                else:
                    i = _take_option(argv, i, command.options, params)
            else:
                words.append(token)
                i += 1
        if words:
            if command.argument is None:
                raise _GiveUp
            params[command.argument] = words
        return ({**spec.ROOT_DEFAULTS, **_converted(root)},
                {**command.defaults, **_converted(params)})
    except _GiveUp:
        return None


def _converted(values: dict) -> dict:
    return {dest: _convert(*value) if isinstance(value, tuple) else value
            for dest, value in values.items()}


def _from_environment(dest: str, text: str):
    kind = next(kind for d, kind, _, _ in spec.ROOT_OPTIONS.values() if d == dest)
    if kind != "flag":
        return text
    value = flag_value(text)
    if value is None:
        raise _GiveUp
    return value


def run_fast(argv: Sequence[str]) -> int | None:
    """Run the command if `argv` is one of the usual forms of a command the fast path
    knows, returning the exit status; None when Typer must parse `argv`."""
    if len(argv) == 1 and argv[0] in spec.VERSION_OPTIONS:
        return _written(version_line())
    if len(argv) == 1 and argv[0] in spec.HELP_OPTIONS and _help_width():
        return _written(spec.ROOT_HELP)
    for command in COMMANDS:
        parsed = parse(argv, os.environ, command)
        if parsed is not None:
            break
    else:
        return None
    from .state import State, profile_name

    root, params = parsed
    profile = profile_name(root["profile"])
    if profile is None:
        return None
    st = State(profile=profile, debug=root["debug"])
    from .failures import exit_status

    try:
        module, _, function = command.body.partition(":")
        # __import__, not importlib.import_module: the importlib package costs ~0.4 ms here
        body = getattr(__import__(f"{__package__}.{module}", fromlist=[function]), function)
        body(st, **params)
        sys.stdout.flush()  # a reader that went away is reported here, not at exit
    except (Exception, KeyboardInterrupt) as exc:
        return exit_status(exc, st.debug, st)
    return 0


def _help_width() -> bool:
    """Whether click would lay out help as the generated ROOT_HELP is (78 columns: a
    terminal, or COLUMNS, of 80 or more; the default where there is no terminal)."""
    import shutil

    return shutil.get_terminal_size().columns >= 80


def _written(text: str) -> int:
    """`byok --version` or `byok --help`: the text, generated from the Typer app, on stdout."""
    from .failures import exit_status

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (Exception, KeyboardInterrupt) as exc:  # a closed or full stdout
        return exit_status(exc, False)
    return 0
