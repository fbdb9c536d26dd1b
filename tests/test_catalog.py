"""The price data: the bundled snapshot, its extraction from LiteLLM's map, the sanity checks,
and the cost arithmetic."""

import datetime as dt
import json
import typing

import pytest

from byok_cli.catalog import source as catalog_source, prices
from byok_cli.catalog.curated import load as load_catalog

SNAPSHOT = prices.snapshot()

# Ids the installed SDKs list as model literals that byok's catalogue (curated entries and
# price data) leaves out, each with its reason. A test below fails when one comes back.
SDK_EXCLUDED = {
    **dict.fromkeys(
        ["gpt-3.5-turbo-0301", "gpt-3.5-turbo-0613", "gpt-3.5-turbo-16k-0613",
         "gpt-4-0314", "gpt-4-0125-preview", "gpt-4-32k", "gpt-4-32k-0314", "gpt-4-32k-0613",
         "gpt-4-turbo-preview", "gpt-4-vision-preview", "gpt-4o-audio-preview",
         "gpt-4o-audio-preview-2024-10-01", "gpt-4o-mini-audio-preview", "o1-mini",
         "o1-mini-2024-09-12", "o1-preview", "o1-preview-2024-09-12", "chatgpt-4o-latest",
         "gpt-5.1-mini"],
        "shut down by OpenAI; LiteLLM 1.110.2 no longer lists it, and the SDK keeps the literal"),
    **dict.fromkeys(
        ["codex-mini-latest", "gpt-5.1-codex", "gpt-5.2-pro", "gpt-5.2-pro-2025-12-11"],
        "Responses API only: byok speaks Chat Completions, where these models are refused"),
}


def literal_ids(tp) -> set[str]:
    out = set()
    for arg in typing.get_args(tp):
        out |= {arg} if isinstance(arg, str) else literal_ids(arg)
    return out


def sdk_models() -> dict[str, set[str]]:
    from anthropic.types import Model
    from openai.types import ChatModel

    return {"openai": literal_ids(ChatModel), "anthropic": literal_ids(Model)}


def test_every_sdk_model_literal_is_known_or_excluded_with_a_reason():
    cat = load_catalog()
    missing, stale = [], []
    for provider, ids in sdk_models().items():
        for mid in sorted(ids):
            known = cat.get(mid) is not None or SNAPSHOT.info(provider, mid) is not None
            if not known and mid not in SDK_EXCLUDED:
                missing.append(f"{provider}/{mid}")
            if known and mid in SDK_EXCLUDED:
                stale.append(mid)
    assert missing == [], "add these to data/catalog.json, rebuild the snapshot, or exclude them"
    assert stale == [], "these are known now: drop them from SDK_EXCLUDED"
    assert all(len(reason) > 20 for reason in SDK_EXCLUDED.values())


def test_snapshot_parses_and_is_sane():
    src = SNAPSHOT.source
    assert src["url"] == catalog_source.DEFAULT_URL
    assert src["kind"] == "snapshot" and src["version"] not in ("1.82.7", "1.82.8")
    assert len(src["sha256"]) == 64 and SNAPSHOT.taken <= dt.date.today()
    assert set(SNAPSHOT.models) <= set(catalog_source.PROVIDERS.values())
    assert catalog_source.count(SNAPSHOT.models) >= catalog_source.MIN_MODELS
    for info in SNAPSHOT.all():
        assert info.context_window is None or 0 < info.context_window <= 100_000_000
        assert info.max_output is None or info.max_output > 0
        if info.price:
            p = info.price
            assert p.input >= 0 and p.output >= 0 and (p.cached is None or p.cached >= 0)
            assert all(t[0] > 0 for t in p.tiers)


def test_current_curated_models_have_limits_and_prices_where_litellm_has_them():
    cat, today = load_catalog(), dt.date.today()
    priced = [m.id for m in cat.models if SNAPSHOT.info(m.provider, m.id)
              and SNAPSHOT.info(m.provider, m.id).price]
    assert {"gpt-4o", "claude-sonnet-5-5", "gpt-6-luna", "claude-haiku-5-5"} <= set(priced)
    gpt4o = SNAPSHOT.info("openai", "gpt-4o")
    assert (gpt4o.context_window, gpt4o.max_output) == (128_000, 16_384)
    assert gpt4o.price[:3] == (2_500_000, 10_000_000, 1_250_000)  # $2.50 / $10 / $1.25 per M
    assert not [m.id for m in cat.models if not m.is_retired(today)
                and SNAPSHOT.info(m.provider, m.id) is None
                and m.id not in ("gpt-6.2-astra", "gpt-6.2-sol", "claude-fable-5-2",
                                 "claude-mythos-5-2")]  # newer than LiteLLM 1.110.2


