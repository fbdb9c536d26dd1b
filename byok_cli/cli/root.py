"""The Typer app: the root command, its options, and the command groups loaded lazily."""

from __future__ import annotations

import sys
from typing import Optional

import typer
from typer.core import TyperGroup

from .. import __version__
from .failures import exit_status
from .fast import flag_value, number
from .state import State, profile_name

EXAMPLES = """

Examples:

\b
  printf %s "$OPENAI_KEY" | byok key set openai   # store a key (never from argv)
  byok key list                                   # what is stored, masked
  byok models list                                # which models you can use
  git diff | byok run "write a commit message"    # stdin, then the arguments
"""


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


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
                flag = flag_value(value)
                if flag is None:
                    raise typer.BadParameter(f"{value!r} is not a boolean", ctx=ctx, param=param)
                return flag
            kind = numbers.get(self.annotation)
            if kind is not None:
                info = self.parameter_info
                try:
                    return number(kind, value, info.min, info.max)
                except ValueError as exc:
                    raise typer.BadParameter(str(exc), ctx=ctx, param=param) from None
            return list(value) if isinstance(value, (list, tuple)) else value

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
COMMANDS = {"run": "run", "chat": "chat", "key": "key", "provider": "provider",
            "models": "models", "config": "config", "history": "history", "usage": "usage",
            "exec": "exec", "vault": "vault", "doctor": "doctor", "budget": "budget"}


class ByokGroup(TyperGroup):
    """Loads command modules lazily; turns every failure into one line on stderr and a
    distinct exit status."""

    def make_context(self, info_name, args, parent=None, **extra):
        if parent is None:
            _fast_params(self, HELP_NAMES)
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except typer.TyperException as exc:
            raise _masked(exc) from None

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        if name not in self.commands:
            import importlib

            from typer.main import get_command

            module = importlib.import_module(f"{__package__}.{COMMANDS[name]}")
            command = get_command(module.app)
            command.name = name
            _fast_params(command, HELP_NAMES)
            self.commands[name] = command
        return self.commands[name]

    def invoke(self, ctx):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except typer.Abort:
            raise typer.Exit(exit_status(KeyboardInterrupt(), False)) from None
        except typer.Exit:
            raise
        except typer.TyperException as exc:
            raise _masked(exc) from None
        except (Exception, KeyboardInterrupt) as exc:
            raise typer.Exit(exit_status(exc, state(ctx).debug)) from None


def _masked(exc: typer.TyperException) -> typer.TyperException:
    """A usage error as Typer will print it, with any key typed on the command line masked
    (`byok run --sytem sk-…` echoes the word it did not understand)."""
    from ..errors import redact, strip_controls

    if isinstance(getattr(exc, "message", None), str):
        exc.message = strip_controls(redact(exc.message))
    return exc


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
    name = profile_name(profile)
    if name is None:
        raise typer.BadParameter("use letters, digits, '-', '_' or '.' (at most 64)",
                                 param_hint="--profile")
    st.profile = name
    st.debug = debug
