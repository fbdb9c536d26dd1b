"""What `byok run` does once its arguments are parsed: read the prompt, resolve, stream the
answer to stdout. No Typer here: the Typer command (`run`) and the fast path (`fast`)
both call `run`."""

from __future__ import annotations

from ..errors import ByokError, Code
from . import streams
from .progress import Waiting
from .state import State


def build_prompt(args: list[str], use_stdin: bool = True) -> str:
    from . import stdin

    joined = " ".join(args).strip()
    piped = stdin.read(bool(joined), use_stdin)
    parts = [p for p in ((piped or "").strip("\n"), joined) if p and p.strip()]
    if not parts:
        raise ByokError(Code.USAGE, "no prompt given",
                        hint='byok run "your question", or pipe text into it')
    return "\n\n".join(parts)


def _print_plan(plan, budget: tuple[list, ByokError | None], as_json: bool, header: bool,
                wide: bool = False) -> None:
    """The plan, then what the budgets make of it (policy.priced_out)."""
    from . import output  # tables: only for --explain

    said, refused = budget
    if as_json:
        output.emit_json({**plan.to_dict(), "budget": {
            "warnings": said, "refused": refused.to_dict() if refused else None}})
        return
    for w in plan.warnings:
        output.warn(w)
    # The key's name may be long (`team-shared-account-2026`): role goes first, then reason.
    output.table(["#", "provider", "model", "key", output.Column("role", drop=1),
                  output.Column("reason", whole=False, drop=2)],
                 [[i + 1, a.provider, a.model, a.key_label, a.role, a.reason]
                  for i, a in enumerate(plan.attempts)], header=header, drop=not wide)
    output.table(["provider", "base URL", "from"],
                 [[p, e.url, e.where] for p, e in plan.endpoints.items()], header=header)
    for line in plan.skipped:
        output.info(line)
    output.info("fallback chain: " + (", ".join(plan.chain) or "(none)"))
    for line in said:
        output.warn(line)
    if refused is not None:
        output.info(f"the run would be refused (exit {refused.code.exit_status}): "
                    f"{refused.one_line()}")


def effort_level(given: str | None) -> str | None:
    return given.strip().lower() if given is not None else None


def run(st: State, *, prompt: list[str] | None, system: str | None, model: str | None,
        provider: str | None, key: str | None, max_tokens: int | None,
        temperature: float | None, effort: str | None, base_url: str | None,
        no_stream: bool, as_json: bool, explain: bool, no_fallback: bool, chain: bool,
        cont: bool, cid: int | None, no_log: bool, no_stdin: bool = False,
        no_header: bool = False, wide: bool = False, cost: bool = False,
        allow_unpriced: bool = False,
        strict: bool = False, schema: str | None = None,
        schema_multi: str | None = None, show_reasoning: bool = False,
        attach: list[str] | None = None) -> None:
    """Send a prompt and stream the answer to stdout (the parameters are `byok run`'s)."""
    from ..routing.ask import AskOptions, ask, find_conversation, make_plan

    streams.require_stdout()  # before anything is sent
    effort = effort_level(effort)
    shape = _schema(schema, schema_multi)
    attach = list(attach or ())
    if "-" in attach and not " ".join(prompt or []).strip():
        raise ByokError(Code.USAGE, "-a - reads the attachment from stdin, so the prompt "
                        "cannot come from stdin too; give it as arguments",
                        hint='byok run -a - "describe this picture" < picture.png')
    attachments = load_attachments(attach)
    if explain:
        the_plan = make_plan(st.keychain, model, provider, not no_fallback, key=key,
                             chain=chain, temperature=temperature, effort=effort,
                             base_url=base_url, schema=shape is not None)
        if attachments:
            from ..catalog.curated import load
            from ..routing.attached import fit

            fit(the_plan, attachments, load(), st.keychain.registry)
        from ..routing.policy import priced_out

        budget = priced_out(the_plan, st.keychain, True if allow_unpriced else None)
        _print_plan(the_plan, budget, as_json, not no_header, wide)
        return
    conversation = find_conversation(st.keychain, cid, cont)
    if cont and conversation is None:
        streams.info(f"note: profile {st.profile!r} has no conversation to continue yet; "
                    "starting a new one")
    text = build_prompt(prompt or [], not no_stdin and "-" not in attach)
    options = AskOptions(model=model, provider=provider, key=key, system=system,
                         max_tokens=max_tokens, temperature=temperature, effort=effort,
                         base_url=base_url, stream=not no_stream, fallback=not no_fallback,
                         chain=chain, log=not no_log,
                         allow_unpriced=True if allow_unpriced else None, strict=strict,
                         schema=shape, attachments=attachments)
    # With a schema, stdout gets the JSON once it is checked, never a part of it.
    printer = streams.Printer(quiet=as_json or shape is not None)
    waiting = Waiting()
    thoughts = streams.ReasoningPrinter()
    try:
        with waiting:
            result = ask(st.keychain, text, options, conversation_id=conversation,
                         on_text=waiting.text(after_reasoning(thoughts, printer)),
                         on_warning=waiting.message(printer.beside(streams.warn)),
                         on_reasoning=waiting.message(thoughts) if show_reasoning else None)
        thoughts.end()
    except ByokError as err:
        thoughts.end()
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
        shown = {**result.outcome.to_dict(), "conversation_id": result.conversation_id}
        if attachments:
            shown["attachments"] = [{"name": a.name, "media_type": a.media_type,
                                     "bytes": len(a.data), "sha256": a.digest}
                                    for a in attachments]
        streams.emit_json(shown)
    elif shape is not None:
        import json

        from ..errors import redact

        printer.quiet = False  # the answer as it is: JSON, one line (an echoed key masked)
        printer(redact(json.dumps(result.outcome.data, ensure_ascii=False)))
        printer.end()
    else:
        printer.end()
    if cost or (streams.stderr_is_tty()
                and st.store.settings(st.profile).get("show_cost") == "on"):
        streams.info(cost_line(result.outcome))


def load_attachments(sources: list[str]) -> list:
    """-a's attachments, read and checked (type, size) before anything is sent. The
    attachment code is imported only when there is one."""
    if not sources:
        return []
    if sources.count("-") > 1:
        raise ByokError(Code.USAGE, "-a - can be given once: stdin holds one attachment")
    from ..attachments import load

    return [load(s) for s in sources]


def after_reasoning(thoughts, printer):
    """The answer's text, once the reasoning before it has ended its line on stderr."""
    def receive(piece: str) -> None:
        thoughts.end()
        printer(piece)
    return receive


def _schema(schema: str | None, multi: str | None) -> dict | None:
    if schema is not None and multi is not None:
        raise ByokError(Code.USAGE, "--schema and --schema-multi cannot be used together")
    if schema is None and multi is None:
        return None
    from ..schema import load

    return load(multi if multi is not None else schema, multi=multi is not None)


def cost_line(outcome) -> str:
    """What one answer cost, for stderr."""
    tokens = f"{outcome.input_tokens or 0} in / {outcome.output_tokens or 0} out tokens"
    where = f"{outcome.provider}/{outcome.model}"
    if outcome.cost_micros is None:
        why = ("the provider reported no token counts" if outcome.input_tokens is None
               else "no price is known for it")
        return f"cost: unknown ({where}: {why})"
    from ..routing.budget import dollars

    return f"cost: {dollars(outcome.cost_micros)} ({where}, {tokens})"
