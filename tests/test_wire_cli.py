"""What a person sees of the wire client, through the installed `byok`: parameters a model
cannot take, bugs that are not outages, answers in odd shapes, base URLs and their sources,
latency, and one connection for a whole chat."""

import json
import subprocess
import sys
import time

import pytest

from byok_cli.errors import Code
from conftest import (ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, anthropic_key, assert_no_leak,
                      openai_key)


def posts(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


def both_keys(env):
    env.set_key("openai", OPENAI_GOOD)
    env.set_key("anthropic", ANTHROPIC_GOOD)


# --- parameters the model cannot take ----------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["-p", "anthropic", "--temperature", "0.5"], "claude-sonnet-5-5 does not take --temperature"),
    (["-m", "sol", "--temperature", "0"], "gpt-6.2-sol does not take --temperature"),
    (["-m", "gpt-4o", "--effort", "low"], "gpt-4o has no effort control"),
    (["-m", "haiku", "--effort", "max"], "claude-haiku-5-5 takes --effort low, medium, high"),
    (["--effort", "turbo"], "--effort turbo is not a level of the openai API"),
])
def test_a_parameter_the_model_cannot_take_is_a_usage_error(byok_env, fake, args, words):
    both_keys(byok_env)
    for command in (["run", *args, "hi"], ["run", "--explain", *args]):
        r = byok_env.run(*command)
        assert r.returncode == Code.USAGE.exit_status, r.stderr
        assert words in r.stderr and "nothing was sent" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""
    chat = byok_env.run("chat", *args, input="hi\n")
    assert chat.returncode == Code.USAGE.exit_status and words in chat.stderr
    assert fake.requests == []  # never sent, never a fallback to the other provider


@pytest.mark.parametrize("args, provider, field, value", [
    (["-m", "gpt-4o", "--temperature", "0.5"], "openai", "temperature", 0.5),
    (["-m", "claude-sonnet-4-6", "--temperature", "0.3"], "anthropic", "temperature", 0.3),
    (["-m", "gpt-7-preview-fake", "--temperature", "0.2"], "openai", "temperature", 0.2),
    (["--effort", "LOW"], "openai", "reasoning_effort", "low"),
    (["-m", "haiku", "--effort", "medium"], "anthropic", "output_config", {"effort": "medium"}),
])
@pytest.mark.parametrize("stream", [True, False])
def test_parameters_the_model_takes_are_sent(byok_env, fake, args, provider, field, value,
                                             stream):
    both_keys(byok_env)
    r = byok_env.run("run", *args, *([] if stream else ["--no-stream"]), "hi")
    assert r.returncode == 0, r.stderr
    sent = posts(fake)
    assert len(sent) == 1 and sent[0]["flavour"] == provider
    assert sent[0]["body"][field] == value


def test_fallbacks_that_cannot_take_the_parameter_are_left_out(byok_env, fake):
    byok_env.set_key("openai", openai_key("servererr"))
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    # -m pins the provider; --fallback asks for the chain, whose models are checked too
    plan = json.loads(byok_env.run("run", "--explain", "--json", "-m", "gpt-4o", "--fallback",
                                   "--temperature", "0.3").stdout)
    assert [a["model"] for a in plan["attempts"]] == ["gpt-4o"]
    assert any("claude-sonnet-5-5" in s and "temperature" in s for s in plan["skipped"])
    r = byok_env.run("run", "-m", "gpt-4o", "--fallback", "--temperature", "0.3", "hi",
                     env={"BYOK_MAX_RETRIES": "0"})
    assert r.returncode == Code.PROVIDER_UNAVAILABLE.exit_status
    assert [x["flavour"] for x in posts(fake)] == ["openai"]  # no fallback to a model that
    # would refuse the temperature; without it the usual fallback happens
    fake.reset()
    assert byok_env.run("run", "-m", "gpt-4o", "--fallback", "hi",
                        env={"BYOK_MAX_RETRIES": "0"}).returncode == 0


# --- bugs are not outages --------------------------------------------------------------------

BUG = ("import sys\n"
       "from byok_cli.wire import openai_chat\n"
       "def broken(self, events, result):\n"
       "    for event in events:\n"
       "        yield {}['choices']  # a KeyError, as a parsing bug would raise\n"
       "openai_chat.OpenAIChat.read_stream = broken\n"
       "sys.argv = ['byok'] + sys.argv[1:]\n"
       "from byok_cli.cli import main\n"
       "main()\n")


def test_a_bug_inside_byok_is_an_internal_error(byok_env, fake):
    both_keys(byok_env)
    proc = subprocess.run([sys.executable, "-c", BUG, "run", "hi"], capture_output=True,
                          env=byok_env.vars, timeout=30, stdin=subprocess.DEVNULL)
    err = proc.stderr.decode()
    assert proc.returncode == Code.INTERNAL.exit_status, err
    assert err.strip() == ("error: internal error: KeyError: 'choices' "
                           "(run with --debug for details)")
    assert len(posts(fake)) == 1  # not retried, no fallback to Anthropic
    debug = subprocess.run([sys.executable, "-c", BUG, "--debug", "run", "hi"],
                           capture_output=True, env=byok_env.vars, timeout=30,
                           stdin=subprocess.DEVNULL)
    assert debug.returncode == 1 and "Traceback" in debug.stderr.decode()
    assert "in broken" in debug.stderr.decode()  # the real place of the bug
    assert_no_leak(OPENAI_GOOD, err, debug.stderr.decode())


