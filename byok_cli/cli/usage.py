"""`byok usage`: requests, tokens, errors, fallbacks and latency per provider and model."""

from __future__ import annotations

from typing import Optional

import typer

from . import complete, output
from .root import single, state


def usage(
    ctx: typer.Context,
    since: str = typer.Option("7d", "--since", help="7d, 24h, 30m, 2w, all, or a date."),
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="openai or anthropic",
                                           autocompletion=complete.providers),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    handoffs: bool = typer.Option(False, "--handoffs",
                                  help="Which programs took which key (`byok key get`)."),
) -> None:
    """Show usage and cost per provider and model, with totals. No key material is logged.

    Costs are at the price in force when each request was made; "unknown" where no price
    or no token count was known (never counted as 0). Latency percentiles are exact below
    100 ms and kept to two significant figures above.

    With --handoffs: which programs took which key through `byok key get`, how often and
    when last (a shell's caller is shown as "claude via sh").

    Examples:

      byok usage

      byok usage --since 30d --provider anthropic --json

      byok usage --handoffs --since all
    """
    from ..keys import check_provider
    from ..usage import parse_since, summary, totals

    st = state(ctx)
    start = parse_since(since)
    if handoffs:
        from .handoffs import show_handoffs

        show_handoffs(st, start, check_provider(provider) if provider else None, as_json)
        return
    rows = summary(st.store, st.profile, start, check_provider(provider) if provider else None)
    total = totals(rows)
    if as_json:
        import datetime as dt

        output.emit_json({"since": None if start is None else dt.datetime.fromtimestamp(
            start, dt.timezone.utc).isoformat(timespec="seconds"), "rows": rows, "totals": total})
        return

    def ms(v):
        return "-" if v is None else f"{v} ms"

    def cost(r):
        from ..budget import dollars

        if r["cost_micro_usd"] is None:
            return "unknown" if r["requests"] > r["errors"] else "-"
        shown = dollars(r["cost_micro_usd"])
        return f"≥{shown} ({r['cost_unknown_requests']} unknown)" if r[
            "cost_unknown_requests"] else shown

    table = [[r["provider"], r["model"], r["requests"], r["errors"], r["fallbacks"],
              f"{r['input_tokens']}/{r['output_tokens']}", cost(r), ms(r["ttft_p50_ms"]),
              ms(r["ttft_p95_ms"]), ms(r["latency_p50_ms"]), ms(r["latency_p95_ms"])]
             for r in rows]
    if rows:
        table.append(["total", "", total["requests"], total["errors"], total["fallbacks"],
                      f"{total['input_tokens']}/{total['output_tokens']}", cost(total),
                      "", "", "", ""])
    output.table(["provider", "model", "requests", "errors", "fallbacks", "tokens in/out",
                  "cost", "ttft p50", "ttft p95", "total p50", "total p95"], table)


app = single("usage", usage)
