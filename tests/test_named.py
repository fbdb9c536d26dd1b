"""Named providers and keys end to end: the installed `byok` against the fake server, which
also plays a gateway with model ids of its own (/gw) and a local server needing no key
(/local). Each test asserts the key and the model the server received."""

import json

import pytest

from byok_cli.errors import ByokError, Code
from conftest import (ANTHROPIC_GOOD, OPENAI_GOOD, OPENAI_GOOD_ENV, anthropic_key,
                      assert_no_leak, openai_key)

WORK = openai_key("good-work")
PERSONAL = openai_key("good-personal")
GW_KEY = "sk-gw-good-1234567890"          # a LiteLLM-style key of the gateway's own
OLLAMA_STYLE = "gateway-token-good-abc"   # not sk-: storable for a provider of one's own


def chats(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


def sent(fake):
    return [(r["mount"], r["key"], r["model"]) for r in chats(fake)]


def add_gateway(env, fake, name="gw", api="openai", *extra):
    base = fake.url + ("/gw/v1" if api == "openai" else "/gw")
    r = env.run("provider", "add", name, "--api", api, "--base-url", base, *extra)
    assert r.returncode == 0, r.stderr


# --- two keys for one provider ---------------------------------------------------------------

def test_two_openai_keys_side_by_side(byok_env, fake):
    assert byok_env.set_key("openai", WORK, "--name", "work").returncode == 0
    assert byok_env.set_key("openai", PERSONAL, "--name", "personal").returncode == 0
    listed = json.loads(byok_env.run("key", "list", "--json").stdout)[0]
    assert [(k["name"], k["key"]) for k in listed["keys"]] == [
        ("work", "…" + WORK[-4:]), ("personal", "…" + PERSONAL[-4:])]
    plain = byok_env.run("key", "list").stdout.splitlines()
    assert [line.split("\t")[:3] for line in plain[1:3]] == [
        ["openai", "work", "…" + WORK[-4:]], ["openai", "personal", "…" + PERSONAL[-4:]]]

    assert byok_env.run("run", "first").returncode == 0  # the first in order
    assert byok_env.run("run", "-k", "personal", "second").returncode == 0
    assert byok_env.run("key", "order", "openai", "personal").returncode == 0
    assert byok_env.run("run", "third").returncode == 0
    assert [k for _, k, _ in sent(fake)] == [WORK, PERSONAL, PERSONAL]

    by_key = json.loads(byok_env.run("usage", "--by", "key", "--json").stdout)
    assert {(r["key"], r["requests"]) for r in by_key["rows"]} == {("work", 1), ("personal", 2)}
    assert by_key["totals"]["requests"] == 3
    assert "work" in byok_env.run("usage", "--by", "key").stdout.split("\t")
    missing = byok_env.run("run", "-k", "nope", "x")
    assert missing.returncode == Code.NO_KEY.exit_status and "work" in missing.stderr
    removed = byok_env.run("key", "remove", "openai", "--name", "work", "--yes")
    assert removed.returncode == 0, removed.stderr
    names = [k["name"] for k in json.loads(byok_env.run("key", "list", "--json").stdout)[0]["keys"]]
    assert names == ["personal"]
    assert_no_leak(WORK, byok_env.run("key", "list").stdout, home=byok_env.home)


def test_a_rejected_named_key_falls_through_to_the_next_then_the_environment(byok_env, fake):
    revoked = openai_key("revoked-work")
    byok_env.set_key("openai", revoked, "--name", "work")
    byok_env.set_key("openai", openai_key("revoked-personal"), "--name", "personal")
    byok_env.set_key("openai", PERSONAL, "--name", "spare")
    r = byok_env.run("run", "--json", "hello")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["key_source"], out["key_name"]) == ("stored", "spare")
    assert [k for _, k, _ in sent(fake)] == [revoked, openai_key("revoked-personal"), PERSONAL]
    statuses = {k["name"]: k["status"] for k in json.loads(
        byok_env.run("key", "list", "--json").stdout)[0]["keys"]}
    assert statuses == {"work": "failed: UNAUTHORIZED", "personal": "failed: UNAUTHORIZED",
                        "spare": "valid"}  # the provider took it: verified by use
    # with every stored key rejected, the environment's is next
    byok_env.run("key", "remove", "openai", "--name", "spare", "--yes")
    fake.reset()
    r = byok_env.run("run", "--json", "again", env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["key_name"] == "OPENAI_API_KEY"
    assert [k for _, k, _ in sent(fake)][-1] == OPENAI_GOOD_ENV


def test_key_validate_one_named_key(byok_env, fake):
    byok_env.set_key("openai", WORK, "--name", "work")
    byok_env.set_key("openai", openai_key("revoked"), "--name", "old")
    good = byok_env.run("key", "validate", "openai", "-k", "work", "--json")
    assert good.returncode == 0, good.stderr
    assert [(r["name"], r["result"]) for r in json.loads(good.stdout)] == [("work", "VALID")]
    bad = byok_env.run("key", "validate", "openai", "--json")
    assert bad.returncode == Code.UNAUTHORIZED.exit_status
    assert {r["name"]: r["result"] for r in json.loads(bad.stdout)} == {
        "work": "VALID", "old": "UNAUTHORIZED"}


def test_key_names_are_validated(byok_env):
    for name in ("Work", "has space", "-x", "a" * 40, "OPENAI_API_KEY"):
        r = byok_env.set_key("openai", WORK, "--name", name)
        assert r.returncode == Code.USAGE.exit_status, name
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["keys"] == []


# --- a gateway with its own model ids ----------------------------------------------------------

def test_gateway_with_its_own_model_ids(byok_env, fake):
    add_gateway(byok_env, fake, "gw", "openai", "--key-env", "GW_KEY")
    assert byok_env.set_key("gw", GW_KEY).returncode == 0
    r = byok_env.run("run", "-m", "gw/team/llama-70b", "hi there")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Echo[team/llama-70b]: hi there\n"
    r = byok_env.run("run", "-p", "gw", "-m", "my-gateway-model", "again")
    assert r.returncode == 0, r.stderr
    assert sent(fake) == [("/gw", GW_KEY, "team/llama-70b"), ("/gw", GW_KEY, "my-gateway-model")]
    explained = byok_env.run("run", "--explain", "-m", "gw/my-gateway-model", "--json")
    first = json.loads(explained.stdout)["attempts"][0]
    assert first["provider"] == "gw" and "not in catalogue" in first["reason"]
    assert first["in_catalogue"] is False
    listed = json.loads(byok_env.run("models", "list", "--remote", "-p", "gw", "--json").stdout)
    assert {(m["provider"], m["id"], m["in_catalogue"]) for m in listed} == {
        ("gw", m, False) for m in ("my-gateway-model", "team/llama-70b", "claude-via-gateway")}
    # the gateway's own ids are its business: an unknown one is refused by it, not by byok
    missing = byok_env.run("run", "-m", "gw/no-such", "--no-fallback", "x")
    assert missing.returncode == Code.MODEL_NOT_FOUND.exit_status


def test_anthropic_speaking_gateway_takes_a_key_of_any_shape(byok_env, fake):
    add_gateway(byok_env, fake, "agw", "anthropic")
    # the Anthropic built-in keeps its shape check; --force overrides it
    refused = byok_env.set_key("anthropic", GW_KEY)
    assert refused.returncode == Code.INVALID_FORMAT.exit_status
    forced = byok_env.set_key("anthropic", GW_KEY, "--force")
    assert forced.returncode == 0, forced.stderr
    assert byok_env.set_key("agw", OLLAMA_STYLE).returncode == 0
    r = byok_env.run("run", "-m", "agw/claude-via-gateway", "hello")
    assert r.returncode == 0, r.stderr
    assert sent(fake) == [("/gw", OLLAMA_STYLE, "claude-via-gateway")]
    assert chats(fake)[-1]["flavour"] == "anthropic"


def test_environment_key_goes_only_to_its_own_provider(byok_env, fake):
    add_gateway(byok_env, fake, "gw", "openai", "--key-env", "GW_KEY")
    env = {"OPENAI_API_KEY": OPENAI_GOOD_ENV, "GW_KEY": GW_KEY}
    r = byok_env.run("run", "-m", "gw/my-gateway-model", "hi", env=env)
    assert r.returncode == 0, r.stderr
    nogw = byok_env.run("run", "-m", "gw/my-gateway-model", "hi",
                        env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
    assert nogw.returncode == Code.NO_KEY.exit_status and "GW_KEY" in nogw.stderr
    assert [k for m, k, _ in sent(fake) if m == "/gw"] == [GW_KEY]
    assert all(k != OPENAI_GOOD_ENV for m, k, _ in sent(fake) if m == "/gw")


# --- a local server that needs no key -----------------------------------------------------------

def test_a_provider_that_needs_no_key_works_with_none(byok_env, fake):
    assert byok_env.run("config", "set", "ollama.base_url", fake.url + "/local/v1").returncode == 0
    r = byok_env.run("run", "-m", "ollama/llama3.2", "--json", "local please")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["provider"], out["model"], out["key_source"]) == ("ollama", "llama3.2", "none")
    assert sent(fake)[0] == ("/local", "", "llama3.2")  # no credentials sent at all
    assert "authorization" not in chats(fake)[0]["headers"]
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is False
    listed = json.loads(byok_env.run("models", "list", "--remote", "-p", "ollama",
                                     "--json").stdout)
    assert [m["id"] for m in listed] == ["llama3.2", "qwen2.5:7b"]


# --- conversations across providers, pinning and the chain ------------------------------------

def test_a_conversation_moves_between_openai_and_a_gateway(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    add_gateway(byok_env, fake)
    byok_env.set_key("gw", GW_KEY)
    assert byok_env.run("run", "-p", "openai", "one").returncode == 0
    assert byok_env.run("run", "-c", "-m", "gw/my-gateway-model", "two").returncode == 0
    assert byok_env.run("run", "-c", "three").returncode == 0  # carries on with the gateway
    assert byok_env.run("run", "-c", "-p", "openai", "four").returncode == 0
    assert sent(fake) == [("", OPENAI_GOOD, "gpt-6.1-sol"), ("/gw", GW_KEY, "my-gateway-model"),
                          ("/gw", GW_KEY, "my-gateway-model"), ("", OPENAI_GOOD, "gpt-6.1-sol")]
    last = chats(fake)[-1]["messages"]
    assert [m["content"] for m in last if m["role"] == "user"] == ["one", "two", "three", "four"]
    shown = json.loads(byok_env.run("history", "show", "1", "--json").stdout)
    answers = [(m["provider"], m["model"]) for m in shown["messages"] if m["role"] == "assistant"]
    assert answers == [("openai", "gpt-6.1-sol"), ("gw", "my-gateway-model"),
                       ("gw", "my-gateway-model"), ("openai", "gpt-6.1-sol")]


def test_an_explicit_provider_is_pinned_unless_fallback_is_asked_for(byok_env, fake):
    byok_env.set_key("openai", openai_key("servererr"))
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("run", "-p", "openai", "hi")
    assert r.returncode == Code.PROVIDER_UNAVAILABLE.exit_status and r.stdout == ""
    assert {req["flavour"] for req in chats(fake)} == {"openai"}
    r = byok_env.run("run", "-p", "openai", "--fallback", "--json", "hi")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["provider"], out["model"]) == ("anthropic", "claude-sonnet-5-5")


def test_the_fallback_chain_uses_each_entrys_own_model(byok_env, fake):
    byok_env.set_key("openai", openai_key("servererr"))
    add_gateway(byok_env, fake)
    byok_env.set_key("gw", GW_KEY)
    assert byok_env.run("config", "set", "fallback", "gw/team/llama-70b, anthropic"
                        ).returncode == 0
    assert byok_env.run("config", "get", "fallback").stdout == "gw/team/llama-70b, anthropic\n"
    r = byok_env.run("run", "--json", "hi")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["provider"], out["model"]) == ("gw", "team/llama-70b")
    assert sent(fake)[-1] == ("/gw", GW_KEY, "team/llama-70b")
    explained = byok_env.run("run", "--explain")
    assert "fallback chain: gw/team/llama-70b, anthropic" in explained.stderr