# --- answers in odd shapes --------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("marker, code", [("errorbody200", Code.BAD_REQUEST),
                                          ("outage200", Code.PROVIDER_UNAVAILABLE)])
def test_a_200_error_body_exits_with_its_code(byok_env, fake, provider, marker, code):
    byok_env.set_key(provider, openai_key(marker) if provider == "openai" else
                     anthropic_key(marker))
    r = byok_env.run("run", "hi", env={"BYOK_MAX_RETRIES": "0"})
    assert r.returncode == code.exit_status, r.stderr
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1


def test_gateway_error_pages_are_shown_cleaned(byok_env, fake):
    byok_env.set_key("anthropic", anthropic_key("errhtml502"))
    r = byok_env.run("run", "hi", env={"BYOK_MAX_RETRIES": "0"})
    assert r.returncode == Code.PROVIDER_UNAVAILABLE.exit_status
    assert "Anthropic is unavailable (502): 502 Bad Gateway" in r.stderr
    assert "\x1b" not in r.stderr.replace("\x1b[31merror:\x1b[0m", "") and "<" not in r.stderr


def test_anthropic_tokens_from_a_gateway(byok_env, fake):
    byok_env.set_key("anthropic", anthropic_key("gwtokens"))
    out = json.loads(byok_env.run("run", "--json", "hi").stdout)
    assert out["usage"] == {"input_tokens": 21, "output_tokens": 2, "cached_input_tokens": None,
                            "cache_write_tokens": None, "reasoning_tokens": None}


@pytest.mark.parametrize("marker", ["wholejson", "nofinish"])
def test_odd_but_complete_answers(byok_env, fake, marker):
    """A streamed request answered with one JSON body; an OpenAI stream with [DONE] but no
    finish reason."""
    byok_env.set_key("openai", openai_key(marker))
    r = byok_env.run("run", "hi")
    assert r.returncode == 0 and r.stdout == "Echo[gpt-6.1-sol]: hi\n" and r.stderr == ""
    assert posts(fake)[0]["stream"] is True


def test_an_anthropic_stream_without_message_stop_is_incomplete(byok_env, fake):
    byok_env.set_key("anthropic", anthropic_key("nostop"))
    r = byok_env.run("run", "a prompt long enough")
    assert r.returncode == Code.INCOMPLETE_OUTPUT.exit_status
    assert r.stdout == "Echo[claude-sonnet-5-5]: a prompt long enough\n"
    assert "before the answer was complete (the output above is incomplete)" in r.stderr


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_remote_model_lists_in_odd_shapes(byok_env, fake, provider):
    key = openai_key if provider == "openai" else anthropic_key

    def listing(marker):
        byok_env.set_key(provider, key(marker))
        fake.reset()
        return byok_env.run("models", "list", "--remote", "--refresh", "--json", "-p", provider)

    bare = listing("barelist")
    assert bare.returncode == 0, bare.stderr
    assert {"gpt-7-preview-fake", "claude-brandnew-9"} & {r["id"] for r in json.loads(bare.stdout)}
    missing = listing("always404")
    assert missing.returncode == Code.PROVIDER_UNAVAILABLE.exit_status
    assert "models endpoint was not found" in missing.stderr and len(fake.requests) == 1
    endless = listing("endless")
    assert endless.returncode == 0 and "more than 20 pages" in endless.stderr
    assert len(fake.requests) == 20


# --- base URLs ----------------------------------------------------------------------------------

def test_an_anthropic_base_url_ending_in_v1_is_normalised(byok_env, fake):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    env = {"ANTHROPIC_BASE_URL": fake.url + "/v1/"}
    r = byok_env.run("run", "--json", "hi", env=env)
    assert r.returncode == 0, r.stderr
    assert "ANTHROPIC_BASE_URL ends in /v1" in r.stderr and fake.url in r.stderr
    assert json.loads(r.stdout)["base_url"] == fake.url
    assert posts(fake)[0]["path"] == "/v1/messages"
    doctor = json.loads(byok_env.run("doctor", "--json", env=env).stdout)
    row = next(x for x in doctor if x["check"] == "anthropic base URL")
    assert row["status"] == "warn" and "/v1" in row["fix"]
    chat = byok_env.run("chat", input="one\ntwo\nthree\n", env=env)
    assert chat.returncode == 0, chat.stderr
    assert chat.stderr.count("ANTHROPIC_BASE_URL ends in /v1") == 1  # once a session
    assert len(posts(fake)) == 4


