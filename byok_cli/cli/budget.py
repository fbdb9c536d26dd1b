"""`byok budget set | list | rm`: spending limits per day, week or month (UTC)."""

from __future__ import annotations

import time
from typing import Optional

import typer

from ..routing.budget import UNPRICED_HINT, price_data_label
from ..errors import ByokError, Code
from . import complete, output
from .root import group, no_header_option, state, wide_option

app = group("Cap what the profile, a provider or a key spends per day, week or month (UTC).")

PER_HELP = "day, week or month (calendar periods in UTC)"


_PLAIN_AMOUNT = r"\$?([0-9]+(\.[0-9]*)?|\.[0-9]+)"  # ASCII digits only


def parse_usd(text: str) -> int:
    """'5', '$0.50', '12.345678' -> micro-dollars. Only plain decimal numbers with a point:
    '5,5' (a decimal comma, or a thousands separator?) is ambiguous and refused, as are
    exponents, nan, inf, zero, negative amounts, more than six decimals and more than a
    billion dollars."""
    import re
    from decimal import Decimal

    cleaned = text.strip()
    if not re.fullmatch(_PLAIN_AMOUNT, cleaned):
        raise ByokError(Code.USAGE, f"{text!r} is not a plain positive amount of US dollars",
                        hint="digits with a decimal point, no thousands separators or "
                             "decimal commas: e.g. 5, 0.50 or 1000")
    amount = Decimal(cleaned.removeprefix("$"))
    if amount <= 0:
        raise ByokError(Code.USAGE, f"{text!r}: a budget must be more than $0",
                        hint="to stop budgeting, `byok budget rm`")
    micros = amount * 1_000_000
    if micros != micros.to_integral_value() or micros > 10 ** 15:
        raise ByokError(Code.USAGE, f"{text!r}: at most six decimals and a billion dollars")
    return int(micros)


def _scope(st, key: str | None, provider: str | None, token: str | None = None
           ) -> tuple[str, str]:
    if sum(x is not None for x in (key, provider, token)) > 1:
        raise ByokError(Code.USAGE, "give one of --key, --provider and --token")
    if token is not None:  # a gateway client token, by its name
        from ..gateway.tokens import check_name

        return "token", check_name(token.strip())
    if key is not None:
        # A key is named as usage rows name it: a stored key's name (of whichever provider),
        # or an environment key's variable.
        name = key.strip()
        if st.byok.registry.by_key_env(name) is None:
            from ..secrets.keychain import check_key_name

            name = check_key_name(name)
        return "key", name
    if provider is not None:
        return "provider", st.byok.registry.require(provider).name
    return "profile", ""


def _period(per: str | None, required: bool) -> str | None:
    from ..routing.budget import PERIODS

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
    token: Optional[str] = typer.Option(None, "--token", metavar="NAME",
                                        help="Only this gateway client token's requests."),
) -> None:
    """Set (or change) a budget. Before each request byok holds its worst-case cost and
    refuses it (exit 16, BUDGET_EXCEEDED) if a budget would be exceeded.

    Examples:

      byok budget set --per month 20

      byok budget set --provider anthropic --per day 2.50

      byok budget set --token claude-code --per week 10
    """
    from ..store import Budget

    st = state(ctx)
    scope, name = _scope(st, key, provider, token)
    budget = Budget(scope, name, _period(per, True), parse_usd(limit))
    st.store.set_budget(st.profile, budget)
    from ..routing.budget import dollars

    output.info(f"budget for {budget.label}: {dollars(budget.limit_micros)} per {budget.period} "
                f"(profile {st.profile!r})")
    _say_if_spent(st, budget)
    for provider, model in ([] if scope in ("key", "token") else _unpriced_defaults(st, name or None)):
        output.warn(f"{provider}/{model} (the profile's {provider} model) has no known price "
                    f"({price_data_label(st.store.home)}), so `byok run` refuses it under this "
                    f"budget — {UNPRICED_HINT}")


def _say_if_spent(st, budget) -> None:
    """A budget set below what its period has already spent refuses every priced request
    until the period resets: say so now, not at the next run."""
    import time

    from ..routing.budget import dollars, period_start, resets

    at = time.time()
    spent = st.store.standing(st.profile, budget, period_start(budget.period, at), at).spent
    if spent >= budget.limit_micros:
        output.warn(f"this {budget.period} has already spent {dollars(spent)} under the "
                    f"{budget.label} budget, at or over its {dollars(budget.limit_micros)}: "
                    f"priced requests it covers are refused until it resets "
                    f"({resets(budget.period, at)})")


