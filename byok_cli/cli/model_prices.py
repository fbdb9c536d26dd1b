"""How `byok models list` and `models show` print prices, limits and the price data's age."""

from __future__ import annotations


def limits(info, data) -> dict:
    from ..catalog.prices import ModelInfo

    blank = ModelInfo("", "", None, None, None, None).to_dict()
    fields = info.to_dict() if info else blank
    fields["price_date"] = data.source["taken"][:10] if info and info.price else None
    return fields


def describe(data) -> str:
    """Where the price data comes from and how old it is, in a line."""
    src = data.source
    where = (f"synced from {src['url']}" if src.get("kind") == "sync"
             else f"byok's snapshot of LiteLLM {src.get('version', '')}".rstrip())
    age = data.age_days()
    return f"{where}, taken {src['taken'][:10]} ({age} day{'s' if age != 1 else ''} old)"


def tokens(n: int | None) -> str:
    if not n:
        return "-"
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n % 1000 == 0 else str(n))


def per_m(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
