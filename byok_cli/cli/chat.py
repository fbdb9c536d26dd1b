"""`byok chat`: an interactive conversation; switch model or provider at any turn."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ..errors import ByokError, Code, Terminated
from . import complete, output
from .options import BASE_URL, EFFORT, MAX_TOKENS, SHOW_REASONING, STRICT, TEMPERATURE
from .progress import Waiting
from .root import single, state
from .state import MAX_ID

COMMANDS = [
    ("/model [MODEL]", "show the model that answers, or switch: an id, an alias or "
                       "PROVIDER/MODEL"),
    ("/provider [NAME]", "show the provider that answers, or switch (`byok provider list`)"),
    ("/system [TEXT]", "set the system prompt (without TEXT: clear it)"),
    ("/max-tokens [N]", "bound each answer's length, and what a budget holds for it "
                        "(default: no bound)"),
    ("/attach [PATH|URL]", "attach an image or a PDF to your next message (without "
                           "PATH: list what is attached); /detach drops them"),
    ("/reasoning [on|off]", "show the model's reasoning, dimmed, on stderr, or stop "
                            "(--show-reasoning starts with it on)"),
    ("/history", "show this conversation so far"),
    ('"""', "start or end a message of several lines"),
    ("/help", "this list"),
    ("/exit", "leave (or Ctrl-D); Ctrl-C stops an answer, not the chat"),
]
MULTILINE = '"""'


def _chat_hint(err: ByokError) -> ByokError:
    """Say what can be done inside the chat, rather than on the command line."""
    flags = err.hint and any(f in err.hint for f in (" -p", " -m", "--provider", "--model"))
    if err.code == Code.BUDGET_EXCEEDED and err.hint and "--max-tokens" in err.hint:
        err.hint = err.hint.replace("lower --max-tokens", "lower /max-tokens N")
    elif err.code == Code.TRUNCATED:
        err.hint = "raise /max-tokens N, and ask to go on"
    elif err.code == Code.MODEL_NOT_FOUND and (flags or not err.hint):
        err.hint = "choose another with /model (ids and aliases: `byok models list`)"
    elif err.code == Code.NO_KEY:
        err.hint = ("switch with /provider, or store a key with `byok key set "
                    f"{err.provider or 'PROVIDER'}` in another terminal")
    elif flags and err.provider and f"-m {err.provider}/MODEL" in err.hint:
        err.hint = (f"choose one with /model {err.provider}/MODEL (`byok models list "
                    f"--remote -p {err.provider}` shows what it serves)")
    elif flags:
        err.hint = "see /help"
    return err