def test_every_default_model_has_a_bundled_price():
    """A budget refuses an unpriced model, so an unpriced default would move every plain
    `byok run` off it under any budget (issue 24, finding 3): each catalogue default, and
    each preset's own default model, is priced in the bundled snapshot."""
    from byok_cli.registry import builtin
    from byok_cli.catalog.curated import default_model

    cat = load_catalog()
    assert set(cat.defaults) == {"openai", "anthropic"}
    defaults = [(p.name, default_model(p, cat)) for p in builtin()]
    defaults = [(name, model) for name, model in defaults if model]
    assert {m for _, m in defaults} >= set(cat.defaults.values())
    unpriced = [(name, model) for name, model in defaults
                if SNAPSHOT.info(name, model) is None or SNAPSHOT.info(name, model).price is None]
    assert unpriced == []
    for provider, model in cat.defaults.items():  # a current model of that provider
        entry = cat.get(model)
        assert entry.provider == provider and not entry.is_deprecated(dt.date.today())


def test_per_million_is_exact():
    assert catalog_source.per_million(2.5e-06) == 2.5
    assert str(catalog_source.per_million(1.25e-07)) == "0.125"
    assert str(catalog_source.per_million(3.3e-07)) == "0.33"
    assert catalog_source.per_million(0) == 0
    assert catalog_source.per_million(None) is None  # absent
    for implausible in (-1e-6, "1e-6", True, float("nan"), float("inf"), 1e300, 0.011):
        with pytest.raises(catalog_source.Implausible):
            catalog_source.per_million(implausible)
    assert catalog_source.per_million(0.01) == 10_000  # the dearest price still taken


def litellm_entry(provider="openai", mode="chat", **extra):
    return {"litellm_provider": provider, "mode": mode, "max_input_tokens": 1000,
            "max_output_tokens": 100, "input_cost_per_token": 1e-06,
            "output_cost_per_token": 2e-06, **extra}


def test_extract_keeps_chat_models_of_known_providers_and_strips_prefixes():
    raw = {
        "sample_spec": {"mode": "one of: chat, ..."},
        "gpt-x": litellm_entry(cache_read_input_token_cost=5e-07, deprecation_date="2027-02-03",
                               input_cost_per_token_above_200k_tokens=2e-06,
                               output_cost_per_token_above_200k_tokens=4e-06),
        "gpt-image": litellm_entry(mode="image_generation"),
        "groq/llama-z": litellm_entry("groq"),
        "together_ai/org/model": litellm_entry("together_ai"),
        "bedrock/claude": litellm_entry("bedrock"),
        "azure/gpt-x": litellm_entry("openai"),  # a route, not OpenAI's own id
        "weird": "not an object",
    }
    got = catalog_source.extract(raw)
    assert set(got) == {"openai", "groq", "together"}
    assert got["openai"] == {"gpt-x": {"context": 1000, "max_output": 100, "input": 1,
                                       "output": 2, "cached": 0.5, "retires": "2027-02-03",
                                       "tiers": [[200_000, 2, 4, None]]}}
    assert list(got["groq"]) == ["llama-z"] and list(got["together"]) == ["org/model"]


def bulk(n: int, provider: str = "openai") -> dict:
    return {f"m{i}": litellm_entry(provider) for i in range(n)}


def test_check_refuses_empty_small_shrunk_and_dropping_maps():
    current = catalog_source.extract(bulk(200))
    with pytest.raises(catalog_source.SourceError, match="empty"):
        catalog_source.check({}, current)
    with pytest.raises(catalog_source.SourceError, match="not a JSON object"):
        catalog_source.check([1, 2], current)
    with pytest.raises(catalog_source.SourceError, match="only 10"):
        catalog_source.check(bulk(10), current)
    with pytest.raises(catalog_source.SourceError, match="80 models where the current data"):
        catalog_source.check(bulk(80), current)
    renamed = {f"new{i}": litellm_entry() for i in range(300)}
    with pytest.raises(catalog_source.SourceError, match="drops 200 of the 200"):
        catalog_source.check(renamed, current)
    assert catalog_source.count(catalog_source.check(bulk(150), current)) == 150


