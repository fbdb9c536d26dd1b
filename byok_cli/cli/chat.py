"""`byok chat`: an interactive conversation; switch model or provider at any turn."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from ..errors import ByokError, Code, Terminated
from . import complete, output
from .options import BASE_URL, EFFORT, TEMPERATURE
from .root import single, state
from .state import MAX_ID

HELP = ("commands: /model ID, alias or PROVIDER/MODEL, /provider NAME, /system TEXT, "
        "/history, /exit (or Ctrl-D); Ctrl-C stops an answer")


def _read_line(interactive: bool) -> str | None:
    """One line of input, or None at the end. On a terminal, with line editing. A line
    that is not UTF-8 comes back with surrogates, and is refused as a turn."""
    if interactive:
        try:
            return input("› ")
        except EOFError:
            return None
    line = sys.stdin.buffer.readline()
    return None if line == b"" else line.decode("utf-8", "surrogateescape")


def chat(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Model id, alias, or PROVIDER/MODEL.",
                                        autocompletion=complete.models),
    provider: Optional[str] = typer.Option(None, "--provider", "-p",
                                           help="A provider (see `byok provider list`).",
                                           autocompletion=complete.providers),
    key: Optional[str] = typer.Option(None, "--key", "-k", metavar="NAME",
                                      help="Which of the provider's keys: a stored key's "
                                           "name, or its environment variable."),
    system: Optional[str] = typer.Option(None, "--system", "-s", help="System prompt."),
    cont: bool = typer.Option(False, "--continue", "-c",
                              help="Continue the latest conversation."),
    cid: Optional[int] = typer.Option(None, "--cid", min=1, max=MAX_ID,
                                      help="Continue conversation ID."),
    no_log: bool = typer.Option(False, "--no-log", help="Keep this chat out of the history."),
    no_fallback: bool = typer.Option(False, "--no-fallback",
                                     help="No model or provider fallback."),
    chain: bool = typer.Option(False, "--fallback",
                               help="With -p or -m: use the fallback chain when that "
                                    "provider is unavailable."),
    temperature: Optional[float] = TEMPERATURE,
    effort: Optional[str] = EFFORT,
    base_url: Optional[str] = BASE_URL,
) -> None:
    """Chat interactively. Reads one line a turn (also from a pipe); answers stream.

    In the chat: /model ID-or-alias, /provider NAME, /system TEXT, /history, /exit.

    Examples:

      byok chat -m sonnet

      printf 'hi\\n/model luna\\nand now?\\n' | byok chat
    """
    from ..addressing import resolve
    from ..ask import AskOptions, ask, find_conversation
    from ..catalog import load
    from .run_body import effort_level

    st = state(ctx)
    if sys.stdin is None:
        raise ByokError(Code.USAGE, "stdin is closed: there is nothing to chat with",
                        hint="run it at a terminal, or pipe lines into it")
    output.require_stdout()
    registry = st.byok.registry
    options = AskOptions(model=model, provider=registry.require(provider).name if provider
                         else None, key=key, system=system, fallback=not no_fallback,
                         chain=chain, log=not no_log, temperature=temperature,
                         effort=effort_level(effort), base_url=base_url)
    if temperature is not None or effort is not None or base_url:
        _check_parameters(st, options)
    conversation = find_conversation(st.keychain, cid, cont)
    stored = st.store.conversation(st.profile, conversation) if conversation else None
    transcript = list(stored.messages) if stored else []
    if stored and options.system is None:
        options.system = stored.system
    interactive = sys.stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401 - line editing and history for input()
        except ImportError:
            pass
        output.info(f"byok chat — {HELP}")
    printer = output.Printer()
    turns, failed = 0, None  # failed: the last failure, while every turn has failed
    while True:
        try:
            line = _read_line(interactive)
        except Terminated:
            raise
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            continue
        if line is None:
            break
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            word, _, arg = line.partition(" ")
            arg = arg.strip()
            try:
                if word in ("/exit", "/quit"):
                    break
                if word == "/model" and arg:
                    preferred = st.store.settings(st.profile)["preferred_provider"]
                    target = resolve(arg, load(), registry, preferred=options.provider or (
                        None if preferred == "system" else preferred))
                    if target.provider != options.provider:
                        options.key = None  # a key name belongs to its provider
                    options.provider, options.model = target.provider, target.model
                    shown = "" if target.in_catalog else " (not in catalogue)"
                    output.info(f"model: {options.provider} {options.model}{shown}")
                elif word == "/provider" and arg:
                    options.provider, options.model = registry.require(arg).name, None
                    options.key = None  # a key name belongs to the provider it was given for
                    output.info(f"provider: {options.provider}")
                elif word == "/system":
                    options.system = arg or None
                    output.info("system prompt " + ("set" if arg else "cleared"))
                elif word == "/history":
                    for m in transcript:
                        who = "you" if m.role == "user" else f"{m.provider}/{m.model}"
                        sys.stdout.write(f"[{who}] {m.content}\n")
                    sys.stdout.flush()
                else:
                    output.warn(f"unknown command {line!r}; {HELP}")
            except ByokError as err:
                output.error(err.one_line())
            continue
        turns += 1
        try:
            result = ask(st.keychain, line, options, conversation_id=conversation,
                         history=transcript, on_text=printer, on_warning=output.warn)
            printer.end()
            conversation = result.conversation_id
            failed = False
        except Terminated:
            printer.end()
            raise
        except KeyboardInterrupt:
            printer.end()
            output.info("(answer stopped)")
        except ByokError as err:  # the session goes on; the turn is not kept
            printer.end()
            output.error(err.one_line())
            if failed is not False:
                failed = err
    if turns and failed:  # every turn failed: a script must be able to tell
        raise typer.Exit(failed.exit_status)


def _check_parameters(st, options) -> None:
    """A parameter the chosen model cannot take, or a bad --base-url, ends the chat before
    it starts (a missing key is reported at the first turn, as always)."""
    from ..ask import make_plan
    from ..errors import Code

    try:
        make_plan(st.keychain, options.model, options.provider, options.fallback,
                  key=options.key, chain=options.chain, temperature=options.temperature,
                  effort=options.effort, base_url=options.base_url)
    except ByokError as err:
        if err.code == Code.USAGE:
            raise


app = single("chat", chat)
