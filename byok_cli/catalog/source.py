"""LiteLLM's ``model_prices_and_context_window.json`` reduced to what byok needs.

Used by ``scripts/build_catalog.py`` (the bundled snapshot) and by ``byok models sync``
(the copy in the data dir), so both hold the same shape:

    {"source": {...}, "models": {provider: {model id: entry}}}

where an entry has ``context`` and ``max_output`` (tokens), ``input``, ``output``, ``cached``
and ``cache_write`` (USD per million tokens), ``retires`` (LiteLLM's ``deprecation_date``: the day the
provider shuts the model down) and ``tiers`` ([threshold, input, output, cached] for prompts
longer than threshold tokens). Fields LiteLLM does not give are left out.

The sanity checks follow LiteLLM's own for its map (``GetModelCostMap.validate_model_cost_map``):
a fetched map must be a non-empty object, hold at least a minimum of models and not have
shrunk below half of the map it replaces; byok also refuses one that drops most of the models
the current data prices, one where most priced models cost nothing, and one that moves any
price more than tenfold (or to zero) against the current data: a synced map must not be
able to switch budgets off.
"""

from __future__ import annotations

import re
from decimal import Decimal

DEFAULT_URL = ("https://raw.githubusercontent.com/BerriAI/litellm/main/"
               "model_prices_and_context_window.json")

# LiteLLM's provider name -> byok's, for the providers byok knows (built-ins and presets).
# LiteLLM prefixes all but OpenAI's and Anthropic's ids with its provider name.
PROVIDERS = {
    "openai": "openai", "anthropic": "anthropic", "openrouter": "openrouter", "groq": "groq",
    "together_ai": "together", "deepseek": "deepseek", "mistral": "mistral",
    "gemini": "gemini", "ollama": "ollama", "lm_studio": "lmstudio",
}
MODES = {"chat"}  # byok speaks chat completions and messages only

MIN_MODELS = 50           # LiteLLM's MODEL_COST_MAP_MIN_MODEL_COUNT
MAX_SHRINK = Decimal("0.5")  # LiteLLM's MODEL_COST_MAP_MAX_SHRINK_RATIO
MAX_DROPPED = Decimal("0.5")  # byok's: at most half of the models priced now may go
# byok's, so that no synced map can switch budgets off (a price of 0 passes every budget):
MAX_FREE = Decimal("0.5")     # at most half of the priced models may cost nothing (the
                              # snapshot: 35 of 329, the local servers' and ':free' ones)
MAX_PRICE_FACTOR = 10         # no price moves more than 10x either way, nor to 0, at once

_TIER = re.compile(r"^input_cost_per_token_above_(\d+)k_tokens$")


class SourceError(ValueError):
    """The fetched map fails a sanity check; the message says which."""


# Beyond these a value is a typo or an attack, not a model: the dearest models cost hundreds
# of dollars per million tokens, and no context window nears a billion tokens.
MAX_PER_MILLION = Decimal(10_000)
MAX_TOKENS = 10**9


class Implausible(ValueError):
    """One entry's field holds a value no real model has; the message names the field."""


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:29] + "…"


def per_million(value, field: str = "cost") -> Decimal | None:
    """A LiteLLM per-token cost as USD per million tokens, exactly as written in the file;
    None when absent, Implausible when not a finite price of at most MAX_PER_MILLION."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            0 <= value * 1_000_000 <= MAX_PER_MILLION):  # also false for NaN
        raise Implausible(f"{field} {_shown(value)} is not a plausible price")
    amount = (Decimal(repr(value)) * 1_000_000).quantize(Decimal("0.000001"))
    return amount.normalize() if amount else Decimal(0)


def _number(value: Decimal | None):
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _tokens(value, field: str) -> int | None:
    """A token limit; None when absent, Implausible unless a whole number from 1 to
    MAX_TOKENS (1.5 is not read as 1, 1e30 not as a context window)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            1 <= value <= MAX_TOKENS) or value != int(value):
        raise Implausible(f"{field} {_shown(value)} is not a plausible number of tokens")
    return int(value)


