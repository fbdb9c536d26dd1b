"""Conversations across model and provider switches, `byok chat`, history and usage."""

import json
import re
import sqlite3
import time

import pytest
from hypothesis import given, strategies as st

from byok_cli.errors import Code
from byok_cli.store import DB_NAME, Store, UsageRow, bucket, bucket_sql
from byok_cli.usage import parse_since, percentile, summary
from conftest import (ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, OPENAI_GOOD_ENV, anthropic_key,
                      assert_no_leak, openai_key)


def posts(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


@pytest.fixture
def both(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    return byok_env


def test_continue_switches_provider_with_history_converted(both, fake):
    r1 = both.run("run", "-s", "be terse", "first question")
    assert r1.returncode == 0, r1.stderr
    r2 = both.run("run", "-c", "-p", "anthropic", "second question")
    assert r2.returncode == 0, r2.stderr
    r3 = both.run("run", "-c", "-m", "luna", "third question")
    assert r3.returncode == 0, r3.stderr
    first, second, third = posts(fake)
    assert first["path"] == "/v1/chat/completions"
    assert first["messages"] == [{"role": "system", "content": "be terse"},
                                 {"role": "user", "content": "first question"}]
    # Anthropic: the system prompt moves to the top level; roles alternate
    assert second["path"] == "/v1/messages" and second["system"] == "be terse"
    assert second["messages"] == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "Echo[gpt-6.1-sol]: first question"},
        {"role": "user", "content": "second question"}]
    # and back to OpenAI with the whole history, system prompt first again
    assert third["path"] == "/v1/chat/completions" and third["model"] == "gpt-6-luna"
    assert third["messages"] == [
        {"role": "system", "content": "be terse"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "Echo[gpt-6.1-sol]: first question"},
        {"role": "user", "content": "second question"},
        {"role": "assistant", "content": "Echo[claude-sonnet-5-5]: second question"},
        {"role": "user", "content": "third question"}]
    shown = json.loads(both.run("history", "show", "1", "--json").stdout)
    assert shown["system"] == "be terse"
    assert [(m["role"], m["provider"], m["model"]) for m in shown["messages"]] == [
        ("user", None, None), ("assistant", "openai", "gpt-6.1-sol"),
        ("user", None, None), ("assistant", "anthropic", "claude-sonnet-5-5"),
        ("user", None, None), ("assistant", "openai", "gpt-6-luna")]


def test_continue_keeps_the_last_model(both, fake):
    both.run("run", "-m", "haiku", "one")
    both.run("run", "-c", "two")
    assert [p["model"] for p in posts(fake)] == ["claude-haiku-5-5", "claude-haiku-5-5"]


def test_cid_picks_a_conversation(both, fake):
    both.run("run", "alpha")
    both.run("run", "beta")
    r = both.run("run", "--cid", "1", "--json", "gamma")
    assert json.loads(r.stdout)["conversation_id"] == 1
    assert [m["content"] for m in posts(fake)[-1]["messages"]] == [
        "alpha", "Echo[gpt-6.1-sol]: alpha", "gamma"]
    missing = both.run("run", "--cid", "99", "x")
    assert missing.returncode == Code.USAGE.exit_status and "no conversation 99" in missing.stderr


