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
    """Show usage per provider and model. No key material is ever logged.

    With --handoffs: which programs took which key through `byok key get`, how often and
    when last (a shell's caller is shown as "claude via sh").

    Latency percentiles are exact below 100 ms and kept to two significant figures above.

    Examples:

      byok usage

      byok usage --since 30d --provider anthropic --json

      byok usage --handoffs --since all
    """
    from ..keys import check_provider
    from ..usage import parse_since, summary

    st = state(ctx)
    if handoffs:
        from .handoffs import show_handoffs

        show_handoffs(st, parse_since(since), check_provider(provider) if provider else None,
                      as_json)
        return
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