def _entry(raw: dict) -> dict:
    out: dict = {}
    for name, field in (("context", "max_input_tokens"), ("max_output", "max_output_tokens")):
        if (n := _tokens(raw.get(field), field)) is not None:
            out[name] = n
    for name, field in (("input", "input_cost_per_token"), ("output", "output_cost_per_token"),
                        ("cached", "cache_read_input_token_cost"),
                        ("cache_write", "cache_creation_input_token_cost")):
        if (p := per_million(raw.get(field), field)) is not None:
            out[name] = _number(p)
    date = raw.get("deprecation_date")
    if isinstance(date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        out["retires"] = date
    tiers = []
    for field in raw:
        m = _TIER.match(field)
        if not m:
            continue
        k = m.group(1) + "k_tokens"
        names = (field, f"output_cost_per_token_above_{k}", f"cache_read_input_token_cost_above_{k}")
        prices = [per_million(raw.get(f), f) for f in names]
        if prices[0] is not None and prices[1] is not None:
            tiers.append([int(m.group(1)) * 1000, *map(_number, prices)])
    if tiers:
        out["tiers"] = sorted(tiers)
    return out


def _odd_id(model_id: str) -> str | None:
    """Why a model id is no plausible id, or None. Control and format characters (ESC,
    C1, bidirectional overrides) would reach JSON output and other programs as they are;
    a key shape in an id is someone's key, not a model."""
    from ..errors import holds_secret

    if not model_id.isprintable():
        return "the id has control or format characters"
    if holds_secret(model_id):
        return "the id looks like an API key"
    return None


def extract(litellm_map: object, skipped: list[str] | None = None
            ) -> dict[str, dict[str, dict]]:
    """{byok provider: {model id: entry}} for the chat models of the providers byok knows.
    An entry with an implausible value is left out whole, and named in ``skipped``."""
    if not isinstance(litellm_map, dict):
        raise SourceError("it is not a JSON object")
    models: dict[str, dict[str, dict]] = {}
    for key, raw in litellm_map.items():
        if not isinstance(raw, dict) or raw.get("mode") not in MODES:
            continue
        provider = PROVIDERS.get(raw.get("litellm_provider"))  # type: ignore[arg-type]
        if provider is None or not isinstance(key, str):
            continue
        prefix = raw["litellm_provider"] + "/"
        model_id = key[len(prefix):] if key.startswith(prefix) else key
        if "/" in model_id and provider in ("openai", "anthropic"):
            continue  # a route through another service, not the provider's own id
        odd = _odd_id(model_id)
        if odd:
            if skipped is not None:
                skipped.append(f"{provider}/{ascii(model_id)[1:-1]}: {odd}")
            continue
        try:
            entry = _entry(raw)
        except Implausible as exc:
            if skipped is not None:
                skipped.append(f"{provider}/{model_id}: {exc}")
            continue
        if entry:
            models.setdefault(provider, {})[model_id] = entry
    return {p: dict(sorted(ms.items())) for p, ms in sorted(models.items())}


def count(models: dict[str, dict[str, dict]]) -> int:
    return sum(len(ms) for ms in models.values())


def priced(models: dict[str, dict[str, dict]]) -> set[tuple[str, str]]:
    return {(p, m) for p, ms in models.items() for m, e in ms.items() if "input" in e}


def check(litellm_map: object, current: dict[str, dict[str, dict]],
          skipped: list[str] | None = None) -> dict[str, dict[str, dict]]:
    """The extracted models of a fetched map, if it passes the sanity checks against the
    ``current`` models; else SourceError. Implausible entries are named in ``skipped``."""
    if not isinstance(litellm_map, dict) or not litellm_map:
        raise SourceError("it is empty" if isinstance(litellm_map, dict)
                          else "it is not a JSON object")
    fresh = extract(litellm_map, skipped)
    n, before = count(fresh), count(current)
    if n < MIN_MODELS:
        raise SourceError(f"it lists only {n} chat models of byok's providers "
                          f"(at least {MIN_MODELS} expected)")
    if before and n < before * MAX_SHRINK:
        raise SourceError(f"it lists {n} models where the current data has {before}")
    known = priced(current)
    if known:
        kept = known & priced(fresh)
        if len(known) - len(kept) > len(known) * MAX_DROPPED:
            raise SourceError(f"it drops {len(known) - len(kept)} of the {len(known)} models "
                              "priced now")
    _check_prices(fresh, current)
    return fresh


def _check_prices(fresh: dict[str, dict[str, dict]], current: dict[str, dict[str, dict]]
                  ) -> None:
    """Prices a budget can trust: not (mostly) zero, and none far from the current one."""
    entries = [e for ms in fresh.values() for e in ms.values() if "input" in e]
    free = sum(1 for e in entries if not e.get("input") and not e.get("output"))
    if entries and free > len(entries) * MAX_FREE:
        raise SourceError(f"{free} of its {len(entries)} priced models cost nothing (budgets "
                          "could then stop nothing)")
    for provider, models in fresh.items():
        for model, entry in models.items():
            now = current.get(provider, {}).get(model) or {}
            for field in ("input", "output"):
                old, new = now.get(field), entry.get(field)
                if not old or new is None:
                    continue  # unpriced before, or not priced now: the other checks apply
                if not new or not (Decimal(str(old)) / MAX_PRICE_FACTOR <= Decimal(str(new))
                                   <= Decimal(str(old)) * MAX_PRICE_FACTOR):
                    raise SourceError(f"it prices {provider}/{model} {field} at ${new} per "
                                      f"million tokens, against ${old} now (more than "
                                      f"{MAX_PRICE_FACTOR}x apart)")