def test_continue_without_conversation(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-c", "x")
    assert r.returncode == 0 and r.stdout == "Echo[gpt-6.1-sol]: x\n"
    assert "no conversation to continue yet; starting a new one" in r.stderr
    again = byok_env.run("run", "-c", "y")
    assert again.returncode == 0 and again.stderr == ""


def test_no_log_and_logging_setting_keep_text_out(both, fake):
    both.run("run", "--no-log", "secret plans")
    both.run("config", "set", "logging", "off")
    both.run("run", "more secret plans")
    assert json.loads(both.run("history", "list", "--json").stdout) == []
    db = (both.home / DB_NAME).read_bytes()
    assert b"secret plans" not in db
    usage = json.loads(both.run("usage", "--json").stdout)["rows"]
    assert usage[0]["requests"] == 2  # the figures are still kept


def test_a_key_in_a_kept_prompt_is_masked_when_shown(both, fake):
    pasted = "sk-proj-" + "Zq7" * 12 + "wxyz"
    r = both.run("run", f"why is {pasted} rejected?")
    assert r.returncode == 0 and "kept in the history" in r.stderr
    shown = both.run("history", "show", "1")
    as_json = both.run("history", "show", "1", "--json")
    assert shown.returncode == as_json.returncode == 0
    for out in (shown.stdout, as_json.stdout):
        assert pasted not in out and pasted[-20:] not in out and "…wxyz" in out
    assert "why is" in shown.stdout


def test_history_rm_and_clear(both):
    for word in ("one", "two", "three"):
        both.run("run", word)
    listed = json.loads(both.run("history", "list", "--json").stdout)
    assert [c["id"] for c in listed] == [3, 2, 1] and listed[0]["first_prompt"] == "three"
    assert both.run("history", "rm", "2", "--yes").returncode == 0
    assert both.run("history", "rm", "2", "--yes").returncode == Code.USAGE.exit_status
    assert [c["id"] for c in json.loads(both.run("history", "list", "--json").stdout)] == [3, 1]
    refused = both.run("history", "clear")
    assert refused.returncode == Code.USAGE.exit_status
    assert both.run("history", "clear", "--yes").returncode == 0
    assert json.loads(both.run("history", "list", "--json").stdout) == []
    assert b"three" not in (both.home / DB_NAME).read_bytes()


def test_chat_through_a_pipe(both, fake):
    script = ("hello\n/system answer in French\n/model haiku\nhow are you\n/provider openai\n"
              "last one\n/history\n/nonsense\n/exit\nnever sent\n")
    r = both.run("chat", input=script)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["Echo[gpt-6.1-sol]: hello", "Echo[claude-haiku-5-5]: how are you",
                         "Echo[gpt-6.1-sol]: last one"]
    assert "[you] hello" in r.stdout and "unknown command" in r.stderr
    a, b, c = posts(fake)
    assert b["path"] == "/v1/messages" and b["system"] == "answer in French"
    assert b["messages"] == [{"role": "user", "content": "hello"},
                             {"role": "assistant", "content": "Echo[gpt-6.1-sol]: hello"},
                             {"role": "user", "content": "how are you"}]
    assert c["messages"][0] == {"role": "system", "content": "answer in French"}
    assert len(c["messages"]) == 6 and c["messages"][-1]["content"] == "last one"
    assert len(json.loads(both.run("history", "list", "--json").stdout)) == 1


def test_chat_survives_a_failed_turn(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("chat", "--no-fallback", input="/model gpt-6.9-imaginary\nhi\n/model sol\n"
                     "hi again\n")
    assert r.returncode == 0
    assert "error:" in r.stderr and r.stdout == "Echo[gpt-6.2-sol]: hi again\n"
    assert posts(fake)[-1]["messages"] == [{"role": "user", "content": "hi again"}]


def test_chat_without_log_keeps_context_in_memory(both, fake):
    both.run("chat", "--no-log", input="one\ntwo\n")
    assert len(posts(fake)[-1]["messages"]) == 3
    assert json.loads(both.run("history", "list", "--json").stdout) == []


def test_chat_in_a_terminal(both, fake):
    pexpect = pytest.importorskip("pexpect")
    both.set_key("anthropic", anthropic_key("slow"))
    fake.slow_seconds = 8
    child = pexpect.spawn(str(BYOK), ["chat"], env={**both.vars, "BYOK_TIMEOUT": "30"},
                          encoding="utf-8", timeout=20)
    try:
        child.expect("openai gpt-6.1-sol with the stored key")  # the banner
        child.expect("› ")
        child.sendline("hello terminal")
        child.expect(r"Echo\[gpt-6.1-sol\]: hello terminal")
        child.expect("› ")
        child.sendline("/provider anthropic")
        child.expect("› ")
        child.sendline("this will be slow")
        time.sleep(1.5)
        child.sendintr()                 # Ctrl-C stops the answer, not the session
        child.expect(r"answer stopped")
        child.expect("› ")
        child.sendline("/provider openai")
        child.expect("› ")
        child.sendline("still here")
        child.expect(r"Echo\[gpt-6.1-sol\]: still here")
        child.expect("› ")
        child.sendeof()                  # Ctrl-D ends it
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


# --- usage ---------------------------------------------------------------------------------

def test_usage_after_success_failure_and_fallback(byok_env, fake):
    byok_env.set_key("openai", openai_key("revoked"))
    env = {"OPENAI_API_KEY": OPENAI_GOOD_ENV}
    assert byok_env.run("run", "fell back", env=env).returncode == 0   # fallback 1
    assert byok_env.run("run", "ok", env=env).returncode == 0          # stored key still first
    assert byok_env.run("run", "fails").returncode == Code.UNAUTHORIZED.exit_status
    rows = json.loads(byok_env.run("usage", "--json").stdout)["rows"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["provider"], row["model"], row["requests"], row["errors"],
            row["fallbacks"]) == ("openai", "gpt-6.1-sol", 3, 1, 2)
    assert row["input_tokens"] == 22 and row["ttft_p50_ms"] is not None
    raw = sqlite3.connect(byok_env.home / DB_NAME).execute(
        "SELECT key_source, fallbacks, code FROM usage ORDER BY id").fetchall()
    assert raw == [("environment", "key_rejected", "OK"), ("environment", "key_rejected", "OK"),
                   ("stored", "", "UNAUTHORIZED")]
    assert json.loads(byok_env.run("usage", "--provider", "anthropic", "--json").stdout)[
        "rows"] == []
    plain = byok_env.run("usage").stdout.splitlines()
    assert plain[0].split("\t") == ["provider", "model", "requests", "errors", "fallbacks",
                                    "tokens in", "tokens out", "cost usd", "cost unknown",
                                    "ttft p50 ms", "ttft p95 ms", "total p50 ms",
                                    "total p95 ms"]
    row = plain[1].split("\t")
    assert plain[1].startswith("openai\tgpt-6.1-sol\t3\t1\t2\t22\t")
    assert re.fullmatch(r"0\.\d+", row[7]) and row[8] == "0"  # priced: no unknown cost
    assert all(v.isdigit() for v in row[2:7] + row[8:])  # bare numbers: no "ms"
    assert plain[2].split("\t")[:3] == ["total", "", "3"]
    assert byok_env.run("usage", "--no-header").stdout.splitlines() == plain[1:]


def test_no_key_text_in_history_or_usage(byok_env, fake):
    stored, env_key = openai_key("revoked"), OPENAI_GOOD_ENV
    byok_env.set_key("openai", stored)
    byok_env.run("run", "hello", env={"OPENAI_API_KEY": env_key})
    byok_env.run("chat", input="hi\n", env={"OPENAI_API_KEY": env_key})
    conn = sqlite3.connect(byok_env.home / DB_NAME)
    dump = "\n".join(conn.iterdump())
    for key in (stored, env_key):
        assert_no_leak(key, dump, home=byok_env.home)
    usage_cols = {r[1] for r in conn.execute("PRAGMA table_info(usage)")}
    assert {c for c in usage_cols if "key" in c} == {"key_source", "key_name"}
    # a key is named by its name or its variable, never by anything taken from it
    names = {r[0] for r in conn.execute("SELECT key_name FROM usage")}
    assert names <= {"default", "OPENAI_API_KEY"} and names


def test_usage_rejects_bad_since(byok_env):
    r = byok_env.run("usage", "--since", "yesterday-ish")
    assert r.returncode == Code.USAGE.exit_status and "7d" in r.stderr


def test_parse_since():
    assert parse_since("7d", now=1000000) == 1000000 - 7 * 86400
    assert parse_since("90m", now=10000) == 10000 - 5400
    assert parse_since("all") is None and parse_since(None) is None
    assert parse_since("2026-11-01") == 1793491200.0


def test_percentile_nearest_rank():
    assert percentile([], 0.5) is None
    values = [(v, 1) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50 and percentile(values, 0.95) == 95
    assert percentile([(10, 3), (20, 1)], 0.5) == 10 and percentile([(10, 3), (20, 1)], 0.95) == 20


@given(st.integers(min_value=0, max_value=10 ** 9))
def test_bucket_matches_its_sql(ms):
    conn = sqlite3.connect(":memory:")
    assert conn.execute(f"SELECT {bucket_sql('?1')}", (ms,)).fetchone()[0] == bucket(ms)
    # the precision `byok usage --help` promises: exact below 20 ms, at most 10% below above
    assert bucket(ms) <= ms and (bucket(ms) == ms if ms < 20 else bucket(ms) > ms * 0.9)


def test_buckets_are_the_1_2_5_series_35_a_decade():
    """A window's histogram has a bounded, small number of rows: 35 a decade."""
    assert [bucket(ms) for ms in (19, 21, 23, 49, 54, 99, 109, 110, 199, 219, 999, 1099)] == \
        [19, 20, 22, 48, 50, 95, 100, 110, 190, 200, 950, 1000]
    for decade in (100, 1000, 10 ** 6):
        assert len({bucket(ms) for ms in range(decade, 10 * decade, decade // 100)}) == 35


def test_usage_window_combines_rollups_and_partial_day(tmp_path):
    store = Store(tmp_path)
    now = 1_800_000_000.0 - 1_800_000_000.0 % 86400 + 12 * 3600  # midday
    for i, minutes_ago in enumerate([5, 50, 70, 13 * 60, 60 * 24 * 10]):
        store.record_usage(UsageRow(now - minutes_ago * 60, "p", "openai", "m", "stored", "",
                                    10, 1, 10 + i, 20 + i, "OK"))
    def requests(since):
        return sum(r["requests"] for r in summary(store, "p", since))
    assert requests(None) == 5
    assert requests(now - 60 * 60) == 2          # 5 and 50 minutes ago, from the raw rows
    assert requests(now - 75 * 60) == 3
    assert requests(now - 14 * 3600) == 4        # yesterday's last hours + today's roll-up
    rebuilt = summary(store, "p", now - 75 * 60)
    store.rebuild_usage_rollups()
    assert summary(store, "p", now - 75 * 60) == rebuilt
    assert rebuilt[0]["ttft_p50_ms"] == 11 and rebuilt[0]["latency_p95_ms"] == 22


def test_history_list_is_newest_updated_first_and_ids_are_never_reused(both, fake):
    for word in ("one", "two", "three"):
        assert both.run("run", word).returncode == 0
    assert both.run("run", "--cid", "1", "more of one").returncode == 0
    listed = json.loads(both.run("history", "list", "--json").stdout)
    assert [c["id"] for c in listed] == [1, 3, 2]  # the top one is what -c continues
    assert both.run("run", "-c", "and again").returncode == 0
    assert json.loads(both.run("history", "show", "1", "--json").stdout)["messages"][-2][
        "content"] == "and again"
    assert both.run("history", "rm", "3", "--yes").returncode == 0
    assert both.run("run", "four").returncode == 0
    ids = [c["id"] for c in json.loads(both.run("history", "list", "--json").stdout)]
    assert ids == [4, 1, 2]  # a saved --cid 3 cannot continue "four"
    gone = both.run("run", "--cid", "3", "x")
    assert gone.returncode != 0
