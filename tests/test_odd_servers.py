"""What a server (or a gateway in front of it) can send that no real provider should, through
the installed `byok` against the scripted fake: implausible token counts, answers that never
end, streams of nothing but comments, compression bombs, odd Retry-After values."""

import json
import sqlite3

import pytest

from byok_cli.errors import Code
from byok_cli.store import DB_NAME
from conftest import anthropic_key, openai_key


def usage_rows(home) -> list:
    return sqlite3.connect(home / DB_NAME).execute(
        "SELECT provider, input_tokens, output_tokens, cost_micros, code FROM usage "
        "ORDER BY id").fetchall()


def spent(env) -> int:
    rows = json.loads(env.run("budget", "list", "--json").stdout)
    return rows[0]["spent_micros"]


# --- token counts ---------------------------------------------------------------------------

@pytest.mark.parametrize("marker", ["usageneg", "usagehuge", "usagefrac"])
@pytest.mark.parametrize("provider, model", [("openai", "gpt-4o"),
                                             ("anthropic", "claude-haiku-4-5")])
@pytest.mark.parametrize("stream", [(), ("--no-stream",)])
def test_implausible_token_counts_are_unknown_and_never_credit_a_budget(
        byok_env, fake, marker, provider, model, stream):
    key = openai_key(marker) if provider == "openai" else anthropic_key(marker)
    byok_env.set_key(provider, key)
    assert byok_env.run("budget", "set", "--per", "day", "5").returncode == 0
    byok_env.run("run", "-m", model, *stream, "a b c")  # whatever it costs, it is not negative
    before = spent(byok_env)
    assert before >= 0

    r = byok_env.run("run", "--json", "-m", model, *stream, "a b c")
    assert r.returncode == 0, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    out = json.loads(r.stdout)
    assert out["text"] == f"Echo[{model}]: a b c"
    assert out["usage"]["input_tokens"] is None and out["cost_usd"] is None
    assert "implausible token counts" in r.stderr and "unknown" in r.stderr
    assert spent(byok_env) == before  # neither credited nor charged a negative amount
    rows = usage_rows(byok_env.home)
    assert rows[-1][1] is None and rows[-1][3] is None and rows[-1][4] == "OK"
    usage = json.loads(byok_env.run("usage", "--json").stdout)
    assert all(row["input_tokens"] >= 0 for row in usage["rows"])


def test_a_huge_token_count_after_a_printed_answer_exits_0(byok_env, fake):
    byok_env.set_key("openai", openai_key("usagehuge"))
    r = byok_env.run("run", "-m", "gpt-4o", "hello")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Echo[gpt-4o]: hello\n"
    assert "OverflowError" not in r.stderr and "internal error" not in r.stderr


# --- Retry-After -----------------------------------------------------------------------------

@pytest.mark.parametrize("marker", ["waitnan", "waitinf", "waitneg"])
def test_a_retry_after_that_is_not_a_finite_positive_number_is_ignored(byok_env, fake, marker):
    byok_env.set_key("openai", openai_key(marker))
    r = byok_env.run("run", "-m", "gpt-4o", "--no-fallback", "hi",
                     env={"BYOK_MAX_RETRIES": "1", "BYOK_MAX_RETRY_WAIT": "3"})
    assert r.returncode == Code.RATE_LIMITED.exit_status, r.stderr
    assert "rate limiting" in r.stderr and "retry after" not in r.stderr, r.stderr
    assert len([x for x in fake.requests if x["method"] == "POST"]) == 2  # byok's own backoff
