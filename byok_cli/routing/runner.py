"""Carry out a plan: send the prompt, stream the answer, take the fallbacks the plan allows.

A fallback never happens once text has been handed to ``on_text``, so nothing is shown
twice; a failure after that is reported as incomplete output.

An endpoint that is not a key's own (routes.is_own) receives at most one key per run: a
rejection there moves on only to a key whose own endpoint it is, and marks no key failed
(a hostile or broken gateway answering 401 would otherwise collect every key, and condemn
them all).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import ByokError, Code
from ..secrets.keychain import PROVIDER_VERDICT, Keychain
from ..registry import Provider
from .resolve import KEY_REJECTED, KEY_UNREADABLE, Attempt, Excluded, Plan, next_attempt
from .routes import is_own, require
from ..wire import ChatRequest, ChatResult, Settings, connect
from ..wire.endpoint import Endpoint, endpoint

_KIND = {Code.UNAUTHORIZED: "key_rejected", Code.QUOTA_EXCEEDED: "key_rejected",
         Code.DECRYPT_FAILED: "key_unreadable", Code.KEYRING_UNAVAILABLE: "key_unreadable",
         Code.MODEL_NOT_FOUND: "model_not_found",
         Code.PROVIDER_UNAVAILABLE: "provider_unavailable",
         Code.NETWORK_ERROR: "provider_unavailable", Code.LIMIT_EXCEEDED: "provider_unavailable",
         Code.BUDGET_EXCEEDED: "budget_exceeded"}


@dataclass
class RunOutcome:
    text: str
    provider: str
    model: str
    key_source: str
    key_name: str | None
    fallbacks: list[dict]
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int
    ttft_ms: int | None
    errors: list[dict] = field(default_factory=list)
    base_url: str | None = None
    base_url_source: str | None = None  # flag | environment | profile | default | provider
    cached_input_tokens: int | None = None   # of input_tokens: read from a prompt cache
    cache_write_tokens: int | None = None    # of input_tokens: written to a prompt cache
    reasoning_tokens: int | None = None      # of output_tokens: spent reasoning
    cost_micros: int | None = None   # at the price in force now; None when not known
    hold_id: int | None = None       # the budget reservation the actual cost replaces
    stop_reason: str | None = None   # why the answer ended (wire.STOP_REASONS)
    provider_stop_reason: str | None = None  # the provider's own word for it
    served_model: str | None = None  # the model the provider says answered
    refusal: str = ""                # a refusal given apart from the text (OpenAI's field)
    tool_calls: list[str] = field(default_factory=list)  # tools the model called (none offered)
    data: object = None              # with --schema: the answer's JSON value
    reasoning: str = ""              # the reasoning or thinking the provider sent along

    def to_dict(self) -> dict:
        return {"text": self.text, "provider": self.provider, "model": self.model,
                "key_source": self.key_source, "key_name": self.key_name,
                "fallbacks": self.fallbacks,
                "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                          "cached_input_tokens": self.cached_input_tokens,
                          "cache_write_tokens": self.cache_write_tokens,
                          "reasoning_tokens": self.reasoning_tokens},
                "cost_usd": None if self.cost_micros is None else self.cost_micros / 1_000_000,
                "latency_ms": self.latency_ms, "ttft_ms": self.ttft_ms,
                "base_url": self.base_url, "base_url_source": self.base_url_source,
                "stop_reason": self.stop_reason,
                "provider_stop_reason": self.provider_stop_reason,
                "served_model": self.served_model,
                **({"data": self.data} if self.data is not None else {}),
                **({"reasoning": self.reasoning} if self.reasoning else {})}


@dataclass
class Spending:
    """What the runner needs to hold budget room and price the answer."""

    budgets: list          # the profile's budgets (store.Budget)
    allow_unpriced: bool = False
    on_warning: Callable[[str], None] = lambda s: None


def _key_for(keychain: Keychain, a: Attempt) -> str | None:
    if a.key_source == "none":
        return None  # a provider that needs no key is sent none
    key = keychain.key(a.provider, a.key_source, a.key_name)
    if not key:
        raise ByokError(Code.NO_KEY, f"the {a.key_label} disappeared", provider=a.provider)
    return key


def execute(plan: Plan, request: ChatRequest, keychain: Keychain, *,
            on_text: Callable[[str], None] = lambda s: None,
            on_warning: Callable[[str], None] = lambda s: None,
            settings: Settings | None = None, allow_unpriced: bool | None = None,
            on_reasoning: Callable[[str], None] | None = None) -> RunOutcome:
    """Carry out ``plan``. ``allow_unpriced``: send to a model of unknown price even when a
    budget applies (None: the profile's `allow-unpriced` setting)."""
    settings = settings or Settings.from_env()
    profile_settings = keychain.store.settings(keychain.profile)
    if allow_unpriced is None:
        allow_unpriced = profile_settings.get("allow_unpriced") == "on"
    spending = Spending(keychain.store.budgets(keychain.profile), allow_unpriced, on_warning)
    fallbacks = list(plan.fallbacks)
    excluded = Excluded()
    failures: list[tuple[Attempt, ByokError]] = []
    clock: dict = {}  # starts when the first request goes out, not at SDK import
    foreign: dict[str, tuple] = {}  # URL -> the one key sent there, where it is not its own
    held_back: list[Attempt] = []   # keys not sent because another went there first

    def where_of(a: Attempt) -> Endpoint:
        return plan.endpoints.get(a.provider) or endpoint(
            keychain.registry.require(a.provider),
            profile=profile_settings["base_urls"].get(a.provider))

    def allowed(b: Attempt) -> bool:
        there = where_of(b)
        if is_own(there, b.key_source, b.key_name, keychain):
            return True
        first = foreign.get(there.url)
        if first is None or first == (b.key_source, b.key_name):
            return True
        held_back.append(b)
        return False

    index: int | None = 0
    while index is not None:
        a = plan.attempts[index]
        where = where_of(a)
        own = is_own(where, a.key_source, a.key_name, keychain)
        try:
            # (planning left such keys out; this is the last gate)
            require(where, a.key_source, profile_settings, keychain.registry)
            if not own and a.key_source != "none":
                foreign.setdefault(where.url, (a.key_source, a.key_name))
            return _attempt(a, request, keychain, where, settings, clock, fallbacks,
                            failures, on_text, spending, on_reasoning)
        except ByokError as err:
            if err.partial:  # the answer broke off after output started: exit 15, whatever
                err.code = Code.INCOMPLETE_OUTPUT  # broke it (the message says what did)
                raise _tagged(err, a, fallbacks)
            failures.append((a, err))
            if a.key_source == "stored" and err.code in PROVIDER_VERDICT and own:
                # Only the provider's verdict marks a key, at the key's own endpoint: a key
                # that cannot be opened here (the master key in the environment is another)
                # may be fine, and so may one another endpoint refused.
                try:
                    keychain.mark(a.provider, a.key_name or "default",
                                  f"failed: {err.code.value}")
                except ByokError as unmarked:  # a read-only or full database: go on anyway
                    on_warning(f"could not mark the stored key failed: {unmarked.message}")
            nxt = next_attempt(plan.attempts, index, err.code, excluded,
                               getattr(err, "budget_scope", None), allowed)
            if nxt is None:
                final = _final_error(failures)
                if held_back and not own:
                    final = _one_key_only(final, a, where, held_back)
                raise _tagged(final, a, fallbacks) from None
            b = plan.attempts[nxt]
            fallbacks.append({"kind": _KIND.get(err.code, err.code.value.lower()),
                              "code": err.code.value, "from": _label(a), "to": _label(b)})
            on_warning(f"{err.message}; trying {b.provider} {b.model} with the {b.key_label}")
            index = nxt
        except KeyboardInterrupt as stop:
            raise _tagged(stop, a, fallbacks)
    raise AssertionError("unreachable")


def _attempt(a: Attempt, request: ChatRequest, keychain: Keychain, where: Endpoint,
             settings: Settings, clock: dict, fallbacks: list[dict],
             failures: list[tuple[Attempt, ByokError]],
             on_text: Callable[[str], None], spending: Spending,
             on_reasoning: Callable[[str], None] | None = None) -> RunOutcome:
    result = ChatResult(on_reasoning=on_reasoning)
    key = _key_for(keychain, a)
    hold = _hold(a, request, keychain, spending)
    try:
        outcome = _send(a, keychain.registry.require(a.provider), request, key, where,
                        settings, clock, fallbacks, failures, on_text, result)
    except BaseException:
        if hold is not None:
            keychain.store.release_hold(hold)
        raise
    outcome.hold_id = hold
    outcome.cached_input_tokens = result.cached_input_tokens
    outcome.cache_write_tokens = result.cache_write_tokens
    outcome.reasoning_tokens = result.reasoning_tokens
    outcome.reasoning = "".join(result.reasoning_parts)
    # A stream that ended complete without saying why (some gateways): an ordinary end.
    outcome.stop_reason = result.stop_reason or "end"
    outcome.provider_stop_reason = result.finish_reason
    outcome.served_model = result.served_model
    outcome.refusal, outcome.tool_calls = result.refusal, list(result.tool_calls)
    if result.implausible:
        spending.on_warning(f"{a.provider} reported implausible token counts "
                            f"({', '.join(result.implausible)}): this answer's tokens and cost "
                            "are recorded as unknown")
    if outcome.input_tokens is not None and outcome.output_tokens is not None:
        info = _model_info(keychain, a)
        _bound_usage(outcome, request, info, spending.on_warning)
        if info is not None and info.price is not None:
            outcome.cost_micros = info.price.cost_micros(
                outcome.input_tokens, outcome.output_tokens, outcome.cached_input_tokens or 0,
                outcome.cache_write_tokens or 0)
    return outcome


def _bound_usage(outcome: RunOutcome, request: ChatRequest, info,
                 on_warning: Callable[[str], None]) -> None:
    """Book no more tokens than the request allowed: output up to its max_tokens (else the
    model's output limit), input up to the context window. A provider (or a gateway) that
    reports more cannot make a budget pay for it: the count is booked at the bound, with a
    warning."""
    out_bound = request.max_tokens or (info.max_output if info else None)
    in_bound = info.context_window if info else None
    for count, bound, what in (("output_tokens", out_bound, "max_tokens"),
                               ("input_tokens", in_bound, "the context window")):
        reported = getattr(outcome, count)
        if bound and reported is not None and reported > bound:
            setattr(outcome, count, bound)
            on_warning(f"{outcome.provider} reported {reported} {count.replace('_', ' ')}, "
                       f"more than {what} allows ({bound}); booked at {bound}")
    if outcome.cached_input_tokens and outcome.input_tokens is not None:
        outcome.cached_input_tokens = min(outcome.cached_input_tokens, outcome.input_tokens)


def _model_info(keychain: Keychain, a: Attempt):
    from ..catalog.prices import load, model_info

    record = keychain.registry.require(a.provider)
    return model_info(load(keychain.store.home), record, a.model,
                      keyless=a.key_source == "none")


def _hold(a: Attempt, request: ChatRequest, keychain: Keychain, spending: Spending
          ) -> int | None:
    """Reserve the attempt's worst-case cost under the budgets that apply (BUDGET_EXCEEDED
    if one does not allow it); the hold's id, or None when nothing was held."""
    if not spending.budgets:
        return None
    from .budget import reserve

    held = reserve(keychain.store, keychain.profile, spending.budgets, a.provider, a.model,
                   a.key_name, _model_info(keychain, a), request.system,
                   request.messages, request.max_tokens, spending.allow_unpriced,
                   syncable=bool(keychain.registry.require(a.provider).catalog))
    if held is None:
        return None
    for warning in held.warnings:
        spending.on_warning(warning)
    return held.id


def _send(a: Attempt, provider: Provider, request: ChatRequest, key: str | None,
          where: Endpoint, settings: Settings, clock: dict, fallbacks: list[dict],
          failures: list[tuple[Attempt, ByokError]], on_text: Callable[[str], None],
          result: ChatResult) -> RunOutcome:
    first_at: float | None = None
    client = connect(provider, key, where.url, settings)
    req = ChatRequest(a.model, request.messages, request.system, request.max_tokens,
                      request.temperature, request.effort, request.stream, request.schema)
    start = clock.setdefault("start", time.monotonic())
    try:
        for piece in client.chat(req, result):
            if first_at is None:
                first_at = time.monotonic()
            on_text(piece)
    except ByokError as err:
        err.partial = err.partial or first_at is not None
        raise
    end = time.monotonic()
    return RunOutcome(result.text, a.provider, a.model, a.key_source, a.key_name, fallbacks,
                      result.input_tokens, result.output_tokens,
                      int((end - start) * 1000),
                      int((first_at - start) * 1000) if first_at else None,
                      errors=[{"attempt": _label(f), "code": e.code.value} for f, e in failures],
                      base_url=where.url, base_url_source=where.source)


def _tagged(exc: BaseException, a: Attempt, fallbacks: list[dict]) -> BaseException:
    """Say which attempt failed and which fallbacks came before, for the usage log."""
    exc.attempt = _label(a)  # type: ignore[attr-defined]
    exc.fallbacks = list(fallbacks)  # type: ignore[attr-defined]
    return exc


def _label(a: Attempt) -> dict:
    return {"provider": a.provider, "model": a.model, "key_source": a.key_source,
            "key_name": a.key_name}


def _final_error(failures: list[tuple[Attempt, ByokError]]) -> ByokError:
    last_attempt, last = failures[-1]
    p = last_attempt.provider
    mine = [(a, e) for a, e in failures if a.provider == p]
    rejected = [a for a, e in mine if e.code in PROVIDER_VERDICT]
    if last.code in KEY_REJECTED and len(mine) > 1 and all(
            e.code in KEY_REJECTED | KEY_UNREADABLE for _, e in mine):
        # Only the provider's verdict says a key is bad; a key this process could not open
        # (another master key, a locked keyring) is fine, and its own error says why.
        unopened = [e for _, e in mine if e.code not in PROVIDER_VERDICT]
        if not rejected:
            return unopened[-1]
        tried = _names([a.key_label.split(" (")[0] for a in rejected])
        if unopened:
            # the master key is what to fix first: it may open a key that works
            return ByokError(unopened[-1].code, f"{p} rejected {tried}; and "
                             f"{unopened[-1].message}", hint=unopened[-1].hint, provider=p)
        return ByokError(last.code, f"{p} rejected every key tried: {tried}",
                         hint=f"store a valid key with `byok key set {p}` or fix the "
                              "environment's", provider=p)
    if len(failures) > 1:
        tried = ", ".join(f"{a.provider}/{a.model} ({e.code.value})" for a, e in failures[:-1])
        last.hint = (last.hint + "; " if last.hint else "") + f"also tried {tried}"
    return last


def _one_key_only(err: ByokError, a: Attempt, where: Endpoint,
                  held_back: list[Attempt]) -> ByokError:
    """The run ends at an endpoint that is no key's own: say which key was tried there, and
    how to send another."""
    from ..urls import shown

    others = _names([b.key_label for b in dict.fromkeys(held_back)])
    named = a.key_name if a.key_source == "stored" else None
    err.hint = (f"{shown(where.url)} ({where.where}) is not the own endpoint of the "
                f"{a.key_label}, so byok sent it that key only, not {others}; pick one with "
                f"-k NAME, or store a key for it with `byok key set {a.provider} --name NAME "
                f"--base-url {shown(where.url)}`")
    if named is not None:
        err.hint += f" (-k {named} was tried)"
    return err


def _names(items: list[str]) -> str:
    unique = list(dict.fromkeys(items))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]
