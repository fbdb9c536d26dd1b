"""Shell completion without Typer: one TAB answered from the generated table of every
command (`completion_table`, written from the Typer app by scripts/generate.py), by the
rules click's completion follows, calling the same functions in `complete`.

Importing Typer and building its commands costs several times the work of a TAB. So
`main` asks `answer` first; on anything it does not follow with certainty (`--`, an
unknown option or word, clustered short options, --help or --version among the words, a
callback that fails) it returns None and Typer's machinery answers instead. A property
test holds it to Typer's answers in bash, zsh and fish.
"""

from __future__ import annotations

from typing import Mapping

from .completion_table import TREE

SHELLS = {"complete_bash": "bash", "complete_zsh": "zsh", "complete_fish": "fish"}


class _GiveUp(Exception):
    """Not a form this completer is sure of: let Typer answer."""


class _Context:
    """What the functions in `complete` read of click's context: the parameters parsed
    so far, and the root's."""

    def __init__(self, params: dict, parent: "_Context | None" = None) -> None:
        self.params = params
        self.parent = parent

    def find_root(self) -> "_Context":
        ctx = self
        while ctx.parent is not None:
            ctx = ctx.parent
        return ctx


def answer(environ: Mapping[str, str]) -> str | None:
    """What byok prints for the shell's TAB (the instruction in _BYOK_COMPLETE), or None
    when Typer must answer."""
    shell = SHELLS.get(environ.get("_BYOK_COMPLETE", ""))
    if shell is None:
        return None
    try:
        args, incomplete = _words(shell, environ)
        found = candidates(args, incomplete, environ)
    except _GiveUp:
        return None
    return "\n".join(_shown(shell, value, text) for value, text in found)


