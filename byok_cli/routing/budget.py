"""Budget policy: periods, worst-case estimates, and the decision to send or refuse.

Periods are calendar periods in UTC, like the providers' own billing: a day starts at 00:00
UTC, a week on Monday 00:00 UTC (ISO weeks), a month on the 1st at 00:00 UTC. UTC also keeps
a period the same for every process and machine, whatever their time zone or daylight saving.

Before a request is sent its worst-case cost is held against every budget that applies:

- input tokens: at most one per byte of the UTF-8 text of the system prompt and messages
  (byte-level BPE tokenizers, as OpenAI's and Anthropic's are, never make more tokens than
  bytes), plus 8 per message and 8 for the reply's priming, and never more than the model's
  context window; an attachment counts at its worst case (`wire.attachments.worst_tokens`:
  6,000 per image, and a PDF the whole context window, so a PDF under a budget needs a
  model whose context window byok knows);
- output tokens: ``--max-tokens``, else the model's maximum output (else its context window,
  else 128,000);
- at the model's price, with the long-prompt tier where the estimate reaches it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import time
from collections.abc import Iterable

from ..errors import ByokError, Code
from ..records import tuple_record
from ..store import Budget, Standing, Store

PERIODS = ("day", "week", "month")
HOLD_SECONDS = 3600.0   # a hold a crashed process left behind stops counting after this
WARN_AT = 0.8
PER_MESSAGE = 8
UNKNOWN_OUTPUT = 128_000
_UTC = dt.timezone.utc


def period_start(period: str, at: float) -> float:
    day = dt.datetime.fromtimestamp(at, _UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        day -= dt.timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return day.timestamp()


def period_end(period: str, at: float) -> float:
    start = dt.datetime.fromtimestamp(period_start(period, at), _UTC)
    if period == "day":
        return (start + dt.timedelta(days=1)).timestamp()
    if period == "week":
        return (start + dt.timedelta(days=7)).timestamp()
    days = calendar.monthrange(start.year, start.month)[1]
    return (start + dt.timedelta(days=days)).timestamp()


def estimate_input_tokens(system: str | None, messages: Iterable[dict]) -> int:
    total, count = len((system or "").encode("utf-8")), 1
    for m in messages:
        total += len(str(m.get("content", "")).encode("utf-8"))
        if m.get("attachments"):
            from ..wire.attachments import worst_tokens

            total += worst_tokens(m["attachments"])
        count += 1
    return total + PER_MESSAGE * (count + 1)


def worst_case(info, system: str | None, messages: list[dict], max_tokens: int | None
               ) -> tuple[int, int]:
    """(input, output) tokens a request can at most be billed for."""
    tokens_in = estimate_input_tokens(system, messages)
    if info.context_window:
        tokens_in = min(tokens_in, info.context_window)
    out = max_tokens or info.max_output or info.context_window or UNKNOWN_OUTPUT
    return tokens_in, out


def applicable(budgets: list[Budget], provider: str, key_name: str | None,
               token_name: str | None = None) -> list[Budget]:
    return [b for b in budgets if b.scope == "profile"
            or (b.scope == "provider" and b.name == provider)
            or (b.scope == "key" and key_name is not None and b.name == key_name)
            or (b.scope == "token" and token_name is not None and b.name == token_name)]


def dollars(micros: int) -> str:
    """Micro-dollars as $1.50, $0.095 or $0.000263: exact, at least two decimals."""
    return "$" + decimal_dollars(micros, ",")


def decimal_dollars(micros: int, thousands: str = "") -> str:
    """Micro-dollars as a bare number (1.50, 0.000263), for scripts: exact."""
    whole, frac = divmod(micros, 1_000_000)
    return f"{whole:{thousands}}.{f'{frac:06d}'.rstrip('0').ljust(2, '0')}"


def resets(period: str, at: float) -> str:
    end = dt.datetime.fromtimestamp(period_end(period, at), _UTC)
    return end.strftime("%Y-%m-%d %H:%M UTC")


def unpriced_hint(syncable: bool = True, gateway: bool = False) -> str:
    """What to do about a model a budget refuses for want of a price. ``syncable``: price
    data may list it (not a gateway's own ids, which none ever will). ``gateway``: said to
    a gateway client, which has neither run's flags nor -m, only the setting and its
    request's model."""
    setting, priced = "`byok config set allow-unpriced on`", "a priced model (`byok models list`)"
    ways = (f"{setting} sends it uncounted; or ask for {priced} in the request" if gateway
            else f"--allow-unpriced (or {setting}) sends it uncounted; or -m {priced}")
    return ("`byok models sync` fetches LiteLLM's current prices; " if syncable
            else "no price data lists this provider's own model ids: ") + ways


UNPRICED_HINT = unpriced_hint()


def price_data_label(home) -> str:
    """Which prices byok has: 'LiteLLM 1.110.2, taken 2026-11-25' or 'synced 2026-12-01'."""
    from ..catalog.prices import load

    data = load(home)
    version = data.source.get("version")
    taken = str(data.source.get("taken", ""))[:10]
    return f"LiteLLM {version}, taken {taken}" if version else f"synced {taken}"


@tuple_record
class Hold:
    id: int | None        # None: nothing was held (an unpriced model allowed through)
    micros: int | None
    warnings: list[str]


def reserve(store: Store, profile: str, budgets: list[Budget], provider: str, model: str,
            key_name: str | None, info, system: str | None, messages: list[dict],
            max_tokens: int | None, allow_unpriced: bool, at: float | None = None,
            syncable: bool = True, token_name: str | None = None) -> Hold | None:
    """Hold the request's worst-case cost against those of the profile's ``budgets`` that
    apply (None if none do), or refuse with BUDGET_EXCEEDED. ``syncable``: the provider
    serves a catalogue, so synced price data may price a model it lacks today.
    ``token_name``: the gateway client token the request came with (a gateway request)."""
    budgets = applicable(budgets, provider, key_name, token_name)
    if not budgets:
        return None
    if info is None or info.price is None:
        return unpriced(store, budgets, provider, model, allow_unpriced, syncable,
                        gateway=token_name is not None)
    at = time.time() if at is None else at
    tokens_in, tokens_out = worst_case(info, system, messages, max_tokens)
    micros = info.price.cost_micros(tokens_in, tokens_out)
    if micros == 0:  # free (a local server): no budget, however spent, has a say
        return Hold(None, 0, [])
    hold, standings = store.reserve(profile, provider, key_name, micros,
                                    [(b, period_start(b.period, at)) for b in budgets],
                                    at, HOLD_SECONDS, token_name)
    if hold is None:
        s = next(s for s in standings if not s.allows(micros))
        raise _exceeded(s, micros, provider, at)
    return Hold(hold, micros, [w for s in standings if (w := _near_limit(s))])


def unpriced(store: Store, budgets: list[Budget], provider: str, model: str,
             allow_unpriced: bool, syncable: bool = True, gateway: bool = False) -> Hold:
    """A model without a price under ``budgets`` (those that apply): let through uncounted,
    with a warning, when ``allow_unpriced``; else refused with BUDGET_EXCEEDED. Nothing is
    held either way. ``gateway``: a gateway client asked (see unpriced_hint)."""
    label = ", ".join(f"{b.label} {b.period}" for b in budgets)
    if allow_unpriced:
        return Hold(None, None, [f"no price is known for {provider}/{model}: the {label} "
                                 "budget cannot count this request"])
    raise _refusal(ByokError(
        Code.BUDGET_EXCEEDED, f"no price is known for {provider}/{model} in byok's price "
        f"data ({price_data_label(store.home)}) and a budget applies ({label}); nothing "
        "was sent", hint=unpriced_hint(syncable, gateway), provider=provider), "model")


def _exceeded(s: Standing, micros: int, provider: str, at: float) -> ByokError:
    b = s.budget
    held = f" (+{dollars(s.held)} held by requests in flight)" if s.held else ""
    return _refusal(ByokError(
        Code.BUDGET_EXCEEDED,
        f"{b.label} budget: {dollars(s.spent)} spent{held} of {dollars(b.limit_micros)} this "
        f"{b.period}; this request may cost up to {dollars(micros)}; resets "
        f"{resets(b.period, at)}; nothing was sent",
        hint="lower --max-tokens, or change the budget with `byok budget set`",
        provider=provider), b.scope)


def _refusal(err: ByokError, scope: str) -> ByokError:
    """``err``, saying what it refuses (resolve.next_attempt: a refused key or model leaves
    the provider's other keys and models to try)."""
    err.budget_scope = scope  # type: ignore[attr-defined]
    return err


def _near_limit(s: Standing) -> str | None:
    used = s.spent + s.held
    if used < WARN_AT * s.budget.limit_micros:
        return None
    return (f"{s.budget.label} budget: {dollars(used)} of {dollars(s.budget.limit_micros)} "
            f"spent this {s.budget.period} ({100 * used // s.budget.limit_micros}%)")