class Turns:
    """Messages as a person types them: one line each, or several between lines of
    triple quotes; on a terminal with line editing, and a pasted block (bracketed paste)
    stays one message."""

    def __init__(self) -> None:
        import os

        self.interactive = sys.stdin.isatty()
        if self.interactive:
            # Only a terminal that understands it is asked for bracketed paste: a dumb
            # one (an editor's shell buffer, a serial console) would show the escapes.
            capable = (sys.stdout.isatty()
                       and os.environ.get("TERM", "dumb") not in ("", "dumb"))
            try:
                import readline

                readline.parse_and_bind("set enable-bracketed-paste "
                                        + ("on" if capable else "off"))
            except (ImportError, AttributeError):
                pass

    def _line(self, prompt: str) -> str | None:
        if self.interactive:
            try:
                return input(prompt)
            except EOFError:
                sys.stdout.write("\n")  # leave the prompt's line
                sys.stdout.flush()
                return None
        # Bytes, then text: a line that is not UTF-8 keeps its bytes as surrogates and is
        # refused as a turn (ask's check), instead of ending the chat.
        line = sys.stdin.buffer.readline().decode("utf-8", "surrogateescape")
        return None if line == "" else line.rstrip("\n")

    def next(self) -> str | None:
        """The next message or command, or None at the end of input."""
        line = self._line("› ")
        if line is None or line.strip() != MULTILINE:
            return line
        lines: list[str] = []
        while (more := self._line("… ")) is not None and more.strip() != MULTILINE:
            lines.append(more)
        return "\n".join(lines)


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
    system: Optional[str] = typer.Option(None, "--system", "-s", metavar="TEXT",
                                         help="System prompt."),
    cont: bool = typer.Option(False, "--continue", "-c",
                              help="Continue the latest conversation."),
    cid: Optional[int] = typer.Option(None, "--cid", min=1, max=MAX_ID, metavar="ID",
                                      help="Continue conversation ID."),
    no_log: bool = typer.Option(False, "--no-log", help="Keep this chat out of the history."),
    no_fallback: bool = typer.Option(False, "--no-fallback",
                                     help="No model or provider fallback."),
    chain: bool = typer.Option(False, "--fallback",
                               help="With -p or -m: use the fallback chain when that "
                                    "provider is unavailable."),
    max_tokens: Optional[int] = MAX_TOKENS,
    temperature: Optional[float] = TEMPERATURE,
    effort: Optional[str] = EFFORT,
    base_url: Optional[str] = BASE_URL,
    attach: Optional[List[str]] = typer.Option(None, "--attach", "-a", metavar="PATH|URL",
                                               help="Attach an image (PNG, JPEG, GIF, "
                                                    "WebP) or a PDF to the first message; "
                                                    "repeatable."),
    show_reasoning: bool = SHOW_REASONING,
    strict: bool = STRICT,
) -> None:
    """Chat interactively. Reads one message a turn (also from a pipe); answers stream.

    In the chat: /model, /provider, /system, /max-tokens, /attach, /reasoning, /history, /help,
    /exit; a line of three double quotes starts and ends a message of several lines. A refused,
    filtered or cut-off answer is said so on stderr, and the chat goes on.

    Examples:

      byok chat -m sonnet

      printf 'hi\\n/model luna\\nand now?\\n' | byok chat
    """
    from ..routing.ask import AskOptions, ask, find_conversation
    from .run_body import after_reasoning, effort_level, load_attachments

    st = state(ctx)
    if sys.stdin is None:
        raise ByokError(Code.USAGE, "stdin is closed: there is nothing to chat with",
                        hint="run it at a terminal, or pipe lines into it")
    output.require_stdout()
    registry = st.byok.registry
    options = AskOptions(model=model, provider=registry.require(provider).name if provider
                         else None, key=key, system=system, fallback=not no_fallback,
                         chain=chain, log=not no_log, max_tokens=max_tokens,
                         temperature=temperature,
                         effort=effort_level(effort), base_url=base_url,
                         strict=strict)
    if "-" in (attach or ()):
        raise ByokError(Code.USAGE, "chat reads your messages from stdin, so -a - cannot "
                        "read an attachment from it", hint="attach a file: -a PATH")
    options.attachments = load_attachments(list(attach or ()))
    if model:  # a model no provider is known to serve fails here, not at the first turn
        from .model_choice import choose_model

        choose_model(st, model, options.provider)
    conversation = find_conversation(st.keychain, cid, cont)
    if cont and conversation is None:
        output.info(f"note: profile {st.profile!r} has no conversation to continue yet; "
                    "starting a new one")
    stored = st.store.conversation(st.profile, conversation) if conversation else None
    transcript = list(stored.messages) if stored else []
    if stored and options.system is None:
        options.system = stored.system
    first = _answering(st, options, transcript)  # fails here, before the first turn
    turns = Turns()
    if turns.interactive:
        _banner(first)
    printer = output.Printer()
    thoughts = output.ReasoningPrinter()
    show = {"reasoning": show_reasoning}  # /reasoning turns it on and off
    asked, failed = 0, None  # failed: the last failure, while every turn has failed
    noted: set[str] = set()  # notes on the configuration, said once a session

    def note_once(say):
        def receive(text: str) -> None:
            if text not in noted:
                noted.add(text)
                say(text)
        return receive
    while True:
        try:
            line = turns.next()
        except Terminated:
            raise
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            continue
        if line is None:
            break
        if not line.strip():
            continue
        if line.startswith("/") and "\n" not in line:
            if _command(st, line.strip(), options, transcript, show) == "exit":
                break
            continue
        asked += 1
        try:
            with Waiting() as waiting:
                result = ask(st.keychain, line, options, conversation_id=conversation,
                             history=transcript,
                             on_text=waiting.text(after_reasoning(thoughts, printer)),
                             on_warning=waiting.message(printer.beside(output.warn)),
                             on_note=note_once(waiting.message(output.warn)),
                             on_reasoning=(waiting.message(thoughts) if show["reasoning"]
                                           else None))
            thoughts.end()
            printer.end()
            conversation = result.conversation_id
            failed = False
            options.attachments = []  # sent with that message (a failed turn keeps them)
        except Terminated:
            thoughts.end()
            printer.end()
            raise
        except KeyboardInterrupt:
            thoughts.end()
            printer.end()
            output.info("(answer stopped)")
        except ByokError as err:  # the session goes on (a cut-off answer under --strict is kept)
            thoughts.end()
            printer.end()
            output.error(_chat_hint(err).one_line())
            if failed is not False:
                failed = err
    if asked and failed:  # every turn failed: a script must be able to tell
        raise typer.Exit(failed.exit_status)


def _answering(st, options, transcript):
    """The first attempt of the plan for the next turn: provider, model and key."""
    from ..routing.ask import plan_for

    return plan_for(st.keychain, options, transcript).attempts[0]


def _banner(attempt) -> None:
    """What answers, and how to get help, in lines that fit the terminal."""
    import shutil

    width = shutil.get_terminal_size().columns
    first = f"byok chat — {_describe(attempt)}"
    if len(first) > width:
        first = f"byok chat — {attempt.provider} {attempt.model}\n  with the {attempt.key_label}"
    for line in first.split("\n") + ["/help for commands, Ctrl-D to leave"]:
        output.info(line)


