"""Resolution is a pure function: table tests over flags, settings, keys and chains
(named providers and keys, chains and parameters: test_resolve_named.py)."""

import itertools

import pytest

from byok_cli.errors import ByokError, Code
from byok_cli.routing.resolve import Excluded, next_attempt
from support.plans import CAT, DEF, TODAY, keys, plan, route, settings


def test_defaults_are_catalogue_defaults():
    assert CAT.default("openai") == DEF["openai"] and CAT.default("anthropic") == DEF["anthropic"]


def test_preferred_provider_user_key_then_env():
    p = plan(settings("openai"), keys(["openai"], ["openai"]), CAT, today=TODAY)
    assert route(p) == [("openai", DEF["openai"], "stored", "primary"),
                        ("openai", DEF["openai"], "environment", "key_fallback")]


def test_system_uses_only_environment_keys():
    p = plan(settings("system"), keys(["openai", "anthropic"], ["anthropic"]), CAT, today=TODAY)
    assert route(p) == [("anthropic", DEF["anthropic"], "environment", "primary")]


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
    assert ("openai", "gpt-6-luna", "stored", "provider_fallback") in route(p)


def test_provider_flag_wins_and_uses_preferred_model():
    p = plan(settings("openai", anthropic_model="claude-opus-5-5"), keys(["openai", "anthropic"]),
             CAT, provider="anthropic", today=TODAY)
    assert route(p)[0] == ("anthropic", "claude-opus-5-5", "stored", "primary")
    assert ("anthropic", DEF["anthropic"], "stored", "model_fallback") in route(p)


def test_model_and_provider_mismatch_is_usage_error():
    with pytest.raises(ByokError) as err:
        plan(settings("openai"), keys(["openai"]), CAT, model="sonnet", provider="openai",
             today=TODAY)
    assert err.value.code == Code.USAGE


def test_unknown_model_passes_through_for_its_provider():
    p = plan(settings("openai"), keys(["openai"]), CAT, model="gpt-7-preview", today=TODAY)
    assert route(p)[0] == ("openai", "gpt-7-preview", "stored", "primary")
    assert "not in catalogue" in p.attempts[0].reason and not p.attempts[0].in_catalog
    # known from the profile's preference
    p = plan(settings("openai"), keys(["openai"]), CAT, model="llama-3", today=TODAY)
    assert route(p)[0] == ("openai", "llama-3", "stored", "primary")
    assert "not in catalogue" in p.attempts[0].reason
    with pytest.raises(ByokError) as err:  # no provider known at all
        plan(settings("system"), keys(env=["openai"]), CAT, model="llama-3", today=TODAY)
    assert err.value.code == Code.MODEL_NOT_FOUND


def test_retired_model_falls_back_to_default_before_sending():
    p = plan(settings("anthropic", anthropic_model="claude-opus-4-20250514"),
             keys(["anthropic"]), CAT, today=TODAY)
    assert route(p)[0] == ("anthropic", DEF["anthropic"], "stored", "primary")
    assert p.fallbacks == [{"kind": "model_retired", "provider": "anthropic",
                            "from": "claude-opus-4-20250514", "to": DEF["anthropic"]}]
    assert "end of life" in p.warnings[0]


def test_retired_model_is_sent_as_is_with_no_fallback():
    p = plan(settings("anthropic", anthropic_model="claude-opus-4-20250514"),
             keys(["anthropic"]), CAT, fallback=False, today=TODAY)
    assert route(p) == [("anthropic", "claude-opus-4-20250514", "stored", "primary")]
    assert "end of life" in p.warnings[0] and p.fallbacks == []


def test_deprecated_model_warns():
    p = plan(settings("openai", openai_model="gpt-4o"), keys(["openai"]), CAT, today=TODAY)
    assert route(p)[0][1] == "gpt-4o" and "deprecated" in p.warnings[0]


def test_no_key_for_preferred_goes_to_other_provider():
    p = plan(settings("openai"), keys(["anthropic"]), CAT, today=TODAY)
    assert route(p)[0] == ("anthropic", DEF["anthropic"], "stored", "provider_fallback")
    assert p.fallbacks[0] == {"kind": "no_key", "from": "openai", "to": "anthropic"}
    with pytest.raises(ByokError):
        plan(settings("openai"), keys(["anthropic"]), CAT, fallback=False, today=TODAY)


def test_model_flag_with_no_key_fails_instead_of_sending_the_id_elsewhere():
    # Issue 13: `-m sonnet` with only an OpenAI key used to send claude-sonnet-5-5 to OpenAI.
    with pytest.raises(ByokError) as err:
        plan(settings("openai"), keys(["openai"]), CAT, model="sonnet", today=TODAY)
    assert err.value.code == Code.NO_KEY and "--fallback" in err.value.hint
    p = plan(settings("openai"), keys(["openai"]), CAT, model="sonnet", chain=True, today=TODAY)
    assert route(p)[0] == ("openai", DEF["openai"], "stored", "provider_fallback")


def test_no_fallback_is_one_attempt_with_one_key():
    """Issue 27: --no-fallback sends one key once (the key fallback too could hand a
    hostile endpoint every key)."""
    p = plan(settings("openai", openai_model="gpt-6-luna"),
             keys(["openai", "anthropic"], ["openai", "anthropic"]), CAT, fallback=False,
             today=TODAY)
    assert route(p) == [("openai", "gpt-6-luna", "stored", "primary")]


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
        assert all(a.key_source == "environment" for a in p.attempts)
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
        if a.key_source == "environment":
            assert (a.provider, a.model, "stored") in seen or a.provider not in stored or \
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
    assert (a[j].provider, a[j].model, a[j].key_source) == ("openai", "gpt-6-luna", "environment")
    # 3. then the model is missing -> default model, skipping the rejected user key
    k = next_attempt(a, j, Code.MODEL_NOT_FOUND, ex)
    assert (a[k].provider, a[k].model, a[k].key_source) == ("openai", DEF["openai"], "environment")
    # 4. then the provider is down -> the other provider
    m = next_attempt(a, k, Code.PROVIDER_UNAVAILABLE, ex)
    assert a[m].provider == "anthropic"
    # 2. env key rejected -> stop
    assert next_attempt(a, j, Code.UNAUTHORIZED, Excluded()) is None
    # rate limits and bad requests are not fallbacks
    assert next_attempt(a, 0, Code.RATE_LIMITED, Excluded()) is None
    assert next_attempt(a, 0, Code.BAD_REQUEST, Excluded()) is None


def test_model_fallback_is_the_profiles_own_default_model():
    """`models default luna`, then `-m gpt-nonexistent`: the fallback is luna, not the
    catalogue's default (issue 24, finding 1)."""
    p = plan(settings("openai", openai_model="gpt-6-luna"), keys(["openai"]), CAT,
             model="openai/gpt-nonexistent", today=TODAY)
    assert route(p) == [("openai", "gpt-nonexistent", "stored", "primary"),
                        ("openai", "gpt-6-luna", "stored", "model_fallback")]
    # when the profile's own model is the one asked for, the fallback is the catalogue's
    p = plan(settings("openai", openai_model="gpt-6-luna"), keys(["openai"]), CAT,
             model="openai/gpt-6-luna", today=TODAY)
    assert route(p)[-1] == ("openai", DEF["openai"], "stored", "model_fallback")
