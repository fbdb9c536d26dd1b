"""The Typer app: the root command, its options, and the command groups loaded lazily."""

from __future__ import annotations

import sys
from typing import Optional

import typer
import typer.main
from typer.core import TyperGroup

from ..version import version_line
from ..errors import Code
from . import complete, docs_links
from .failures import exit_status
from .fast import flag_value, number
from .state import State, profile_name

EXAMPLES = """

Examples:

\b
  printf %s "$OPENAI_KEY" | byok key set openai  # store a key (not in argv)
  byok key list                                  # what is stored, masked
  byok models list                               # which models you can use
  git diff | byok run "write a commit message"   # stdin, then the arguments
"""


def state(ctx: typer.Context) -> State:
    """The invocation's state, with --profile and --debug given after the command applied
    (they win over those before it and the environment's)."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    st = root.obj
    after = ctx.meta.pop("byok.profile", None)
    if after is not None:
        name = profile_name(after)
        if name is None:
            raise typer.BadParameter(PROFILE_RULE, param_hint="--profile")
        st.profile = name
    if ctx.meta.pop("byok.debug", None):
        st.debug = True
    return st


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


def _plain_help(command) -> None:
    """Help in words, not Python types: `PROVIDER`, not `{PROVIDER}`, `PROVIDER <str>` or
    `<int range>`; numeric bounds said plainly; examples kept on their lines at any width.
    If typer's internals change, this does nothing."""
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:
        return
    for param in getattr(command, "params", ()):
        if isinstance(param, TyperOption) and not param.is_flag:
            param.metavar = param.metavar or param.name.upper()
            # An ID's bounds (1 to 2**63-1) say nothing a person needs.
            bounds = None if param.metavar == "ID" else _bounds(param.min, param.max)
            if bounds and bounds not in (param.help or ""):
                param.help = f"{param.help or ''} ({bounds})".strip()
            param._get_number_range_help_str = lambda: None
        elif isinstance(param, TyperArgument):
            name = (param.metavar or param.name.upper()).strip("[]")
            if param.nargs != 1 and not name.endswith("..."):
                name += "..."
            param.metavar = name
            shown = name if param.required else f"[{name}]"
            param._usage_display_name = lambda shown=shown: shown
            param._rich_display_name = lambda name=name: name
            param.display_type_rich = lambda ctx: None
    if getattr(command, "help", None):
        command.help = _keep_examples(command.help)
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


def _global_options(command) -> None:
    """--profile and --debug after the command too (`byok key list --profile work`): each
    leaf command gets both; given there, they win over the root's and the environment."""
    subcommands = getattr(command, "commands", None)
    if subcommands is not None:
        for sub in subcommands.values():
            _global_options(sub)
        return
    carrier = typer.main.get_command(single("carrier", _carrier))
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    for param in carrier.params:
        if param.name in ("profile", "debug") and not taken & set(param.opts):
            param.expose_value = False
            command.params.append(param)


def _given(ctx: typer.Context, param: typer.CallbackParam, value):
    if value is not None and not ctx.resilient_parsing:
        ctx.meta[f"byok.{param.name}"] = value  # shared by every context; see state()
    return value


def _carrier(
    profile: Optional[str] = typer.Option(
        None, "--profile", metavar="NAME", callback=_given, autocompletion=complete.profiles,
        help="Settings profile to use (here as before the command)."),
    debug: Optional[bool] = typer.Option(None, "--debug", callback=_given,
                                         help="Show tracebacks (keys masked) on failures."),
) -> None:
    """Carries the global options that every command accepts after its name too."""


def _bounds(low, high) -> str | None:
    if low is None and high is None:
        return None
    if high is None:
        return f"at least {low}"
    if low is None:
        return f"at most {high}"
    return f"{low} to {high}"


def _keep_examples(text: str) -> str:
    """Mark the paragraphs after "Example(s):" so that click never rewraps them."""
    paragraphs = text.split("\n\n")
    examples = False
    for i, paragraph in enumerate(paragraphs):
        if examples and paragraph.strip() and not paragraph.startswith("\b"):
            paragraphs[i] = "\b\n" + paragraph
        examples = examples or paragraph.strip().rstrip(":") in ("Example", "Examples")
    return "\n\n".join(paragraphs)


# Command groups, each in its own module, imported only when used: `byok run` need not
# load the key, models and config commands, and `byok key list` need not load `run`.
COMMANDS = {"run": "run", "chat": "chat", "key": "key", "provider": "provider",
            "models": "models", "config": "config", "history": "history", "usage": "usage",
            "exec": "exec", "vault": "vault", "doctor": "doctor", "budget": "budget",
            "profile": "profile", "completion": "completion", "unlock": "unlock",
            "lock": "lock", "setup": "setup", "gateway": "gateway", "token": "token"}


class ByokGroup(TyperGroup):
    """Loads command modules lazily; turns every failure into one line on stderr and a
    distinct exit status."""

    def make_context(self, info_name, args, parent=None, **extra):
        if parent is None:
            _fast_params(self, HELP_NAMES)
            _plain_help(self)
            self.epilog = docs_links.epilog("")
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except typer.TyperException as exc:
            raise _one_line(exc) from None

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
            _global_options(command)
            _fast_params(command, HELP_NAMES)
            _plain_help(command)
            docs_links.add_links(command, name)
            self.commands[name] = command
        return self.commands[name]

    def invoke(self, ctx):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except typer.Abort:
            raise typer.Exit(exit_status(KeyboardInterrupt(), False)) from None
        except typer.Exit:
            raise
        except typer.TyperException as exc:  # a usage error in a command's arguments
            raise _one_line(exc) from None
        except (Exception, KeyboardInterrupt) as exc:
            st = state(ctx)
            raise typer.Exit(exit_status(exc, st.debug, st)) from None


