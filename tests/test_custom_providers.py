"""A provider of one's own across its life: the base URL it is added with, and what its
removal takes with it. The installed `byok` against the fake server's /gw mount."""

import json

from byok_cli.registry import Provider
from byok_cli.wire.endpoint import endpoint

GA_KEY = "good-ga-key-123456"


def chats(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


def test_an_anthropic_provider_added_with_v1_is_stored_trimmed_and_said_so(byok_env, fake):
    added = byok_env.run("provider", "add", "ga", "--api", "anthropic", "--base-url",
                         fake.url + "/gw/v1", "--key-env", "GA_KEY")
    assert added.returncode == 0, added.stderr
    assert "/v1" in added.stderr and f"stored as {fake.url}/gw" in added.stderr
    shown = json.loads(byok_env.run("provider", "show", "ga", "--json").stdout)
    assert shown["base_url"] == fake.url + "/gw"
    stored = byok_env.run("key", "set", "ga", input=GA_KEY)  # validated against /gw/v1/models
    assert stored.returncode == 0, stored.stderr
    assert [r["path"] for r in fake.requests if r["method"] == "GET"] == ["/v1/models"]
    assert byok_env.run("key", "validate", "ga").returncode == 0
    r = byok_env.run("run", "-p", "ga", "-m", "claude-via-gateway", "hi")
    assert r.returncode == 0, r.stderr
    assert [(c["mount"], c["path"]) for c in chats(fake)] == [("/gw", "/v1/messages")]


def test_a_custom_providers_own_url_is_normalised_like_every_other_source():
    # as one stored before `provider add` trimmed it: requests, doctor and notes agree
    old = Provider(name="ga", title="ga", api="anthropic", base_url="http://127.0.0.1:9/gw/v1")
    found = endpoint(old, env={})
    assert found.url == "http://127.0.0.1:9/gw"
    assert found.note and "/v1" in found.note and "ga" in found.where
    kept = endpoint(old._replace(api="openai"), env={})
    assert (kept.url, kept.note) == ("http://127.0.0.1:9/gw/v1", None)


def test_an_unnormalised_stored_url_is_reported_by_doctor(byok_env, fake):
    import sqlite3

    byok_env.run("provider", "add", "ga", "--api", "anthropic", "--base-url", fake.url + "/gw",
                 "--key-env", "GA_KEY")
    db = next(p for p in byok_env.files() if p.name.endswith(".db"))
    with sqlite3.connect(db) as conn:  # as `provider add` stored it before it trimmed
        conn.execute("UPDATE providers SET base_url = base_url || '/v1' WHERE name = 'ga'")
    doctor = byok_env.run("doctor")
    line = next(x for x in doctor.stdout.splitlines() + doctor.stderr.splitlines()
                if "ga base URL" in x)
    assert "ok" not in line.split("ga base URL")[0] and "/v1" in line, line
    r = byok_env.run("run", "-p", "ga", "-m", "claude-via-gateway", "hi",
                     env={"GA_KEY": GA_KEY})
    assert r.returncode == 0, r.stderr
    assert "/v1" in r.stderr  # the note, as for ANTHROPIC_BASE_URL
    assert [(c["mount"], c["path"]) for c in chats(fake)] == [("/gw", "/v1/messages")]


def add_gw(env, fake):
    r = env.run("provider", "add", "gw", "--api", "openai", "--base-url", fake.url + "/gw/v1")
    assert r.returncode == 0, r.stderr


def test_removing_a_provider_says_what_goes_with_it(byok_env, fake):
    add_gw(byok_env, fake)
    byok_env.set_key("gw", "sk-gw-good-1234567890", "--name", "a")
    byok_env.set_key("gw", "sk-gw-good-second-0000", "--name", "b")
    assert byok_env.run("config", "set", "fallback",
                        "gw/team/llama-70b, anthropic").returncode == 0
    assert byok_env.run("budget", "set", "-p", "gw", "--per", "day", "1").returncode == 0
    asked = byok_env.run("provider", "remove", "gw")  # not a terminal: refused, says why
    assert asked.returncode != 0
    assert json.loads(byok_env.run("provider", "show", "gw", "--json").stdout)["name"] == "gw"
    r = byok_env.run("provider", "remove", "gw", "--yes")
    assert r.returncode == 0, r.stderr
    assert "2 stored keys" in r.stderr and "gw/team/llama-70b" in r.stderr
    assert byok_env.run("config", "get", "fallback").stdout.strip() == "anthropic"
    # the first key made gw the preferred provider: that goes too, and is said
    assert "preferred provider is 'system'" in r.stderr
    assert byok_env.run("config", "get", "preferred-provider").stdout.strip() == "system"
    listed = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert not [row for row in listed if row["provider"] == "gw"]
    assert json.loads(byok_env.run("budget", "list", "--json").stdout) == []  # its budget too


def test_doctor_and_run_name_a_chain_entry_whose_provider_is_gone(byok_env, fake):
    byok_env.set_key("openai", "sk-proj-good-Oa1b2c3d4e5f6g7h8i9j0")
    assert byok_env.run("config", "set", "fallback", "anthropic").returncode == 0
    import sqlite3

    db = next(p for p in byok_env.files() if p.name.endswith(".db"))
    with sqlite3.connect(db) as conn:  # as a chain set before its provider was removed
        conn.execute("UPDATE profiles SET fallback = 'gw/team/llama-70b, anthropic'")
    doctor = json.loads(byok_env.run("doctor", "--json").stdout)
    chain = [c for c in doctor if c["check"] == "fallback chain"]
    assert len(chain) == 1 and chain[0]["status"] == "warn"
    assert "provider 'gw'" in chain[0]["detail"] and "no longer exists" in chain[0]["detail"]
    r = byok_env.run("run", "hi")
    assert r.returncode == 0, r.stderr
    assert "no longer exists" in r.stderr and "does not start with a provider" not in r.stderr
