"""Ask a question within a conversation: resolve, send with fallbacks, log usage and history.

This is what `byok run` and `byok chat` are built on, and what scripts can call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..catalog.curated import load
from ..errors import ByokError, Code, looks_like_key, redact
from ..redacting import RedactingStream
from ..inputs import text
from ..records import fresh, record
from ..secrets.keychain import Keychain
from .addressing import check_typo, resolve
from .keys import KeyAvailability, key_availability
from .resolve import Attempt, Plan, no_key, plan
from .runner import RunOutcome, execute
from ..wire.errors import clean
from ..store import Message, UsageRow
from ..wire import ChatRequest
from ..wire.endpoint import endpoint


@record
class AskOptions:
    model: str | None = None       # -m: an id, an alias, or provider/model
    provider: str | None = None    # -p
    key: str | None = None         # -k: a stored key's name, or the environment variable's
    system: str | None = None      # None: keep the conversation's system prompt
    max_tokens: int | None = None
    temperature: float | None = None
    effort: str | None = None      # the API's effort / reasoning level (see the catalogue)
    base_url: str | None = None    # --base-url: for the first attempt's provider
    stream: bool = True
    fallback: bool = True          # False: --no-fallback (no model or provider fallback)
    chain: bool = False            # --fallback: use the chain even with -p or -m
    log: bool = True               # store prompt and answer (usage figures are kept anyway)
    allow_unpriced: bool | None = None  # send at unknown price under a budget (None: setting)
    strict: bool = False           # a cut-off answer (the token limit) is an error
    schema: dict | None = None     # --schema: the answer must be JSON that this JSON Schema fits
    attachments: list = fresh(list)  # -a: wire.attachments.Attachment, in order


@record
class AskResult:
    outcome: RunOutcome
    conversation_id: int | None
    warnings: list[str] = fresh(list)


def make_plan(keychain: Keychain, model: str | None = None, provider: str | None = None,
              fallback: bool = True, *, key: str | None = None, chain: bool = False,
              pin: bool = True, temperature: float | None = None,
              effort: str | None = None, base_url: str | None = None,
              schema: bool = False) -> Plan:
    """The ordered attempts for this profile's settings, keys and environment, and the
    base URL each provider's requests go to (``base_url``, from --base-url, is for the
    first attempt's provider)."""
    settings = keychain.store.settings(keychain.profile)
    registry = keychain.registry
    keys = key_availability(keychain)

    def planned(keys: KeyAvailability) -> Plan:
        return plan(settings, keys, load(), registry, model=model, provider=provider, key=key,
                    fallback=fallback, chain=chain, pin=pin, temperature=temperature,
                    effort=effort, schema=schema, listed=synced_ids(keychain))

    if base_url:  # the person's own URL replaces the profile's for the provider it is for
        preferred = settings.get("preferred_provider") if settings.get(
            "preferred_provider") in registry else None
        named = provider or (resolve(model, load(), registry, preferred=preferred).provider
                             if model else None) or preferred
        if named is None and keys.refused:  # ("environment"): the provider planned first
            try:
                named = planned(keys._replace(refused={})).attempts[0].provider
            except ByokError:
                pass
        keys = keys._replace(refused={p: why for p, why in keys.refused.items() if p != named})
    the_plan = planned(keys)
    first = the_plan.attempts[0].provider
    for p in dict.fromkeys(a.provider for a in the_plan.attempts):
        found = endpoint(registry.require(p), flag=base_url if p == first else None,
                         profile=settings["base_urls"].get(p))
        the_plan.endpoints[p] = found
        if found.note:
            the_plan.warnings.append(found.note)
    return the_plan


def synced_ids(keychain: Keychain) -> Callable[[str], set[str]]:
    """A provider's model ids from the lists `models list --remote` cached, read when asked
    (only a name that looks like a typo asks: `run`'s common path loads no model_lists)."""
    def listed(provider: str) -> set[str]:
        from ..catalog.model_lists import listed_ids

        return listed_ids(keychain.store.cached_model_lists(provider))

    return listed


def typo(keychain: Keychain, provider: str, model: str | None) -> ByokError | None:
    """Why ``model``, sent to ``provider`` as a client chose it, is most likely a typo of a
    catalogue id (see addressing.check_typo), or None. The gateway asks when a budget
    refuses the id as unpriced: "unknown model" is the truer answer then."""
    if not model:
        return None
    registry = keychain.registry
    try:
        target = resolve(model, load(), registry, provider=provider)
        check_typo(model, target, load(), registry, synced_ids(keychain))
    except ByokError as err:
        return err if err.code == Code.MODEL_NOT_FOUND else None
    return None


