"""Resolution is a pure function: table tests over flags, settings, keys and chains."""

import datetime as dt
import itertools

import pytest

from byok_cli.catalog import load
from byok_cli.errors import ByokError, Code
from byok_cli.registry import builtin
from byok_cli.resolve import Excluded, KeyAvailability, next_attempt
from byok_cli.resolve import plan as _plan

CAT = load()
REG = builtin().with_custom([("gw", "openai", "https://gw.test/v1", "GW_KEY", 1),
                             ("local", "anthropic", "http://localhost:4000", None, 0)])
TODAY = dt.date(2026, 11, 25)
DEF = {"openai": "gpt-6.2-sol", "anthropic": "claude-sonnet-5-5"}
VARS = {p.name: p.key_env for p in REG}


def settings(pref="system", openai_model=None, anthropic_model=None, fallback=None, **models):
    chosen = {"openai": openai_model, "anthropic": anthropic_model, **models}
    return {"preferred_provider": pref, "fallback": fallback,
            "models": {p: m for p, m in chosen.items() if m}, "base_urls": {}}


def keys(stored=(), env=()):
    """stored: provider names (one key called default) or (provider, [names]) pairs."""
    by_provider = {}
    for entry in stored:
        provider, names = (entry, ["default"]) if isinstance(entry, str) else entry
        by_provider[provider] = [(n, "user") for n in names]
    return KeyAvailability(by_provider, {p: (VARS[p], "envk") for p in env},
                           frozenset(p.name for p in REG if not p.needs_key))


def plan(*args, **kw):
    return _plan(*args[:3], REG, **kw)


def route(p):
    return [(a.provider, a.model, a.key_source, a.role) for a in p.attempts]


def test_defaults_are_catalogue_defaults():
    assert CAT.default("openai") == DEF["openai"] and CAT.default("anthropic") == DEF["anthropic"]


def test_preferred_provider_user_key_then_env():
    p = plan(settings("openai"), keys(["openai"], ["openai"]), CAT, today=TODAY)
    assert route(p) == [("openai", DEF["openai"], "user", "primary"),
                        ("openai", DEF["openai"], "system", "key_fallback")]


def test_system_uses_only_environment_keys():
    p = plan(settings("system"), keys(["openai", "anthropic"], ["anthropic"]), CAT, today=TODAY)
    assert route(p) == [("anthropic", DEF["anthropic"], "system", "primary")]


def test_system_with_stored_key_only_says_how_to_use_it():
    with pytest.raises(ByokError) as err:
        plan(settings("system"), keys(["openai"]), CAT, today=TODAY)
    assert err.value.code == Code.NO_KEY
    assert "preferred-provider openai" in err.value.hint


def test_no_key_at_all():
    with pytest.raises(ByokError) as err:
        plan(settings("openai"), keys(), CAT, today=TODAY)
    assert err.value.code == Code.NO_KEY and "byok key set openai" in err.value.hint


def test_model_flag_picks_provider_and_wins_over_preference():
    p = plan(settings("openai", openai_model="gpt-6-luna"), keys(["openai", "anthropic"]), CAT,
             model="haiku", today=TODAY)
    assert p.attempts[0].provider == "anthropic" and p.attempts[0].model == "claude-haiku-5-5"
    assert "-m" in p.attempts[0].reason
    assert {a.provider for a in p.attempts} == {"anthropic"}  # -m pins the provider
    # with --fallback, the other provider uses its own preferred model, never haiku's id
    p = plan(settings("openai", openai_model="gpt-6-luna"), keys(["openai", "anthropic"]), CAT,
             model="haiku", chain=True, today=TODAY)
    assert ("openai", "gpt-6-luna", "user", "provider_fallback") in route(p)


def test_provider_flag_wins_and_uses_preferred_model():
    p = plan(settings("openai", anthropic_model="claude-opus-5-5"), keys(["openai", "anthropic"]),
             CAT, provider="anthropic", today=TODAY)
    assert route(p)[0] == ("anthropic", "claude-opus-5-5", "user", "primary")
    assert ("anthropic", DEF["anthropic"], "user", "model_fallback") in route(p)


def test_model_and_provider_mismatch_is_usage_error():
    with pytest.raises(ByokError) as err:
        plan(settings("openai"), keys(["openai"]), CAT, model="sonnet", provider="openai",
             today=TODAY)
    assert err.value.code == Code.USAGE


