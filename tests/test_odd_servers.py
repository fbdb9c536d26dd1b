"""What a server (or a gateway in front of it) can send that no real provider should, through
the installed `byok` against the scripted fake: implausible token counts, answers that never
end, streams of nothing but comments, compression bombs, odd Retry-After values."""

import json
import sqlite3

import pytest

from byok_cli.errors import Code
from byok_cli.store import DB_NAME
from conftest import OPENAI_GOOD, anthropic_key, openai_key
from fakefaults import gzip_bomb


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
    # both requests' input counts were dropped: unknown (null), never 0 or negative
    assert [row["input_tokens"] for row in usage["rows"]] == [None]


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


# --- answers without end -------------------------------------------------------------------------

MIB = 1024 * 1024


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_streamed_answer_is_capped_like_a_whole_one(byok_env, fake, provider):
    # The fake streams 40 MiB of text; byok keeps (and prints) at most 32 MiB, then stops.
    key = openai_key("torrent") if provider == "openai" else anthropic_key("torrent")
    byok_env.set_key(provider, key)
    assert byok_env.run("config", "set", "logging", "on").returncode == 0
    r = byok_env.run("run", "-p", provider, "--no-fallback", "hi", timeout=120)
    assert r.returncode == Code.INCOMPLETE_OUTPUT.exit_status, r.stderr[-500:]
    assert "more than 32 MiB" in r.stderr and "incomplete" in r.stderr
    assert 31 * MIB < len(r.stdout) <= 32 * MIB + 1  # what came before the cap stays printed
    assert set(r.stdout.strip()) == {"x"}


def test_a_stream_of_keepalive_comments_times_out(byok_env, fake):
    byok_env.set_key("openai", openai_key("keepalive"))
    r = byok_env.run("run", "--no-fallback", "-m", "gpt-4o", "hi",
                     env={"BYOK_TIMEOUT": "2"}, timeout=60)
    assert r.returncode == Code.NETWORK_ERROR.exit_status, r.stderr
    assert "no progress in time" in r.stderr and "keep-alives for 2 s" in r.stderr
    assert len([x for x in fake.requests if x["method"] == "POST"]) == 1  # not retried


def test_a_stream_of_pings_times_out(byok_env, fake):
    byok_env.set_key("anthropic", anthropic_key("pingforever"))
    r = byok_env.run("run", "--no-fallback", "-p", "anthropic", "hi",
                     env={"BYOK_TIMEOUT": "2"}, timeout=60)
    assert r.returncode == Code.NETWORK_ERROR.exit_status, r.stderr
    assert "no progress in time" in r.stderr


@pytest.mark.parametrize("provider, marker", [("openai", "keepalive"),
                                              ("anthropic", "pingforever")])
def test_a_stream_of_only_keepalives_that_ends_is_not_retried(byok_env, fake, provider, marker):
    # The fake keeps the stream open with keep-alives for 20 s, under the default 60 s idle
    # deadline, then ends it with no answer: one attempt, not three (retries would triple it).
    key = openai_key(marker) if provider == "openai" else anthropic_key(marker)
    byok_env.set_key(provider, key)
    r = byok_env.run("run", "--no-fallback", "-p", provider, "hi", timeout=120,
                     env={"BYOK_TIMEOUT": "60", "BYOK_MAX_RETRIES": "2"})
    assert r.returncode == Code.NETWORK_ERROR.exit_status, r.stderr
    assert "after only keep-alives" in r.stderr and "not retried" in r.stderr, r.stderr
    assert len([x for x in fake.requests if x["method"] == "POST"]) == 1


def peak_rss_mib(env, *args: str) -> tuple[float, object]:
    """Run the installed byok in a fresh process that has no other child, and return its
    peak resident memory (MiB) and result."""
    import subprocess
    import sys

    from conftest import BYOK

    probe = ("import resource, subprocess, sys, json;"
             "p = subprocess.run(sys.argv[1:], capture_output=True, stdin=subprocess.DEVNULL);"
             "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
             " p.returncode, p.stderr.decode(errors='replace')]))")
    out = subprocess.run([sys.executable, "-c", probe, str(BYOK), *args], env=env.vars,
                         capture_output=True, timeout=120, check=True).stdout
    kib, code, stderr = json.loads(out)
    return kib / 1024, (code, stderr)


def test_a_streamed_answer_past_the_limit_is_held_once(byok_env, fake):
    # 40 MiB of text in one run with no space or new line (nowhere the masking may cut
    # naturally): held once, as the text for the history, and the masking's hold bounded.
    # It peaked at ~384 MiB before (a per-character list, and the hold re-joined per piece).
    byok_env.set_key("openai", OPENAI_GOOD)
    baseline, _ = peak_rss_mib(byok_env, "run", "-m", "gpt-4o", "hi")
    byok_env.set_key("openai", openai_key("torrent"))
    peak, (code, stderr) = peak_rss_mib(byok_env, "run", "--no-fallback", "-m", "gpt-4o", "hi")
    assert code == Code.INCOMPLETE_OUTPUT.exit_status and "more than 32 MiB" in stderr, stderr
    assert peak - baseline < 64, (peak, baseline)  # the 32 MiB kept, and pieces in flight


def test_a_gzip_bomb_is_inflated_in_bounded_steps(byok_env, fake):
    gzip_bomb()  # made once, here: compressing 300 MB can outlast BYOK_TIMEOUT under load
    byok_env.set_key("openai", OPENAI_GOOD)
    baseline, _ = peak_rss_mib(byok_env, "run", "-m", "gpt-4o", "hi")
    byok_env.set_key("openai", openai_key("gzipbomb"))  # 300 MB of zeros, gzip-compressed
    gzip_bomb()  # made before the request: on a loaded machine it takes longer than BYOK_TIMEOUT
    peak, (code, stderr) = peak_rss_mib(byok_env, "run", "--no-fallback", "-m", "gpt-4o",
                                        "--no-stream", "hi")
    assert code == Code.LIMIT_EXCEEDED.exit_status and "more than 32 MiB" in stderr, stderr
    # The 32 MiB limit and one inflating step, not a whole network read inflated at once.
    assert peak - baseline < 48, (peak, baseline)
