"""Providers as data: the registry's records, key checks, and `byok provider …`."""

import json
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from byok_cli import registry
from byok_cli.cli import app
from byok_cli.errors import ByokError, Code
from byok_cli.registry import Provider, Registry, builtin

USAGE = Code.USAGE.exit_status
REG = builtin()


# --- the data file -----------------------------------------------------------------------

def test_builtins_are_exactly_todays():
    openai, anthropic = REG.builtins()
    assert (openai.name, openai.api, openai.base_url, openai.key_env, openai.base_url_env) == (
        "openai", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    assert (anthropic.name, anthropic.api, anthropic.base_url, anthropic.key_env,
            anthropic.base_url_env) == ("anthropic", "anthropic", "https://api.anthropic.com",
                                        "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
    assert openai.shape and anthropic.shape and openai.needs_key and anthropic.needs_key


def test_presets_the_issue_asks_for_with_their_documentation():
    presets = {p.name: p for p in REG if p.kind == "preset"}
    assert {"openrouter", "groq", "together", "deepseek", "mistral", "gemini", "ollama",
            "lmstudio"} <= set(presets)
    for p in presets.values():
        assert urlsplit(p.source).scheme == "https" and urlsplit(p.source).hostname, p.name
        assert p.shape is None  # shape checks only where a provider defines them
    assert not presets["ollama"].needs_key and not presets["lmstudio"].needs_key
    assert presets["ollama"].key_env is None and presets["lmstudio"].key_env is None
    assert presets["openrouter"].key_env == "OPENROUTER_API_KEY"
    assert presets["gemini"].base_url.endswith("/v1beta/openai")


def test_every_record_is_sound():
    names, variables = set(), set()
    for p in REG:
        assert p.name == registry.check_name(p.name, Registry([])), p.name
        assert p.name not in names
        names.add(p.name)
        assert p.api in registry.api_kinds()
        assert registry.check_base_url(p.base_url) == p.base_url  # https, or http to loopback
        for var in (p.key_env, p.base_url_env):
            if var:  # an environment key must have one provider only
                assert var not in variables and not var.startswith("BYOK_")
                variables.add(var)
        assert p.needs_key == bool(p.key_env), p.name


def test_the_registry_reads_providers_json_as_generated():
    """Start-up reads registry_data (providers.json as Python literals, no json module);
    it holds exactly what providers.json says (generate.py --check also holds the text)."""
    from byok_cli import registry_data

    data = json.loads(open(registry._PATH, encoding="utf-8").read())
    assert (registry_data.API_KINDS, registry_data.PROVIDERS) == (data["api_kinds"],
                                                                  data["providers"])


def test_a_preset_is_one_data_entry(monkeypatch):
    from byok_cli import registry_data

    data = json.loads(open(registry._PATH, encoding="utf-8").read())
    data["providers"].append({"name": "acme", "title": "Acme", "kind": "preset", "api": "openai",
                              "base_url": "https://api.acme.test/v1", "key_env": "ACME_API_KEY",
                              "source": "https://docs.acme.test/"})
    # the entry as generate.py writes it from providers.json
    monkeypatch.setattr(registry_data, "PROVIDERS", data["providers"])
    registry._data.cache_clear()
    registry._builtin.cache_clear()
    try:
        acme = registry.builtin().require("acme")
        assert (acme.api, acme.key_env, acme.needs_key) == ("openai", "ACME_API_KEY", True)
    finally:
        registry._data.cache_clear()
        registry._builtin.cache_clear()


# --- key checks --------------------------------------------------------------------------

CUSTOM = REG.with_custom([("gw", "anthropic", "https://gw.test", "GW_KEY", 1)])


@pytest.mark.parametrize("raw, words", [
    ("", "empty"), ("sk-a b-cdefghijkl", "whitespace"), ("sk-\x07abcdefghijk", "control"),
    ("k" * 600, "characters long")])
def test_hygiene_applies_to_every_provider(raw, words):
    for name in ("openai", "openrouter", "gw"):
        with pytest.raises(ByokError) as err:
            CUSTOM.normalise_key(name, raw)
        assert err.value.code == Code.INVALID_FORMAT and words in err.value.message


def test_shapes_apply_only_where_defined_and_force_skips_them():
    ollama_style = "ollama-local-token-123"
    gateway = "sk-litellm-gateway-1234"  # a LiteLLM-style key for an Anthropic-speaking gateway
    assert CUSTOM.normalise_key("gw", f" {gateway}\n") == gateway
    assert CUSTOM.normalise_key("gw", ollama_style) == ollama_style
    assert CUSTOM.normalise_key("openrouter", "sk-or-v1-abc") == "sk-or-v1-abc"
    with pytest.raises(ByokError) as err:
        CUSTOM.normalise_key("anthropic", gateway)
    assert "expected shape" in err.value.message and "--force" in err.value.hint
    assert CUSTOM.normalise_key("anthropic", gateway, check_shape=False) == gateway


def test_another_providers_key_and_admin_keys_are_named():
    with pytest.raises(ByokError) as err:
        REG.normalise_key("openai", "sk-ant-api03-abcdefghijkl")
    assert "an Anthropic key, not an OpenAI one" in err.value.message
    assert "byok key set anthropic" in err.value.hint
    with pytest.raises(ByokError) as err:
        REG.normalise_key("anthropic", "sk-ant-admin01-abcdefghijkl")
    assert "admin key" in err.value.message
    assert "abcdefghijkl" not in err.value.message + (err.value.hint or "")


def test_unknown_provider_lists_the_choices():
    with pytest.raises(ByokError) as err:
        REG.require("nope")
    assert err.value.code == Code.USAGE and "openrouter" in err.value.hint


# --- byok provider ----------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["bad/name", "--api", "openai", "--base-url", "https://x.test"], "not a valid provider"),
    (["Has Space", "--api", "openai", "--base-url", "https://x.test"], "not a valid provider"),
    (["9lives", "--api", "openai", "--base-url", "https://x.test"], "not a valid provider"),
    (["a" * 40, "--api", "openai", "--base-url", "https://x.test"], "not a valid provider"),
    (["system", "--api", "openai", "--base-url", "https://x.test"], "reserved"),
    (["openai", "--api", "openai", "--base-url", "https://x.test"], "built-in"),
    (["groq", "--api", "openai", "--base-url", "https://x.test"], "preset"),
    (["gw", "--api", "grpc", "--base-url", "https://x.test"], "unknown API kind"),
    (["gw", "--api", "", "--base-url", "https://x.test"], "unknown API kind"),
    (["gw", "--api", "openai", "--base-url", "http://gw.example.com/v1"], "plain http"),
    (["gw", "--api", "openai", "--base-url", "http://10.0.0.5:4000"], "plain http"),
    (["gw", "--api", "openai", "--base-url", "ftp://gw.test"], "not an http(s) URL"),
    (["gw", "--api", "openai", "--base-url", "gw.test/v1"], "not an http(s) URL"),
    (["gw", "--api", "openai", "--base-url", "https://"], "not an http(s) URL"),
    (["gw", "--api", "openai", "--base-url", "https://gw.test:99999"], "has a bad port"),
    (["gw", "--api", "openai", "--base-url", "https://me:pw@gw.test"], "credentials"),
    (["gw", "--api", "openai", "--base-url", "https://gw.test/v1?key=1"], "query"),
    (["gw", "--api", "openai", "--base-url", "https://gw.test", "--key-env", "OPENAI_API_KEY"],
     "belongs to the provider 'openai'"),
    (["gw", "--api", "openai", "--base-url", "https://gw.test", "--key-env", "BYOK_MASTER_KEY"],
     "byok's own"),
    (["gw", "--api", "openai", "--base-url", "https://gw.test", "--key-env", "gw key"],
     "not an environment variable"),
])
def test_provider_add_refuses_bad_names_urls_and_api_kinds(byok_env, args, words):
    r = byok_env.run("provider", "add", *args)
    assert r.returncode == USAGE, r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    listed = json.loads(byok_env.run("provider", "list", "--json").stdout)
    assert [p["name"] for p in listed] == REG.names()  # nothing was added


