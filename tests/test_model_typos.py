"""A mistyped -m never silently runs another model (user2's finding 4): a near miss of a
catalogue id is refused with "did you mean" (exit 8) before anything is sent, unless the
provider's synced list holds it or --fallback asks for fallbacks; an unknown PROVIDER/ is a
usage error; the gateway answers 404, not a budget's 402; `models default` checks the same."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from byok_cli.catalog.curated import load
from byok_cli.cli import app
from byok_cli.errors import ByokError, Code
from byok_cli.registry import builtin
from byok_cli.routing.addressing import check_typo, near_miss, resolve
from conftest import ANTHROPIC_GOOD, OPENAI_GOOD, Env
from support.byok_gateway import RunningGateway
from test_gateway import bearer, token

TYPO = "gpt-6.1-sool"


def sent_models(fake) -> list[str]:
    return [r["body"]["model"] for r in fake.requests
            if r["method"] == "POST" and isinstance(r.get("body"), dict)]


@pytest.fixture
def keys(byok_env) -> Env:
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    assert byok_env.set_key("anthropic", ANTHROPIC_GOOD).returncode == 0
    return byok_env


@pytest.mark.parametrize("budget", [False, True])
def test_a_typo_in_m_is_refused_with_did_you_mean_and_nothing_is_sent(keys, fake, budget):
    if budget:
        assert keys.run("budget", "set", "--per", "month", "20").returncode == 0
    r = keys.run("run", "-m", TYPO, "x")
    assert r.returncode == Code.MODEL_NOT_FOUND.exit_status, r.stderr
    assert r.stdout == ""
    line = r.stderr.strip()
    assert f"unknown model '{TYPO}'; did you mean 'gpt-6.1-sol'?" in line
    assert "--remote" in line and "--fallback" in line and len(line.splitlines()) == 1
    assert "price" not in line and sent_models(fake) == []
    as_json = keys.run("run", "--json", "-m", TYPO, "x")
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "MODEL_NOT_FOUND" and "did you mean" in error["message"]
    assert error["hint"] and sent_models(fake) == []


def test_fallback_asks_for_fallbacks_and_the_provider_judges(keys, fake):
    r = keys.run("run", "--fallback", "-m", TYPO, "x")
    assert r.returncode == 0, r.stderr
    assert sent_models(fake) == [TYPO, "gpt-6.1-sol"]  # the provider's 404, then the default
    assert "404" in r.stderr


def test_a_new_model_near_a_catalogue_id_runs_once_the_providers_list_has_it(keys, fake):
    new = "gpt-6.2-astro"  # the fake lists it; byok's catalogue does not know it
    before = keys.run("run", "-m", new, "x")
    assert before.returncode == Code.MODEL_NOT_FOUND.exit_status
    assert "did you mean 'gpt-6.2-astra'" in before.stderr and "models list -p openai --remote" \
        in before.stderr
    assert keys.run("models", "list", "-p", "openai", "--remote").returncode == 0
    after = keys.run("run", "-m", new, "x")
    assert after.returncode == 0, after.stderr
    assert after.stdout == f"Echo[{new}]: x\n"
    assert keys.run("models", "default", new).returncode == 0


def test_a_typo_of_another_providers_model_is_caught_too(keys, fake):
    """`sonet` knows no catalogue, so it would go to the preferred provider (openai), whose
    404 would then give way to its default model: it is anthropic's `sonnet` misspelled."""
    for args in (["run", "-m", "sonet", "x"], ["models", "default", "sonet"]):
        r = keys.run(*args)
        assert r.returncode == Code.MODEL_NOT_FOUND.exit_status, (args, r.stderr)
        assert "unknown model 'sonet'; did you mean 'sonnet'?" in r.stderr
    assert not [q for q in fake.requests if q.get("model")]  # nothing was sent
    r = keys.run("run", "-m", "sonnet", "x")
    assert r.returncode == 0 and r.stdout == "Echo[claude-sonnet-5-5]: x\n", r.stderr


def test_an_id_near_nothing_is_still_sent_as_given(keys, fake):
    r = keys.run("run", "-m", "gpt-7-preview-fake", "x")
    assert r.returncode == 0 and r.stdout == "Echo[gpt-7-preview-fake]: x\n"


def test_an_unknown_provider_prefix_is_a_usage_error_with_a_hint(keys, fake):
    r = keys.run("run", "-m", "nosuchprovider/x", "hi")
    assert r.returncode == Code.USAGE.exit_status, r.stderr
    assert "there is no provider 'nosuchprovider'" in r.stderr
    assert "providers: openai, anthropic" in r.stderr and "-p openai" in r.stderr
    assert sent_models(fake) == []
    # -p says the slash is the id's own: sent as given (the fake does not know it: 404)
    named = keys.run("run", "--no-fallback", "-p", "openai", "-m", "nosuchprovider/x", "hi")
    assert named.returncode == Code.MODEL_NOT_FOUND.exit_status
    assert sent_models(fake) == ["nosuchprovider/x"]


