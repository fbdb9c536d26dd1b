"""Profiles: --profile before or after the command, `profile list`, and a mistyped
profile named in errors about missing keys."""

import json

import pytest

from byok_cli.errors import Code
from conftest import ANTHROPIC_GOOD, OPENAI_GOOD


def test_profile_after_the_command(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD, "--profile", "work")
    work = json.loads(byok_env.run("key", "list", "--profile", "work", "--json").stdout)
    assert work[0]["stored"] is True
    default = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert default[0]["stored"] is False
    # after the command wins over before it and over BYOK_PROFILE
    assert json.loads(byok_env.run("--profile", "default", "key", "list", "--json",
                                   "--profile=work").stdout)[0]["stored"] is True
    assert json.loads(byok_env.run("key", "list", "--json", "--profile", "work",
                                   env={"BYOK_PROFILE": "default"}).stdout)[0]["stored"] is True
    # `byok run` (its fast path) too
    r = byok_env.run("run", "hi", "--profile", "work")
    assert r.returncode == 0 and r.stdout == "Echo[gpt-6.1-sol]: hi\n", r.stderr
    bad = byok_env.run("key", "list", "--profile", "a b")
    assert bad.returncode == Code.USAGE.exit_status and "--profile" in bad.stderr
    debug = byok_env.run("run", "hi", "--debug", "-p", "anthropic", "--no-fallback",
                         "--profile", "work")
    assert "Traceback" in debug.stderr


def test_profile_list(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD, "--profile", "work")
    byok_env.run("--profile", "empty", "config", "set", "logging", "off")
    rows = json.loads(byok_env.run("profile", "list", "--json", "--profile", "work").stdout)
    assert [(r["profile"], r["current"], r["preferred_provider"]) for r in rows] == [
        ("default", False, "openai"), ("empty", False, "system"), ("work", True, "anthropic")]
    assert rows[2]["keys"] == [{"provider": "anthropic", "name": "default",
                                "key": "…" + ANTHROPIC_GOOD[-4:],
                                "status": "unverified"}]
    text = byok_env.run("profile", "list").stdout.splitlines()
    assert text[0].split("\t") == ["profile", "current", "preferred", "keys"]
    assert text[1].split("\t") == ["default", "yes", "openai", f"openai …{OPENAI_GOOD[-4:]}"]
    assert "does not exist yet" in byok_env.run("--profile", "wrok", "profile", "list").stderr


def test_a_mistyped_profile_is_named_in_missing_key_errors(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("openai", OPENAI_GOOD, "--profile", "work")
    for args in (["--profile", "wrok", "run", "hi"], ["run", "hi", "--profile", "wrok"],
                 ["--profile", "wrok", "exec", "--", "true"],
                 ["--profile", "wrok", "key", "validate"]):
        r = byok_env.run(*args)
        assert r.returncode == Code.NO_KEY.exit_status, args
        assert "profile 'wrok' has no keys; profiles: default, work" in r.stderr, args
    # a profile with keys of its own is not second-guessed
    r = byok_env.run("--profile", "work", "run", "-p", "anthropic", "--no-fallback", "hi")
    assert r.returncode == Code.NO_KEY.exit_status and "profiles:" not in r.stderr


@pytest.mark.parametrize("args", [["key", "list"], ["history", "list"], ["usage"],
                                  ["config", "show"], ["key", "list", "--json"]])
def test_a_mistyped_profile_is_named_on_stderr_by_read_only_commands(byok_env, args):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("openai", OPENAI_GOOD, "--profile", "work")
    r = byok_env.run(*args, "--profile", "wrok")
    assert r.returncode == 0, r.stderr
    assert ("warning: profile 'wrok' does not exist yet; profiles: default, work "
            "— check --profile (or BYOK_PROFILE)") in r.stderr, r.stderr
    assert "wrok" not in r.stdout
    for fine in ("work", "default"):  # a profile that exists: no such warning
        assert "does not exist" not in byok_env.run(*args, "--profile", fine).stderr