def test_exec_sets_each_chosen_providers_variable(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("openai", WORK, "--name", "work")
    byok_env.set_key("openrouter", "sk-or-v1-good-123456")
    add_gateway(byok_env, fake, "gw", "openai", "--key-env", "GW_KEY")
    byok_env.set_key("gw", GW_KEY)
    code = ("import os; print(os.environ.get('OPENAI_API_KEY'), os.environ.get("
            "'OPENROUTER_API_KEY'), os.environ.get('GW_KEY'), os.environ.get('ANTHROPIC_API_KEY'))")
    r = byok_env.run("exec", "-p", "openai", "-p", "gw", "--", "python3", "-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [OPENAI_GOOD, "None", GW_KEY, "None"]
    r = byok_env.run("exec", "-p", "openai", "-k", "work", "--", "python3", "-c", code)
    assert r.stdout.split()[0] == WORK
    r = byok_env.run("exec", "--", "python3", "-c", code)
    assert r.stdout.split()[:3] == [OPENAI_GOOD, "sk-or-v1-good-123456", GW_KEY]
    assert byok_env.run("exec", "-k", "work", "--", "true").returncode == Code.USAGE.exit_status


@pytest.mark.parametrize("value, stored", [
    ("anthropic/haiku, openrouter", "anthropic/claude-haiku-5-5, openrouter"),
    ("none", ""), ("default", None)])
def test_config_fallback_forms(byok_env, value, stored):
    assert byok_env.run("config", "set", "fallback", value).returncode == 0
    shown = json.loads(byok_env.run("config", "show", "--json").stdout)["fallback"]
    assert shown == stored


def test_models_default_any_form(byok_env):
    byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url", "https://gw.test/v1")
    assert byok_env.run("models", "default", "gw/team/llama-70b").returncode == 0
    assert byok_env.run("models", "default", "sonnet").returncode == 0
    assert byok_env.run("models", "default", "openrouter/meta-llama/llama-4-maverick"
                        ).returncode == 0
    assert byok_env.run("config", "set", "preferred-provider", "gw").returncode == 0
    assert byok_env.run("models", "default", "my-gateway-model").returncode == 0  # preference
    shown = {r["provider"]: r["model"] for r in json.loads(
        byok_env.run("models", "default", "--json").stdout)}
    assert shown == {"openai": "gpt-6.1-sol", "anthropic": "claude-sonnet-5-5",
                     "openrouter": "meta-llama/llama-4-maverick", "gw": "my-gateway-model"}
    assert byok_env.run("models", "default", "anthropic/gpt-6-luna").returncode == \
        Code.USAGE.exit_status


def test_models_list_remote_files_each_model_under_its_provider(byok_env, fake):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    add_gateway(byok_env, fake)
    byok_env.set_key("gw", GW_KEY)
    byok_env.run("config", "set", "ollama.base_url", fake.url + "/local/v1")
    byok_env.run("config", "set", "lmstudio.base_url", fake.url + "/local/v1")  # not :1234
    r = byok_env.run("models", "list", "--remote", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    by_provider = {}
    for row in rows:
        by_provider.setdefault(row["provider"], set()).add(row["id"])
    assert "claude-brandnew-9" in by_provider["anthropic"]       # live, outside the catalogue
    assert by_provider["gw"] == {"my-gateway-model", "team/llama-70b", "claude-via-gateway"}
    assert by_provider["ollama"] == {"llama3.2", "qwen2.5:7b"}    # needs no key
    assert by_provider["lmstudio"] == {"llama3.2", "qwen2.5:7b"}
    assert "openrouter" not in by_provider                         # no key: not asked
    gw_row = next(r for r in rows if r["id"] == "claude-via-gateway")
    assert gw_row["in_catalogue"] is False and gw_row["available"] is True
    assert not any(r["provider"] == "anthropic" and r["id"] in by_provider["gw"] for r in rows)


def test_removing_a_provider_removes_its_keys(byok_env, fake):
    add_gateway(byok_env, fake)
    byok_env.set_key("gw", GW_KEY, "--name", "a")
    byok_env.set_key("gw", "sk-gw-good-second-0000", "--name", "b")
    assert byok_env.run("provider", "remove", "gw", "--yes").returncode == 0
    assert_no_leak(GW_KEY, home=byok_env.home)
    add_gateway(byok_env, fake)
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[-1]["provider"] == "anthropic"


def test_anthropic_key_for_openai_is_still_refused(byok_env):
    r = byok_env.set_key("openai", anthropic_key("good"))
    assert r.returncode == Code.INVALID_FORMAT.exit_status and "Anthropic key" in r.stderr


def test_rotation_keeps_named_keys_and_custom_providers_keys(byok_env, fake):
    import base64
    import os

    byok_env.set_key("openai", WORK, "--name", "work")
    add_gateway(byok_env, fake)
    byok_env.set_key("gw", OLLAMA_STYLE, "--name", "team")
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    assert byok_env.run("vault", "rotate", env={"BYOK_NEW_MASTER_KEY": new}).returncode == 0
    env = {"BYOK_MASTER_KEY": new}
    assert byok_env.run("run", "-k", "work", "one", env=env).returncode == 0
    assert byok_env.run("run", "-m", "gw/my-gateway-model", "two", env=env).returncode == 0
    assert [k for _, k, _ in sent(fake)] == [WORK, OLLAMA_STYLE]


def test_a_named_keys_ciphertext_moved_to_another_name_does_not_open(byok_env):
    import sqlite3

    from byok_cli.store import DB_NAME

    byok_env.set_key("openai", WORK, "--name", "work")
    byok_env.set_key("openai", PERSONAL, "--name", "personal")
    db = sqlite3.connect(byok_env.home / DB_NAME)
    blob, hint = db.execute("SELECT ciphertext, hint FROM api_keys WHERE name = 'work'").fetchone()
    db.execute("UPDATE api_keys SET ciphertext = ?, hint = ? WHERE name = 'personal'", (blob, hint))
    db.commit()
    db.close()
    r = byok_env.run("key", "validate", "openai", "-k", "personal")
    assert r.returncode == Code.DECRYPT_FAILED.exit_status


def test_chat_moves_to_a_gateway_mid_conversation(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    add_gateway(byok_env, fake)
    byok_env.set_key("gw", GW_KEY)
    r = byok_env.run("chat", input="first\n/model gw/team/llama-70b\nsecond\n/provider openai\n"
                                  "third\n")
    assert r.returncode == 0, r.stderr
    assert sent(fake) == [("", OPENAI_GOOD, "gpt-6.1-sol"), ("/gw", GW_KEY, "team/llama-70b"),
                          ("", OPENAI_GOOD, "gpt-6.1-sol")]
    assert "(not in catalogue)" in r.stderr
    user_turns = [m["content"] for m in chats(fake)[-1]["messages"] if m["role"] == "user"]
    assert user_turns == ["first", "second", "third"]


def test_python_api_client_for_a_gateway(byok_env, fake, in_process):
    from byok_cli import Byok

    b = Byok()
    b.add_provider("gw", "openai", fake.url + "/gw/v1")
    b.keychain.set("gw", GW_KEY, name="team")
    with pytest.raises(ByokError):  # preferred-provider 'system': environment keys only
        b.client("gw")
    b.store.set_setting(b.profile, "preferred_provider", "gw")
    client = b.client("gw")
    assert type(client).__module__.startswith("openai") and client.api_key == GW_KEY
    assert str(client.base_url).startswith(fake.url + "/gw/v1")
    assert [m.id for m in client.models.list()] == ["my-gateway-model", "team/llama-70b",
                                                   "claude-via-gateway"]
    answer = b.ask("from python", model="gw/my-gateway-model", key="team").outcome
    assert (answer.provider, answer.model, answer.key_name) == ("gw", "my-gateway-model", "team")


def test_a_custom_providers_url_is_labelled_as_its_definition_and_the_key_rule_holds(
        byok_env, fake):
    add_gateway(byok_env, fake, "gw", "openai", "--key-env", "GW_API_KEY")
    env = {"GW_API_KEY": GW_KEY}
    explained = byok_env.run("run", "--explain", "-m", "gw/team/llama-70b", env=env)
    assert explained.returncode == 0, explained.stderr
    assert "gw's definition (`byok provider add`)" in explained.stdout
    assert "byok's default" not in "".join(x for x in explained.stdout.splitlines()
                                            if "/gw/" in x)
    doctor = {c["check"]: c for c in json.loads(byok_env.run("doctor", "--json", env=env).stdout)}
    assert "gw's definition (`byok provider add`)" in doctor["gw base URL"]["detail"]
    assert "byok's default" in doctor["openai base URL"]["detail"] or \
        fake.url in doctor["openai base URL"]["detail"]
    # The rule is unchanged: the environment's GW_API_KEY goes to gw's own URL from its
    # definition; to a URL the profile sets instead, only with the opt-in.
    r = byok_env.run("run", "-m", "gw/team/llama-70b", "hi", env=env)
    assert r.returncode == 0, r.stderr
    assert sent(fake)[-1] == ("/gw", GW_KEY, "team/llama-70b")
    byok_env.run("config", "set", "gw.base_url", fake.url + "/other/v1")
    refused = byok_env.run("run", "-m", "gw/team/llama-70b", "hi", env=env)
    assert refused.returncode != 0 and "GW_API_KEY is not sent to the profile's base URL" in \
        refused.stderr, refused.stderr