def test_provider_add_list_show_remove(byok_env):
    r = byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url",
                     "https://llm.example.com/v1/", "--key-env", "GW_API_KEY")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and "added provider gw" in r.stderr
    local = byok_env.run("provider", "add", "LocalVllm", "--api", "anthropic", "--base-url",
                         "http://[::1]:8000", "--no-key")
    assert local.returncode == 0, local.stderr
    rows = json.loads(byok_env.run("provider", "list", "--json").stdout)
    assert [p["name"] for p in rows] == REG.names() + ["gw", "localvllm"]
    gw = json.loads(byok_env.run("provider", "show", "gw", "--json").stdout)
    assert gw == {**gw, "kind": "custom", "api": "openai", "key_env": "GW_API_KEY",
                  "base_url": "https://llm.example.com/v1", "needs_key": True}
    shown = dict(line.split("\t") for line in
                 byok_env.run("provider", "show", "gw").stdout.splitlines()[1:])
    assert shown["needs_key"] == "yes"  # a word, not Python's True
    plain = byok_env.run("provider", "list").stdout.splitlines()
    assert plain[-1].split("\t") == ["localvllm", "custom", "anthropic", "http://[::1]:8000",
                                     "definition", "none needed"]  # the URL in effect: its own
    # the same name is taken now; another profile has providers of its own
    assert byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url",
                        "https://x.test").returncode == USAGE
    other = json.loads(byok_env.run("--profile", "work", "provider", "list", "--json").stdout)
    assert "gw" not in [p["name"] for p in other]
    # built-ins and presets stay; one's own go (with confirmation)
    assert byok_env.run("provider", "remove", "anthropic", "--yes").returncode == USAGE
    assert byok_env.run("provider", "remove", "ollama", "--yes").returncode == USAGE
    assert byok_env.run("provider", "remove", "gw").returncode == USAGE  # not confirmed
    assert byok_env.run("provider", "remove", "gw", "--yes").returncode == 0
    assert byok_env.run("provider", "show", "gw").returncode == USAGE
    assert byok_env.run("provider", "remove", "gw", "--yes").returncode == USAGE