def test_cost_arithmetic_is_integer_and_rounds_up():
    p = prices.Price(input=2_500_000, output=10_000_000, cached=1_250_000)
    assert p.cost_micros(1_000_000, 0) == 2_500_000          # $2.50 for a million in
    assert p.cost_micros(1000, 500) == 2500 + 5000
    assert p.cost_micros(1000, 500, cached_tokens=400) == 600 * 2.5 + 400 * 1.25 + 5000
    assert p.cost_micros(1, 0) == 3                             # 2.5 micro-dollars, up
    assert p.cost_micros(0, 0) == 0
    cheap = prices.Price(input=100_000, output=500_000, cached=None)
    assert cheap.cost_micros(1000, 0, cached_tokens=1000) == 100  # no cached rate: full price
    tiered = prices.Price(1_000_000, 2_000_000, None, ((200_000, 2_000_000, 4_000_000, None),))
    assert tiered.cost_micros(200_000, 0) == 200_000
    assert tiered.cost_micros(200_001, 0) == 400_002           # the whole prompt at the tier


def test_load_prefers_a_readable_synced_copy_no_older_than_the_snapshot(tmp_path):
    prices.load.cache_clear()
    assert prices.load(tmp_path).source["kind"] == "snapshot"
    synced = tmp_path / prices.SYNCED_NAME
    newer = {"source": {"taken": dt.date.today().isoformat() + "T00:00:00+00:00", "kind": "sync",
                        "url": "https://example.invalid/x.json"},
             "models": {"openai": {"gpt-4o": {"input": 1, "output": 2}}}}
    synced.write_text(json.dumps(newer))
    prices.load.cache_clear()
    assert prices.load(tmp_path).info("openai", "gpt-4o").price[:2] == (1_000_000, 2_000_000)
    synced.write_text(json.dumps({**newer, "source": {**newer["source"], "taken": "2020-01-01"}}))
    prices.load.cache_clear()
    assert prices.load(tmp_path).source["kind"] == "snapshot"   # an upgrade brought newer data
    synced.write_text('{"source": {"taken": "2099-01-01"}, "models": ')  # damaged
    prices.load.cache_clear()
    assert prices.load(tmp_path).source["kind"] == "snapshot"
    prices.load.cache_clear()


def test_build_script_reproduces_the_snapshot_from_a_litellm_shaped_wheel(tmp_path):
    """The script reads the map from a wheel; here a wheel made from a small map."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    wheel = tmp_path / "litellm-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("litellm/model_prices_and_context_window_backup.json",
                   json.dumps({"gpt-x": litellm_entry(), "groq/y": litellm_entry("groq")}))
    out = tmp_path / "prices.json"
    subprocess.run([sys.executable, str(root / "scripts" / "build_catalog.py"), "--wheel",
                    str(wheel), "--version", "9.9.9", "--taken", "2026-01-02", "--out", str(out)],
                   check=True, capture_output=True)
    built = prices.read(out)
    assert built.source["version"] == "9.9.9" and built.taken == dt.date(2026, 1, 2)
    assert built.info("groq", "y").price.input == 1_000_000
    refused = subprocess.run([sys.executable, str(root / "scripts" / "build_catalog.py"),
                              "--version", "1.82.7", "--out", str(out)], capture_output=True)
    assert refused.returncode != 0 and b"compromised" in refused.stderr


def test_check_refuses_free_maps_and_prices_far_from_the_current_ones():
    current = catalog_source.extract(bulk(200))
    free = {f"m{i}": litellm_entry(input_cost_per_token=0, output_cost_per_token=0)
            for i in range(200)}
    with pytest.raises(catalog_source.SourceError, match="cost nothing"):
        catalog_source.check(free, current)
    for factor in (0, 0.05, 20):
        moved = bulk(200)
        moved["m7"] = litellm_entry(input_cost_per_token=1e-06 * factor)
        with pytest.raises(catalog_source.SourceError, match="openai/m7 input"):
            catalog_source.check(moved, current)
    cheaper = bulk(200)
    cheaper["m7"] = litellm_entry(input_cost_per_token=0.5e-06)  # halved: a real price cut
    assert catalog_source.count(catalog_source.check(cheaper, current)) == 200


def test_the_catalogue_and_the_snapshot_are_read_as_generated():
    """byok reads catalog.json and the bundled prices.json from the modules generate.py
    writes from them (Python literals, no json module); they hold exactly what the JSON files
    say (generate.py --check, in test_ecosystem, also holds the text), and what byok loads
    from them is what the JSON says."""
    from byok_cli.catalog import catalog_data, curated, prices_data

    with open(curated._PATH, encoding="utf-8") as f:
        catalog = json.load(f)
    with open(prices.SNAPSHOT, encoding="utf-8") as f:
        snapshot = json.load(f)
    assert catalog_data.CATALOG == catalog and prices_data.PRICES == snapshot
    assert [m.id for m in load_catalog().models] == [m["id"] for m in catalog["models"]]
    assert load_catalog().defaults == catalog["defaults"]
    assert SNAPSHOT.models == snapshot["models"] and SNAPSHOT.source == snapshot["source"]
    assert prices.read(prices.SNAPSHOT) == SNAPSHOT
