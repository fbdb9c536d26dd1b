"""What `byok run` does once its arguments are parsed: read the prompt, resolve, stream the
answer to stdout. No Typer here: the Typer command (`run`) and the fast path (`fast`)
both call `run`."""

from __future__ import annotations

import os
import select
import stat
import sys

from ..errors import ByokError, Code
from . import output
from .state import State

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
        from ..inputs import env_number

        wait = env_number("BYOK_STDIN_TIMEOUT", 1.0)
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
    output.table(["provider", "base URL", "from"],
                 [[p, e.url, e.where] for p, e in plan.endpoints.items()])
    for line in plan.skipped:
        output.info(line)
    output.info("fallback chain: " + (", ".join(plan.chain) or "(none)"))


def effort_level(given: str | None) -> str | None:
    return given.strip().lower() if given is not None else None


def run(st: State, *, prompt: list[str] | None, system: str | None, model: str | None,
        provider: str | None, key: str | None, max_tokens: int | None,
        temperature: float | None, effort: str | None, base_url: str | None,
        no_stream: bool, as_json: bool, explain: bool, no_fallback: bool, chain: bool,
        cont: bool, cid: int | None, no_log: bool, cost: bool = False,
        allow_unpriced: bool = False) -> None:
    """Send a prompt and stream the answer to stdout (the parameters are `byok run`'s)."""
    from ..ask import AskOptions, ask, find_conversation, make_plan

    output.require_stdout()  # before anything is sent
    effort = effort_level(effort)
    if explain:
        _print_plan(make_plan(st.keychain, model, provider, not no_fallback, key=key,
                              chain=chain, temperature=temperature, effort=effort,
                              base_url=base_url), as_json)
        return
    conversation = find_conversation(st.keychain, cid, cont)
    text = build_prompt(prompt or [])
    options = AskOptions(model=model, provider=provider, key=key, system=system,
                         max_tokens=max_tokens, temperature=temperature, effort=effort,
                         base_url=base_url, stream=not no_stream, fallback=not no_fallback,
                         chain=chain, log=not no_log,
                         allow_unpriced=True if allow_unpriced else None)
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
    if cost or (output.stderr_is_tty()
                and st.store.settings(st.profile).get("show_cost") == "on"):
        output.info(cost_line(result.outcome))


def cost_line(outcome) -> str:
    """What one answer cost, for stderr."""
    tokens = f"{outcome.input_tokens or 0} in / {outcome.output_tokens or 0} out tokens"
    where = f"{outcome.provider}/{outcome.model}"
    if outcome.cost_micros is None:
        why = ("the provider reported no token counts" if outcome.input_tokens is None
               else "no price is known for it")
        return f"cost: unknown ({where}: {why})"
    from ..budget import dollars

    return f"cost: {dollars(outcome.cost_micros)} ({where}, {tokens})"
