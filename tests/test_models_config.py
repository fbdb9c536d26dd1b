"""`byok models …`, `byok config …`, `byok key validate` and the catalogue."""

import datetime as dt
import json
import typing

import pytest

from byok_cli.routing.addressing import resolve
from byok_cli.catalog.curated import load
from byok_cli.errors import Code
from byok_cli.registry import builtin
from conftest import (ANTHROPIC_GOOD, OPENAI_GOOD, OPENAI_GOOD_ENV, anthropic_key,
                      assert_no_leak, openai_key)

CAT = load()


def literal_ids(tp) -> set[str]:
    out = set()
    for arg in typing.get_args(tp):
        if isinstance(arg, str):
            out.add(arg)
        else:
            out |= literal_ids(arg)
    return out


def test_catalogue_ids_are_known_to_the_installed_sdks():
    """Flags a catalogue id the SDK does not know (retired ones excepted: SDKs drop them)."""
    from anthropic.types import ModelParam
    from openai.types import ChatModel

    known = {"openai": literal_ids(ChatModel), "anthropic": literal_ids(ModelParam)}
    import datetime as dt

    unknown = [m.id for m in CAT.models
               if not m.is_retired(dt.date.today()) and m.id not in known[m.provider]]
    assert unknown == []


def test_catalogue_shape():
    ids = [m.id for m in CAT.models]
    assert len(ids) == len(set(ids))
    aliases = [a for m in CAT.models for a in m.aliases]
    assert len(aliases) == len(set(aliases))
    for p in ("openai", "anthropic"):
        d = CAT.get(CAT.default(p))
        assert d and d.provider == p and d.end_of_life is None
    assert "claude-sonnet-3-5" not in ids  # never a model id (the design's list)
    assert resolve("sonnet", CAT, builtin())[:2] == ("anthropic", "claude-sonnet-5-5")
    assert resolve("MINI", CAT, builtin())[:2] == ("openai", "gpt-6-luna")
    for provider in {m.provider for m in CAT.models}:  # every catalogue has its provider
        assert builtin().require(provider).catalog == provider
    for m in CAT.models:  # every model says which parameters it takes
        assert isinstance(m.temperature, bool), m.id
        assert set(m.effort) <= set(CAT.effort_levels[m.provider]), m.id
    assert CAT.taking(0.5, None, dt.date(2026, 11, 25))  # some model takes a temperature


def test_effort_levels_are_the_sdks_own():
    """Flags a level the catalogue offers that the installed SDK's types do not know."""
    from anthropic.types import OutputConfigParam
    from openai.types.shared import ReasoningEffort

    known = {"openai": literal_ids(ReasoningEffort),
             "anthropic": literal_ids(typing.get_type_hints(OutputConfigParam)["effort"])}
    for provider, levels in CAT.effort_levels.items():
        assert set(levels) <= known[provider], provider