def test_typer_runner_agrees(in_process):
    runner = CliRunner()
    r = runner.invoke(app, ["provider", "add", "gw", "--api", "openai", "--base-url",
                            "https://gw.test/v1"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["provider", "show", "gw", "--json"])
    assert json.loads(r.stdout)["base_url"] == "https://gw.test/v1"
    r = runner.invoke(app, ["provider", "add", "gw2", "--api", "soap", "--base-url",
                            "https://gw.test"])
    assert r.exit_code == USAGE


def test_python_api_adds_providers(tmp_path):
    from byok_cli import Byok

    b = Byok(home=tmp_path)
    added = b.add_provider("gw", "OpenAI", "http://localhost:4000/v1", needs_key=False)
    assert isinstance(added, Provider) and added.api == "openai" and not added.needs_key
    assert Byok(home=tmp_path).registry.require("gw").base_url == "http://localhost:4000/v1"
    assert Byok(profile="other", home=tmp_path).registry.get("gw") is None


def test_a_stored_provider_with_an_unknown_api_kind_is_a_damaged_database(byok_env):
    """Only `provider add` writes a kind; another value (a damaged file) is listed and can be
    removed, and using it is the one-line database error, never a KeyError (the damaged-db
    fuzz found `provider list` ending in exit 1)."""
    import sqlite3

    assert byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url",
                        "https://llm.example.com/v1", "--no-key").returncode == 0
    with sqlite3.connect(byok_env.home / "byok.db") as db:
        db.execute("UPDATE providers SET api = 0")
    listed = byok_env.run("provider", "list")
    assert listed.returncode == 0 and "gw" in listed.stdout, listed.stderr
    used = byok_env.run("run", "-m", "gw/x", "hi")
    assert used.returncode == Code.STORE_ERROR.exit_status and "API kind" in used.stderr
    assert "Traceback" not in used.stderr and len(used.stderr.strip().splitlines()) == 1
    assert byok_env.run("provider", "remove", "gw", "--yes").returncode == 0
