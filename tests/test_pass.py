"""A real `pass` (Debian's password-store) with a throwaway GPG key, as the master key command
and as a provider key's command (issue 23). `.ci/run` installs pass; here the test skips when
it is missing unless BYOK_REQUIRE_PASS=1."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess

import pytest

from conftest import OPENAI_GOOD


@pytest.fixture
def password_store(tmp_path):
    if not (shutil.which("pass") and shutil.which("gpg")):
        if os.environ.get("BYOK_REQUIRE_PASS") == "1":
            pytest.fail("pass and gpg are required (BYOK_REQUIRE_PASS=1)")
        pytest.skip("pass or gpg is not installed")
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GNUPGHOME": str(gnupg),
           "PASSWORD_STORE_DIR": str(tmp_path / "store")}

    def run(*args, input=None):
        r = subprocess.run(args, env=env, input=input, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    run("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
        "--quick-gen-key", "byok-test@example.invalid", "default", "default", "never")
    run("pass", "init", "byok-test@example.invalid")
    yield env, run
    subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True)


def test_pass_holds_the_master_key_and_a_provider_key(byok_env, fake, password_store):
    env, run = password_store
    master = base64.urlsafe_b64encode(os.urandom(32)).decode()
    run("pass", "insert", "--multiline", "byok/master", input=master + "\nnote: byok\n")
    run("pass", "insert", "--multiline", "team/openai", input=OPENAI_GOOD + "\n")
    byok_env.vars.pop("BYOK_MASTER_KEY")
    byok_env.vars.update(env)
    byok_env.vars["BYOK_MASTER_KEY_COMMAND"] = "pass show byok/master"
    r = byok_env.run("key", "set", "openai", "--name", "team", "--command",
                     "pass show team/openai")
    assert r.returncode == 0, r.stderr
    assert "command (pass) …" + OPENAI_GOOD[-4:] in r.stderr
    r = byok_env.run("run", "hi")
    assert r.returncode == 0, r.stderr
    assert [q["key"] for q in fake.requests if q["method"] == "POST"][-1] == OPENAI_GOOD
    # the vault opens with the same master key given directly: pass held it
    r = byok_env.run("key", "get", "openai", "--name", "team",
                     env={"BYOK_MASTER_KEY_COMMAND": "", "BYOK_MASTER_KEY": master})
    assert r.stdout == OPENAI_GOOD + "\n", r.stderr
    # a missing entry: pass fails, byok says which command, not what pass printed
    r = byok_env.run("key", "get", "openai", "--name", "team",
                     env={"BYOK_MASTER_KEY_COMMAND": "pass show byok/nothing-here"})
    assert r.returncode == 12 and "pass show byok/nothing-here" in r.stderr