def _split(line: str) -> list[str]:
    """As click's split_arg_string: shell words, a missing closing quote forgiven."""
    import shlex

    lex = shlex.shlex(line, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    out = []
    try:
        for token in lex:
            out.append(token)
    except ValueError:
        out.append(lex.token)
    return out


def _words(shell: str, environ: Mapping[str, str]) -> tuple[list[str], str]:
    """(the complete words after `byok`, the word being completed), as each shell's
    script passes them (see data/completions)."""
    if shell == "bash":
        if "COMP_WORDS" not in environ or not environ.get("COMP_CWORD", "").isdigit():
            raise _GiveUp
        words, at = _split(environ["COMP_WORDS"]), int(environ["COMP_CWORD"])
        return words[1:at], words[at] if at < len(words) else ""
    line = environ.get("_TYPER_COMPLETE_ARGS", "")
    args = _split(line)[1:]
    if args and not line.endswith(" "):
        return args[:-1], args[-1]
    return args, ""


def _shown(shell: str, value: str, text: str | None) -> str:
    """One candidate as the shell's script reads it (complete.init's formats)."""
    if shell == "bash":
        return value
    text = " ".join((text or "").split())
    if shell == "zsh":
        value = value.replace("\\", "\\\\").replace(":", "\\:")
        return f"{value}:{text}" if text else value
    return f"{value}\t{text}" if text else value


def _option(node: dict, name: str) -> tuple | None:
    return next((o for o in node["options"] if name in o[0]), None)


def _parse(args: list[str], environ: Mapping[str, str]) -> tuple[dict, _Context, set]:
    """Follow the words as click's resilient parsing does: (the command reached, its
    context, the options given on the command line at its level)."""
    node, ctx = TREE, _Context(_envvars(TREE, environ))
    given: set[str] = set()
    words: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            raise _GiveUp
        if token.startswith("-") and token != "-":
            name, eq, value = token.partition("=")
            option = _option(node, name)
            if option is None or "e" in option[2]:
                raise _GiveUp  # unknown, clustered, or --help/--version
            _, dest, traits, *_ = option
            if "f" in traits:
                if eq:
                    raise _GiveUp
                ctx.params[dest] = True
            elif eq:
                ctx.params[dest] = value
            elif i + 1 < len(args):
                ctx.params[dest] = args[i + 1]
                i += 1
            else:
                break  # its value is what is being completed; click's parser stops here
            if "m" not in traits:  # a repeatable option is offered again
                given.add(dest)
            i += 1
            continue
        if "commands" in node:  # a group: the word names its command
            sub = node["commands"].get(token)
            if sub is None:
                raise _GiveUp
            node, ctx, given = sub, _Context(_envvars(sub, environ), ctx), set()
        else:
            words.append(token)
        i += 1
    _arguments(node, ctx, words)
    return node, ctx, given


def _envvars(node: dict, environ: Mapping[str, str]) -> dict:
    """A command's parameters before its words: None, or an environment variable's value."""
    params: dict = {a[0]: None for a in node["arguments"]}
    for _, dest, traits, envvar, *_ in node["options"]:
        value = environ.get(envvar) if envvar else None
        if value and "f" in traits:
            raise _GiveUp  # a flag's value from the environment: leave it to click
        params[dest] = value or None
    return params


def _arguments(node: dict, ctx: _Context, words: list[str]) -> None:
    """The positional words shared out among the arguments, as click does: each takes
    one, the one that takes any number takes what the others leave."""
    slots = node["arguments"]
    fixed = sum(1 for _, nargs, _ in slots if nargs == 1)
    greedy = any(nargs == -1 for _, nargs, _ in slots)
    if len(words) > fixed and not greedy:
        raise _GiveUp  # extra words: click ignores them under completion; rare enough
    left = list(words)
    for at, (dest, nargs, _) in enumerate(slots):
        if nargs == 1:
            if left:
                ctx.params[dest] = left.pop(0)
        else:
            after = sum(1 for _, n, _ in slots[at + 1:] if n == 1)
            take = max(0, len(left) - after)
            ctx.params[dest], left = left[:take], left[take:]


def candidates(args: list[str], incomplete: str, environ: Mapping[str, str]
               ) -> list[tuple[str, str | None]]:
    """(value, description) pairs for the word being completed, in click's order."""
    args = list(args)
    node, ctx, given = _parse(args, environ)
    if incomplete == "=":
        incomplete = ""
    elif "=" in incomplete and incomplete.startswith("-"):
        name, _, incomplete = incomplete.partition("=")
        args.append(name)
    if incomplete.startswith("-"):
        return _command_candidates(node, incomplete, given)
    last = args[-1] if args else ""
    if last.startswith("-"):
        for names, _, traits, _, _, completer in node["options"]:
            if "f" not in traits and last in names:
                return _values(completer, ctx, incomplete)
    for dest, nargs, completer in node["arguments"]:
        if nargs == -1 or ctx.params.get(dest) is None:
            return _values(completer, ctx, incomplete)
    return _command_candidates(node, incomplete, given)


def _command_candidates(node: dict, incomplete: str, given: set) -> list:
    """A group's commands; and, for a word that starts like an option, the options not
    given yet."""
    found = [(name, sub["help"]) for name, sub in node.get("commands", {}).items()
             if name.startswith(incomplete) and not sub["hidden"]]
    if incomplete and not incomplete[0].isalnum():
        for names, dest, traits, _, text, _ in node["options"]:
            if "h" in traits or ("m" not in traits and dest in given):
                continue
            found += [(name, text) for name in names if name.startswith(incomplete)]
    return found


def _values(completer: str | None, ctx: _Context, incomplete: str) -> list:
    """What the parameter's function in `complete` offers, as Typer calls it."""
    if completer is None:
        return []
    from . import complete

    function = getattr(complete, completer)
    code = function.__code__
    given = {"ctx": ctx, "args": [], "incomplete": incomplete}
    try:
        found = function(**{n: given[n] for n in code.co_varnames[:code.co_argcount]})
    except Exception:
        raise _GiveUp from None
    pairs = [(item, None) if isinstance(item, str) else (item[0], item[1]) for item in found]
    return [(value, text) for value, text in pairs if value.startswith(incomplete)]
