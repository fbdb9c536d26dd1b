"""`byok usage`: requests, tokens, cost, errors, fallbacks and latency per provider and
model, or per provider and key."""

from __future__ import annotations

from typing import NamedTuple, Optional

import typer

from . import complete, output
from .root import no_header_option, single, state
from .state import note_unknown_profile


def usage(
    ctx: typer.Context,
    since: str = typer.Option("7d", "--since", metavar="WHEN",
                              help="7d, 24h, 30m, 2w, all, or a date."),
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="Only this provider.",
                                           autocompletion=complete.providers),
    by: str = typer.Option("model", "--by", metavar="model|key|token",
                           help="Group per provider and model (default), per provider "
                                "and key, or per provider and gateway client token."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
    handoffs: bool = typer.Option(False, "--handoffs",
                                  help="Which programs took which key (`byok key get`)."),
    no_header: bool = no_header_option(),
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

      byok usage --by token

      byok usage --handoffs --since all
    """
    from ..errors import ByokError, Code
    from ..usage import by_key, parse_since, summary, totals

    st = state(ctx)
    if by not in ("model", "key", "token"):
        raise ByokError(Code.USAGE, f"--by must be model, key or token, not {by!r}")
    start = parse_since(since)
    # A removed provider's rows stay in the log: filter by the name as given.
    name = provider.strip().lower() if provider else None
    if handoffs:
        from .handoffs import show_handoffs

        show_handoffs(st, start, name, as_json)
        return
    rows = (by_key(st.store, st.profile, start, name, by=by) if by != "model"
            else summary(st.store, st.profile, start, name))
    total = totals(rows)
    note_unknown_profile(st, not rows)
    if as_json:
        import datetime as dt

        output.emit_json({"since": None if start is None else dt.datetime.fromtimestamp(
            start, dt.timezone.utc).isoformat(timespec="seconds"), "rows": rows, "totals": total})
        return

    def ms(header: str, drop: int) -> output.Column:
        return output.Column(header + " ms", drop=drop)

    def line(r: dict, name: str, what: str, times: list) -> list:
        return [name, what, r["requests"], r["errors"], r["fallbacks"], r["input_tokens"],
                r["output_tokens"], f"{r['input_tokens']}/{r['output_tokens']}", Cost.of(r),
                *times]

    period = (" yet" if since.strip().lower() == "all" else
              f" in the last {since.strip()}" if since.strip()[-1:].isalpha()
              else f" since {since.strip()}")
    times = [] if by != "model" else [ms("ttft p50", 3), ms("ttft p95", 1), ms("total p50", 3),
                                    ms("total p95", 1)]
    table = [line(r, r["provider"], r[by], [] if by != "model" else [
        r["ttft_p50_ms"], r["ttft_p95_ms"], r["latency_p50_ms"], r["latency_p95_ms"]])
        for r in rows]
    if rows:
        table.append(line(total, "total", "", [None] * len(times)))
    # Tokens in and out: two bare columns for scripts, one "in/out" cell on a terminal.
    output.table(["provider", by, "requests", output.Column("errors", drop=4),
                  output.Column("fallbacks", drop=2), output.Column("tokens in", only="tsv"),
                  output.Column("tokens out", only="tsv"),
                  output.Column("tokens in/out", only="tty"),
                  output.Column("cost usd", whole=False, show=Cost.show), *times], table,
                 header=not no_header, empty=f"no requests in profile {st.profile!r}{period}")


class Cost(NamedTuple):
    """A row's cost: bare in tab-separated lines (dollars, or "unknown"), with a dollar
    sign and the requests of unknown price on a terminal."""

    micros: int | None
    unknown: int
    answered: bool

    @classmethod
    def of(cls, row: dict) -> "Cost":
        return cls(row["cost_micro_usd"], row["cost_unknown_requests"],
                   row["requests"] > row["errors"])

    def __str__(self) -> str:
        from ..routing.budget import decimal_dollars

        if self.micros is None:
            return "unknown" if self.answered else ""
        return decimal_dollars(self.micros)

    def show(self) -> str:
        from ..routing.budget import dollars

        if self.micros is None:
            return "unknown" if self.answered else "-"
        return f"≥{dollars(self.micros)} ({self.unknown} unknown)" if self.unknown \
            else dollars(self.micros)


app = single("usage", usage)
