"""What a model can take and what it costs: context window, output limit, prices.

The data is the copy ``byok models sync`` last wrote to the data dir (``prices.json``), or
else the snapshot bundled with byok (``data/prices.json``, built by
``scripts/build_catalog.py`` from LiteLLM's map, and read from ``prices_data``, the same
as Python literals: see scripts/generate.py). It is read only when a price or a limit is
needed, never on `byok run`'s way to the first token.

Prices are held as integers, in micro-dollars per million tokens, and costs as integer
micro-dollars (USD 10^-6) rounded up per request: no float drift, no Decimal import on the
way, and sums of stored costs are exact.
"""

from __future__ import annotations

import datetime as dt
import functools
import os

from ..records import tuple_record

# Paths are strings (os.path): `byok run` and `models list` import no pathlib.
SNAPSHOT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "prices.json")
SYNCED_NAME = "prices.json"  # in the data dir


MICRO = 1_000_000
# Writing to a prompt cache where the price data has no price for it: 1.25 times the input
# price, Anthropic's documented rate for its (default) 5-minute cache.
CACHE_WRITE = (5, 4)


@tuple_record
class Price:
    """Micro-dollars per million tokens (USD 2.50 per million is 2_500_000). ``tiers``:
    (threshold, input, output, cached) for prompts of more than ``threshold`` input tokens,
    as some providers charge long prompts more."""

    input: int
    output: int
    cached: int | None = None
    tiers: tuple[tuple[int, int, int, int | None], ...] = ()
    cache_write: int | None = None  # writing a prompt cache (Anthropic); None: CACHE_WRITE x input

    def for_prompt(self, input_tokens: int) -> "Price":
        chosen = self
        for threshold, i, o, c in self.tiers:
            if input_tokens > threshold:
                chosen = Price(i, o, c)
        return chosen

    def cost_micros(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0,
                    cache_write_tokens: int = 0) -> int:
        """Micro-dollars, rounded up. ``input_tokens`` includes the cached ones (read from the
        prompt cache) and those written to it."""
        p = self.for_prompt(input_tokens)
        cached = min(max(cached_tokens, 0), input_tokens) if p.cached is not None else 0
        written = min(max(cache_write_tokens, 0), input_tokens - cached)
        write_price = (self.cache_write if p is self and self.cache_write is not None
                       else p.input * CACHE_WRITE[0] // CACHE_WRITE[1])
        scaled = ((input_tokens - cached - written) * p.input + cached * (p.cached or 0)
                  + written * write_price + output_tokens * p.output)
        return -(-scaled // MICRO)


@tuple_record
class ModelInfo:
    provider: str
    id: str
    context_window: int | None
    max_output: int | None
    price: Price | None
    retires: dt.date | None

    def to_dict(self) -> dict:
        p = self.price
        return {"context_window": self.context_window, "max_output_tokens": self.max_output,
                "input_per_mtok": usd(p.input) if p else None,
                "output_per_mtok": usd(p.output) if p else None,
                "cached_input_per_mtok": usd(p.cached) if p and p.cached is not None else None,
                "cache_write_per_mtok": usd(p.cache_write if p.cache_write is not None
                                            else p.input * CACHE_WRITE[0] // CACHE_WRITE[1])
                if p else None,
                "price_tiers": [{"above_input_tokens": t, "input_per_mtok": usd(i),
                                 "output_per_mtok": usd(o),
                                 "cached_input_per_mtok": None if c is None else usd(c)}
                                for t, i, o, c in p.tiers] if p else [],
                "retires": self.retires.isoformat() if self.retires else None}


def usd(micros: int | None) -> float | None:
    """Micro-dollars as a JSON number of dollars: the nearest double to an amount with at most
    six decimals prints as exactly those digits."""
    return None if micros is None else micros / MICRO


def _units(value) -> int | None:
    """USD per million tokens (as the data files write it) in micro-dollars per million."""
    return None if value is None else round(value * MICRO)


def _info(provider: str, model: str, e: dict) -> ModelInfo:
    price = None
    if "input" in e and "output" in e:
        tiers = tuple((int(t[0]), _units(t[1]), _units(t[2]), _units(t[3])) for t in e.get("tiers", ()))
        price = Price(_units(e["input"]), _units(e["output"]), _units(e.get("cached")), tiers,
                      _units(e.get("cache_write")))
    retires = e.get("retires")
    return ModelInfo(provider, model, e.get("context"), e.get("max_output"), price,
                     dt.date.fromisoformat(retires) if retires else None)


FREE = Price(0, 0, 0)


def model_info(data: "PriceData", provider, model: str, keyless: bool = False
               ) -> ModelInfo | None:
    """What byok knows of ``model`` at the :class:`~byok_cli.registry.Provider` ``provider``.

    Prices are the catalogue's: a provider serving a catalogue has its prices; a gateway's
    own ids have none (their cost is unknown, never 0). A request that carries no key
    (``keyless``) to a provider that needs none (a local server: Ollama, LM Studio, one
    added with --no-key) bills nobody: it costs $0. One that carries a key is billed by
    someone, whatever the provider's definition says.
    """
    found = data.info(provider.catalog or provider.name, model)
    if provider.needs_key or not keyless:
        return found
    if found is not None:
        return found._replace(price=FREE)
    return ModelInfo(provider.name, model, None, None, FREE, None)


@tuple_record
class PriceData:
    models: dict[str, dict[str, dict]]
    source: dict      # name, url, taken (date) or synced (time), version, kind
    path: str | os.PathLike

    def info(self, provider: str, model: str) -> ModelInfo | None:
        entries = self.models.get(provider, {})
        e = entries.get(model)
        if e is None:
            e = entries.get(model.lower())
        return None if e is None else _info(provider, model, e)

    def all(self, provider: str | None = None) -> list[ModelInfo]:
        return [_info(p, m, e) for p, ms in self.models.items() if provider in (None, p)
                for m, e in ms.items()]

    @property
    def taken(self) -> dt.date:
        """The day these prices were taken from their source."""
        return dt.date.fromisoformat(self.source["taken"][:10])

    def age_days(self, today: dt.date | None = None) -> int:
        return ((today or dt.datetime.now(dt.timezone.utc).date()) - self.taken).days


def read(path: str | os.PathLike) -> PriceData:
    with open(path, encoding="utf-8") as f:
        import json  # only for a synced copy that is there: the snapshot is bytecode

        data = json.load(f)
    return _checked(data, path)


def _checked(data: dict, path: str | os.PathLike) -> PriceData:
    if not isinstance(data.get("models"), dict) or "taken" not in data.get("source", {}):
        raise ValueError(f"{path} has no models or no date")
    return PriceData(data["models"], data["source"], path)


def snapshot() -> PriceData:
    from .prices_data import PRICES

    return _checked(PRICES, SNAPSHOT)


@functools.lru_cache(maxsize=4)
def load(home: str | os.PathLike | None) -> PriceData:
    """The synced copy in ``home`` if there is a readable one no older than the bundled
    snapshot (a byok upgrade may bring newer data), else the snapshot."""
    bundled = snapshot()
    if home is not None:
        try:
            synced = read(os.path.join(home, SYNCED_NAME))
        except (OSError, ValueError, KeyError, TypeError):
            return bundled  # missing or damaged: the snapshot stands in
        if synced.taken >= bundled.taken:
            return synced
    return bundled