def test_unknown_model_passes_through_for_its_provider():
    p = plan(settings("openai"), keys(["openai"]), CAT, model="gpt-7-preview", today=TODAY)
    assert route(p)[0] == ("openai", "gpt-7-preview", "user", "primary")
    assert "not in catalogue" in p.attempts[0].reason and not p.attempts[0].in_catalog
    # known from the profile's preference
    p = plan(settings("openai"), keys(["openai"]), CAT, model="llama-3", today=TODAY)
    assert route(p)[0] == ("openai", "llama-3", "user", "primary")
    assert "not in catalogue" in p.attempts[0].reason
    with pytest.raises(ByokError) as err:  # no provider known at all
        plan(settings("system"), keys(env=["openai"]), CAT, model="llama-3", today=TODAY)
    assert err.value.code == Code.MODEL_NOT_FOUND


def test_retired_model_falls_back_to_default_before_sending():
    p = plan(settings("anthropic", anthropic_model="claude-opus-4-20250514"),
             keys(["anthropic"]), CAT, today=TODAY)
    assert route(p)[0] == ("anthropic", DEF["anthropic"], "user", "primary")
    assert p.fallbacks == [{"kind": "model_retired", "provider": "anthropic",
                            "from": "claude-opus-4-20250514", "to": DEF["anthropic"]}]
    assert "end of life" in p.warnings[0]


def test_retired_model_is_sent_as_is_with_no_fallback():
    p = plan(settings("anthropic", anthropic_model="claude-opus-4-20250514"),
             keys(["anthropic"]), CAT, fallback=False, today=TODAY)
    assert route(p) == [("anthropic", "claude-opus-4-20250514", "user", "primary")]
    assert "end of life" in p.warnings[0] and p.fallbacks == []


def test_deprecated_model_warns():
    p = plan(settings("openai", openai_model="gpt-4o"), keys(["openai"]), CAT, today=TODAY)
    assert route(p)[0][1] == "gpt-4o" and "deprecated" in p.warnings[0]


def test_no_key_for_preferred_goes_to_other_provider():
    p = plan(settings("openai"), keys(["anthropic"]), CAT, today=TODAY)
    assert route(p)[0] == ("anthropic", DEF["anthropic"], "user", "provider_fallback")
    assert p.fallbacks[0] == {"kind": "no_key", "from": "openai", "to": "anthropic"}
    with pytest.raises(ByokError):
        plan(settings("openai"), keys(["anthropic"]), CAT, fallback=False, today=TODAY)


def test_model_flag_with_no_key_fails_instead_of_sending_the_id_elsewhere():
    # Issue 13: `-m sonnet` with only an OpenAI key used to send claude-sonnet-5-5 to OpenAI.
    with pytest.raises(ByokError) as err:
        plan(settings("openai"), keys(["openai"]), CAT, model="sonnet", today=TODAY)
    assert err.value.code == Code.NO_KEY and "--fallback" in err.value.hint
    p = plan(settings("openai"), keys(["openai"]), CAT, model="sonnet", chain=True, today=TODAY)
    assert route(p)[0] == ("openai", DEF["openai"], "user", "provider_fallback")


def test_no_fallback_keeps_only_key_fallback():
    p = plan(settings("openai", openai_model="gpt-6-luna"),
             keys(["openai", "anthropic"], ["openai", "anthropic"]), CAT, fallback=False,
             today=TODAY)
    assert route(p) == [("openai", "gpt-6-luna", "user", "primary"),
                        ("openai", "gpt-6-luna", "system", "key_fallback")]


# Every combination of preference, stored keys and environment keys gives a plan whose
# invariants hold, or a NO_KEY error exactly when no allowed key exists.
COMBOS = list(itertools.product(
    ["openai", "anthropic", "system"],
    [(), ("openai",), ("anthropic",), ("openai", "anthropic")],
    [(), ("openai",), ("anthropic",), ("openai", "anthropic")],
    [None, "openai", "anthropic"],
    [None, "luna", "opus"],
    [True, False]))


@pytest.mark.parametrize("pref, stored, env, provider, model, fallback", COMBOS)
def test_plan_invariants(pref, stored, env, provider, model, fallback):
    kw = dict(provider=provider, model=model, fallback=fallback, today=TODAY)
    pinned = bool(provider or model)
    wanted = provider or (CAT.lookup(model).provider if model else None) or (
        pref if pref != "system" else None)
    usable = {s for s in stored if pref != "system"} | set(env)
    try:
        p = plan(settings(pref), keys(stored, env), CAT, **kw)
    except ByokError as err:
        if err.code == Code.USAGE:  # -m luna -p anthropic and the like
            assert model and provider and CAT.lookup(model).provider != provider
            return
        assert err.code == Code.NO_KEY
        if pinned:  # a pinned provider's failure is the command's
            assert wanted not in usable
        else:
            assert not usable or (wanted and wanted not in usable and
                                  (not fallback or not (usable - {wanted})))
        return
    a0 = p.attempts[0]
    if pref == "system":
        assert all(a.key_source == "system" for a in p.attempts)
    if pinned:
        assert {a.provider for a in p.attempts} == {wanted} and not p.fallbacks
    elif wanted and not p.fallbacks:
        assert a0.provider == wanted
    if not fallback:
        assert {a.provider for a in p.attempts} == {a0.provider}
        assert {a.role for a in p.attempts} <= {"primary", "key_fallback", "provider_fallback"}
    seen = set()
    for a in p.attempts:  # no duplicate attempts; user key before env key
        assert (a.provider, a.model, a.key_source) not in seen
        seen.add((a.provider, a.model, a.key_source))
        if a.key_source == "system":
            assert (a.provider, a.model, "user") in seen or a.provider not in stored or \
                pref == "system"
        if a.provider != a0.provider:  # a fallback provider never gets another's model id
            known = CAT.get(a.model)
            assert known is None or known.provider == a.provider