def provider_plan(keychain: Keychain, provider: str, model: str | None = None) -> Plan:
    """The attempts for a request whose provider and model its sender chose (the gateway):
    the provider's keys in the order `run` tries them (fallback 1, then 2), and no model or
    provider fallback, since the request is the sender's own."""
    settings = keychain.store.settings(keychain.profile)
    keys = key_availability(keychain, provider)
    found = keys.sources(provider, settings)
    if not found:  # as `run` says it: a stored key under preferred-provider system, too
        system_only = (settings.get("preferred_provider") or "system") == "system"
        raise no_key(provider, system_only, keys, keychain.registry, False)
    return Plan([Attempt(provider, model or "", s.source, s.hint, "the gateway's request",
                         "primary" if i == 0 else "key_fallback", s.name)
                 for i, s in enumerate(found)])


def find_conversation(keychain: Keychain, cid: int | None, latest: bool) -> int | None:
    if cid is not None and latest:  # two answers to one question: refuse to guess
        raise ByokError(Code.USAGE, "-c/--continue and --cid cannot be used together",
                        hint="--cid ID continues that conversation; -c the latest")
    if cid is not None:
        if keychain.store.conversation(keychain.profile, cid) is None:
            raise ByokError(Code.USAGE, f"there is no conversation {cid} in profile "
                            f"{keychain.profile!r}", hint="see `byok history list`")
        return cid
    if latest:  # None when there is none yet: the caller starts a new one
        return keychain.store.latest_conversation_id(keychain.profile)
    return None


def plan_for(keychain: Keychain, options: AskOptions, history: list[Message]) -> Plan:
    """The plan for the next turn: the options' model and provider, else the model the
    conversation last used (unpinned: the chain may move on from it)."""
    model, provider, pin = options.model, options.provider, True
    if not model and not provider:
        last = [m for m in history if m.role == "assistant" and m.model
                and m.provider in keychain.registry]
        if last:
            model, provider, pin = last[-1].model, last[-1].provider, False
    return make_plan(keychain, model, provider, options.fallback, key=options.key,
                     chain=options.chain, pin=pin, temperature=options.temperature,
                     effort=options.effort, base_url=options.base_url,
                     schema=options.schema is not None)


