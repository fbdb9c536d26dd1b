"""What requests cost: priced from the tokens the provider reports, at the price in force at
the time; `models sync` from a loopback server; `models list/show`; `usage` with costs."""

import datetime as dt
import functools
import json
import operator
import sqlite3
import stat

import pytest

from byok_cli.catalog import source as catalog_source
from byok_cli.errors import Code
from byok_cli.catalog.prices import snapshot
from byok_cli.store import DB_NAME
from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD
from support.pricedata import MapServer, litellm_map, write_synced

SNAP = snapshot()


@pytest.fixture
def maps():
    server = MapServer()
    yield server
    server.close()


def cost_of(provider: str, model: str, usage: dict) -> int:
    return SNAP.info(provider, model).price.cost_micros(usage["input_tokens"],
                                                        usage["output_tokens"])


def db_costs(home) -> list:
    return sqlite3.connect(home / DB_NAME).execute(
        "SELECT model, input_tokens, output_tokens, cost_micros FROM usage ORDER BY id").fetchall()


def test_run_json_gives_the_cost_of_the_reported_tokens(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    for provider, model in (("openai", "gpt-4o"), ("anthropic", "claude-haiku-4-5")):
        for stream in ((), ("--no-stream",)):
            r = byok_env.run("run", "--json", "-m", model, *stream, "a b c")
            assert r.returncode == 0, r.stderr
            out = json.loads(r.stdout)
            assert out["usage"]["input_tokens"] and out["usage"]["output_tokens"]
            expected = cost_of(provider, model, out["usage"])
            assert expected > 0 and out["cost_usd"] == expected / 1e6
    costs = [row[3] for row in db_costs(byok_env.home)]
    assert len(costs) == 4 and all(isinstance(c, int) and c > 0 for c in costs)


def test_cached_input_tokens_are_priced_at_the_cached_rate(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    out = json.loads(byok_env.run("run", "--json", "-m", "gpt-4o", "cached prompt").stdout)
    usage = out["usage"]
    assert (usage["input_tokens"], usage["cached_input_tokens"]) == (11, 8)
    price = SNAP.info("openai", "gpt-4o").price  # $2.50 in, $1.25 cached, $10 out per million
    expected = -(-(3 * price.input + 8 * price.cached + usage["output_tokens"] * price.output)
                 // 1_000_000)
    assert out["cost_usd"] == expected / 1e6
    assert expected < cost_of("openai", "gpt-4o", usage)  # cheaper than all at full price


def test_unknown_price_is_unknown_never_zero(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    assert SNAP.info("openai", "gpt-6.2-sol") is None  # newer than the snapshot's LiteLLM
    r = byok_env.run("run", "--json", "--cost", "-m", "gpt-6.2-sol", "hello")
    assert json.loads(r.stdout)["cost_usd"] is None
    assert "cost: unknown (openai/gpt-6.2-sol: no price is known for it)" in r.stderr
    assert db_costs(byok_env.home)[0][3] is None
    usage = json.loads(byok_env.run("usage", "--json").stdout)
    assert usage["rows"][0]["cost_usd"] is None and usage["rows"][0]["cost_unknown_requests"] == 1
    assert usage["totals"]["cost_usd"] is None
    assert "\tunknown\t" in byok_env.run("usage").stdout


def test_a_price_change_between_two_runs_does_not_rewrite_history(byok_env, fake, maps):
    byok_env.set_key("openai", OPENAI_GOOD)
    first = json.loads(byok_env.run("run", "--json", "-m", "gpt-4o", "one two").stdout)
    url = maps.serve("/prices.json", litellm_map(**{"gpt-4o": (5.0, 20.0)}))  # doubled
    synced = byok_env.run("models", "sync", "--url", url)
    assert synced.returncode == 0, synced.stderr
    second = json.loads(byok_env.run("run", "--json", "-m", "gpt-4o", "one two").stdout)
    assert first["usage"] == second["usage"]
    u = first["usage"]
    old = -(-(u["input_tokens"] * 2_500_000 + u["output_tokens"] * 10_000_000) // 1_000_000)
    new = -(-(u["input_tokens"] * 5_000_000 + u["output_tokens"] * 20_000_000) // 1_000_000)
    assert (first["cost_usd"], second["cost_usd"]) == (old / 1e6, new / 1e6)
    assert [row[3] for row in db_costs(byok_env.home)] == [old, new]
    usage = json.loads(byok_env.run("usage", "--since", "30d", "--json").stdout)
    assert usage["totals"]["cost_micro_usd"] == old + new
    assert usage["totals"]["cost_usd"] == (old + new) / 1e6


def test_usage_sums_costs_exactly_where_floats_would_drift(in_process):
    """0.1 + 0.2 != 0.3 in floats; integer micro-dollars add up exactly."""
    from byok_cli.store import Store, UsageRow
    from byok_cli.usage import summary, totals

    store = Store()
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    for i in range(3000):
        cost = (100_000, 200_000, 300_000)[i % 3]  # $0.10, $0.20, $0.30
        store.record_usage(UsageRow(now - i, "default", "openai", "gpt-4o", "stored", "", 10, 10,
                                    5, 9, "OK", None, cost))
    rows = summary(store, "default", now - 86400 * 30)
    total = totals(rows)
    assert total["cost_micro_usd"] == 600_000_000 and total["cost_usd"] == 600.0
    # What adding floats one by one would have said. Not sum(): since Python 3.12 it
    # compensates for rounding and gives exactly 600.0 here.
    assert functools.reduce(operator.add, [0.1, 0.2, 0.3] * 1000) != 600.0
    store.rebuild_usage_rollups()  # the roll-ups rebuilt from raw rows agree
    assert totals(summary(store, "default", None))["cost_micro_usd"] == 600_000_000


def test_cost_flag_and_setting_show_cost_on_stderr_only(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "--cost", "-m", "gpt-4o", "hello")
    assert r.stdout == "Echo[gpt-4o]: hello\n"
    assert r.stderr.splitlines()[-1].startswith("cost: $0.0000") and "openai/gpt-4o" in r.stderr
    assert byok_env.run("config", "set", "show-cost", "on").returncode == 0
    quiet = byok_env.run("run", "-m", "gpt-4o", "hello")  # stderr is not a terminal here
    assert "cost:" not in quiet.stderr
    assert byok_env.run("config", "set", "show-cost", "maybe").returncode == Code.USAGE.exit_status


def test_show_cost_setting_on_a_terminal(byok_env, fake):
    pexpect = pytest.importorskip("pexpect")
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.run("config", "set", "show-cost", "on")
    child = pexpect.spawn(str(BYOK), ["run", "-m", "gpt-4o", "hi"], env=byok_env.vars,
                          encoding="utf-8", timeout=30)
    child.expect(r"cost: \$0\.0000\d+ \(openai/gpt-4o, 11 in / \d out tokens\)")
    child.expect(pexpect.EOF)


# --- models sync -----------------------------------------------------------------------

def sync(env, url: str):
    return env.run("models", "sync", "--url", url)


def test_sync_from_a_loopback_server_writes_0600_and_records_it(byok_env, maps):
    served = litellm_map(**{"gpt-4o": (3.0, 12.0)})
    count = catalog_source.count(catalog_source.extract(served))
    url = maps.serve("/good.json", served)
    r = sync(byok_env, url)
    assert r.returncode == 0, r.stderr
    assert f"synced {count} models from {url}" in r.stderr
    path = byok_env.home / "prices.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shown = json.loads(byok_env.run("models", "show", "gpt-4o", "--json").stdout)
    assert (shown["input_per_mtok"], shown["output_per_mtok"]) == (3.0, 12.0)
    assert shown["price_source"]["url"] == url and shown["price_source"]["kind"] == "sync"
    listed = byok_env.run("models", "list", "--json")
    assert f"synced from {url}" in listed.stderr and "0 days old" in listed.stderr
    rows = sqlite3.connect(byok_env.home / DB_NAME).execute(
        "SELECT url, outcome, models FROM catalog_syncs").fetchall()
    assert rows == [(url, "ok", count)]


@pytest.mark.parametrize("body,status,why", [
    (b'{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost', 3, "not JSON"),
    (b"{}", 3, "empty"),
    (b"", 3, "not JSON"),
    (b"[]", 3, "not a JSON object"),
    (b"500", 9, "HTTP 500"),
])
def test_a_bad_sync_is_refused_and_the_old_data_kept(byok_env, maps, body, status, why):
    good = maps.serve("/good.json", litellm_map(**{"gpt-4o": (3.0, 12.0)}))
    assert sync(byok_env, good).returncode == 0
    before = (byok_env.home / "prices.json").read_bytes()
    r = sync(byok_env, maps.serve("/bad.json", body))
    assert r.returncode == status and why in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert (byok_env.home / "prices.json").read_bytes() == before
    shown = json.loads(byok_env.run("models", "show", "gpt-4o", "--json").stdout)
    assert shown["input_per_mtok"] == 3.0
    outcomes = [o for (o,) in sqlite3.connect(byok_env.home / DB_NAME).execute(
        "SELECT outcome FROM catalog_syncs ORDER BY id")]
    assert outcomes[0] == "ok" and outcomes[1].startswith(("refused", "failed"))


@pytest.mark.parametrize("field, value", [
    ("input_cost_per_token", 1e300), ("input_cost_per_token", float("nan")),
    ("output_cost_per_token", float("inf")), ("input_cost_per_token", -1e-06),
    ("input_cost_per_token", "0.000001"), ("max_input_tokens", 1.5),
    ("max_input_tokens", 1e30), ("max_output_tokens", -5), ("max_output_tokens", True),
])
def test_a_sync_leaves_out_implausible_entries_with_a_note(byok_env, maps, field, value):
    served = litellm_map()
    served["gpt-4o"][field] = value
    served["gpt-4o-mini"]["input_cost_per_token_above_200k_tokens"] = 1e300  # a tier too
    served["gpt-4o-mini"]["output_cost_per_token_above_200k_tokens"] = 1e-05
    r = sync(byok_env, maps.serve("/odd.json", served))
    assert r.returncode == 0, r.stderr
    notes = [line for line in r.stderr.splitlines() if "left out" in line]
    assert len(notes) == 2, r.stderr
    assert f"left out openai/gpt-4o: {field} " in notes[0] + notes[1]
    assert "openai/gpt-4o-mini: input_cost_per_token_above_200k_tokens 1e+300" in r.stderr
    assert "synced" in r.stderr and "Traceback" not in r.stderr
    shown = byok_env.run("models", "show", "gpt-4o", "--json")
    assert json.loads(shown.stdout)["input_per_mtok"] is None  # unpriced, not 1e300 nor 0
    assert json.loads(byok_env.run("models", "sync", "--url", maps.serve("/odd2.json", served),
                                   "--json").stdout)["skipped"][0].startswith("openai/gpt-4o")


def test_a_sync_that_shrinks_or_drops_most_models_is_refused(byok_env, maps):
    full = litellm_map()
    few = dict(list(full.items())[:120])
    r = sync(byok_env, maps.serve("/small.json", few))
    assert r.returncode == Code.INVALID_FORMAT.exit_status and "where the current data has" in r.stderr
    renamed = {f"{k}-renamed": v for k, v in full.items()}
    r = sync(byok_env, maps.serve("/renamed.json", renamed))
    assert r.returncode == Code.INVALID_FORMAT.exit_status and "drops" in r.stderr
    assert not (byok_env.home / "prices.json").exists()  # the snapshot still stands


def test_sync_with_the_server_down_or_a_plain_http_host(byok_env, maps):
    url = maps.serve("/good.json", litellm_map())
    maps.close()
    r = sync(byok_env, url)
    assert r.returncode == Code.NETWORK_ERROR.exit_status and "cannot fetch" in r.stderr
    r = sync(byok_env, "http://example.com/prices.json")
    assert r.returncode == Code.USAGE.exit_status and "https" in r.stderr
    r = byok_env.run("models", "sync", env={"BYOK_CATALOG_URL": "ftp://127.0.0.1/x"})
    assert r.returncode == Code.USAGE.exit_status


def test_sync_url_from_the_environment(byok_env, maps):
    url = maps.serve("/env.json", litellm_map())
    r = byok_env.run("models", "sync", "--json", env={"BYOK_CATALOG_URL": url})
    assert r.returncode == 0 and json.loads(r.stdout)["url"] == url


# --- models list / show ----------------------------------------------------------------

def test_models_list_shows_context_and_prices(byok_env):
    rows = {r["id"]: r for r in json.loads(byok_env.run("models", "list", "--json").stdout)}
    sonnet = rows["claude-sonnet-5-5"]
    assert sonnet["context_window"] == 1_000_000 and sonnet["input_per_mtok"] == 2.0
    assert sonnet["price_date"] == SNAP.source["taken"]
    assert rows["gpt-6.2-sol"]["input_per_mtok"] is None
    plain = [line.split("\t") for line in
             byok_env.run("models", "list", "-p", "openai").stdout.splitlines()]
    columns = plain[0]
    gpt4o = dict(zip(columns, next(row for row in plain if row[1] == "gpt-4o")))
    assert (gpt4o["context"], gpt4o["$/M in"], gpt4o["$/M out"]) == ("128000", "2.5", "10")
    wide = byok_env.run("models", "list", "--wide", "-p", "openai").stdout
    assert "Legacy multimodal model" in wide
    everything = json.loads(byok_env.run("models", "list", "--all", "--json", "-p",
                                         "openai").stdout)
    assert {"gpt-4.1", "gpt-4o"} <= {r["id"] for r in everything}


def test_models_show(byok_env):
    r = byok_env.run("models", "show", "haiku")
    assert r.returncode == 0
    assert "id: claude-haiku-5-5" in r.stdout and "context window: 1000000" in r.stdout
    assert "price source: byok's snapshot of LiteLLM" in r.stdout
    missing = byok_env.run("models", "show", "gpt-nonexistent")
    assert missing.returncode == Code.MODEL_NOT_FOUND.exit_status


def test_doctor_flags_a_model_in_use_that_retires_soon(byok_env):
    soon = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    models = {p: dict(ms) for p, ms in SNAP.models.items()}
    models["openai"]["gpt-4.1"] = {**models["openai"]["gpt-4.1"], "retires": soon}
    write_synced(byok_env.home, models)
    byok_env.run("config", "set", "openai.model", "gpt-4.1")
    rows = {r["check"]: r for r in json.loads(byok_env.run("doctor", "--json").stdout)}
    assert rows["model openai/gpt-4.1"]["status"] == "warn"
    assert soon in rows["model openai/gpt-4.1"]["detail"]
    assert "synced from" in rows["price data"]["detail"]


def test_doctor_warns_on_stale_price_data(in_process):
    from byok_cli.cli.doctor import Report, _check_catalogue
    from byok_cli.cli.state import State
    from byok_cli.catalog.prices import PriceData

    old = (dt.date.today() - dt.timedelta(days=45)).isoformat()
    data = PriceData(SNAP.models, {**SNAP.source, "taken": old}, SNAP.path)
    report = Report()
    _check_catalogue(State(), report, data)
    row = next(r for r in report.rows if r["check"] == "price data")
    assert row["status"] == "warn" and "45 days old" in row["detail"]
    assert "byok models sync" in row["fix"]
    fresh = Report()
    _check_catalogue(State(), fresh, SNAP._replace(
        source={**SNAP.source, "taken": dt.date.today().isoformat()}))
    assert next(r for r in fresh.rows if r["check"] == "price data")["status"] == "ok"
