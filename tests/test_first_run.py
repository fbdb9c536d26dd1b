"""A first hour with byok: what refuses is checked before the key is asked for; a missing
master key is named; the environment's faults never mark a key failed; no hint locks a
person out."""

import base64
import json
import os
import subprocess

import pexpect
import pytest

from byok_cli.secrets import vault
from byok_cli.errors import Code
from conftest import BYOK, OPENAI_GOOD, OPENAI_GOOD_ENV, openai_key

LOCKED = "support.fake_keyrings.LockedKeyring"


def new_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def master_id(value: str) -> str:
    return vault.key_id(base64.urlsafe_b64decode(value))


def test_key_set_checks_the_keyring_before_asking_for_the_key(keyring_env, fake):
    child = pexpect.spawn(str(BYOK), ["key", "set", "openai"], timeout=20,
                          env={**keyring_env.vars, "PYTHON_KEYRING_BACKEND": LOCKED})
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == Code.KEYRING_UNAVAILABLE.exit_status
    assert b"locked" in child.before and b"API key" not in child.before  # never prompted
    # and from a pipe: refused before the key is read, let alone checked online
    r = keyring_env.run("key", "set", "openai", input=OPENAI_GOOD,
                        env={"PYTHON_KEYRING_BACKEND": LOCKED})
    assert r.returncode == Code.KEYRING_UNAVAILABLE.exit_status and fake.requests == []


def test_key_set_then_prompts_then_validates(keyring_env, fake):
    child = pexpect.spawn(str(BYOK), ["key", "set", "openai"], env=keyring_env.vars, timeout=20)
    child.expect("API key")
    assert fake.requests == []
    child.sendline(OPENAI_GOOD)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and b"(valid)" in child.before
    assert [r["path"] for r in fake.requests] == ["/v1/models"]


def test_a_key_sealed_with_byok_master_key_names_it_when_it_is_missing(byok_env, master_key, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    needed = master_id(master_key)
    without = {**byok_env.vars}
    del without["BYOK_MASTER_KEY"]
    without.update(PYTHON_KEYRING_BACKEND="support.fake_keyrings.FileKeyring",
                   BYOK_ALLOW_INSECURE_KEYRING="1",  # the test keyring is no OS keyring
                   BYOK_TEST_KEYRING=str(byok_env.home.parent / "keyring.json"))
    code, _, err = _run_without(without, "run", "hi")
    assert code == Code.DECRYPT_FAILED.exit_status
    assert f"sealed with master key {needed}" in err
    assert "set BYOK_MASTER_KEY to that master key" in err
    assert "no key was ever stored" not in err
    status = _run_without(without, "vault", "status", "--json")
    info = json.loads(status[1])
    assert info["missing_master_keys"] == [needed] and info["sealed_with"] == {needed: 1}
    assert info["master_key_source"] == "BYOK_MASTER_KEY (not set)"
    assert f"need master key {needed}" in status[2] and "set BYOK_MASTER_KEY" in status[2]
    doctor = _run_without(without, "doctor", "--json")
    assert doctor[0] == Code.DECRYPT_FAILED.exit_status
    master = [c for c in json.loads(doctor[1]) if c["check"] == "master key"][0]
    assert master["status"] == "fail" and needed in master["detail"]
    assert "BYOK_MASTER_KEY" in master["fix"]
    # with it set again, all is well
    assert byok_env.run("run", "hi").returncode == 0


def _run_without(env: dict, *args: str) -> tuple[int, str, str]:
    proc = subprocess.run([str(BYOK), *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def test_a_wrong_master_key_in_the_environment_does_not_mark_the_key_failed(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    wrong = new_master_key()
    r = byok_env.run("run", "--json", "hi",
                     env={"BYOK_MASTER_KEY": wrong, "OPENAI_API_KEY": OPENAI_GOOD_ENV})
    assert r.returncode == 0, r.stderr  # fallback 1: the environment's key answered
    assert json.loads(r.stdout)["key_source"] == "environment"
    listing = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert listing[0]["stored_status"] == "unverified"
    doctor = byok_env.run("doctor", "--json", env={"BYOK_MASTER_KEY": wrong})
    checks = {c["check"]: c for c in json.loads(doctor.stdout)}
    assert checks["master key"]["status"] == "fail"
    assert f"set BYOK_MASTER_KEY to master key {master_id(byok_env.vars['BYOK_MASTER_KEY'])}" \
        in checks["master key"]["fix"]


def test_a_rejected_key_is_marked_and_doctor_says_what_to_do(byok_env, fake):
    revoked = openai_key("revoked")
    byok_env.set_key("openai", revoked)
    byok_env.run("run", "hi")
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored_status"] == \
        "failed: UNAUTHORIZED"
    doctor = {c["check"]: c for c in json.loads(byok_env.run("doctor", "--json").stdout)}
    stored = doctor[f"stored openai key …{revoked[-4:]}"]
    assert stored["status"] == "warn" and "byok key validate openai" in stored["fix"]
    assert doctor["database"]["status"] == "ok"


def test_a_success_clears_a_failed_mark(in_process, fake):
    """As when an account that ran out of credit is topped up."""
    from byok_cli import Byok

    b = Byok()
    b.keychain.set("openai", OPENAI_GOOD)
    b.store.set_setting("default", "preferred_provider", "openai")
    b.keychain.mark("openai", "default", "failed: UNAUTHORIZED")
    b.ask("hi")
    assert b.store.get_key("default", "openai").status == "valid"


def test_rotate_hint_names_the_new_variable(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("vault", "rotate")
    assert r.returncode == Code.USAGE.exit_status
    assert 'export BYOK_NEW_MASTER_KEY="$(python3' in r.stderr
    assert "export BYOK_MASTER_KEY=" not in r.stderr
    new = new_master_key()
    done = byok_env.run("vault", "rotate", env={"BYOK_NEW_MASTER_KEY": new})
    assert done.returncode == 0 and 'export BYOK_MASTER_KEY="$BYOK_NEW_MASTER_KEY"' in done.stderr


@pytest.mark.parametrize("backend", [LOCKED, "support.fake_keyrings.InitErrorKeyring",
                                     "keyring.backends.null.Keyring"])
def test_a_broken_keyring_never_offers_a_fresh_master_key_once_keys_are_sealed(
        keyring_env, backend):
    fresh = keyring_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                            env={"PYTHON_KEYRING_BACKEND": backend})
    assert "os.urandom(32)" in fresh.stderr  # nothing sealed yet: one's own key is fine
    assert keyring_env.set_key("openai", OPENAI_GOOD).returncode == 0
    for args in (["run", "hi"], ["key", "set", "anthropic", "--no-validate"], ["doctor"]):
        r = keyring_env.run(*args, input="sk-ant-api03-x-Aa1b2c3d4e5f6g7h8i9",
                            env={"PYTHON_KEYRING_BACKEND": backend})
        assert r.returncode != 0, args
        assert "os.urandom" not in r.stderr + r.stdout, args
        assert "a new one cannot open them" in r.stderr + r.stdout, args
