"""Keys of every shipped provider are recognised where they do not belong (issue 11, items 8
and 9): the presets' key prefixes (Groq gsk_, Gemini AIza, Together tgp_v1_) as well as sk-;
the master key; the system prompt; names (profiles, providers, keys)."""

import json
import sqlite3

import pytest

from byok_cli.errors import Code, looks_like_key, redact
from conftest import OPENAI_GOOD
from test_masking import assert_masked

GROQ = "gsk_" + "Wq3Rt5Yu7Io9Pa2Sd4Fg6Hj8Kl1Zx3Cv5Bn7Mm9Qw2Er4Ty6Ui8Op"  # gsk_ + 52
GEMINI = "AIzaSy" + "Bq3Rt5Yu7Io9Pa2Sd4Fg6Hj8Kl1Zx3Cv"                # AIza + 35
TOGETHER = "tgp_v1_" + "Rt5Yu7Io9Pa2Sd4Fg6Hj8Kl1Zx3Cv5Bn7Mm9Qw2Er4"


def _db_text(byok_env) -> str:
    """Every text value in byok.db, as one string."""
    with sqlite3.connect(byok_env.home / "byok.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return " ".join(str(v) for t in tables for row in db.execute(f"SELECT * FROM {t}")
                        for v in row if isinstance(v, str))


@pytest.mark.parametrize("key", [GROQ, GEMINI, TOGETHER])
def test_the_presets_key_shapes_are_recognised_and_masked(key):
    assert looks_like_key(f"my key is {key}, fine?")
    assert redact(f"model {key!r} not found") == f"model '…{key[-4:]}' not found"


@pytest.mark.parametrize("glued", ["--max-tokens=xx", "X", "profile-", "_"])
@pytest.mark.parametrize("key", [GROQ, GEMINI, TOGETHER, OPENAI_GOOD])
def test_a_key_glued_to_a_word_is_still_recognised(glued, key):
    assert looks_like_key(glued + key)
    assert key[4:-4] not in redact(f"error: {glued}{key} is bad")


@pytest.mark.parametrize("text", [
    "the gsk_ prefix", "AIzawesome tool", "gsk_short1234", "AIzaSyShort", "see tgp_v1_ docs",
    "expected shape (gsk_…)", "GROQ_API_KEY=gsk_…", "sk-… or sk-proj-…",
    "a risk-assessment-document", "the task-oriented-approach",
])
def test_ordinary_text_with_a_prefix_is_left_alone(text):
    assert not looks_like_key(text) and redact(text) == text


@pytest.mark.parametrize("key", [GROQ, GEMINI])
def test_a_preset_key_as_a_model_setting_is_refused_masked(byok_env, fake, key):
    runs = [byok_env.run("config", "set", "openai.model", key),
            byok_env.run("config", "set", "groq.model", key),
            byok_env.run("models", "default", f"groq/{key}")]
    for r in runs:
        assert r.returncode == Code.USAGE.exit_status, r.stderr
        assert "looks like an API key" in r.stderr
        assert_masked(key, r.stdout, r.stderr)
    assert key[8:20] not in _db_text(byok_env)


@pytest.mark.parametrize("key", [GROQ, GEMINI])
def test_a_preset_key_as_a_model_id_is_never_sent_nor_stored(byok_env, fake, proxy, key):
    byok_env.set_key("openai", OPENAI_GOOD)
    other_groq_key = "gsk_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8Nn7Mm6Ll5Kk4Jj3Ii2"
    r = byok_env.run("run", "-m", f"groq/{key}", "hi", env={"GROQ_API_KEY": other_groq_key})
    assert r.returncode == Code.USAGE.exit_status and "looks like an API key" in r.stderr
    assert_masked(key, r.stdout, r.stderr)
    assert fake.requests == [] and proxy.seen == []  # nothing sent anywhere
    assert key[8:20] not in _db_text(byok_env)


@pytest.mark.parametrize("key", [GROQ, GEMINI])
def test_a_prompt_with_a_preset_key_is_warned_about(byok_env, fake, key):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", f"why is {key} refused?")
    assert r.returncode == 0, r.stderr
    assert "looks like an API key" in r.stderr and "--no-log" in r.stderr


def test_the_master_key_in_a_prompt_is_warned_about_and_masked(byok_env, fake, master_key):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", f"master is {master_key}")
    assert r.returncode == 0, r.stderr
    assert "looks like an API key" in r.stderr
    fail = byok_env.run("run", "-m", f"no-such-{master_key}", "hi")  # echoed in an error
    assert fail.returncode != 0
    assert_masked(master_key, fail.stdout, fail.stderr)


def test_a_system_prompt_with_a_key_is_warned_about_once(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    other = "sk-proj-other-Xx1y2z3a4b5c6d7e8f9g0"
    r = byok_env.run("run", "-s", f"use {other} for the tool", "hi")
    assert r.returncode == 0, r.stderr
    assert "system prompt contains what looks like an API key" in r.stderr
    quiet = byok_env.run("run", "--no-log", "-s", f"use {other}", "hi")
    assert quiet.returncode == 0 and "looks like" not in quiet.stderr
    chat = byok_env.run("chat", input=f"/system use {other}\nhello\nagain\n")
    assert chat.returncode == 0, chat.stderr
    assert chat.stderr.count("system prompt contains what looks like an API key") == 1


@pytest.mark.parametrize("key", [OPENAI_GOOD, "sk-proj-abcdefgh12345678", GROQ])
def test_a_key_never_becomes_a_profile_name(byok_env, key):
    for argv in (["--profile", key, "config", "set", "logging", "off"],
                 ["config", "set", "logging", "off", "--profile", key],
                 ["--profile", key, "config", "show", "--json"]):
        r = byok_env.run(*argv)
        assert r.returncode == Code.USAGE.exit_status, (argv, r.stderr)
        assert "not an API key" in r.stderr
        assert_masked(key, r.stdout, r.stderr)
    r = byok_env.run("config", "show", env={"BYOK_PROFILE": key})
    assert r.returncode == Code.USAGE.exit_status
    assert not (byok_env.home / "byok.db").exists() or key[8:20] not in _db_text(byok_env)


def test_a_key_never_becomes_a_provider_or_key_name(byok_env, fake):
    short = "sk-proj-abcdefgh12345678"  # lowercase and short enough to pass as a name
    add = byok_env.run("provider", "add", short, "--api", "openai",
                       "--base-url", fake.url + "/v1")
    assert add.returncode == Code.USAGE.exit_status and "looks like an API key" in add.stderr
    named = byok_env.run("key", "set", "openai", "--no-validate", "--name", short,
                         input=OPENAI_GOOD)
    assert named.returncode == Code.USAGE.exit_status and "looks like an API key" in named.stderr
    for r in (add, named):
        assert_masked(short, r.stdout, r.stderr)
    listed = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert all(k.get("name") != short for k in listed)