def _unpriced_defaults(st, provider: str | None) -> list[tuple[str, str]]:
    """(provider, model) for each model `byok run` would use by default under a budget on
    ``provider`` (None: the built-in providers) that has no price, so a budget that would
    refuse a plain `byok run` says so when it is set, not at the next run."""
    from ..catalog.curated import default_model
    from ..catalog.curated import load
    from ..catalog.prices import load as load_prices

    catalog, prices, settings = load(), load_prices(st.store.home), st.store.settings(st.profile)
    if settings.get("allow_unpriced") == "on":
        return []
    registry = st.byok.registry
    providers = [registry.require(provider)] if provider else [p for p in registry if p.catalog]
    found = []
    for p in providers:
        model = settings["models"].get(p.name) or default_model(p, catalog)
        if model is None:
            continue
        info = prices.info(p.name, model)
        if info is None or info.price is None:
            found.append((p.name, model))
    return found


def standings(st) -> list[dict]:
    """Each budget of the profile with its current period's spending."""
    from ..routing.budget import dollars, period_end, period_start, resets

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
                 as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
                 no_header: bool = no_header_option(),
                 wide: bool = wide_option()) -> None:
    """List the profile's budgets with what each period has spent so far.

    Example:

      byok budget list --json
    """
    rows = standings(state(ctx))
    if as_json:
        output.emit_json([{k: v for k, v in r.items() if k not in ("label", "shown")}
                          for r in rows])
        return
    from ..routing.budget import dollars

    money = {"show": dollars}
    output.table(["budget", "per", output.Column("limit usd", **money),
                  output.Column("spent usd", **money),
                  output.Column("in flight usd", drop=1, **money),  # a narrow terminal's first
                  output.Column("resets", only="tty", drop=2), output.Column("resets", only="tsv")],
                 [[r["label"], r["period"], Micros(r["limit_micros"]), Micros(r["spent_micros"]),
                   Micros(r["held_micros"]), r["resets"], _iso(r["resets_at"])] for r in rows],
                 header=not no_header, empty=f"no budgets in profile {state(ctx).profile!r}",
                 drop=not wide)


class Micros(int):
    """Micro-dollars: a bare decimal in tab-separated lines."""

    def __str__(self) -> str:
        from ..routing.budget import decimal_dollars

        return decimal_dollars(int(self))


def _iso(at: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat(timespec="seconds")


@app.command("rm")
def remove_budget(
    ctx: typer.Context,
    per: Optional[str] = typer.Option(None, "--per", help="Only this period's budget."),
    provider: Optional[str] = typer.Option(None, "--provider", "-p",
                                           help="Only this provider's budgets.",
                                           autocompletion=complete.providers),
    key: Optional[str] = typer.Option(None, "--key", help="Only this key's budgets."),
    token: Optional[str] = typer.Option(None, "--token", metavar="NAME",
                                        help="Only this gateway client token's budgets."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove the profile's (or a provider's) budgets, or only the one of a period.

    Asks first at a terminal, as `key remove` does; elsewhere it needs --yes.

    Examples:

      byok budget rm --per month --yes

      byok budget rm --provider anthropic --yes
    """
    from ..routing.budget import dollars

    st = state(ctx)
    scope, name = _scope(st, key, provider, token)
    period = _period(per, False)
    going = [b for b in st.store.budgets(st.profile)
             if (b.scope, b.name) == (scope, name) and period in (None, b.period)]
    if not going:
        raise ByokError(Code.USAGE, "there is no such budget", hint="see `byok budget list`")
    what = ", ".join(f"{dollars(b.limit_micros)} per {b.period}" for b in going)
    plural = "s" if len(going) > 1 else ""
    of = "" if scope == "profile" else f" {going[0].label} in"
    output.confirm(f"Remove the budget{plural} ({what}) of{of} profile {st.profile!r}?", yes,
                   f"remove a budget{plural}")
    removed = st.store.delete_budgets(st.profile, scope, name, period)
    output.info(f"removed {removed} budget{'s' if removed > 1 else ''} for {going[0].label} "
                f"({what})")
