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
) -> None:
    """Show usage per provider and model. No key material is ever logged.

    Latency percentiles are exact below 100 ms and kept to two significant figures above.

    Examples:

      byok usage

      byok usage --since 30d --provider anthropic --json
    """
    from ..keys import check_provider
    from ..usage import parse_since, summary

    st = state(ctx)
    rows = summary(st.store, st.profile, parse_since(since),
                   check_provider(provider) if provider else None)
    if as_json:
        output.emit_json(rows)
        return

    def ms(v):
        return "-" if v is None else f"{v} ms"

    output.table(["provider", "model", "requests", "errors", "fallbacks", "tokens in/out",
                  "ttft p50", "ttft p95", "total p50", "total p95"],
                 [[r["provider"], r["model"], r["requests"], r["errors"], r["fallbacks"],
                   f"{r['input_tokens']}/{r['output_tokens']}", ms(r["ttft_p50_ms"]),
                   ms(r["ttft_p95_ms"]), ms(r["latency_p50_ms"]), ms(r["latency_p95_ms"])]
                  for r in rows])


app = single("usage", usage)
