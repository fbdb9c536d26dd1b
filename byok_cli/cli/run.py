"""`byok run`: resolve provider, model and key, then stream the answer to stdout."""

from __future__ import annotations

import os
import select
import stat
import sys
from typing import List, Optional

import typer

from ..errors import ByokError, Code
from . import output, state

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
    data = sys.stdin.buffer.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise ByokError(Code.INVALID_FORMAT,
                        f"stdin holds more than {MAX_INPUT // (1024 * 1024)} MiB; nothing was sent",
                        hint="send a smaller excerpt")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ByokError(Code.INVALID_FORMAT, f"stdin is not UTF-8 text (byte {exc.start}); "
                        "nothing was sent", hint="convert it first, e.g. with iconv") from None


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
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model id or alias."),
    provider: Optional[str] = typer.Option(None, "--provider", "-p",
                                           help="openai or anthropic."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1,
                                             help="Upper bound on the answer's length."),
    temperature: Optional[float] = typer.Option(None, "--temperature", min=0.0, max=2.0),
    no_stream: bool = typer.Option(False, "--no-stream", help="Wait for the whole answer."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end."),
    explain: bool = typer.Option(False, "--explain", help="Show the plan; send nothing."),
    no_fallback: bool = typer.Option(False, "--no-fallback",
                                     help="No model or provider fallback."),
) -> None:
    """Send a prompt and stream the answer to stdout.

    Examples:

      byok run "explain SIGPIPE in one line"

      git diff | byok run -m haiku "write a commit message"

      byok run --explain -p anthropic
    """
    from ..catalog import load
    from ..keychain import hint_of
    from ..keys import PROVIDERS, check_provider
    from ..providers import ChatRequest
    from ..resolve import KeyAvailability, plan as make_plan
    from ..runner import execute

    st = state(ctx)
    prov = check_provider(provider) if provider else None
    stored = st.store.keys(st.profile)
    env = {p: hint_of(k) for p in PROVIDERS if (k := st.keychain.env_key(p))}
    the_plan = make_plan(st.store.settings(st.profile),
                         KeyAvailability({p: k.hint for p, k in stored.items()}, env),
                         load(), model=model, provider=prov, fallback=not no_fallback)
    if explain:
        _print_plan(the_plan, as_json)
        return
    text = build_prompt(prompt or [])
    for w in the_plan.warnings:
        output.warn(w)
    request = ChatRequest(model="", messages=[{"role": "user", "content": text}], system=system,
                          max_tokens=max_tokens, temperature=temperature, stream=not no_stream)
    shown: list[str] = []

    def show(piece: str) -> None:
        if as_json:
            return
        shown.append(piece)
        sys.stdout.write(piece)
        sys.stdout.flush()

    try:
        outcome = execute(the_plan, request, st.keychain, on_text=show, on_warning=output.warn)
    except ByokError as err:
        if shown:
            _end_line(shown)
        if err.partial:
            err.message += " (the output above is incomplete)" if shown else \
                " (the answer was incomplete)"
        raise
    except KeyboardInterrupt:
        if shown:
            _end_line(shown)
        raise
    if as_json:
        output.emit_json(outcome.to_dict())
    else:
        _end_line(shown)


def _end_line(shown: list[str]) -> None:
    if not "".join(shown[-1:]).endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()


app = typer.Typer(rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
app.command("run")(run)
