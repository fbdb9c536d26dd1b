"""`byok run`: resolve provider, model and key, then stream the answer to stdout."""

from __future__ import annotations

import os
import select
import stat
import sys
from typing import List, Optional

import typer

from ..errors import ByokError, Code
from . import complete, output, single, state

MAX_INPUT = 10 * 1024 * 1024


def _stdin_kind() -> str:
    """'file', 'pipe' or 'other' (a terminal, /dev/null, nothing)."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (AttributeError, OSError, ValueError):
        return "other"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return "pipe"
    return "other"


def read_stdin(have_args: bool) -> str | None:
    """stdin's text when it is a pipe or a file; never blocks on a terminal.

    With prompt arguments too, an inherited pipe that stays silent for
    BYOK_STDIN_TIMEOUT seconds (default 1) is ignored rather than waited on forever.
    """
    kind = _stdin_kind()
    if kind == "other":
        return None
    if kind == "pipe" and have_args:
        wait = float(os.environ.get("BYOK_STDIN_TIMEOUT", "1"))
        ready, _, _ = select.select([sys.stdin], [], [], wait)
        if not ready:
            output.warn(f"stdin gave nothing within {wait:g} s; ignoring it")
            return None
    return output.read_stdin_text(MAX_INPUT, "nothing was sent",
                                  hint="send a smaller excerpt")


def build_prompt(args: list[str]) -> str:
    joined = " ".join(args).strip()
    piped = read_stdin(bool(joined))
    parts = [p for p in ((piped or "").strip("\n"), joined) if p and p.strip()]
    if not parts:
        raise ByokError(Code.USAGE, "no prompt given",
                        hint='byok run "your question", or pipe text into it')
    return "\n\n".join(parts)


def _print_plan(plan, as_json: bool) -> None:
    if as_json:
        output.emit_json(plan.to_dict())
        return
    for w in plan.warnings:
        output.warn(w)
    output.table(["#", "provider", "model", "key", "role", "reason"],
                 [[i + 1, a.provider, a.model, a.key_label, a.role, a.reason]
                  for i, a in enumerate(plan.attempts)])


def run(
    ctx: typer.Context,
    prompt: Optional[List[str]] = typer.Argument(None, help="The prompt (stdin comes first)."),
    system: Optional[str] = typer.Option(None, "--system", "-s", help="System prompt."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model id or alias.",
                                        autocompletion=complete.models),
    provider: Optional[str] = typer.Option(None, "--provider", "-p",
                                           help="openai or anthropic.",
                                           autocompletion=complete.providers),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1,
                                             help="Upper bound on the answer's length."),
    temperature: Optional[float] = typer.Option(None, "--temperature", min=0.0, max=2.0),
    no_stream: bool = typer.Option(False, "--no-stream", help="Wait for the whole answer."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end."),
    explain: bool = typer.Option(False, "--explain", help="Show the plan; send nothing."),
    no_fallback: bool = typer.Option(False, "--no-fallback",
                                     help="No model or provider fallback."),
    cont: bool = typer.Option(False, "--continue", "-c",
                              help="Continue the latest conversation."),
    cid: Optional[int] = typer.Option(None, "--cid", min=1, help="Continue conversation ID."),
    no_log: bool = typer.Option(False, "--no-log",
                                help="Keep this prompt and answer out of the history."),
) -> None:
    """Send a prompt and stream the answer to stdout.

    Examples:

      byok run "explain SIGPIPE in one line"

      git diff | byok run -m haiku "write a commit message"

      byok run -c -p anthropic "and now in French"

      byok run --explain -p anthropic
    """
    from ..ask import AskOptions, ask, find_conversation, make_plan
    from ..keys import check_provider

    st = state(ctx)
    prov = check_provider(provider) if provider else None
    if explain:
        _print_plan(make_plan(st.keychain, model, prov, not no_fallback), as_json)
        return
    conversation = find_conversation(st.keychain, cid, cont)
    text = build_prompt(prompt or [])
    options = AskOptions(model=model, provider=prov, system=system, max_tokens=max_tokens,
                         temperature=temperature, stream=not no_stream,
                         fallback=not no_fallback, log=not no_log)
    printer = output.Printer(quiet=as_json)
    try:
        result = ask(st.keychain, text, options, conversation_id=conversation,
                     on_text=printer, on_warning=output.warn)
    except ByokError as err:
        shown = bool(printer.last)
        printer.end()
        if err.partial:
            err.message += (" (the output above is incomplete)" if shown
                            else " (the answer was incomplete)")
        raise
    except KeyboardInterrupt:
        printer.end()
        raise
    if as_json:
        output.emit_json({**result.outcome.to_dict(),
                          "conversation_id": result.conversation_id})
    else:
        printer.end()


app = single("run", run)
