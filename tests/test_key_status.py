"""A stored key's status follows only the provider's verdict on it
(docs/keys-and-profiles.md): a refusal or no credit marks it failed; an outage or a network
error leaves it as it was."""

import json
import socket

from byok_cli.errors import Code
from conftest import OPENAI_GOOD, openai_key

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
