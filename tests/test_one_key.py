"""At most one foreign key per run (issue 27, item 1): an endpoint that is not a key's own
(the provider's official one, the base URL a stored key was stored for, the base URL given
with an environment key) receives one key per run, whatever it answers, and its verdict
marks no key failed. Against a server on 127.0.0.1 that answers 401 to everything and
keeps every key it is sent."""

from __future__ import annotations

import json

import pytest

from byok_cli import urls
from byok_cli.errors import Code
from conftest import OPENAI_GOOD, openai_key
from hostile import HostileServer

STORED = [openai_key(f"harvest{i}") for i in range(3)]
ENV_KEY = openai_key("harvestenv")


@pytest.fixture
def harvester():
    server = HostileServer("reject").start()
    yield server
    server.stop()


def statuses(env) -> dict:
    rows = json.loads(env.run("key", "list", "--json").stdout)
    return {k["name"]: k["status"] for r in rows if r["provider"] == "openai"
            for k in r["keys"]}


def store_three(env, **kw) -> None:
    for i, key in enumerate(STORED):
        assert env.set_key("openai", key, "--name", f"k{i}", **kw).returncode == 0


def gone(server) -> list[str]:
    return list(server.keys)


@pytest.mark.parametrize("how", ["--base-url", "OPENAI_BASE_URL"])
@pytest.mark.parametrize("fallback", [(), ("--no-fallback",)])
def test_a_rejecting_gateway_gets_one_stored_key(byok_env, harvester, how, fallback):
    store_three(byok_env, own=False)  # stored for the official endpoint only
    url = harvester.url + "/v1"
    args = ["--base-url", url] if how == "--base-url" else []
    env = {"OPENAI_BASE_URL": url} if how == "OPENAI_BASE_URL" else {}
    r = byok_env.run("run", "-p", "openai", *fallback, *args, "hi", env=env)
    assert r.returncode == Code.UNAUTHORIZED.exit_status, r.stderr
    assert gone(harvester) == [STORED[0]]  # one key, whatever it answered
    assert set(statuses(byok_env).values()) == {"unverified"}  # no verdict of its own
    if not fallback:
        assert "-k NAME" in r.stderr and "one key per run" in r.stderr, r.stderr


def test_a_key_command_that_fails_sends_nothing_so_the_next_key_still_goes(byok_env,
                                                                            harvester, fake):
    """user2's finding 5: a key command that fails sent no key, so it does not use up the
    one key an endpoint that is no key's own may get; when the run still ends there, the
    error is short and names the rule."""
    store_three(byok_env, own=False)
    assert byok_env.run("key", "set", "openai", "--name", "failcmd", "--no-validate",
                        "--command", "false").returncode == 0
    assert byok_env.run("key", "order", "openai", "failcmd", "k0", "k1", "k2").returncode == 0
    r = byok_env.run("run", "-p", "openai", "hi",
                     env={"OPENAI_BASE_URL": harvester.url + "/v1"})
    # (a key that could not be read is what to fix first: its exit status, as before)
    assert r.returncode == Code.KEYRING_UNAVAILABLE.exit_status, r.stderr
    assert gone(harvester) == [STORED[0]]  # the first key read, and no other
    assert "`false` failed (exit status 1)" in r.stderr  # said as it was passed over
    error = r.stderr.strip().splitlines()[-1]
    assert error.startswith("error:") and len(error) < 360, error
    assert "not 'k1' and 'k2'" in error
    assert "one key per run" in error and "security.md" in error and "-k NAME" in error
    # user2's case: the endpoint in OPENAI_BASE_URL (the fake) answers the next key
    other = ("--profile", "other")
    assert byok_env.set_key("openai", OPENAI_GOOD, *other, own=False).returncode == 0
    assert byok_env.run("key", "set", "openai", "--name", "failcmd", "--no-validate",
                        "--command", "false", *other).returncode == 0
    assert byok_env.run("key", "order", "openai", "failcmd", "default", *other
                        ).returncode == 0
    r = byok_env.run("run", "-p", "openai", "hi", *other)
    assert r.returncode == 0 and r.stdout == "Echo[gpt-6.1-sol]: hi\n", r.stderr
    assert [q["key"] for q in fake.requests if q["method"] == "POST"] == [OPENAI_GOOD]


