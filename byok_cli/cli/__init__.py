"""The command layer: Typer only here. Each command group lives in its own module."""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Optional

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import ByokError, Code, redact
from . import output

EXAMPLES = """

Examples:

\b
  printf %s "$OPENAI_KEY" | byok key set openai   # store a key (never from argv)
  byok key list                                   # what is stored, masked
  byok models list                                # which models you can use
  git diff | byok run "write a commit message"    # stdin, then the arguments
"""


@dataclass
class State:
    """Per-invocation context over the Python API's Byok, opened lazily so that `--help`
    opens nothing."""

    profile: str = "default"
    debug: bool = False
    _byok: object = field(default=None, repr=False)

    @property
    def byok(self):
        if self._byok is None:
            from ..api import Byok

            self._byok = Byok(self.profile)
        return self._byok

    @property
    def store(self):
        return self.byok.store

    @property
    def keychain(self):
        return self.byok.keychain


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def report(exc: ByokError) -> None:
    output.error(exc.one_line())


_TRUE, _FALSE = {"1", "true", "yes", "on", "y", "t"}, {"0", "false", "no", "off", "n", "f", ""}


def _fast_params(command, help_names: list[str]) -> None:
    """Give text and flag parameters a light coercer.

    Typer coerces every parameter whose value is not already a bool through a pydantic
    TypeAdapter; importing pydantic to pass a string through costs ~80 ms, more than
    typer itself. Text, flags and bounded numbers need no such machinery; anything else
    keeps Typer's own coercion. If typer's internals change, this does nothing.
    """
    try:
        from types import SimpleNamespace
        from typing import List, Optional as Opt

        from typer._coercion import RuntimeParam
    except ImportError:
        return

    numbers = {int: int, float: float, Opt[int]: int, Opt[float]: float}

    class Light(RuntimeParam):
        def _coerce_value(self, value, param, ctx):
            if self.annotation is bool and isinstance(value, str):
                word = value.strip().lower()
                if word in _TRUE | _FALSE:
                    return word in _TRUE
                raise typer.BadParameter(f"{value!r} is not a boolean", ctx=ctx, param=param)
            kind = numbers.get(self.annotation)
            if kind is not None:
                return self._number(kind, value, param, ctx)
            return list(value) if isinstance(value, (list, tuple)) else value

        def _number(self, kind, value, param, ctx):
            try:
                number = kind(value)
            except (TypeError, ValueError):
                raise typer.BadParameter(f"{value!r} is not a valid {kind.__name__}",
                                         ctx=ctx, param=param) from None
            low, high = self.parameter_info.min, self.parameter_info.max
            if (low is not None and number < low) or (high is not None and number > high):
                span = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
                raise typer.BadParameter(f"{value} is not in the range {span}",
                                         ctx=ctx, param=param)
            return number

    light_types = (str, bool, Opt[str], List[str], Opt[List[str]], list[str], *numbers)
    params = list(getattr(command, "params", ()))
    if getattr(command, "_help_option", 0) is None and getattr(command, "add_help_option", 0):
        params.append(command.get_help_option(SimpleNamespace(help_option_names=help_names)))
    for param in params:
        desc = getattr(param, "type_descriptor", None)
        if (desc is not None and getattr(param, "_runtime_param", 0) is None
                and desc.annotation in light_types and desc.parameter_info.parser is None
                and not getattr(desc.parameter_info, "clamp", False)):
            param._runtime_param = Light(desc.parameter_info, desc.annotation)
    for sub in getattr(command, "commands", {}).values():
        _fast_params(sub, help_names)


# Command groups, each in its own module, imported only when used: `byok run` need not
# load the key, models and config commands, and `byok key list` need not load `run`.
COMMANDS = {"run": "run", "chat": "chat", "key": "key", "models": "models",
            "config": "config", "history": "history", "usage": "usage", "exec": "exec",
            "vault": "vault", "doctor": "doctor"}


class ByokGroup(TyperGroup):
    """Loads command modules lazily; turns every failure into one line on stderr and a
    distinct exit status."""

    def make_context(self, info_name, args, parent=None, **extra):
        if parent is None:
            _fast_params(self, HELP_NAMES)
        return super().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        if name not in self.commands:
            import importlib

            from typer.main import get_command

            module = importlib.import_module(f"{__name__}.{COMMANDS[name]}")
            command = get_command(module.app)
            command.name = name
            _fast_params(command, HELP_NAMES)
            self.commands[name] = command
        return self.commands[name]

    def invoke(self, ctx):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except ByokError as exc:
            if state(ctx).debug:
                _print_traceback()
            report(exc)
            raise typer.Exit(exc.exit_status) from None
        except (KeyboardInterrupt, typer.Abort):
            sys.stderr.write("\ninterrupted\n")
            raise typer.Exit(Code.INTERRUPTED.exit_status) from None
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(0) from None
        except (typer.Exit, typer.TyperException):
            raise
        except Exception as exc:  # a bug: say so plainly, keys masked, no traceback
            if state(ctx).debug:
                _print_traceback()
            output.error(redact(f"internal error: {type(exc).__name__}: {exc}")
                         + " (run with --debug for details)")
            raise typer.Exit(Code.INTERNAL.exit_status) from None


def _print_traceback() -> None:
    sys.stderr.write(redact(traceback.format_exc()))


def _silence_stdout() -> None:
    # The reader went away (`| head -1`): point stdout at /dev/null so that the
    # interpreter's final flush does not complain either.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


HELP_NAMES = ["-h", "--help"]
app = typer.Typer(
    name="byok", cls=ByokGroup, no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Bring your own AI provider keys: stored encrypted, used with graceful fallbacks."
         + EXAMPLES,
    context_settings={"help_option_names": HELP_NAMES},
)


def group(help: str) -> typer.Typer:
    """A command group styled like the root."""
    return typer.Typer(help=help, no_args_is_help=True, add_completion=False,
                       rich_markup_mode=None, pretty_exceptions_enable=False,
                       context_settings={"help_option_names": HELP_NAMES})


def single(name: str, function) -> typer.Typer:
    """A lone top-level command (run, chat, usage) in a module of its own."""
    one = typer.Typer(add_completion=False, rich_markup_mode=None,
                      pretty_exceptions_enable=False,
                      context_settings={"help_option_names": HELP_NAMES})
    one.command(name)(function)
    return one


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"byok {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Optional[str] = typer.Option(
        None, "--profile", envvar="BYOK_PROFILE", metavar="NAME",
        help="Settings profile to use (default: 'default')."),
    debug: bool = typer.Option(False, "--debug", envvar="BYOK_DEBUG",
                               help="Show tracebacks (keys masked) on failures."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show byok's version and exit."),
) -> None:
    st = state(ctx)
    name = (profile or "default").strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise typer.BadParameter("use letters, digits, '-', '_' or '.' (at most 64)",
                                 param_hint="--profile")
    st.profile = name
    st.debug = debug




def main() -> None:
    if os.environ.get("_BYOK_COMPLETE"):  # the shell asks for completions
        from typer._completion_classes import completion_init

        completion_init()
    try:
        app(prog_name="byok")
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(Code.INTERRUPTED.exit_status)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(0)