def ask(keychain: Keychain, prompt: str, options: AskOptions | None = None, *,
        conversation_id: int | None = None, history: list[Message] | None = None,
        on_text: Callable[[str], None] = lambda s: None,
        on_warning: Callable[[str], None] = lambda s: None,
        on_note: Callable[[str], None] | None = None,
        on_reasoning: Callable[[str], None] | None = None) -> AskResult:
    """Send ``prompt`` (after the conversation's earlier messages, if any) and return the
    answer. ``history`` gives those messages directly (an unlogged chat keeps them in
    memory); otherwise they are read from conversation ``conversation_id``. ``on_note``
    hears the plan's notes on the configuration (a base URL trimmed of /v1), which are the
    same every turn; by default ``on_warning`` does.

    Raises ByokError with the design's codes; the usage log gets a row either way.
    """
    options = options or AskOptions()
    text(prompt, "the prompt")
    text(options.system, "the system prompt")
    store, profile = keychain.store, keychain.profile
    stored = store.conversation(profile, conversation_id) if conversation_id else None
    if history is None:
        history = stored.messages if stored else []
    the_plan = plan_for(keychain, options, history)
    turns = _turns(history, on_warning)
    attachments = list(options.attachments) + [a for t in turns for a in t.get(
        "attachments", ())]
    if attachments:
        from .attached import fit

        fit(the_plan, attachments, load(), keychain.registry)
    for warning in the_plan.warnings:
        (on_note or on_warning)(warning)
    stored_system = stored.system if stored else None
    system = options.system if options.system is not None else stored_system
    asked = {"role": "user", "content": prompt}
    if options.attachments:
        asked["attachments"] = list(options.attachments)
    request = ChatRequest(model="", messages=turns + [asked],
                          system=system, max_tokens=options.max_tokens,
                          temperature=options.temperature, effort=options.effort,
                          stream=options.stream, schema=options.schema)
    logged = options.log and store.settings(profile)["logging"] == "on"
    if logged and looks_like_key(prompt):
        on_warning("the prompt contains what looks like an API key; it is sent, and kept in "
                   "the history (use --no-log to keep a prompt out of it)")
    if logged and system and system != stored_system \
            and looks_like_key(system):  # said once, when it is set, not every turn
        on_warning("the system prompt contains what looks like an API key; it is sent, and "
                   "kept in the history (use --no-log to keep it out)")
    started = time.time()
    # A key the answer echoes (split across events or not) is masked before it is shown,
    # and before the answer is kept in the history.
    shown, thinking, flush_text = _masked_streams(on_text, on_reasoning)
    later: list[str] = []  # warnings said while answer text is held back: after that text

    def warn(said: str) -> None:
        (later.append if shown.held else on_warning)(said)

    def flush() -> None:
        flush_text()
        for said in later:
            on_warning(said)
        later.clear()

    try:
        outcome = execute(the_plan, request, keychain, on_text=shown, on_warning=warn,
                          allow_unpriced=options.allow_unpriced, on_reasoning=thinking)
    except ByokError as err:
        flush()
        _log_failure(keychain, started, err.code.value, err)
        raise
    except KeyboardInterrupt as stop:
        flush()
        _log_failure(keychain, started, Code.INTERRUPTED.value, stop)
        raise
    flush()
    verdict = answer_verdict(outcome, options.strict) or fits_schema(outcome, options.schema)
    try:  # bookkeeping only: the answer stands
        if outcome.key_source == "stored":  # a success clears an earlier failed mark
            keychain.mark_used(outcome.provider, outcome.key_name or "default")
        code = verdict.code.value if verdict and verdict.code != Code.TRUNCATED else "OK"
        store.record_usage(UsageRow(
            started, profile, outcome.provider, outcome.model, outcome.key_source,
            ",".join(f["kind"] for f in outcome.fallbacks), outcome.input_tokens,
            outcome.output_tokens, outcome.ttft_ms, outcome.latency_ms, code,
            outcome.cached_input_tokens, outcome.cost_micros, outcome.key_name,
            outcome.stop_reason, outcome.cache_write_tokens, outcome.reasoning_tokens),
            hold_id=outcome.hold_id)
    except ByokError as err:
        on_warning(f"this request is missing from the usage log: {err.message}")
    if outcome.stop_reason == "length":
        on_warning(f"the answer was cut off at the token limit ({outcome.provider} "
                   f"{outcome.provider_stop_reason or 'length'})"
                   + ("" if options.strict else "; raise --max-tokens, or add --strict to "
                      "make this an error"))
    elif outcome.tool_calls and outcome.text.strip() and verdict is None:
        on_warning("the model also asked to call " + _tools(outcome.tool_calls)
                   + ", which byok does not offer; it was not called")
    if verdict is not None and verdict.code not in _KEPT:
        verdict.outcome = outcome  # type: ignore[attr-defined]
        raise verdict  # nothing worth a history was said
    exchange = [Message("user", prompt, attachments=tuple(options.attachments)),
                Message("assistant", redact(outcome.text), outcome.provider, outcome.model)]
    history.extend(exchange)  # a caller's in-memory transcript grows, saved or not
    cid = conversation_id
    if logged:
        try:
            cid = store.append_exchange(profile, conversation_id, system, exchange)
            for name in store.unkept_attachments:
                on_warning(f"attachment {name} is not kept in the history (its store of "
                           "attachments is full: delete old conversations); -c will not "
                           "send it again")
        except ByokError as err:  # the person asked for a history: say it is not kept
            err.message = f"the answer was not saved in the history: {err.message}"
            raise
    if verdict is not None:  # a cut-off or misshapen answer is kept, and is an error
        verdict.outcome = outcome  # type: ignore[attr-defined]
        raise verdict
    return AskResult(outcome, cid, the_plan.warnings)


def _masked_streams(on_text: Callable[[str], None],
                    on_reasoning: Callable[[str], None] | None):
    """The answer's and the reasoning's pieces, masked however they are cut (held back only
    while a key could still be forming); what the reasoning holds back comes out before the
    answer's first text. Returns both receivers and the flush for when the answer ends."""
    thinking = RedactingStream(on_reasoning) if on_reasoning is not None else None

    def answer(piece: str) -> None:
        if thinking is not None:
            thinking.end()
        on_text(piece)

    shown = RedactingStream(answer)

    def flush() -> None:
        if thinking is not None:
            thinking.end()
        shown.end()

    return shown, thinking, flush