def test_a_v1_base_url_is_normalised_when_it_is_set_the_same_way_everywhere(byok_env, fake):
    """`config set anthropic.base_url …/v1` trims it at once, with the note `provider add`
    gives, and runs then carry no warning (issue 24, finding 7)."""
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    env = {"ANTHROPIC_BASE_URL": ""}
    r = byok_env.run("config", "set", "anthropic.base_url", fake.url + "/v1/")
    assert r.returncode == 0, r.stderr
    assert (f"anthropic.base_url ends in /v1, which the anthropic API adds itself; stored as "
            f"{fake.url}") in r.stderr
    assert byok_env.run("config", "get", "anthropic.base_url").stdout.strip() == fake.url
    run = byok_env.run("run", "--json", "-p", "anthropic", "hi", env=env)
    assert run.returncode == 0, run.stderr
    assert "/v1" not in run.stderr and json.loads(run.stdout)["base_url"] == fake.url
    assert posts(fake)[0]["path"] == "/v1/messages"
    added = byok_env.run("provider", "add", "gw", "--api", "anthropic", "--no-key",
                         "--base-url", fake.url + "/v1")
    assert (f"--base-url ends in /v1, which the anthropic API adds itself; stored as "
            f"{fake.url}") in added.stderr
    # an OpenAI base URL keeps its /v1: that API's paths do not add it
    kept = byok_env.run("config", "set", "openai.base_url", fake.url + "/v1")
    assert "note" not in kept.stderr
    assert byok_env.run("config", "get", "openai.base_url").stdout.strip() == fake.url + "/v1"


def test_base_url_and_where_it_came_from(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)

    def first(*args, env=None):
        plan = json.loads(byok_env.run("run", "--explain", "--json", *args, env=env).stdout)
        return plan["attempts"][0]["base_url"], plan["attempts"][0]["base_url_source"]

    assert first() == (fake.url + "/v1", "environment")
    assert first("--base-url", fake.url + "/v1/") == (fake.url + "/v1", "flag")
    byok_env.run("config", "set", "openai.base_url", "https://gw.example.test/v1")
    assert first(env={"OPENAI_BASE_URL": ""}) == ("https://gw.example.test/v1", "profile")
    byok_env.run("config", "set", "openai.base_url", "default")
    assert first(env={"OPENAI_BASE_URL": ""}) == ("https://api.openai.com/v1", "default")
    text = byok_env.run("run", "--explain", "--base-url", fake.url + "/v1").stdout
    assert f"openai\t{fake.url}/v1\t--base-url" in text
    r = byok_env.run("run", "--json", "--base-url", fake.url + "/v1", "hi")
    out = json.loads(r.stdout)
    assert (out["base_url"], out["base_url_source"]) == (fake.url + "/v1", "flag")
    bad = byok_env.run("run", "--base-url", "http://gw.example.test/v1", "hi")
    assert bad.returncode == Code.USAGE.exit_status and "unencrypted" in bad.stderr
    assert len(posts(fake)) == 1


# --- timing and connections -------------------------------------------------------------------

def test_key_validate_reports_the_requests_own_latency(byok_env, fake):
    fake.slow_seconds = 0.8
    byok_env.set_key("openai", openai_key("slow"))
    slow = json.loads(byok_env.run("key", "validate", "openai", "--json").stdout)[0]
    assert slow["result"] == "VALID" and 800 <= slow["latency_ms"] < 2500
    byok_env.set_key("openai", OPENAI_GOOD)
    started = time.monotonic()
    quick = json.loads(byok_env.run("key", "validate", "openai", "--json").stdout)[0]
    process_ms = (time.monotonic() - started) * 1000
    assert quick["latency_ms"] < process_ms / 2  # the request, not byok's start-up


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_chat_uses_one_connection(byok_env, fake, provider):
    byok_env.set_key(provider, OPENAI_GOOD if provider == "openai" else ANTHROPIC_GOOD)
    proc = subprocess.run([str(BYOK), "chat", "-p", provider], input=b"one\ntwo\nthree\n",
                          capture_output=True, env=byok_env.vars, timeout=30)
    assert proc.returncode == 0 and proc.stdout.decode().count("Echo[") == 3, proc.stderr
    assert len(posts(fake)) == 3 and len(fake.connections()) == 1


def test_an_internal_error_is_one_line(capsys):
    from byok_cli.cli.failures import exit_status

    assert exit_status(TypeError("line one\nline two " + "x" * 500), False) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "line one line two" in err and len(err) < 300


def test_byok_client_keeps_the_plain_http_rule(in_process, monkeypatch):
    import byok_cli
    from byok_cli.errors import ByokError

    b = byok_cli.Byok()
    b.keychain.set("openai", OPENAI_GOOD)
    b.store.set_setting("default", "preferred_provider", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gw.example.test/v1")
    with pytest.raises(ByokError) as err:
        b.client("openai")  # the SDK client would send the key over plain http
    assert err.value.code == Code.USAGE and "unencrypted" in err.value.message


def test_effort_levels_complete():
    from byok_cli.cli import complete

    assert complete.efforts("m") == ["minimal", "medium", "max"]