def _usage_json(message: str, ctx=None) -> None:
    from . import output

    # the same hint the line on stderr gives (UsageLine.show)
    output.error_json(Code.USAGE.value, message,
                      f"see '{ctx.command_path} -h'" if ctx is not None else None)


def _one_line(exc: typer.TyperException) -> typer.TyperException:
    """A usage error as byok prints every error: one line on stderr, keys masked (`byok run
    --sytem sk-…` echoes the word it did not understand), with where to look; exit 2.
    A group called without a command shows its help instead, on its lines."""
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    from ..errors import redact, strip_controls

    if not isinstance(exc, UsageError):
        return exc  # not a usage error (Click's own exits): left as Click shows it
    ctx = exc.ctx
    if isinstance(exc, NoArgsIsHelpError):
        # byok's own help: newlines kept, anything else that is not printable dropped.
        exc.message = "\n".join(strip_controls(redact(line))
                                for line in exc.message.split("\n"))
        _usage_json(f"{ctx.command_path}: a command is missing", ctx)
        return exc
    message = strip_controls(redact(exc.format_message())).strip().rstrip(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    if message.startswith("no such command") and "Did you mean" not in message and ctx:
        from difflib import get_close_matches

        typo = message.split("'")[1] if message.count("'") >= 2 else ""
        near = get_close_matches(typo, ctx.command.list_commands(ctx))
        if near:
            message = message.rstrip(".") + f"; did you mean {near[0]!r}?"
    message = message.replace(". Did you mean", "; did you mean")
    _usage_json(message, ctx)
    return UsageLine(message, ctx)


class UsageLine(typer.BadParameter):
    """A usage error shown as one line: `error: MESSAGE — see 'byok run -h'`."""

    def __init__(self, message: str, ctx) -> None:
        super().__init__(message, ctx=ctx)

    def format_message(self) -> str:
        return self.message

    def show(self, file=None) -> None:
        from . import output

        where = f" — see '{self.ctx.command_path} -h'" if self.ctx is not None else ""
        output.error(self.message + where)


HELP_NAMES = ["-h", "--help"]
PROFILE_RULE = "use letters, digits, '-', '_' or '.' (at most 64), not an API key"
app = typer.Typer(
    name="byok", cls=ByokGroup, no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Bring your own AI provider keys: stored encrypted, used with graceful fallbacks."
         + EXAMPLES,
    context_settings={"help_option_names": HELP_NAMES},
)


# Verbs other groups (and other tools) use for a group's own command: `key rm` is `key
# remove`, `budget remove` is `budget rm`, `token rm` is `token revoke`, `config list` and
# `config ls` are `config show`. Hidden: help, completion and the fast path list each
# command once, under its own name.
ALIASES = {"rm": ("remove", "revoke"), "remove": ("rm", "revoke"),
           "delete": ("rm", "remove", "revoke"), "del": ("rm", "remove", "revoke"),
           "ls": ("list", "show"), "list": ("show",)}


class AliasingGroup(TyperGroup):
    """A command group that also answers to the verbs in ALIASES, unlisted."""

    def get_command(self, ctx, name):
        found = super().get_command(ctx, name)
        for other in ALIASES.get(name, ()) if found is None else ():
            found = super().get_command(ctx, other)
            if found is not None:
                break
        return found


def group(help: str) -> typer.Typer:
    """A command group styled like the root."""
    return typer.Typer(help=help, no_args_is_help=True, add_completion=False,
                       rich_markup_mode=None, pretty_exceptions_enable=False, cls=AliasingGroup,
                       context_settings={"help_option_names": HELP_NAMES})


def single(name: str, function) -> typer.Typer:
    """A lone top-level command (run, chat, usage) in a module of its own."""
    one = typer.Typer(add_completion=False, rich_markup_mode=None,
                      pretty_exceptions_enable=False,
                      context_settings={"help_option_names": HELP_NAMES})
    one.command(name)(function)
    return one


def wide_option(what: str = "every column"):
    return typer.Option(False, "--wide",
                        help=f"Show {what} however narrow the terminal (lines may wrap).")


def no_header_option():
    return typer.Option(False, "--no-header",
                        help="Leave out the header line of the table or tab-separated list.")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(version_line())
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Optional[str] = typer.Option(
        None, "--profile", envvar="BYOK_PROFILE", metavar="NAME",
        help="Settings profile to use (default: 'default').",
        autocompletion=complete.profiles),
    debug: bool = typer.Option(False, "--debug", envvar="BYOK_DEBUG",
                               help="Show tracebacks (keys masked) on failures."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show byok's version and exit."),
) -> None:
    st = state(ctx)
    name = profile_name(profile)
    if name is None:
        raise typer.BadParameter(PROFILE_RULE, param_hint="--profile")
    st.profile = name
    st.debug = debug