def _turns(history: list[Message], on_warning: Callable[[str], None]) -> list[dict]:
    """The earlier messages as request turns, with the attachments each user turn had."""
    turns = []
    for m in history:
        turn: dict = {"role": m.role, "content": m.content}
        if m.attachments:
            turn["attachments"] = _attachments(m.attachments, on_warning)
        turns.append(turn)
    return turns


def _attachments(kept: tuple, on_warning: Callable[[str], None]) -> list:
    """A turn's attachments as the wire sends them (those from the store are made again
    from their bytes; one whose bytes were not kept is left out, with a warning)."""
    from ..wire.attachments import Attachment

    out = []
    for a in kept:
        if isinstance(a, Attachment):
            out.append(a)
        elif a.data is None:
            on_warning(f"attachment {a.name} of this conversation was not kept; it is not "
                       "sent again")
        else:
            out.append(Attachment(a.media_type, a.data, a.name))
    return out


# Answers that are errors but still answers: kept in the history (a cut-off one under
# --strict, one that does not fit --schema), where `-c` can ask for the rest or a fix.
_KEPT = (Code.TRUNCATED, Code.SCHEMA_MISMATCH)


def answer_verdict(outcome: RunOutcome, strict: bool = False) -> ByokError | None:
    """The error an answer is, though the request succeeded: a refusal, a content filter, an
    answer that is only a tool call (byok offers no tools), or (``strict``) a cut-off one."""
    who = f"{outcome.provider} {outcome.served_model or outcome.model}"
    said = clean(outcome.refusal or (outcome.text if outcome.stop_reason == "refusal" else ""))
    if outcome.stop_reason == "refusal" or outcome.refusal:
        return ByokError(Code.REFUSED, f"{who} refused to answer" + (f": {said}" if said
                         else ""), hint="rephrase the request, or try another model",
                         provider=outcome.provider)
    if outcome.stop_reason == "content_filter":
        return ByokError(Code.REFUSED, f"{who}'s content filter stopped the answer"
                         + (" part-way" if outcome.text.strip() else ""),
                         hint="rephrase the request, or try another model",
                         provider=outcome.provider)
    if not outcome.text.strip() and (outcome.tool_calls or outcome.stop_reason == "tool_call"):
        called = _tools(outcome.tool_calls) if outcome.tool_calls else "a tool"
        return ByokError(Code.UNEXPECTED_TOOL_CALL, f"{who} answered only by asking to call "
                         f"{called}; byok offers no tools, so there is no answer",
                         hint="a gateway or server may be adding tools to the request",
                         provider=outcome.provider)
    if strict and outcome.stop_reason == "length":
        return ByokError(Code.TRUNCATED, f"{who}'s answer was cut off at the token limit",
                         hint="raise --max-tokens", provider=outcome.provider)
    return None


def fits_schema(outcome: RunOutcome, schema: dict | None) -> ByokError | None:
    """With --schema: the answer's JSON in ``outcome.data``, or the error naming the first
    way it is not JSON or breaks the schema."""
    if schema is None:
        return None
    from ..schema import first_violation, parse_answer

    try:
        outcome.data = parse_answer(outcome.text)
    except ByokError as err:
        err.provider = outcome.provider
        return err
    why = first_violation(outcome.data, schema)
    if why is None:
        return None
    return ByokError(Code.SCHEMA_MISMATCH, f"the answer does not fit the schema: {why}",
                     hint="try again, or a model that supports structured output strictly",
                     provider=outcome.provider, retryable=False)


def _tools(names: list[str]) -> str:
    shown = ", ".join(repr(clean(n, 60)) for n in dict.fromkeys(names))
    return ("the tool " if len(set(names)) == 1 else "the tools ") + shown


def _log_failure(keychain: Keychain, started: float, code: str, exc: BaseException) -> None:
    attempt = getattr(exc, "attempt", None)
    if attempt is None or code == Code.BUDGET_EXCEEDED.value:
        return  # nothing was sent
    try:
        keychain.store.record_usage(UsageRow(
            started, keychain.profile, attempt["provider"], attempt["model"],
            attempt["key_source"], ",".join(f["kind"] for f in getattr(exc, "fallbacks", [])),
            None, None, None, int((time.time() - started) * 1000), code,
            key_name=attempt["key_name"]))
    except ByokError:
        pass  # the original failure is what the person needs to see
