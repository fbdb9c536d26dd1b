"""A stored key's status follows only the provider's verdict on it
(docs/keys-and-profiles.md): a refusal or no credit marks it failed; an outage or a network
error leaves it as it was."""

import json
import socket

from byok_cli.errors import Code
from conftest import OPENAI_GOOD, anthropic_key, openai_key

OUTAGE = openai_key("servererr")


def statuses(env) -> dict:
    listed = json.loads(env.run("key", "list", "--json").stdout)
    return {k["name"]: k["status"] for row in listed if row["provider"] == "openai"
            for k in row["keys"]}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_outage_leaves_a_stored_keys_status_alone(byok_env, fake):
    byok_env.set_key("openai", OUTAGE, "--name", "b")
    r = byok_env.run("key", "validate", "openai", "-k", "b")
    assert r.returncode == Code.PROVIDER_UNAVAILABLE.exit_status
    assert "PROVIDER_UNAVAILABLE" in r.stdout and "unchanged" in r.stderr
    assert statuses(byok_env) == {"b": "unverified"}
    doctor = byok_env.run("doctor", "--json")
    row = next(c for c in json.loads(doctor.stdout) if c["check"].startswith("stored openai"))
    assert "refused" not in row["detail"] and "store a new key" not in (row["fix"] or "")


def test_a_network_error_leaves_a_valid_key_valid(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    assert byok_env.run("key", "validate", "openai").returncode == 0
    assert statuses(byok_env) == {"default": "valid"}
    gone = {"OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"}
    r = byok_env.run("key", "validate", "openai", env=gone)
    assert r.returncode == Code.NETWORK_ERROR.exit_status, r.stderr
    assert statuses(byok_env) == {"default": "valid"}


def test_the_providers_refusal_still_marks_it_failed(byok_env, fake):
    byok_env.set_key("openai", openai_key("revoked"), "--name", "old")
    r = byok_env.run("key", "validate", "openai", "-k", "old")
    assert r.returncode == Code.UNAUTHORIZED.exit_status
    assert statuses(byok_env) == {"old": "failed: UNAUTHORIZED"}


def test_a_gateway_without_models_is_not_checked_and_not_called_bad(byok_env, fake):
    """A gateway that answers prompts but has no /models (404): the key is NOT_CHECKED, the
    command does not fail, the stored status stays, and prompts still work."""
    key = openai_key("good-nomodels")
    byok_env.set_key("openai", key)
    byok_env.set_key("openai", OPENAI_GOOD, "--name", "other")
    r = byok_env.run("key", "validate", "openai", "--json")
    assert r.returncode == 0, r.stderr
    rows = {x["name"]: x for x in json.loads(r.stdout)}
    assert rows["default"]["result"] == "NOT_CHECKED"
    assert "has no /models; prompts may still work" in rows["default"]["message"]
    assert rows["other"]["result"] == "VALID"  # the other key is still checked, and valid
    assert "was not checked" in r.stderr and "has no /models endpoint (404)" in r.stderr
    assert "byok run -p openai hi" in r.stderr and "PROVIDER_UNAVAILABLE" not in r.stdout
    assert statuses(byok_env) == {"default": "unverified", "other": "valid"}
    table = byok_env.run("key", "validate", "openai", "-k", "default")
    assert table.returncode == 0 and "NOT_CHECKED" in table.stdout
    assert "Echo[" in byok_env.run("run", "--key", "default", "hi").stdout
    # at `key set`: stored as unverified, and said why (another key: one is never stored twice)
    stored = byok_env.run("key", "set", "openai", "--name", "again", "--base-url",
                          byok_env.vars["OPENAI_BASE_URL"], input=openai_key("good-nomodels2"))
    assert stored.returncode == 0, stored.stderr
    assert "models endpoint was not found (404)" in stored.stderr
    assert "storing it as unverified" in stored.stderr


def test_an_anthropic_gateway_without_models_is_checked_by_counting_tokens(byok_env, fake):
    """Where the Messages API's free token count answers, it is the check: no prompt is
    sent, a good key is VALID and a refused one is marked failed."""
    good, revoked = anthropic_key("good-counttokens"), anthropic_key("revoked-counttokens")
    byok_env.set_key("anthropic", good)
    byok_env.set_key("anthropic", revoked, "--name", "old")
    r = byok_env.run("key", "validate", "anthropic", "--json")
    assert r.returncode == Code.UNAUTHORIZED.exit_status, r.stderr
    assert {x["name"]: x["result"] for x in json.loads(r.stdout)} == {
        "default": "VALID", "old": "UNAUTHORIZED"}
    counted = [q for q in fake.requests if q["path"] == "/v1/messages/count_tokens"]
    assert [q["key"] for q in counted] == [good, revoked]
    assert counted[0]["body"]["model"] == "claude-sonnet-5-5"  # the default a run would use
    assert not [q for q in fake.requests if q["path"] == "/v1/messages"]  # no prompt
    listed = json.loads(byok_env.run("key", "list", "--json").stdout)
    row = next(x for x in listed if x["provider"] == "anthropic")
    assert {k["name"]: k["status"] for k in row["keys"]} == {
        "default": "valid", "old": "failed: UNAUTHORIZED"}
    # the OpenAI API has no such check: not checked, as above
    byok_env.set_key("openai", openai_key("good-counttokens"))
    r = byok_env.run("key", "validate", "openai", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)[0]["result"] == "NOT_CHECKED"
