"""Budgets: periods (UTC) and their rollover, reservations before sending, refusals, the 80%
warning, unpriced models, fallbacks, and parallel processes that must not overspend."""

import datetime as dt
import json
import sqlite3
import subprocess

import pytest

from byok_cli.routing.budget import period_end, period_start, reserve
from byok_cli.errors import ByokError, Code
from byok_cli.catalog.prices import ModelInfo, Price
from byok_cli.store import DB_NAME, Budget, Store, UsageRow
from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, openai_key
from support.pricedata import write_synced

UTC = dt.timezone.utc


def ts(*args) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


# --- periods ---------------------------------------------------------------------------

@pytest.mark.parametrize("period,at,start,end", [
    ("day", ts(2026, 12, 31, 23, 59, 59), ts(2026, 12, 31), ts(2027, 1, 1)),
    ("day", ts(2027, 1, 1), ts(2027, 1, 1), ts(2027, 1, 2)),
    ("week", ts(2026, 11, 29, 23, 59, 59), ts(2026, 11, 23), ts(2026, 11, 30)),  # a Sunday
    ("week", ts(2026, 11, 30), ts(2026, 11, 30), ts(2026, 12, 7)),               # Monday 00:00
    ("week", ts(2026, 12, 31, 12), ts(2026, 12, 28), ts(2027, 1, 4)),            # across years
    ("month", ts(2028, 2, 29, 23), ts(2028, 2, 1), ts(2028, 3, 1)),              # leap year
    ("month", ts(2026, 12, 15), ts(2026, 12, 1), ts(2027, 1, 1)),
    ("month", ts(2027, 3, 28, 1, 30), ts(2027, 3, 1), ts(2027, 4, 1)),  # EU DST day: UTC holds
])
def test_periods_are_utc_calendar_periods(period, at, start, end):
    assert (period_start(period, at), period_end(period, at)) == (start, end)


PRICED = ModelInfo("openai", "gpt-4.1", 1_000_000, 1000, Price(0, 1_000_000_000), None)
# $1000 per million output tokens: each output token costs $0.001, input is free


def spend(store: Store, at: float, micros: int, provider: str = "openai") -> None:
    store.record_usage(UsageRow(at, "default", provider, "gpt-4.1", "stored", "", 1, 1, 1, 1,
                                "OK", None, micros))


def hold(store: Store, at: float, out_tokens: int = 10, provider: str = "openai"):
    return reserve(store, "default", store.budgets("default"), provider, "gpt-4.1", None,
                   PRICED, None, [{"role": "user", "content": ""}], out_tokens, False, at=at)


@pytest.mark.parametrize("period,before,after", [
    ("day", ts(2026, 11, 25, 23, 59, 59), ts(2026, 11, 26)),
    ("week", ts(2026, 11, 29, 23, 59, 59), ts(2026, 11, 30)),
    ("month", ts(2026, 11, 30, 23, 59, 59), ts(2026, 12, 1)),
])
def test_spending_rolls_over_at_the_period_boundary(in_process, period, before, after):
    store = Store()
    store.set_budget("default", Budget("profile", "", period, 100_000))  # $0.10
    spend(store, before - 60, 95_000)
    with pytest.raises(ByokError) as refused:
        hold(store, before)  # $0.095 spent + up to $0.01 > $0.10
    assert refused.value.code == Code.BUDGET_EXCEEDED
    assert "$0.095 spent of $0.10 this " + period in refused.value.message
    assert "resets " + dt.datetime.fromtimestamp(after, UTC).strftime("%Y-%m-%d 00:00 UTC") \
        in refused.value.message
    allowed = hold(store, after)  # a new period: nothing spent yet
    assert allowed.id is not None and allowed.micros == 10_000  # 10 output tokens, input free
    assert store.standing("default", store.budgets("default")[0], after, after).held == 10_000