def test_the_environment_key_still_follows_when_its_base_url_is_set_with_it(
        byok_env, harvester):
    """The design's fallback to the system key: OPENAI_BASE_URL and OPENAI_API_KEY set
    together make that endpoint the environment key's own."""
    store_three(byok_env, own=False)
    r = byok_env.run("run", "-p", "openai", "hi",
                     env={"OPENAI_BASE_URL": harvester.url + "/v1", "OPENAI_API_KEY": ENV_KEY})
    assert r.returncode == Code.UNAUTHORIZED.exit_status, r.stderr
    assert gone(harvester) == [STORED[0], ENV_KEY]
    assert set(statuses(byok_env).values()) == {"unverified"}


def test_no_fallback_is_one_attempt_one_key_even_with_the_environment_key(
        byok_env, harvester):
    store_three(byok_env, own=False)
    r = byok_env.run("run", "-p", "openai", "--no-fallback", "hi",
                     env={"OPENAI_BASE_URL": harvester.url + "/v1", "OPENAI_API_KEY": ENV_KEY})
    assert r.returncode == Code.UNAUTHORIZED.exit_status
    assert gone(harvester) == [STORED[0]]


def test_chat_sends_one_key_too(byok_env, harvester):
    store_three(byok_env, own=False)
    r = byok_env.run("chat", "-p", "openai", "--base-url", harvester.url + "/v1",
                     input="hi\nagain\n")
    assert r.returncode == Code.UNAUTHORIZED.exit_status, r.stderr
    assert set(gone(harvester)) == {STORED[0]}  # the same one key, turn after turn


def test_keys_stored_for_the_gateway_fall_back_there_and_are_marked(byok_env, harvester):
    url = harvester.url + "/v1"
    store_three(byok_env, own=False)
    for i in range(2):  # two more, stored for this gateway: it is their own endpoint
        r = byok_env.run("key", "set", "openai", "--no-validate", "--name", f"gw{i}",
                         "--base-url", url, input=openai_key(f"gateway{i}"))
        assert r.returncode == 0 and "for http://127.0.0.1" in r.stderr, r.stderr
    byok_env.run("key", "order", "openai", "gw0", "gw1")
    r = byok_env.run("run", "-p", "openai", "hi", env={"OPENAI_BASE_URL": url})
    assert r.returncode == Code.UNAUTHORIZED.exit_status, r.stderr
    # its own two keys, then one foreign key (at most one), and no more
    assert gone(harvester) == [openai_key("gateway0"), openai_key("gateway1"), STORED[0]]
    marks = statuses(byok_env)
    assert marks["gw0"] == marks["gw1"] == "failed: UNAUTHORIZED"
    assert {marks[f"k{i}"] for i in range(3)} == {"unverified"}


def test_a_stored_key_for_one_url_is_foreign_to_another():
    own = urls.is_own_endpoint
    assert own("stored", "default", "https://api.openai.com/v1", None)
    assert own("stored", "provider", "https://gw.example/v1", None)  # a custom provider's own
    assert own("stored", "flag", "https://gw.example/v1", "https://gw.example/v1")
    assert not own("stored", "flag", "https://gw.example/v2", "https://gw.example/v1")
    assert not own("stored", "environment", "https://gw.example/v1", None)
    assert not own("stored", "profile", "https://gw.example/v1", None)
    assert own("environment", "environment", "https://gw.example/v1", None)
    assert own("environment", "flag", "https://gw.example/v1", None)
    assert not own("environment", "profile", "https://gw.example/v1", None)
    assert own("none", "profile", "https://gw.example/v1", None)


def test_key_validate_sends_one_key_to_an_endpoint_that_is_none_of_theirs(byok_env, harvester):
    store_three(byok_env, own=False)
    r = byok_env.run("key", "validate", "openai", "--json",
                     env={"OPENAI_BASE_URL": harvester.url + "/v1"})
    assert r.returncode == Code.UNAUTHORIZED.exit_status, r.stderr
    assert gone(harvester) == [STORED[0]]
    results = {x["name"]: x["result"] for x in json.loads(r.stdout)}
    assert results == {"k0": "UNAUTHORIZED", "k1": "NOT_CHECKED", "k2": "NOT_CHECKED"}
    assert "-k k1" in r.stderr
    assert set(statuses(byok_env).values()) == {"unverified"}
