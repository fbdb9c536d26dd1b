"""`byok usage`: requests, tokens, errors, fallbacks and latency per provider and model, or
per provider and key."""

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
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    handoffs: bool = typer.Option(False, "--handoffs",
                                  help="Which programs took which key (`byok key get`)."),
) -> None:
    """Show usage per provider and model, or per key. No key material is ever logged: a key
    is named by its name (stored keys) or its variable (environment keys).

    With --handoffs: which programs took which key through `byok key get`, how often and
    when last (a shell's caller is shown as "claude via sh").

    Latency percentiles are exact below 100 ms and kept to two significant figures above.

    Examples:

      byok usage

      byok usage --since 30d --provider anthropic --json

      byok usage --by key

      byok usage --handoffs --since all
    """
    from ..errors import ByokError, Code
    from ..usage import by_key, parse_since, summary

    st = state(ctx)
    if by not in ("model", "key"):
        raise ByokError(Code.USAGE, f"--by must be model or key, not {by!r}")
    # A removed provider's rows stay in the log: filter by the name as given.
    name = provider.strip().lower() if provider else None
    if handoffs:
        from .handoffs import show_handoffs

        show_handoffs(st, parse_since(since), name, as_json)
        return
    if by == "key":
        rows = by_key(st.store, st.profile, parse_since(since), name)
        if as_json:
            output.emit_json(rows)
            return
        output.table(["provider", "key", "requests", "errors", "fallbacks", "tokens in/out"],
                     [[r["provider"], r["key"], r["requests"], r["errors"], r["fallbacks"],
                       f"{r['input_tokens']}/{r['output_tokens']}"] for r in rows])
        return
    rows = summary(st.store, st.profile, parse_since(since), name)
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