def test_next_attempt_follows_the_design_order():
    p = plan(settings("openai", openai_model="gpt-6-luna"),
             keys(["openai", "anthropic"], ["openai"]), CAT, today=TODAY)
    a = p.attempts
    ex = Excluded()
    # 1. user key rejected -> env key, same provider and model
    j = next_attempt(a, 0, Code.UNAUTHORIZED, ex)
    assert (a[j].provider, a[j].model, a[j].key_source) == ("openai", "gpt-6-luna", "system")
    # 3. then the model is missing -> default model, skipping the rejected user key
    k = next_attempt(a, j, Code.MODEL_NOT_FOUND, ex)
    assert (a[k].provider, a[k].model, a[k].key_source) == ("openai", DEF["openai"], "system")
    # 4. then the provider is down -> the other provider
    m = next_attempt(a, k, Code.PROVIDER_UNAVAILABLE, ex)
    assert a[m].provider == "anthropic"
    # 2. env key rejected -> stop
    assert next_attempt(a, j, Code.UNAUTHORIZED, Excluded()) is None
    # rate limits and bad requests are not fallbacks
    assert next_attempt(a, 0, Code.RATE_LIMITED, Excluded()) is None
    assert next_attempt(a, 0, Code.BAD_REQUEST, Excluded()) is None


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
    assert (a[k].key_source, a[k].key_name) == ("system", "OPENAI_API_KEY")
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
    assert p.attempts[0].key_source == "system"
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
    assert route(p) == [("openai", "gpt-4o", "user", "primary"),
                        ("openai", "gpt-4o", "system", "key_fallback")]
    assert p.skipped == [
        "no model fallback to openai gpt-6.2-sol: gpt-6.2-sol does not take --temperature",
        "no provider fallback to anthropic claude-sonnet-5-5: claude-sonnet-5-5 does not take "
        "--temperature"]
    p = plan(settings("anthropic", anthropic_model="claude-opus-5-5"), both, CAT,
             effort="max", today=TODAY)
    assert [a.model for a in p.attempts] == ["claude-opus-5-5", "claude-sonnet-5-5"]
    assert [s.split(":")[0] for s in p.skipped] == ["no provider fallback to openai gpt-6.2-sol",
                                                    "no key fallback to openai gpt-6.2-sol"]


def test_models_the_catalogue_does_not_know_are_left_to_the_api():
    p = plan(settings("openai"), keys(["openai"]), CAT, model="gpt-7-preview",
             temperature=1.5, effort="high", today=TODAY)
    assert p.attempts[0].model == "gpt-7-preview" and p.skipped[0].startswith(
        "no model fallback to openai gpt-6.2-sol")
    with pytest.raises(ByokError):  # an unknown level is refused whatever the model
        plan(settings("openai"), keys(["openai"]), CAT, model="gpt-7-preview", effort="turbo",
             today=TODAY)


def test_a_budget_refusal_rules_out_what_it_refused():
    p = plan(settings("openai", openai_model="gpt-6-luna"),
             keys(["openai", "anthropic"], ["openai"]), CAT, today=TODAY)
    a = p.attempts
    # a key's budget: the same model with the provider's next key (here the environment's)
    j = next_attempt(a, 0, Code.BUDGET_EXCEEDED, Excluded(), "key")
    assert (a[j].provider, a[j].model, a[j].key_source) == ("openai", "gpt-6-luna", "system")
    # no price for the model: the provider's other model
    k = next_attempt(a, 0, Code.BUDGET_EXCEEDED, Excluded(), "model")
    assert (a[k].provider, a[k].model) == ("openai", DEF["openai"])
    # a provider's (or the profile's) budget: another provider
    for scope in ("provider", "profile", None):
        m = next_attempt(a, 0, Code.BUDGET_EXCEEDED, Excluded(), scope)
        assert a[m].provider == "anthropic"
