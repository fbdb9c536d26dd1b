"""Issue 27's smaller items, through the installed `byok`: hostile files end in exit 3 (not 1),
no proxy for loopback in what byok hands out, names that are not key variables, an empty
--profile, the master key as a provider key, and replacing a key of the same name."""

from __future__ import annotations

import json
import subprocess
import sys

import pexpect
import pytest

from byok_cli.errors import Code
from conftest import BYOK, OPENAI_GOOD, openai_key

INVALID = Code.INVALID_FORMAT.exit_status


def no_internal_error(r) -> None:
    assert r.returncode != 1 and "Traceback" not in r.stderr and "internal error" not in r.stderr


# --- hostile files: exit 3 ----------------------------------------------------------------

HOSTILE_FILES = {
    "deep keys.json": ("llm", "keys.json", '{"openai": ' + "[" * 1000 + "]" * 1000 + "}"),
    "deep YAML": ("mods", "mods.yml", "apis: " + "[" * 1000 + "]" * 1000 + "\n"),
    "YAML alias bomb": ("mods", "mods.yml", "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi")) + "apis: *i\n"),
    "doubling .env": ("dotenv", ".env", "X=ab\n" + "".join(
        "X=${X}${X}\n" for _ in range(40)) + f"OPENAI_API_KEY={OPENAI_GOOD}\n"),
}


@pytest.mark.parametrize("case", HOSTILE_FILES)
def test_hostile_import_files_are_refused_with_exit_3(byok_env, tmp_path, case):
    source, name, text = HOSTILE_FILES[case]
    path = tmp_path / name
    path.write_text(text)
    r = byok_env.run("key", "import", source, str(path), "--scrub", timeout=30)
    assert r.returncode == INVALID, (case, r.returncode, r.stderr)
    no_internal_error(r)
    assert path.read_text() == text  # nothing was changed


# --- no proxy for loopback in what byok hands out ----------------------------------------------

def test_exec_children_get_no_proxy_for_loopback_and_no_lowercase_key(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("exec", "-p", "openai", "--", sys.executable, "-c",
                     "import json, os; print(json.dumps(dict(os.environ)))",
                     env={"NO_PROXY": "corp.example", "openai_api_key": "sk-proj-lower-x1y2z3w4v5",
                          "Anthropic_Api_Key": "sk-ant-api03-mixed-q1w2e3r4t5"})
    assert r.returncode == 0, r.stderr
    child = json.loads(r.stdout)
    for name in ("NO_PROXY", "no_proxy"):
        entries = child[name].split(",")
        assert {"127.0.0.1", "localhost", "::1"} <= set(entries), child[name]
        assert "corp.example" in entries
    assert "openai_api_key" not in child and "Anthropic_Api_Key" not in child
    assert child["OPENAI_API_KEY"] == OPENAI_GOOD


def test_the_sdk_client_byok_hands_out_does_not_proxy_loopback(byok_env, fake, proxy):
    """HTTP(S)_PROXY points at the recording proxy (conftest): a key sent through it to the
    fake on 127.0.0.1 would show there."""
    byok_env.set_key("openai", OPENAI_GOOD)
    script = ("from byok_cli import Byok\n"
              "c = Byok().client('openai')\n"
              "print(len(list(c.models.list())))\n")
    # no NO_PROXY of the environment's: only byok's own client setup keeps loopback direct
    env = {**byok_env.vars, "ALL_PROXY": proxy.url, "HTTP_PROXY": proxy.url, "NO_PROXY": ""}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0
    assert proxy.seen == [] and any(r["path"].endswith("/models") for r in fake.requests)


# --- names and values that are not what they claim -------------------------------------------

@pytest.mark.parametrize("variable", ["PATH", "HOME", "SHELL", "LD_PRELOAD", "PYTHONPATH",
                                      "SSH_AUTH_SOCK", "HTTPS_PROXY", "GW_URL"])
def test_key_env_must_name_a_key_variable(byok_env, variable):
    r = byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url",
                     "https://gw.example/v1", "--key-env", variable)
    assert r.returncode == Code.USAGE.exit_status, r.stderr
    assert variable in r.stderr
    ok = byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url",
                      "https://gw.example/v1", "--key-env", "GW_API_KEY")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("where", ["before", "after"])
def test_an_empty_profile_is_a_usage_error(byok_env, where):
    args = ["--profile", "", "key", "list"] if where == "before" else [
        "key", "list", "--profile", ""]
    r = byok_env.run(*args)
    assert r.returncode == Code.USAGE.exit_status and "--profile" in r.stderr, r.stderr
    run = byok_env.run("run", "--profile", "", "hi")
    assert run.returncode == Code.USAGE.exit_status, run.stderr


def test_the_master_key_is_refused_as_a_provider_key(byok_env, master_key):
    r = byok_env.run("key", "set", "openai", "--no-validate", "--force", input=master_key)
    assert r.returncode == INVALID and "master key" in r.stderr, r.stderr
    assert master_key[:12] not in r.stderr
    listed = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert not any(p["stored"] for p in listed)


# --- replacing a key of the same name --------------------------------------------------------

def test_replacing_a_key_from_a_pipe_says_so_with_both_ends(byok_env):
    old, new = openai_key("olderAAA1"), openai_key("newerBBB2")
    byok_env.set_key("openai", old)
    r = byok_env.set_key("openai", new)
    assert r.returncode == 0
    assert f"replaced the openai key …{old[-4:]} with …{new[-4:]}" in r.stderr, r.stderr


def test_replacing_a_key_at_a_terminal_asks(byok_env):
    old = openai_key("olderAAA1")
    byok_env.set_key("openai", old)
    child = pexpect.spawn(str(BYOK), ["key", "set", "openai", "--no-validate"],
                          env=byok_env.vars, timeout=30)
    child.expect("(?i)key")
    child.sendline(openai_key("newerBBB2"))
    child.expect(r"\[y/N\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == Code.DECLINED.exit_status
    shown = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert [p["stored_key"] for p in shown if p["provider"] == "openai"] == ["…" + old[-4:]]


# --- budgets the answer cannot game ---------------------------------------------------------

def test_usage_beyond_what_the_request_allowed_is_booked_at_the_bound(byok_env, fake):
    byok_env.set_key("openai", openai_key("usageover"))
    assert byok_env.run("budget", "set", "--per", "day", "5").returncode == 0
    r = byok_env.run("run", "--json", "-m", "gpt-4o", "--max-tokens", "10", "hi")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["usage"]["output_tokens"] == 10
    assert out["usage"]["input_tokens"] == 128000  # gpt-4o's context window (prices.json)
    assert "booked at 10" in r.stderr and "more than max_tokens allows" in r.stderr
    assert out["cost_usd"] < 1  # not the $450 the reported counts would cost


def test_a_sync_urls_token_path_and_fragment_are_masked_like_its_query():
    from byok_cli.urls import shown

    assert shown("https://x.example/api/Ab3dEf6hIj9kLm2nOp5qRs8t/prices.json#k=v?x") == \
        "https://x.example/api/***/prices.json#***"
    assert shown("https://x.example/9f3c2a71e0b84d65c7a1f2e3d4b5c6a7/m.json?token=zz") == \
        "https://x.example/***/m.json?token=***"
    kept = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices.json"
    assert shown(kept) == kept
    assert shown("https://gw.example/deployments/gpt-4o-mini-2024-07-18") == \
        "https://gw.example/deployments/gpt-4o-mini-2024-07-18"
