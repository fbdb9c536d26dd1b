"""Carry out a plan: send the prompt, stream the answer, take the fallbacks the plan allows.

A fallback never happens once text has been handed to ``on_text``, so nothing is shown
twice; a failure after that is reported as incomplete output.

What the way through the plan decides (which key may go where, budgets, cost, which
attempt answers a failure) is the policy's (routing.policy), shared with the gateway.
"""

from __future__ import annotations

import time
from ..records import fresh, record
from collections.abc import Callable

from ..errors import ByokError, Code
from ..secrets.keychain import Keychain
from ..registry import Provider
from .policy import Policy, label
from .resolve import Attempt, Plan
from ..wire import ChatRequest, ChatResult, Settings, connect
from ..wire.endpoint import Endpoint


@record
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
    errors: list[dict] = fresh(list)
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
    tool_calls: list[str] = fresh(list)  # tools the model called (none offered)
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


def execute(plan: Plan, request: ChatRequest, keychain: Keychain, *,
            on_text: Callable[[str], None] = lambda s: None,
            on_warning: Callable[[str], None] = lambda s: None,
            settings: Settings | None = None, allow_unpriced: bool | None = None,
            on_reasoning: Callable[[str], None] | None = None) -> RunOutcome:
    """Carry out ``plan``. ``allow_unpriced``: send to a model of unknown price even when a
    budget applies (None: the profile's `allow-unpriced` setting)."""
    settings = settings or Settings.from_env()
    policy = Policy(plan, keychain, on_warning=on_warning, allow_unpriced=allow_unpriced)
    clock: dict = {}  # starts when the first request goes out, not at SDK import
    while True:
        a = policy.attempt
        try:
            return _attempt(a, request, policy, settings, clock, on_text, on_reasoning)
        except ByokError as err:
            if err.partial:  # the answer broke off after output started: exit 15, whatever
                err.code = Code.INCOMPLETE_OUTPUT  # broke it (the message says what did)
                raise policy.tagged(err)
            if policy.failed(err) is None:
                raise policy.tagged(policy.final_error()) from None
        except KeyboardInterrupt as stop:
            raise policy.tagged(stop)


def _attempt(a: Attempt, request: ChatRequest, policy: Policy, settings: Settings,
             clock: dict, on_text: Callable[[str], None],
             on_reasoning: Callable[[str], None] | None = None) -> RunOutcome:
    where = policy.where(a)
    result = ChatResult(on_reasoning=on_reasoning)
    key = policy.key(a)
    hold = policy.hold(a, request.system, request.messages, request.max_tokens)
    try:
        outcome = _send(a, policy.keychain.registry.require(a.provider), request, key, where,
                        settings, clock, policy, on_text, result)
    except BaseException:
        policy.release(hold)
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
        policy.spending.on_warning(
            f"{a.provider} reported implausible token counts ({', '.join(result.implausible)}"
            "): this answer's tokens and cost are recorded as unknown")
    if outcome.input_tokens is not None and outcome.output_tokens is not None:
        outcome.input_tokens, outcome.output_tokens, outcome.cached_input_tokens = \
            policy.bounded(a, outcome.input_tokens, outcome.output_tokens,
                           outcome.cached_input_tokens, request.max_tokens)
        outcome.cost_micros = policy.cost(a, outcome.input_tokens, outcome.output_tokens,
                                          outcome.cached_input_tokens,
                                          cache_write=outcome.cache_write_tokens)
    return outcome


def _send(a: Attempt, provider: Provider, request: ChatRequest, key: str | None,
          where: Endpoint, settings: Settings, clock: dict, policy: Policy,
          on_text: Callable[[str], None], result: ChatResult) -> RunOutcome:
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
    return RunOutcome(result.text, a.provider, a.model, a.key_source, a.key_name,
                      policy.fallbacks,
                      result.input_tokens, result.output_tokens,
                      int((end - start) * 1000),
                      int((first_at - start) * 1000) if first_at else None,
                      errors=[{"attempt": label(f), "code": e.code.value}
                              for f, e in policy.failures],
                      base_url=where.url, base_url_source=where.source)
