"""`byok budget set | list | rm`: spending limits per day, week or month (UTC)."""

from __future__ import annotations

import time
from typing import Optional

import typer

from ..errors import ByokError, Code
from . import complete, output
from .root import group, state

app = group("Cap what the profile, a provider or a key spends per day, week or month (UTC).")

PER_HELP = "day, week or month (calendar periods in UTC)"


def parse_usd(text: str) -> int:
    """'5', '$0.50', '12.345678' -> micro-dollars; more than six decimals, zero, negative or
    not a number are refused."""
    from decimal import Decimal, InvalidOperation

    cleaned = text.strip().removeprefix("$").replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise ByokError(Code.USAGE, f"{text!r} is not a positive amount of US dollars",
                        hint="e.g. 5 or 0.50")
    micros = amount * 1_000_000
    if micros != micros.to_integral_value() or micros > 10 ** 15:
        raise ByokError(Code.USAGE, f"{text!r}: at most six decimals and a billion dollars")
    return int(micros)


def _scope(st, key: str | None, provider: str | None) -> tuple[str, str]:
    if key and provider:
        raise ByokError(Code.USAGE, "give --key or --provider, not both")
    if key is not None:
        # A key is named as usage rows name it: a stored key's name (of whichever provider),
        # or an environment key's variable.
        name = key.strip()
        if st.byok.registry.by_key_env(name) is None:
            from ..keychain import check_key_name

            name = check_key_name(name)
        return "key", name
    if provider is not None:
        return "provider", st.byok.registry.require(provider).name
    return "profile", ""


def _period(per: str | None, required: bool) -> str | None:
    from ..budget import PERIODS

    if per is None:
        if required:
            raise ByokError(Code.USAGE, "say which period with --per day|week|month")
        return None
    value = per.strip().lower()
    if value not in PERIODS:
        raise ByokError(Code.USAGE, f"--per must be day, week or month, not {per!r}")
    return value


@app.command("set")
def set_budget(
    ctx: typer.Context,
    limit: str = typer.Argument(..., metavar="LIMIT_USD", help="US dollars, e.g. 5 or 0.50"),
    per: Optional[str] = typer.Option(None, "--per", help=PER_HELP),
    provider: Optional[str] = typer.Option(None, "--provider", "-p",
                                           help="Only this provider's requests.",
                                           autocompletion=complete.providers),
    key: Optional[str] = typer.Option(None, "--key", help="Only this named key's requests."),
) -> None:
    """Set (or change) a budget. Before each request byok holds its worst-case cost and
    refuses it (exit 16, BUDGET_EXCEEDED) if a budget would be exceeded.

    Examples:

      byok budget set --per month 20

      byok budget set --provider anthropic --per day 2.50
    """
    from ..store import Budget

    st = state(ctx)
    scope, name = _scope(st, key, provider)
    budget = Budget(scope, name, _period(per, True), parse_usd(limit))
    st.store.set_budget(st.profile, budget)
    from ..budget import dollars

    output.info(f"budget for {budget.label}: {dollars(budget.limit_micros)} per {budget.period} "
                f"(profile {st.profile!r})")


def standings(st) -> list[dict]:
    """Each budget of the profile with its current period's spending."""
    from ..budget import dollars, period_end, period_start, resets

    at = time.time()
    rows = []
    for b in st.store.budgets(st.profile):
        s = st.store.standing(st.profile, b, period_start(b.period, at), at)
        rows.append({
            "scope": b.scope, "name": b.name or None, "period": b.period,
            "limit_usd": b.limit_micros / 1e6, "spent_usd": s.spent / 1e6,
            "held_usd": s.held / 1e6,
            "remaining_usd": max(0, b.limit_micros - s.spent - s.held) / 1e6,
            "limit_micros": b.limit_micros, "spent_micros": s.spent, "held_micros": s.held,
            "resets": resets(b.period, at), "resets_at": period_end(b.period, at),
            "label": b.label, "shown": [dollars(b.limit_micros), dollars(s.spent),
                                        dollars(s.held)]})
    return rows


@app.command("list")
def list_budgets(ctx: typer.Context,
                 as_json: bool = typer.Option(False, "--json", help="Print a JSON array.")
                 ) -> None:
    """List the profile's budgets with what each period has spent so far.

    Example:

      byok budget list --json
    """
    rows = standings(state(ctx))
    if as_json:
        output.emit_json([{k: v for k, v in r.items() if k not in ("label", "shown")}
                          for r in rows])
        return
    output.table(["budget", "per", "limit", "spent", "in flight", "resets"],
                 [[r["label"], r["period"], *r["shown"], r["resets"]] for r in rows])


@app.command("rm")
def remove_budget(
    ctx: typer.Context,
    per: Optional[str] = typer.Option(None, "--per", help="Only this period's budget."),
    provider: Optional[str] = typer.Option(None, "--provider", "-p",
                                           autocompletion=complete.providers),
    key: Optional[str] = typer.Option(None, "--key"),
) -> None:
    """Remove the profile's (or a provider's) budgets, or only the one of a period.

    Examples:

      byok budget rm --per month

      byok budget rm --provider anthropic
    """
    st = state(ctx)
    scope, name = _scope(st, key, provider)
    removed = st.store.delete_budgets(st.profile, scope, name, _period(per, False))
    if not removed:
        raise ByokError(Code.USAGE, "there is no such budget", hint="see `byok budget list`")
    output.info(f"removed {removed} budget{'s' if removed > 1 else ''}")
