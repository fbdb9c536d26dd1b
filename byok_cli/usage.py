"""Usage figures per provider and model (requests, tokens, errors, fallbacks, latency), or
per provider and key."""

from __future__ import annotations

import datetime as dt
import math
import re
import time

from .errors import ByokError, Code
from .store import Store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_LONGEST = 1000 * 366 * 86400  # seconds; beyond this a duration is surely a typo


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """'7d', '12h', '30m', '2w', 'all', or an ISO date -> a unix time (None for all)."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    now = time.time() if now is None else now
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if m:
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
        if seconds > _LONGEST:
            raise ByokError(Code.USAGE, f"--since {text!r} reaches back more than 1000 years",
                            hint="use --since all")
        return now - seconds
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ByokError(Code.USAGE, f"--since {text!r} is not a duration or a date",
                        hint="use 7d, 24h, 30m, 2w, all, or a date like 2026-11-01") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def percentile(buckets: list[tuple[int, int]], p: float) -> int | None:
    """The p-th percentile (nearest rank) of a histogram of (value, count), sorted by value."""
    total = sum(n for _, n in buckets)
    if not total:
        return None
    rank = max(1, math.ceil(p * total))
    seen = 0
    for value, n in buckets:
        seen += n
        if seen >= rank:
            return value
    return buckets[-1][0]


def summary(store: Store, profile: str, since: float | None = None,
            provider: str | None = None) -> list[dict]:
    """One dict per provider and model, aggregated in SQL from daily roll-ups."""
    hist: dict[tuple, list[tuple[int, int]]] = {}
    for prov, model, metric, value, n in store.usage_buckets(profile, since, provider):
        hist.setdefault((prov, model, metric), []).append((value, n))
    rows = []
    for (prov, model, requests, errors, fallbacks, tokens_in, tokens_out, cost,
         unknown) in store.usage_totals(profile, since, provider):
        ttft = hist.get((prov, model, "ttft"), [])
        total = hist.get((prov, model, "total"), [])
        rows.append({
            "provider": prov, "model": model, "requests": requests, "errors": errors,
            "fallbacks": fallbacks, **_tokens(tokens_in, tokens_out, requests - errors),
            **_cost(int(cost), int(unknown), requests - errors),
            "ttft_p50_ms": percentile(ttft, 0.50), "ttft_p95_ms": percentile(ttft, 0.95),
            "latency_p50_ms": percentile(total, 0.50), "latency_p95_ms": percentile(total, 0.95),
        })
    return rows


def _cost(micros: int, unknown: int, answered: int) -> dict:
    """The cost fields of a row: micro-dollars summed exactly (as integers); ``cost_usd`` is
    None when no answer of the row has a known cost, and a lower bound when some have not."""
    known = answered - unknown
    return {"cost_usd": micros / 1_000_000 if known > 0 else None,
            "cost_micro_usd": micros if known > 0 else None, "cost_unknown_requests": unknown}


def _tokens(tokens_in: float, tokens_out: float, answered: int) -> dict:
    """The token fields of a row, None where unknown: any answered prompt has input
    tokens, so 0 input tokens over answered requests means nobody counted them (a gateway
    that sends no usage, counts too implausible to keep), never 0; output tokens then too,
    unless some were counted."""
    unknown_in = answered > 0 and not tokens_in
    return {"input_tokens": None if unknown_in else int(tokens_in),
            "output_tokens": None if unknown_in and not tokens_out else int(tokens_out)}


def totals(rows: list[dict]) -> dict:
    """The rows added up: requests, tokens and cost (exact, from the integer micro-dollars).
    Tokens are the sum of the rows that know theirs (None when none does)."""
    answered = sum(r["requests"] - r["errors"] for r in rows)
    unknown = sum(r["cost_unknown_requests"] for r in rows)
    out = {k: sum(r[k] for r in rows) for k in ("requests", "errors", "fallbacks")}
    out.update(_tokens(sum(r["input_tokens"] or 0 for r in rows),
                       sum(r["output_tokens"] or 0 for r in rows), answered))
    return {**out, **_cost(sum(r["cost_micro_usd"] or 0 for r in rows), unknown, answered)}


def by_key(store: Store, profile: str, since: float | None = None,
           provider: str | None = None, *, by: str = "key") -> list[dict]:
    """One dict per provider and key (the stored key's name, or the environment variable's),
    or with ``by="token"`` per provider and gateway client token ('-': none), with its
    requests, tokens and cost."""
    rows = (store.usage_by_token if by == "token" else store.usage_by_key)(
        profile, since, provider)
    return [{"provider": prov, by: key, "requests": requests, "errors": errors,
             "fallbacks": fallbacks, **_tokens(tokens_in, tokens_out, requests - errors),
             **_cost(int(cost), int(unknown), requests - errors)}
            for prov, key, requests, errors, fallbacks, tokens_in, tokens_out, cost, unknown
            in rows]
