"""Which keyrings byok trusts, and how it behaves when one misbehaves: through the
installed `byok`, with the test keyrings of support/fake_keyrings.py."""

import json
import re
import sys

import pexpect
import pytest

from byok_cli.errors import Code
from conftest import BYOK, OPENAI_GOOD, OPENAI_GOOD_ENV

KEYRING = Code.KEYRING_UNAVAILABLE.exit_status


def fake(name):
    return f"support.fake_keyrings.{name}"


def nothing_stored(env):
    listing = json.loads(env.run("key", "list", "--json").stdout)
    return not any(row["stored"] for row in listing)


def test_a_keyring_that_is_not_an_os_keyring_needs_the_opt_in(keyring_env, tmp_path):
    refused = keyring_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                              env={"BYOK_ALLOW_INSECURE_KEYRING": ""})
    assert refused.returncode == KEYRING, refused.stderr
    assert "support.fake_keyrings.FileKeyring is not an OS keyring" in refused.stderr
    assert "BYOK_ALLOW_INSECURE_KEYRING=1" in refused.stderr and "Traceback" not in refused.stderr
    assert nothing_stored(keyring_env) and not (tmp_path / "test-keyring.json").exists()
    assert keyring_env.set_key("openai", OPENAI_GOOD).returncode == 0  # with the opt-in


@pytest.mark.parametrize("chosen, words", [
    (fake("FileKeyring"), "is not an OS keyring"),
    ("keyring.backends.null.Keyring", "stores nothing"),
])
def test_a_backend_chosen_in_keyringrc_counts_too(keyring_env, tmp_path, chosen, words):
    config = tmp_path / "config" / "python_keyring"
    config.mkdir(parents=True)
    (config / "keyringrc.cfg").write_text(f"[backend]\ndefault-keyring = {chosen}\n")
    env = {k: v for k, v in keyring_env.vars.items() if k != "PYTHON_KEYRING_BACKEND"}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), BYOK_ALLOW_INSECURE_KEYRING="")
    keyring_env.vars = env
    r = keyring_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD)
    assert r.returncode == KEYRING, r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr
    assert nothing_stored(keyring_env)


@pytest.mark.parametrize("value", ["", "no.such.Backend", "support.fake_keyrings.NoSuchClass",
                                   "keyring.backends.SecretService.Keyring"])
def test_a_python_keyring_backend_that_cannot_be_used_is_exit_12(keyring_env, value):
    r = keyring_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                        env={"PYTHON_KEYRING_BACKEND": value,
                             "DBUS_SESSION_BUS_ADDRESS": ""})  # no Secret Service reachable
    assert r.returncode == KEYRING, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "PYTHON_KEYRING_BACKEND" in r.stderr and "BYOK_MASTER_KEY" in r.stderr
    assert nothing_stored(keyring_env)


@pytest.mark.parametrize("backend", ["ExitingKeyring", "BaseExceptionKeyring"])
def test_a_backend_that_raises_systemexit_or_baseexception_has_failed(keyring_env, backend):
    r = keyring_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                        env={"PYTHON_KEYRING_BACKEND": fake(backend)})
    assert r.returncode == KEYRING, r.stderr
    assert "the OS keyring backend failed" in r.stderr and "Traceback" not in r.stderr
    assert nothing_stored(keyring_env)


def test_a_keyring_that_times_out_gives_the_terminal_its_echo_back(keyring_env):
    keyring_env.set_key("openai", OPENAI_GOOD)
    env = {**keyring_env.vars, "PYTHON_KEYRING_BACKEND": fake("PromptingKeyring"),
           "BYOK_KEYRING_TIMEOUT": "1"}  # its unlock prompt turns echo off, then hangs
    child = pexpect.spawn("bash", ["--norc", "-c", f'"{BYOK}" exec -- true; echo "rc=$?"; '
                                   "stty -a"], env=env, encoding="utf-8", timeout=30)
    child.expect("keyring password: ")
    child.expect(r"rc=(\d+)")
    assert int(child.match.group(1)) == KEYRING
    child.expect(pexpect.EOF)
    modes = child.before
    assert re.search(r"(?<![-\w])echo(?!\w)", modes), modes
    assert not re.search(r"(?<![\w])-echo(?!\w)", modes), modes


def test_a_locked_keyring_falls_back_to_the_environment_key(keyring_env, fake_server):
    fake_server.reset()
    keyring_env.set_key("openai", OPENAI_GOOD)
    r = keyring_env.run("run", "hello", env={"PYTHON_KEYRING_BACKEND": fake("LockedKeyring"),
                                             "OPENAI_API_KEY": OPENAI_GOOD_ENV})
    assert r.returncode == 0, r.stderr
    assert "hello" in r.stdout
    assert "warning:" in r.stderr and "locked" in r.stderr and "OPENAI_API_KEY" in r.stderr
    assert [q["key"] for q in fake_server.requests] == [OPENAI_GOOD_ENV]
    stored = json.loads(keyring_env.run("key", "list", "--json").stdout)[0]
    assert stored["stored_status"] == "unverified"  # the stored key is not blamed


def test_a_lost_master_key_names_only_real_ways_out(keyring_env, tmp_path):
    keyring_env.set_key("openai", OPENAI_GOOD)
    (tmp_path / "test-keyring.json").write_text("{}")  # the keyring lost it
    r = keyring_env.run("run", "hi")
    assert r.returncode == Code.DECRYPT_FAILED.exit_status
    assert "the OS keyring do not provide" in r.stderr and "vault reset" not in r.stderr
    assert "remove the stored keys with `byok key remove` and store them again" in r.stderr
    # ... and that way out works: the lost master key gives way once nothing needs it
    assert keyring_env.run("key", "remove", "openai", "--yes").returncode == 0
    again = keyring_env.set_key("openai", OPENAI_GOOD)
    assert again.returncode == 0, again.stderr
    assert "new keys are sealed with a new master key" in again.stderr
    assert keyring_env.run("exec", "--", "true").returncode == 0


def test_no_message_names_a_command_that_does_not_exist():
    """Every `byok ...` that byok's own text mentions is a command byok has."""
    from pathlib import Path

    from typer.main import get_command

    from byok_cli.cli.root import app

    root = get_command(app)
    source = Path(sys.modules["byok_cli"].__file__).parent
    mentioned = set()
    for path in source.rglob("*.py"):
        mentioned |= set(re.findall(r"`byok ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", path.read_text()))
    assert ("key", "set") in mentioned  # the scan finds what it should
    for command, sub in mentioned:
        group = root.get_command(None, command)
        assert group is not None, f"`byok {command}` does not exist"
        if sub and hasattr(group, "commands"):
            assert sub in group.commands, f"`byok {command} {sub}` does not exist"


def test_doctor_warns_about_a_keyring_let_in_by_the_opt_in(keyring_env):
    keyring_env.set_key("openai", OPENAI_GOOD)
    r = keyring_env.run("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(r.stdout)}
    keyring = checks["keyring"]
    assert keyring["status"] == "warn", keyring
    assert "support.fake_keyrings.FileKeyring is not an OS keyring" in keyring["detail"]
    assert "BYOK_ALLOW_INSECURE_KEYRING=1" in keyring["detail"]
    assert "unset BYOK_ALLOW_INSECURE_KEYRING" in keyring["fix"]
    assert r.returncode == Code.NEEDS_ATTENTION.exit_status
