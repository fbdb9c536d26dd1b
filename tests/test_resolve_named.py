"""Resolution with named providers, named keys, prefixes, unknown ids, chains, the
parameters a model can take, and budgets' refusals."""

import pytest

from byok_cli.errors import ByokError, Code
from byok_cli.routing.resolve import Excluded, next_attempt
from support.plans import CAT, DEF, TODAY, keys, plan, route, settings


# --- named providers, named keys, prefixes, unknown ids and chains (issue 13) -----------

def labels(p):
    return [(a.provider, a.model, a.key_name, a.role) for a in p.attempts]


@pytest.mark.parametrize("model, provider, expected", [
    ("openrouter/meta-llama/llama-4-maverick", None, ("openrouter", "meta-llama/llama-4-maverick")),
    ("gw/team/llama-70b", None, ("gw", "team/llama-70b")),
    ("gw/sonnet", None, ("gw", "sonnet")),                    # a gateway's own id, as given
    ("anthropic/sonnet", None, ("anthropic", "claude-sonnet-5-5")),  # alias under its provider
    ("team/llama-70b", "gw", ("gw", "team/llama-70b")),       # 'team' is no provider: an id
    ("my-gateway-model", "gw", ("gw", "my-gateway-model")),
    ("claude-brandnew-9", None, ("anthropic", "claude-brandnew-9")),  # by its customary prefix
    ("luna", None, ("openai", "gpt-6-luna")),
])
def test_model_addressing(model, provider, expected):
    p = plan(settings("system"), keys(env=["openai", "anthropic", "openrouter"],
                                      stored=["gw"]), CAT, model=model, provider=provider,
             key="default" if expected[0] == "gw" else None, today=TODAY)
    assert (p.attempts[0].provider, p.attempts[0].model) == expected


@pytest.mark.parametrize("model, provider", [
    ("anthropic/gpt-6-luna", None),    # another catalogue's model under a built-in
    ("openai/sonnet", None),
    ("gw/x", "openai"),                # the prefix and -p disagree
    ("sonnet", "openai"),
])
def test_addressing_refuses_contradictions(model, provider):
    with pytest.raises(ByokError) as err:
        plan(settings("openai"), keys(["openai", "anthropic"]), CAT, model=model,
             provider=provider, today=TODAY)
    assert err.value.code == Code.USAGE


def test_unknown_id_under_a_named_provider_is_sent_as_is_and_marked():
    p = plan(settings("gw"), keys(["gw"]), CAT, model="my-gateway-model", today=TODAY)
    assert labels(p)[0] == ("gw", "my-gateway-model", "default", "primary")
    assert "not in catalogue" in p.attempts[0].reason
    with pytest.raises(ByokError) as err:  # a provider with no catalogue and no model set
        plan(settings("gw"), keys(["gw"]), CAT, today=TODAY)
    assert err.value.code == Code.USAGE and "gw/MODEL" in err.value.hint
    p = plan(settings("gw", gw="team/llama-70b"), keys(["gw"]), CAT, today=TODAY)
    assert labels(p)[0] == ("gw", "team/llama-70b", "default", "primary")


def test_named_keys_in_order_then_the_environment():
    p = plan(settings("openai", openai_model="gpt-6-luna"),
             keys([("openai", ["work", "personal"])], ["openai"]), CAT, today=TODAY)
    assert labels(p)[:3] == [("openai", "gpt-6-luna", "work", "primary"),
                             ("openai", "gpt-6-luna", "personal", "key_fallback"),
                             ("openai", "gpt-6-luna", "OPENAI_API_KEY", "key_fallback")]


def test_a_rejected_named_key_falls_through_to_the_next_then_the_environment():
    p = plan(settings("openai", openai_model="gpt-6-luna"),
             keys([("openai", ["work", "personal"]), "anthropic"], ["openai"]), CAT, today=TODAY)
    a, ex = p.attempts, Excluded()
    j = next_attempt(a, 0, Code.UNAUTHORIZED, ex)
    assert (a[j].key_name, a[j].model) == ("personal", "gpt-6-luna")
    k = next_attempt(a, j, Code.QUOTA_EXCEEDED, ex)
    assert (a[k].key_source, a[k].key_name) == ("environment", "OPENAI_API_KEY")
    assert next_attempt(a, k, Code.UNAUTHORIZED, Excluded()) is None  # the environment's too
    # the model falls back with the keys not ruled out; the chain after that
    m = next_attempt(a, k, Code.MODEL_NOT_FOUND, ex)
    assert (a[m].model, a[m].key_name) == (DEF["openai"], "OPENAI_API_KEY")
    assert a[next_attempt(a, m, Code.NETWORK_ERROR, ex)].provider == "anthropic"


