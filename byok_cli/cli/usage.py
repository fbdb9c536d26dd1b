"""`byok usage`: requests, tokens, errors, fallbacks and latency per provider and model."""

from __future__ import annotations

from typing import Optional

import typer

from . import complete, output
from .root import no_header_option, single, state


def usage(
    ctx: typer.Context,
    since: str = typer.Option("7d", "--since", metavar="WHEN",
                                help="7d, 24h, 30m, 2w, all, or a date."),
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="openai or anthropic",
                                           autocompletion=complete.providers),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    handoffs: bool = typer.Option(False, "--handoffs",
                                  help="Which programs took which key (`byok key get`)."),
    no_header: bool = no_header_option(),
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

    def ms(header: str, drop: int) -> output.Column:
        return output.Column(header + " ms", drop=drop)

    period = (" yet" if since.strip().lower() == "all" else
              f" in the last {since.strip()}" if since.strip()[-1:].isalpha()
              else f" since {since.strip()}")
    output.table(["provider", "model", "requests", "errors", output.Column("fallbacks", drop=2),
                  "tokens in", "tokens out", ms("ttft p50", 3), ms("ttft p95", 1),
                  ms("total p50", 3), ms("total p95", 1)],
                 [[r["provider"], r["model"], r["requests"], r["errors"], r["fallbacks"],
                   r["input_tokens"], r["output_tokens"], r["ttft_p50_ms"], r["ttft_p95_ms"],
                   r["latency_p50_ms"], r["latency_p95_ms"]] for r in rows],
                 header=not no_header, empty=f"no requests in profile {st.profile!r}{period}")


app = single("usage", usage)
