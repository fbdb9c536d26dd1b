"""`byok usage`: requests, tokens, cost, errors, fallbacks and latency per provider and
model, or per provider and key."""

from __future__ import annotations

from typing import Optional

import typer

from . import complete
from .root import no_header_option, single, state, wide_option


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
    wide: bool = wide_option("every column (fallbacks, latency)"),
) -> None:
    """Show usage and cost per provider and model (or per key), with totals. No key material
    is logged: a key is named by its name (stored keys) or its variable (environment keys).

    Costs are at the price in force when each request was made; "unknown" where no price
    or no token count was known (never counted as 0). Latency percentiles are exact below
    20 ms and rounded down to a 1-2-5 step above (20, 22 … 50, 55 … 100, 110 … ms): at most
    10% below the true figure.

    With --handoffs: which programs took which key through `byok key get`, how often and
    when last (a shell's caller is shown as "claude via sh").

    Examples:

      byok usage

      byok usage --since 30d --provider anthropic --json

      byok usage --by key

      byok usage --by token

      byok usage --handoffs --since all
    """
    from .readers import usage as show_usage

    show_usage(state(ctx), since, provider, by, as_json, handoffs, no_header, wide)


app = single("usage", usage)