def _describe(attempt) -> str:
    return f"{attempt.provider} {attempt.model} with the {attempt.key_label}"


def _command(st, line: str, options, transcript, show: dict) -> str | None:
    """Carry out a chat command; "exit" to leave."""
    from ..routing.addressing import resolve
    from ..catalog.curated import load

    registry = st.byok.registry

    word, _, arg = line.partition(" ")
    arg = arg.strip()
    try:
        if word in ("/exit", "/quit"):
            return "exit"
        if word == "/help":
            sys.stderr.write(_help_text())
        elif word in ("/model", "/provider"):
            if arg:
                before = (options.provider, options.model, options.key)
                if word == "/model":
                    from .model_choice import choose_model

                    preferred = st.store.settings(st.profile)["preferred_provider"]
                    target = resolve(arg, load(), registry, preferred=options.provider or (
                        None if preferred == "system" else preferred))
                    choose_model(st, arg, target.provider)
                    changed = target.provider != options.provider
                    options.provider, options.model = target.provider, target.model
                    if not target.in_catalog and not registry.require(target.provider).catalog:
                        # (a provider with a catalogue: choose_model has warned already)
                        output.info(f"{target.model} (not in catalogue) is sent as given to "
                                    f"{target.provider}")
                else:
                    changed = True
                    options.provider, options.model = registry.require(arg).name, None
                if changed:
                    options.key = None  # a key name belongs to its provider
                try:
                    now = _answering(st, options, transcript)
                except ByokError:
                    options.provider, options.model, options.key = before  # cannot answer
                    raise
                output.info(f"now answering: {_describe(now)}")
            else:
                now = _answering(st, options, transcript)
                output.info(f"{word[1:]}: {now.provider if word == '/provider' else now.model} "
                            f"({_describe(now)})")
        elif word == "/system":
            options.system = arg or None
            output.info("system prompt " + ("set" if arg else "cleared"))
        elif word == "/max-tokens":
            _max_tokens(arg, options)
        elif word in ("/attach", "/detach"):
            _attach(word, arg, options)
        elif word == "/reasoning":
            _reasoning(arg, show)
        elif word == "/history":
            for m in transcript:
                who = "you" if m.role == "user" else f"{m.provider}/{m.model}"
                names = ", ".join(a.name for a in m.attachments)
                sys.stdout.write(f"[{who}] {m.content}"
                                 + (f" [attached: {names}]" if names else "") + "\n")
            sys.stdout.flush()
        else:
            output.warn(f"unknown command {line!r}; /help lists them")
    except ByokError as err:
        output.error(_chat_hint(err).one_line())
    return None


def _attach(word: str, arg: str, options) -> None:
    """/attach PATH: read and check it now, send it with the next message; /attach: list;
    /detach: drop them."""
    if word == "/detach":
        options.attachments = []
        output.info("attachments dropped")
    elif arg:
        if arg == "-":
            raise ByokError(Code.USAGE, "/attach - cannot read stdin: it carries the chat")
        from .run_body import load_attachments

        options.attachments = options.attachments + load_attachments([arg])
        output.info(f"attached {options.attachments[-1].describe()} to your next message")
    else:
        output.info("attached to your next message: " + (", ".join(
            a.describe() for a in options.attachments) or "nothing"))


def _help_text() -> str:
    """The chat's commands, each description wrapped at word boundaries under itself so
    that the list fits the terminal (at least 40 columns of it)."""
    import shutil
    import textwrap

    name_width = max(len(c) for c, _ in COMMANDS)
    indent = " " * (name_width + 4)
    width = max(40, min(shutil.get_terminal_size().columns, 100) - 1)
    return "".join(textwrap.fill(text, width, initial_indent=f"  {c.ljust(name_width)}  ",
                                 subsequent_indent=indent, break_long_words=False,
                                 break_on_hyphens=False) + "\n" for c, text in COMMANDS)


def _reasoning(arg: str, show: dict) -> None:
    """/reasoning: show whether the model's reasoning is shown, or turn it on or off."""
    if arg.lower() in ("on", "off"):
        show["reasoning"] = arg.lower() == "on"
    elif arg:
        raise ByokError(Code.USAGE, f"/reasoning takes on or off, not {arg!r}")
    output.info("reasoning: " + ("shown, dimmed, on stderr" if show["reasoning"]
                                 else "not shown (/reasoning on shows it)"))


def _max_tokens(arg: str, options) -> None:
    """/max-tokens: show the bound on an answer's length, set it, or lift it."""
    if arg.lower() in ("default", "none", "off"):
        options.max_tokens = None
    elif arg:
        try:
            value = int(arg)
        except ValueError:
            value = 0
        if value < 1:
            raise ByokError(Code.USAGE, f"/max-tokens takes a whole number of tokens from 1 up, "
                            f"not {arg!r}", hint="or /max-tokens default to lift the bound")
        options.max_tokens = value
    output.info("max tokens: " + (f"{options.max_tokens}" if options.max_tokens
                                  else "the model's own maximum"))


app = single("chat", chat)