def test_holds_count_until_settled_or_expired(in_process):
    store = Store()
    store.set_budget("default", Budget("provider", "openai", "day", 45_000))
    at = ts(2026, 11, 25, 12)
    held = [hold(store, at + i) for i in range(4)]  # 4 x $0.01
    with pytest.raises(ByokError):
        hold(store, at + 5)
    store.release_hold(held[0].id)
    assert hold(store, at + 6).id is not None
    assert hold(store, at + 3601 + 6, provider="anthropic") is None  # no budget applies
    assert hold(store, at + 3600 + 7).id is not None  # the first holds expired after an hour
    # a hold gives way to the actual cost in the transaction that records it
    store.record_usage(UsageRow(at, "default", "openai", "gpt-4.1", "stored", "", 1, 3, 1, 1,
                                "OK", None, 3_000), hold_id=held[1].id)
    s = store.standing("default", store.budgets("default")[0], ts(2026, 11, 25), at + 3700)
    assert s.spent == 3_000 and s.held == 10_000  # only the hold made after the others expired


# --- the CLI ---------------------------------------------------------------------------

def test_budget_set_list_rm(byok_env):
    assert byok_env.run("budget", "set", "--per", "month", "20").returncode == 0
    assert byok_env.run("budget", "set", "-p", "anthropic", "--per", "day", "$2.50").returncode == 0
    assert byok_env.run("budget", "set", "--per", "month", "25").returncode == 0  # changes it
    rows = json.loads(byok_env.run("budget", "list", "--json").stdout)
    assert [(r["scope"], r["name"], r["period"], r["limit_micros"]) for r in rows] == [
        ("profile", None, "month", 25_000_000), ("provider", "anthropic", "day", 2_500_000)]
    assert rows[0]["spent_usd"] == 0 and rows[0]["resets"].endswith("00:00 UTC")
    assert "\t25.00\t" in byok_env.run("budget", "list").stdout  # bare dollars
    assert byok_env.run("budget", "rm", "-p", "anthropic", "--yes").returncode == 0
    assert byok_env.run("budget", "rm", "-p", "anthropic").returncode == Code.USAGE.exit_status
    assert len(json.loads(byok_env.run("budget", "list", "--json").stdout)) == 1


@pytest.mark.parametrize("args", [
    ["--per", "month", "0"], ["--per", "month", "--", "-1"], ["--per", "month", "nan"],
    ["--per", "month", "inf"], ["--per", "month", "1.0000001"], ["--per", "month", "ten"],
    ["--per", "year", "5"], ["5"], ["--key", "Work Key", "--per", "day", "5"],
    ["--key", "work", "-p", "openai", "--per", "day", "5"], ["-p", "nobody", "--per", "day", "5"],
    # a decimal comma or a thousands separator: ambiguous, never read as 55 or 1000
    ["--per", "day", "5,5"], ["--per", "day", "1,000"], ["--per", "day", "1e3"],
    ["--per", "day", "1e300"], ["--per", "day", "--", "-0"], ["--per", "day", "+5"],
    ["--per", "day", "Infinity"], ["--per", "day", "NaN"], ["--per", "day", "0x10"],
    ["--per", "day", "5 5"], ["--per", "day", "$"], ["--per", "day", "9" * 30],
    ["--per", "day", "5\u0665"],
])
def test_budget_set_refuses_bad_input(byok_env, args):
    r = byok_env.run("budget", "set", *args)
    assert r.returncode == Code.USAGE.exit_status, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def priced_home(env, **extra) -> None:
    """gpt-6-luna at $0 input and $1000 per million output tokens: a run's worst case is exactly
    its --max-tokens times $0.001, and the fake server's reply to "a b c" is 4 tokens."""
    write_synced(env.home, {"openai": {"gpt-6-luna": {"context": 1_000_000, "max_output": 1000,
                                                   "input": 0, "output": 1000}}, **extra})


