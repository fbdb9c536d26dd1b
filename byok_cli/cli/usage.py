"""`byok usage`: requests, tokens, cost, errors, fallbacks and latency per provider and
model, or per provider and key."""

from __future__ import annotations

from typing import Optional

import typer

from . import complete, output
from .root import single, state


def usage(
    ctx: typer.Context,
    since: str = typer.Option("7d", "--since", help="7d, 24h, 30m, 2w, all, or a date."),
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="Only this provider.",
                                           autocompletion=complete.providers),
    by: str = typer.Option("model", "--by", metavar="model|key",
                           help="Group per provider and model (default), or per provider "
                                "and key."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
    handoffs: bool = typer.Option(False, "--handoffs",
                                  help="Which programs took which key (`byok key get`)."),
) -> None:
    """Show usage and cost per provider and model (or per key), with totals. No key material
    is logged: a key is named by its name (stored keys) or its variable (environment keys).

    Costs are at the price in force when each request was made; "unknown" where no price
    or no token count was known (never counted as 0). Latency percentiles are exact below
    100 ms and kept to two significant figures above.

    With --handoffs: which programs took which key through `byok key get`, how often and
    when last (a shell's caller is shown as "claude via sh").

    Examples:

      byok usage

      byok usage --since 30d --provider anthropic --json

      byok usage --by key

      byok usage --handoffs --since all
    """
    from ..errors import ByokError, Code
    from ..usage import by_key, parse_since, summary, totals

    st = state(ctx)
    if by not in ("model", "key"):
        raise ByokError(Code.USAGE, f"--by must be model or key, not {by!r}")
    start = parse_since(since)
    # A removed provider's rows stay in the log: filter by the name as given.
    name = provider.strip().lower() if provider else None
    if handoffs:
        from .handoffs import show_handoffs

        show_handoffs(st, start, name, as_json)
        return
    rows = (by_key if by == "key" else summary)(st.store, st.profile, start, name)
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

    if by == "key":
        table = [[r["provider"], r["key"], r["requests"], r["errors"], r["fallbacks"],
                  f"{r['input_tokens']}/{r['output_tokens']}", cost(r)] for r in rows]
        if rows:
            table.append(["total", "", total["requests"], total["errors"], total["fallbacks"],
                          f"{total['input_tokens']}/{total['output_tokens']}", cost(total)])
        output.table(["provider", "key", "requests", "errors", "fallbacks", "tokens in/out",
                      "cost"], table)
        return
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