def test_models_default_refuses_a_typo_and_keeps_the_default(keys):
    r = keys.run("models", "default", TYPO)
    assert r.returncode == Code.MODEL_NOT_FOUND.exit_status
    assert "did you mean 'gpt-6.1-sol'" in r.stderr
    assert "--fallback" not in r.stderr  # models default has no such option
    assert "--remote` syncs its list, and then it is known" in r.stderr
    shown = keys.run("config", "get", "openai.model")
    assert TYPO not in shown.stdout


def test_typer_runner_refuses_the_typo(in_process, fake):
    runner = CliRunner()
    in_process.set_key("openai", OPENAI_GOOD)
    r = runner.invoke(app, ["run", "-m", TYPO, "x"])
    assert r.exit_code == Code.MODEL_NOT_FOUND.exit_status
    assert "did you mean 'gpt-6.1-sol'" in r.output
    assert sent_models(fake) == []


def test_the_gateway_answers_404_for_a_typo_a_budget_would_call_unpriced(keys, fake):
    assert keys.run("budget", "set", "--per", "month", "20").returncode == 0
    t = token(keys, "app")
    gw = RunningGateway(keys.vars)
    try:
        def chat(model: str) -> tuple[int, dict]:
            body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]})
            status, _, answer = gw.request("POST", "/openai/chat/completions", body.encode(),
                                           bearer(t))
            return status, json.loads(answer)

        status, answer = chat(TYPO)
        assert status == 404, answer
        assert "did you mean 'gpt-6.1-sol'" in answer["error"]["message"]
        status, answer = chat("gpt-7-preview-fake")  # unpriced, but no typo: the budget's
        assert status == 402 and "budget" in answer["error"]["message"]
        assert sent_models(fake) == []
    finally:
        gw.stop()


def test_near_miss_and_check_typo():
    cat, registry = load(), builtin()
    assert near_miss(TYPO, cat, "openai") == "gpt-6.1-sol"
    assert near_miss("haiku", cat, "openai") is None
    assert near_miss("sonet", cat, "anthropic") == "sonnet"
    # another number, or an id that extends one, is another model: the provider judges
    for other in ("claude-sonnet-4-5", "claude-opus-4-1", "claude-3"):
        assert near_miss(other, cat, "anthropic") is None
    for other in ("gpt-4.1-mini", "gpt-4", "gpt-6.3-sol", "gpt-4o-mini-tts"):
        assert near_miss(other, cat, "openai") is None
    target = resolve(TYPO, cat, registry, preferred="openai")
    with pytest.raises(ByokError) as caught:
        check_typo(TYPO, target, cat, registry, lambda p: set())
    assert caught.value.code == Code.MODEL_NOT_FOUND
    check_typo(TYPO, target, cat, registry, lambda p: {TYPO})  # listed: real
    check_typo(TYPO, target, cat, registry, lambda p: set(), near=False)
    gateway_id = resolve("team/llama-70b", cat, registry, provider="openrouter")
    check_typo("team/llama-70b", gateway_id, cat, registry, lambda p: set())


def test_a_typo_in_the_fallback_chain_is_refused_as_in_m(keys, fake):
    """`config set fallback` applies -m's typo rule to each PROVIDER/MODEL entry: a near miss
    is refused (exit 8, the chain unchanged) until the provider's synced list has it."""
    assert keys.run("config", "set", "fallback", "anthropic/sonnet").returncode == 0
    for chain, near in ((f"anthropic/sonnet, openai/{TYPO}", "gpt-6.1-sol"),
                        ("anthropic/sonet", "sonnet"), ("openai/gpt-6.2-astro", "gpt-6.2-astra")):
        r = keys.run("config", "set", "fallback", chain)
        assert r.returncode == Code.MODEL_NOT_FOUND.exit_status, (chain, r.stderr)
        assert f"did you mean '{near}'?" in r.stderr and "--fallback" not in r.stderr
        assert "--remote` syncs its list, and then it is known" in r.stderr
        assert keys.run("config", "get", "fallback").stdout.strip() == \
            "anthropic/claude-sonnet-5-5"
    far = keys.run("config", "set", "fallback", "openai/gpt-7-preview-fake, anthropic")
    assert far.returncode == 0, far.stderr  # near nothing: the provider judges, as for -m
    assert keys.run("models", "list", "-p", "openai", "--remote").returncode == 0
    synced = keys.run("config", "set", "fallback", "openai/gpt-6.2-astro")
    assert synced.returncode == 0, synced.stderr
    assert keys.run("config", "get", "fallback").stdout.strip() == "openai/gpt-6.2-astro"
    runner = CliRunner()
    typer_run = runner.invoke(app, ["config", "set", "fallback", f"openai/{TYPO}"],
                              env=keys.vars)
    assert typer_run.exit_code == Code.MODEL_NOT_FOUND.exit_status