def test_a_run_over_budget_is_refused_before_sending(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    priced_home(byok_env)
    byok_env.run("budget", "set", "--per", "day", "0.01")
    ok = byok_env.run("run", "--json", "-m", "gpt-6-luna", "--max-tokens", "4", "a b c")
    assert ok.returncode == 0 and json.loads(ok.stdout)["cost_usd"] == 0.004
    sent = fake.seen_keys.get(OPENAI_GOOD, 0)
    r = byok_env.run("run", "-m", "gpt-6-luna", "--max-tokens", "7", "a b c")  # 0.004 + 0.007
    assert r.returncode == Code.BUDGET_EXCEEDED.exit_status == 16
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
    assert "profile budget: $0.004 spent of $0.01 this day" in r.stderr
    assert "may cost up to $0.007" in r.stderr and "resets" in r.stderr
    assert fake.seen_keys.get(OPENAI_GOOD, 0) == sent  # nothing was sent
    warned = byok_env.run("run", "-m", "gpt-6-luna", "--max-tokens", "5", "a b c")
    assert warned.returncode == 0
    more = byok_env.run("run", "-m", "gpt-6-luna", "--max-tokens", "1", "x")  # 0.008 of 0.01 spent
    assert more.returncode == 0 and "warning: profile budget: $0.008 of $0.01" in more.stderr
    holds = sqlite3.connect(byok_env.home / DB_NAME).execute(
        "SELECT COUNT(*) FROM budget_holds").fetchone()[0]
    assert holds == 0  # each hold gave way to the actual cost


def test_a_failed_request_releases_its_hold(byok_env, fake):
    byok_env.set_key("openai", openai_key("revoked"))
    priced_home(byok_env)
    byok_env.run("budget", "set", "--per", "day", "1")
    r = byok_env.run("run", "-m", "gpt-6-luna", "--max-tokens", "4", "a b c")
    assert r.returncode == Code.UNAUTHORIZED.exit_status
    conn = sqlite3.connect(byok_env.home / DB_NAME)
    assert conn.execute("SELECT COUNT(*) FROM budget_holds").fetchone()[0] == 0


def test_unpriced_models_under_a_budget(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    # The built-in defaults are priced, so a budget leaves a plain `byok run` where it was.
    first = byok_env.run("budget", "set", "--per", "month", "20")
    assert first.returncode == 0 and "no known price" not in first.stderr, first.stderr
    plain = byok_env.run("run", "hello")
    assert plain.returncode == 0 and plain.stdout == "Echo[gpt-6.1-sol]: hello\n", plain.stderr
    assert plain.stderr == ""
    # A profile whose chosen model is newer than the bundled LiteLLM release: setting the
    # budget says at once that a plain `byok run` will be refused, and how to proceed.
    byok_env.run("models", "default", "gpt-6.2-sol")
    set_ = byok_env.run("budget", "set", "--per", "month", "5")
    assert set_.returncode == 0
    assert "openai/gpt-6.2-sol (the profile's openai model) has no known price (LiteLLM " \
        in set_.stderr and "byok models sync" in set_.stderr
    assert sum("no known price" in line for line in set_.stderr.splitlines()) == 1  # once
    moved = byok_env.run("run", "hello")  # not silently: it says why, and where it went
    assert moved.returncode == 0 and moved.stdout == "Echo[gpt-6.1-sol]: hello\n"
    assert "no price is known for openai/gpt-6.2-sol" in moved.stderr
    assert "nothing was sent; trying openai gpt-6.1-sol" in moved.stderr
    r = byok_env.run("run", "--no-fallback", "hello")
    assert r.returncode == Code.BUDGET_EXCEEDED.exit_status
    assert "no price is known for openai/gpt-6.2-sol in byok's price data (LiteLLM " in r.stderr
    for way in ("byok models sync", "--allow-unpriced", "allow-unpriced on", "-m a priced model"):
        assert way in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    allowed = byok_env.run("run", "--allow-unpriced", "-m", "gpt-6.2-sol", "hello")
    assert allowed.returncode == 0 and "cannot count this request" in allowed.stderr
    byok_env.run("config", "set", "allow-unpriced", "on")
    assert byok_env.run("run", "-m", "gpt-6.2-sol", "hello").returncode == 0
    quiet = byok_env.run("budget", "set", "--per", "day", "1")  # allowed: nothing to warn of
    assert quiet.returncode == 0 and "no known price" not in quiet.stderr
    assert byok_env.run("run", "hello").returncode == 0  # no budget needed without one


def test_fallback_goes_to_a_provider_whose_budget_allows(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    byok_env.run("config", "set", "preferred-provider", "openai")
    priced_home(byok_env, anthropic={"claude-sonnet-5-5": {"max_output": 1000, "input": 1,
                                                           "output": 1}})
    byok_env.run("budget", "set", "-p", "openai", "--per", "week", "0.001")
    # -m pins the provider; --fallback lets the chain answer what openai's budget refuses
    r = byok_env.run("run", "--json", "-m", "gpt-6-luna", "--fallback", "--max-tokens", "4",
                     "a b c")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["provider"] == "anthropic"
    assert out["fallbacks"][0]["kind"] == "budget_exceeded"
    assert "provider openai budget" in r.stderr
    strict = byok_env.run("run", "--no-fallback", "-m", "gpt-6-luna", "--max-tokens", "4", "a")
    assert strict.returncode == Code.BUDGET_EXCEEDED.exit_status


def test_a_budget_per_named_key(byok_env, fake):
    work, personal = openai_key("good-work"), openai_key("good-personal")
    byok_env.set_key("openai", work, "--name", "work")
    byok_env.set_key("openai", personal, "--name", "personal")
    priced_home(byok_env)
    assert byok_env.run("budget", "set", "--key", "work", "--per", "day", "0.005").returncode == 0
    ok = byok_env.run("run", "-k", "work", "-m", "gpt-6-luna", "--max-tokens", "4", "a b c")
    assert ok.returncode == 0, ok.stderr
    refused = byok_env.run("run", "-k", "work", "-m", "gpt-6-luna", "--max-tokens", "4", "a b c")
    assert refused.returncode == Code.BUDGET_EXCEEDED.exit_status
    assert "key work budget" in refused.stderr
    other = byok_env.run("run", "-k", "personal", "-m", "gpt-6-luna", "--max-tokens", "4", "a")
    assert other.returncode == 0, other.stderr
    assert [r["key"] for r in fake.requests if r["method"] == "POST"] == [work, personal]
    rows = json.loads(byok_env.run("budget", "list", "--json").stdout)
    assert [(r["scope"], r["name"], r["spent_micros"]) for r in rows] == [("key", "work", 4000)]
    # Unpinned, the key's budget refuses only that key: openai's next key answers.
    byok_env.run("key", "order", "openai", "work", "personal")
    moved = byok_env.run("run", "--json", "-m", "gpt-6-luna", "--max-tokens", "4", "a")
    assert moved.returncode == 0, moved.stderr
    out = json.loads(moved.stdout)
    assert out["provider"] == "openai"  # (key_name is masked: this fake key contains it)
    assert out["fallbacks"][0]["kind"] == "budget_exceeded" and "key work budget" in moved.stderr
    assert [r["key"] for r in fake.requests if r["method"] == "POST"][-1] == personal


def test_parallel_runs_cannot_overspend_together(byok_env, fake):
    """24 `byok run` processes at once against a budget that allows 10. Each run's worst case
    equals its actual cost (see priced_home), so exactly 10 can be paid for; the slow key
    keeps them in flight together, so only the reservations stand between them."""
    key = openai_key("slow")
    byok_env.set_key("openai", key)
    priced_home(byok_env)
    fake.slow_seconds = 1.0
    assert byok_env.run("budget", "set", "--per", "day", "0.04").returncode == 0
    procs = [subprocess.Popen([str(BYOK), "run", "-m", "gpt-6-luna", "--max-tokens", "4",
                               "a b c"], env={**byok_env.vars, "BYOK_TIMEOUT": "30"},
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(24)]
    results = [(p.wait(timeout=240), p.stderr.read().decode()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert set(codes) <= {0, Code.BUDGET_EXCEEDED.exit_status}, results
    assert codes.count(0) == 10 and codes.count(16) == 14
    assert fake.seen_keys.get(key, 0) == 10  # the refused ones never reached the provider
    conn = sqlite3.connect(byok_env.home / DB_NAME)
    spent, runs = conn.execute("SELECT SUM(cost_micros), COUNT(*) FROM usage").fetchone()
    assert runs == 10 and spent == 40_000  # exactly the limit, never more
    assert conn.execute("SELECT COUNT(*) FROM budget_holds").fetchone()[0] == 0
    refused = [err for code, err in results if code == 16]
    assert all("profile budget:" in e and "of $0.04 this day" in e for e in refused)


def test_a_local_server_costs_nothing_under_a_budget(byok_env, fake):
    r = byok_env.run("provider", "add", "loc", "--api", "openai", "--no-key", "--base-url",
                     fake.url + "/local/v1")
    assert r.returncode == 0, r.stderr
    byok_env.run("budget", "set", "--per", "month", "20")
    local = byok_env.run("run", "--json", "-m", "loc/llama3.2", "hi")
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["cost_usd"] == 0
    # a keyless preset too, under a budget no priced request fits
    byok_env.run("config", "set", "ollama.base_url", fake.url + "/local/v1")
    assert byok_env.run("budget", "set", "--per", "month", "0.000001").returncode == 0
    assert byok_env.run("run", "-m", "ollama/llama3.2", "hi").returncode == 0
    # A keyless definition carrying a key is billed by someone: never counted as free.
    byok_env.set_key("loc", OPENAI_GOOD, "--no-validate")
    paid = byok_env.run("run", "-m", "loc/gpt-4o", "--max-tokens", "100000", "hi")
    assert paid.returncode == Code.BUDGET_EXCEEDED.exit_status, paid.stderr
    assert OPENAI_GOOD not in [r["key"] for r in fake.requests]  # refused before sending


def test_a_gateways_own_model_gets_only_hints_that_can_help(byok_env, fake):
    r = byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url",
                     fake.url + "/gw/v1", "--key-env", "GW_KEY")
    assert r.returncode == 0, r.stderr
    byok_env.run("budget", "set", "--per", "month", "20")
    gw = {"GW_KEY": "sk-gw-good-1234567890"}
    refused = byok_env.run("run", "-m", "gw/team/llama-70b", "hi", env=gw)
    assert refused.returncode == Code.BUDGET_EXCEEDED.exit_status
    assert "models sync" not in refused.stderr
    assert "--allow-unpriced" in refused.stderr and "allow-unpriced on" in refused.stderr
    allowed = byok_env.run("run", "--allow-unpriced", "-m", "gw/team/llama-70b", "hi", env=gw)
    assert allowed.returncode == 0, allowed.stderr


def test_a_budget_set_below_this_periods_spending_says_so(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    priced_home(byok_env)
    assert byok_env.run("run", "-m", "gpt-6-luna", "--max-tokens", "4", "a b c").returncode == 0
    r = byok_env.run("budget", "set", "--provider", "openai", "--per", "day", "0.001")
    assert r.returncode == 0, r.stderr  # accepted, and said
    assert "already spent $0.004" in r.stderr and "refused until it resets" in r.stderr
    roomy = byok_env.run("budget", "set", "--provider", "openai", "--per", "day", "1")
    assert "already spent" not in roomy.stderr


def test_chat_under_a_budget_bounds_its_answers(byok_env, fake):
    """`chat --max-tokens N` and `/max-tokens N`: a model whose worst case is over the budget
    can still be used in a chat (issue 24, finding 2)."""
    byok_env.set_key("openai", OPENAI_GOOD)
    priced_home(byok_env)
    byok_env.run("budget", "set", "--per", "day", "0.01")
    r = byok_env.run("chat", "-m", "gpt-6-luna", "--no-fallback",
                     input="a b c\n/max-tokens 4\na b c\n/max-tokens\n/max-tokens 0\n")
    assert r.returncode == 0, r.stderr
    refused, *rest = [ln for ln in r.stderr.splitlines() if "budget:" in ln]
    assert "may cost up to $1" in refused and "lower /max-tokens N" in refused
    assert "--max-tokens" not in r.stderr
    assert "max tokens: 4" in r.stderr and r.stdout.count("\n") >= 1
    assert "/max-tokens takes a whole number" in r.stderr
    assert rest == []  # the turn after /max-tokens 4 fitted the budget
    flagged = byok_env.run("chat", "-m", "gpt-6-luna", "--no-fallback", "--max-tokens", "4",
                           input="a b c\n")
    assert flagged.returncode == 0 and "budget" not in flagged.stderr, flagged.stderr
    assert flagged.stdout.strip()