def test_key_flag_picks_one_key():
    both = keys([("openai", ["work", "personal"])], ["openai"])
    p = plan(settings("openai"), both, CAT, key="personal", today=TODAY)
    assert {a.key_name for a in p.attempts if a.provider == "openai"} == {"personal"}
    p = plan(settings("openai"), both, CAT, key="OPENAI_API_KEY", today=TODAY)
    assert p.attempts[0].key_source == "environment"
    with pytest.raises(ByokError) as err:
        plan(settings("openai"), both, CAT, key="nope", today=TODAY)
    assert err.value.code == Code.NO_KEY and "work, personal" in err.value.hint


def test_a_provider_that_needs_no_key_works_with_none():
    p = plan(settings("system"), keys(), CAT, model="ollama/llama3.2", today=TODAY)
    assert (p.attempts[0].provider, p.attempts[0].key_source) == ("ollama", "none")
    assert p.attempts[0].key_label.startswith("no key")
    p = plan(settings("openai"), keys(["openai"]), CAT, provider="local", model="qwen",
             today=TODAY)
    assert route(p) == [("local", "qwen", "none", "primary")]


def test_the_chain_defaults_to_the_other_builtin():
    p = plan(settings("anthropic"), keys(["openai", "anthropic"]), CAT, today=TODAY)
    assert p.chain == ["openai"]
    assert [a.provider for a in p.attempts if a.role == "provider_fallback"] == ["openai"]
    p = plan(settings("gw", gw="m1"), keys(["openai", "anthropic", "gw"]), CAT, today=TODAY)
    assert p.chain == ["openai", "anthropic"]


def test_chain_entries_use_their_own_model():
    chain = "anthropic/haiku, openrouter, gw/team/llama-70b"
    p = plan(settings("openai", fallback=chain, openrouter="meta-llama/llama-4-maverick"),
             keys(["openai", "anthropic", "openrouter", "gw"]), CAT, today=TODAY)
    fallbacks = [(a.provider, a.model) for a in p.attempts if a.role == "provider_fallback"]
    assert fallbacks == [("anthropic", "claude-haiku-5-5"),
                         ("openrouter", "meta-llama/llama-4-maverick"),
                         ("gw", "team/llama-70b")]
    assert p.chain == ["anthropic/claude-haiku-5-5", "openrouter", "gw/team/llama-70b"]
    a, ex = p.attempts, Excluded()
    j = next_attempt(a, 0, Code.PROVIDER_UNAVAILABLE, ex)
    assert (a[j].provider, a[j].model) == ("anthropic", "claude-haiku-5-5")
    k = next_attempt(a, j, Code.NETWORK_ERROR, ex)
    assert (a[k].provider, a[k].model) == ("openrouter", "meta-llama/llama-4-maverick")


def test_chain_entries_without_a_key_or_a_model_are_skipped():
    p = plan(settings("openai", fallback="gw, groq, anthropic"),
             keys(["openai", "anthropic", "gw"]), CAT, today=TODAY)
    # gw has a key but no model: left out, with a warning; groq has no key: left out
    assert [a.provider for a in p.attempts if a.role == "provider_fallback"] == ["anthropic"]
    assert any("no model to use with gw" in w for w in p.warnings)


def test_pinned_provider_fails_alone_unless_the_chain_is_asked_for():
    both = keys(["openai", "anthropic"])
    pinned = plan(settings("openai"), both, CAT, provider="openai", today=TODAY)
    assert {a.provider for a in pinned.attempts} == {"openai"}
    assert next_attempt(pinned.attempts, 0, Code.PROVIDER_UNAVAILABLE, Excluded()) is None
    asked = plan(settings("openai"), both, CAT, provider="openai", chain=True, today=TODAY)
    j = next_attempt(asked.attempts, 0, Code.PROVIDER_UNAVAILABLE, Excluded())
    assert (asked.attempts[j].provider, asked.attempts[j].model) == ("anthropic",
                                                                     DEF["anthropic"])
    # unpinned (the preference, or a conversation carried on): the chain is used
    free = plan(settings("openai"), both, CAT, model="sol", provider="openai", pin=False,
                today=TODAY)
    assert "anthropic" in {a.provider for a in free.attempts}