def test_models_list_json(byok_env):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("models", "list", "--json", env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
    rows = json.loads(r.stdout)
    assert {"provider", "id", "name", "available", "key_source", "default",
            "deprecated"} <= set(rows[0])
    by_id = {row["id"]: row for row in rows}
    assert by_id["claude-sonnet-5-5"]["key_source"] == "stored"
    assert by_id["claude-sonnet-5-5"]["default"] is True
    assert by_id["gpt-6.2-sol"]["key_source"] == "environment" and by_id["gpt-6.2-sol"]["available"]
    assert by_id["gpt-4o"]["deprecated"] is True
    assert by_id["claude-opus-4-20250514"]["available"] is False  # past end of life
    assert sum(row["default"] for row in rows) == 2


def test_models_list_without_keys_and_filter(byok_env):
    r = byok_env.run("models", "list", "--provider", "openai", "--json")
    rows = json.loads(r.stdout)
    assert {row["provider"] for row in rows} == {"openai"}
    assert not any(row["available"] for row in rows)
    assert all(row["key_source"] is None for row in rows)
    plain = byok_env.run("models", "list")
    assert plain.returncode == 0 and "\t" in plain.stdout


def test_models_list_remote_merges_and_caches(byok_env, fake):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("models", "list", "--remote", "-p", "anthropic", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["id"]: row for row in json.loads(r.stdout)}
    assert rows["claude-brandnew-9"]["in_catalogue"] is False
    assert rows["claude-opus-5-5"]["listed_by_provider"] is True
    assert rows["claude-opus-4-20250514"]["listed_by_provider"] is False
    calls = len([x for x in fake.requests if x["path"] == "/v1/models"])
    assert calls >= 3  # paginated
    byok_env.run("models", "list", "--remote", "-p", "anthropic", "--json")
    assert len([x for x in fake.requests if x["path"] == "/v1/models"]) == calls  # cached
    byok_env.run("models", "list", "--remote", "--refresh", "-p", "anthropic", "--json")
    assert len([x for x in fake.requests if x["path"] == "/v1/models"]) > calls


def test_models_list_remote_openai_shows_only_chat_models(byok_env, fake):
    r = byok_env.run("models", "list", "--remote", "-p", "openai", "--json",
                     env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
    ids = {row["id"] for row in json.loads(r.stdout)}
    assert "gpt-7-preview-fake" in ids and "whisper-1" not in ids
    assert_no_leak(OPENAI_GOOD_ENV, r.stdout, r.stderr, home=byok_env.home)


def test_models_remote_without_key(byok_env):
    r = byok_env.run("models", "list", "--remote", "-p", "openai")
    assert r.returncode == Code.NO_KEY.exit_status


def test_models_default_sets_the_models_provider(byok_env):
    r = byok_env.run("models", "default", "haiku")
    assert r.returncode == 0
    assert byok_env.run("config", "get", "anthropic.model").stdout.strip() == "claude-haiku-5-5"
    shown = byok_env.run("models", "default", "--provider", "anthropic")
    assert "claude-haiku-5-5\tprofile" in shown.stdout
    bad = byok_env.run("models", "default", "sonnet", "--provider", "openai")
    assert bad.returncode == Code.USAGE.exit_status
    unknown = byok_env.run("models", "default", "llama-70b")
    assert unknown.returncode == Code.MODEL_NOT_FOUND.exit_status


def test_config_set_get_show(byok_env):
    assert byok_env.run("config", "set", "preferred-provider", "anthropic").returncode == 0
    assert byok_env.run("config", "set", "openai.model", "luna").returncode == 0
    assert byok_env.run("config", "set", "openai.base_url", "http://localhost:8080/v1/"
                        ).returncode == 0
    show = json.loads(byok_env.run("config", "show", "--json").stdout)
    assert show == {"profile": "default", "preferred-provider": "anthropic", "fallback": None,
                    "logging": "on", "show-cost": "off", "allow-unpriced": "off",
                    "exec-gateway": "off", "openai.model": "gpt-6-luna", "openai.base_url": "http://localhost:8080/v1",
                    "openai.send_env_key": None, "anthropic.model": None,
                    "anthropic.base_url": None, "anthropic.send_env_key": None}
    assert byok_env.run("config", "set", "openai.model", "default").returncode == 0
    assert byok_env.run("config", "get", "openai.model").stdout == "\n"
    other = json.loads(byok_env.run("--profile", "x", "config", "show", "--json").stdout)
    assert other["preferred-provider"] == "system"


@pytest.mark.parametrize("args", [
    ["preferred-provider", "nope"], ["colour", "blue"], ["openai.base_url", "ftp://x"],
    ["openai.base_url", "http://proxy.example.com/v1"], ["nope.model", "x"],
    ["fallback", "nope/x"], ["fallback", "anthropic/gpt-6-luna"],
    ["anthropic.model", "gpt-6-luna"], ["logging", "maybe"], ["allow-unpriced", "yes"],
    ["exec-gateway", "yes"],
])
def test_config_refuses_bad_settings(byok_env, args):
    r = byok_env.run("config", "set", *args)
    assert r.returncode == Code.USAGE.exit_status
    assert "Traceback" not in r.stderr and r.stderr.startswith("error:")


def test_profile_base_url_is_used(byok_env, fake):
    env = {k: v for k, v in byok_env.vars.items() if not k.endswith("_BASE_URL")}
    byok_env.vars = env
    byok_env.run("config", "set", "openai.base_url", fake.url + "/v1")
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "via profile base url")
    assert r.returncode == 0, r.stderr
    assert fake.requests[-1]["key"] == OPENAI_GOOD


def test_key_set_validates_live(byok_env, fake):
    bad = openai_key("revoked")
    r = byok_env.run("key", "set", "openai", input=bad)
    assert r.returncode == Code.UNAUTHORIZED.exit_status and "--force" in r.stderr
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is False
    forced = byok_env.run("key", "set", "openai", "--force", input=bad)
    assert forced.returncode == 0
    row = json.loads(byok_env.run("key", "list", "--json").stdout)[0]
    assert row["stored_status"] == "failed: UNAUTHORIZED" and row["stored_checked_at"]
    good = byok_env.run("key", "set", "openai", input=OPENAI_GOOD)
    assert good.returncode == 0 and "(valid)" in good.stderr
    assert fake.requests[-1]["key"] == OPENAI_GOOD
    assert_no_leak(bad, r.stderr, forced.stderr)


def test_key_set_offline_stores_unverified(byok_env):
    r = byok_env.run("key", "set", "anthropic", input=ANTHROPIC_GOOD,
                     env={"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "BYOK_MAX_RETRIES": "0"})
    assert r.returncode == 0 and "unverified" in r.stderr and "warning" in r.stderr
    row = json.loads(byok_env.run("key", "list", "--json").stdout)[1]
    assert row["stored"] and row["stored_status"] == "unverified"


def test_key_validate_reports_each_key(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", anthropic_key("revoked"))
    r = byok_env.run("key", "validate", "--json", env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
    rows = json.loads(r.stdout)
    assert [(x["provider"], x["source"], x["result"]) for x in rows] == [
        ("openai", "stored", "VALID"), ("openai", "environment", "VALID"),
        ("anthropic", "stored", "UNAUTHORIZED")]
    assert all(x["latency_ms"] is not None for x in rows)
    assert r.returncode == Code.UNAUTHORIZED.exit_status
    ok = byok_env.run("key", "validate", "openai")
    assert ok.returncode == 0 and "VALID" in ok.stdout
    listing = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert listing[0]["stored_status"] == "valid"
    assert listing[1]["stored_status"] == "failed: UNAUTHORIZED"
    none = byok_env.run("--profile", "empty", "key", "validate")
    assert none.returncode == Code.NO_KEY.exit_status


# --- choosing a default model ---------------------------------------------------------------

NO_BASE_URL = {"OPENAI_BASE_URL": "", "ANTHROPIC_BASE_URL": ""}


def test_models_default_offers_to_switch_the_preferred_provider(byok_env, fake):
    import pexpect

    from conftest import BYOK

    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    assert byok_env.run("config", "get", "preferred-provider").stdout == "openai\n"
    piped = byok_env.run("models", "default", "sonnet")  # cannot ask: changes only the model
    assert piped.returncode == 0 and "still uses openai" in piped.stderr
    assert byok_env.run("config", "get", "anthropic.model").stdout == "claude-sonnet-5-5\n"
    for answer, status, preferred in (("n", Code.DECLINED.exit_status, "openai"),
                                      ("y", 0, "anthropic")):
        child = pexpect.spawn(str(BYOK), ["models", "default", "sonnet"], env=byok_env.vars,
                              timeout=20)
        child.expect("default anthropic model for profile 'default': claude-sonnet-5-5")
        child.expect(r"Make anthropic the preferred provider.*\[y/N\]")
        child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == status
        assert byok_env.run("config", "get", "preferred-provider").stdout == preferred + "\n"
    r = byok_env.run("run", "hi")
    assert r.stdout == "Echo[claude-sonnet-5-5]: hi\n"  # `byok run` now uses Sonnet
    byok_env.run("config", "set", "preferred-provider", "openai")
    yes = byok_env.run("models", "default", "haiku", "--yes")
    assert yes.returncode == 0 and "preferred provider for profile 'default': anthropic" in \
        yes.stderr
    assert byok_env.run("run", "hi").stdout == "Echo[claude-haiku-5-5]: hi\n"


def test_config_set_refuses_models_like_models_default(byok_env):
    for args in (["config", "set", "openai.model", "nosuch"], ["models", "default", "nosuch"],
                 ["models", "default", "-p", "openai", "nosuch"]):
        r = byok_env.run(*args, env=NO_BASE_URL)
        assert r.returncode == Code.MODEL_NOT_FOUND.exit_status and "nosuch" in r.stderr, args
    for args in (["config", "set", "openai.model", "gpt-4-turbo"],
                 ["models", "default", "gpt-4-turbo"]):
        r = byok_env.run(*args, env=NO_BASE_URL)
        assert r.returncode == Code.MODEL_NOT_FOUND.exit_status, args
        assert "reached end of life on 2026-10-23" in r.stderr
        assert "use gpt-6.1-sol instead" in r.stderr
    wrong = byok_env.run("config", "set", "openai.model", "sonnet")
    assert wrong.returncode == Code.USAGE.exit_status
    assert "'sonnet' is anthropic's model, not openai's" in wrong.stderr
    assert byok_env.run("config", "get", "openai.model").stdout == "\n"
    # an OpenAI-compatible server may serve models byok does not know
    local = byok_env.run("config", "set", "openai.model", "llama3",
                         env={"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert local.returncode == 0 and "not in byok's catalogue" in local.stderr


def test_config_set_model_warns_of_a_deprecated_model_as_run_does(byok_env):
    # gpt-4o: deprecated in the catalogue, end of life 2027-01-14
    r = byok_env.run("config", "set", "openai.model", "gpt-4o")
    assert r.returncode == 0, r.stderr
    assert "gpt-4o is deprecated and will stop working on 2027-01-14" in r.stderr
    quiet = byok_env.run("config", "set", "openai.model", "gpt-6.2-sol")
    assert "deprecated" not in quiet.stderr


def test_models_list_remote_asks_a_local_servers_preset_only_once_it_is_used(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("models", "list", "--remote", "--json")
    assert r.returncode == 0, r.stderr
    assert "ollama" not in r.stderr and "lmstudio" not in r.stderr
    assert "11434" not in r.stderr and "1234" not in r.stderr
    assert not fake.requests or all(q["mount"] != "/local" for q in fake.requests)
    byok_env.run("config", "set", "ollama.base_url", fake.url + "/local/v1")
    used = json.loads(byok_env.run("models", "list", "--remote", "--json").stdout)
    assert {m["id"] for m in used if m["provider"] == "ollama"} == {"llama3.2", "qwen2.5:7b"}
