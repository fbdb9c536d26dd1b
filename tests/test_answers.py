"""Answers as they are (issue 22): `--base-url` with `-m` alone, each API's parameter ranges,
stop reasons and exit codes, gateways' own error shapes. Through the installed `byok` and the
Python API, against the fake provider's scripted answers."""

import json

import pytest

from byok_cli.errors import Code
from conftest import ANTHROPIC_GOOD, OPENAI_GOOD


def posts(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


# --- --base-url with -m and no -p ---------------------------------------------------------------

def test_base_url_with_a_model_and_no_provider(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("run", "--json", "--base-url", fake.url + "/v1", "-m", "gpt-4o", "hi")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["provider"], out["base_url_source"]) == ("openai", "flag")
    # the model names the provider the URL is for: Anthropic's model, Anthropic's URL
    r = byok_env.run("run", "--json", "--base-url", fake.url, "-m", "claude-haiku-4-5", "hi")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["provider"] == "anthropic"
    # a model no provider is known for is the usual one-line error, never an internal one
    r = byok_env.run("run", "--base-url", fake.url + "/v1", "-m", "mystery-model", "hi")
    assert r.returncode != Code.INTERNAL.exit_status and "internal" not in r.stderr.lower()
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_python_api_ask_with_base_url_and_model(in_process, fake):
    import byok_cli

    b = byok_cli.Byok()
    b.keychain.set("openai", OPENAI_GOOD)
    b.store.set_setting("default", "preferred_provider", "openai")
    result = b.ask("hi", model="gpt-4o", base_url=fake.url + "/v1", log=False)
    assert result.outcome.text == "Echo[gpt-4o]: hi"
    assert b.plan(model="gpt-4o", base_url=fake.url + "/v1").endpoints["openai"].url \
        == fake.url + "/v1"


# --- parameter ranges per API -------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["-p", "anthropic", "-m", "claude-haiku-4-5", "--temperature", "1.5"],
    ["-p", "anthropic", "-m", "claude-brandnew-9", "--temperature", "1.01"],  # not catalogued
])
def test_anthropic_temperature_above_one_is_refused_before_sending(byok_env, fake, args):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    for command in (["run", *args, "hi"], ["run", "--explain", *args]):
        r = byok_env.run(*command)
        assert r.returncode == Code.USAGE.exit_status, r.stderr
        assert "outside the anthropic API's range (0 to 1)" in r.stderr
        assert "nothing was sent" in r.stderr
    assert posts(fake) == []


def test_openai_takes_temperatures_up_to_two(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-m", "gpt-4o", "--temperature", "1.5", "hi")
    assert r.returncode == 0, r.stderr
    assert posts(fake)[-1]["body"]["temperature"] == 1.5
    r = byok_env.run("run", "-m", "gpt-4o", "--temperature", "2.5", "hi")
    assert r.returncode == Code.USAGE.exit_status
    assert len(posts(fake)) == 1


def test_a_fallback_whose_api_cannot_take_the_temperature_is_left_out(byok_env, fake):
    byok_env.set_key("openai", openai_down := "sk-proj-servererr-K1l2m3n4o5p6q7r8s9t0")
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    byok_env.run("config", "set", "fallback", "openai/gpt-4o, anthropic/claude-haiku-4-5")
    plan = json.loads(byok_env.run("run", "--explain", "--json", "--fallback", "-m", "gpt-4o",
                                   "--temperature", "1.5").stdout)
    assert [a["provider"] for a in plan["attempts"]] == ["openai"]
    assert any("anthropic API's range" in s for s in plan["skipped"]), plan
    assert openai_down