def test_no_fallback_chain_at_all():
    p = plan(settings("openai", fallback=""), keys(["openai", "anthropic"]), CAT, today=TODAY)
    assert {a.provider for a in p.attempts} == {"openai"} and p.chain == []


def test_a_removed_provider_in_the_chain_is_left_out_with_a_warning():
    p = plan(settings("openai", fallback="gone/x, anthropic"), keys(["openai", "anthropic"]),
             CAT, today=TODAY)
    assert p.chain == ["anthropic"] and any("gone/x" in w for w in p.warnings)


# --- parameters a model cannot take (the catalogue says which) --------------------------------

def test_a_parameter_the_first_model_cannot_take_is_refused_before_sending():
    both = keys(["openai", "anthropic"])
    for model, params, words in [
            ("sol", {"temperature": 0.5}, "gpt-6.2-sol does not take --temperature"),
            ("sonnet", {"temperature": 0.0}, "claude-sonnet-5-5 does not take --temperature"),
            ("gpt-4o", {"effort": "low"}, "gpt-4o has no effort control"),
            ("haiku", {"effort": "xhigh"}, "claude-haiku-5-5 takes --effort low, medium, high"),
            ("sonnet", {"effort": "minimal"}, "not a level of the anthropic API")]:
        with pytest.raises(ByokError) as err:
            plan(settings("openai"), both, CAT, model=model, today=TODAY, **params)
        assert err.value.code == Code.USAGE and words in err.value.message, model
        if "temperature" in params:
            assert "gpt-4o" in err.value.hint  # a model that does take it


def test_fallbacks_that_cannot_take_a_parameter_are_left_out():
    both = keys(["openai", "anthropic"], ["openai"])
    p = plan(settings("openai"), both, CAT, model="gpt-4o", temperature=0.2, chain=True,
             today=TODAY)
    assert route(p) == [("openai", "gpt-4o", "stored", "primary"),
                        ("openai", "gpt-4o", "environment", "key_fallback")]
    assert p.skipped == [
        "no model fallback to openai gpt-6.1-sol: gpt-6.1-sol does not take --temperature",
        "no provider fallback to anthropic claude-sonnet-5-5: claude-sonnet-5-5 does not take "
        "--temperature"]
    p = plan(settings("anthropic", anthropic_model="claude-opus-5-5"), both, CAT,
             effort="max", today=TODAY)
    assert [a.model for a in p.attempts] == ["claude-opus-5-5", "claude-sonnet-5-5"]
    assert [s.split(":")[0] for s in p.skipped] == ["no provider fallback to openai gpt-6.1-sol",
                                                    "no key fallback to openai gpt-6.1-sol"]


def test_models_the_catalogue_does_not_know_are_left_to_the_api():
    p = plan(settings("openai"), keys(["openai"]), CAT, model="gpt-7-preview",
             temperature=1.5, effort="high", today=TODAY)
    assert p.attempts[0].model == "gpt-7-preview" and p.skipped[0].startswith(
        "no model fallback to openai gpt-6.1-sol")
    with pytest.raises(ByokError):  # an unknown level is refused whatever the model
        plan(settings("openai"), keys(["openai"]), CAT, model="gpt-7-preview", effort="turbo",
             today=TODAY)


def test_a_budget_refusal_rules_out_what_it_refused():
    p = plan(settings("openai", openai_model="gpt-6-luna"),
             keys(["openai", "anthropic"], ["openai"]), CAT, today=TODAY)
    a = p.attempts
    # a key's budget: the same model with the provider's next key (here the environment's)
    j = next_attempt(a, 0, Code.BUDGET_EXCEEDED, Excluded(), "key")
    assert (a[j].provider, a[j].model, a[j].key_source) == ("openai", "gpt-6-luna", "environment")
    # no price for the model: the provider's other model
    k = next_attempt(a, 0, Code.BUDGET_EXCEEDED, Excluded(), "model")
    assert (a[k].provider, a[k].model) == ("openai", DEF["openai"])
    # a provider's (or the profile's) budget: another provider
    for scope in ("provider", "profile", None):
        m = next_attempt(a, 0, Code.BUDGET_EXCEEDED, Excluded(), scope)
        assert a[m].provider == "anthropic"
