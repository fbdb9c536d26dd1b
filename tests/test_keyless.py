"""No OS keyring needed (issue 23): the master key from a file (BYOK_MASTER_KEY_FILE, `vault
init --file`) or from a command (BYOK_MASTER_KEY_COMMAND, run without a shell), one order of
sources, and `vault rotate` between sources in one transaction. The installed command, as a
subprocess, against the fake provider."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys

import pytest

from byok_cli.errors import Code
from conftest import OPENAI_GOOD, assert_no_leak

KEYRING_UNAVAILABLE = Code.KEYRING_UNAVAILABLE.exit_status
USAGE = Code.USAGE.exit_status
PY = sys.executable


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
def keyless(byok_env, tmp_path):
    """byok_env without BYOK_MASTER_KEY, with no keyring at all, and a master key file."""
    byok_env.vars.pop("BYOK_MASTER_KEY")
    byok_env.vars["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    path = tmp_path / "master.key"
    r = byok_env.run("vault", "init", "--file", str(path))
    assert r.returncode == 0, r.stderr
    byok_env.key_file = path
    return byok_env


def store(byok, provider: str, key: str, env: dict | None = None):
    r = byok.run("key", "set", provider, "--no-validate", input=key, env=env)
    assert r.returncode == 0, r.stderr
    return r


def with_file(env, path=None) -> dict:
    return {"BYOK_MASTER_KEY_FILE": str(path or env.key_file)}


def test_vault_init_file_then_every_command_works(keyless, fake):
    path = keyless.key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    assert len(base64.urlsafe_b64decode(key)) == 32
    env = with_file(keyless)
    assert keyless.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                       env=env).returncode == 0
    r = keyless.run("run", "hello", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Echo[gpt-6.1-sol]: hello\n"
    assert [q["key"] for q in fake.requests if q["method"] == "POST"] == [OPENAI_GOOD]
    status = json.loads(keyless.run("vault", "status", "--json", env=env).stdout)
    assert status["master_key_source"] == "file (BYOK_MASTER_KEY_FILE)"
    assert status["missing_master_keys"] == []
    doctor = keyless.run("doctor", "--json", env=env)
    rows = {row["check"]: row for row in json.loads(doctor.stdout)}
    assert rows["master key"]["status"] == "ok"
    assert "BYOK_MASTER_KEY_FILE" in rows["master key"]["detail"]
    # without it, the keys are sealed with a key nobody gives: a one-line error, exit 13
    r = keyless.run("key", "get", "openai")
    assert r.returncode == Code.DECRYPT_FAILED.exit_status and "Traceback" not in r.stderr
    assert_no_leak(key, r.stderr, status and json.dumps(status), home=keyless.home)


def test_vault_init_file_refuses_to_overwrite_or_to_replace_a_used_master_key(keyless,
                                                                              tmp_path):
    before = keyless.key_file.read_bytes()
    r = keyless.run("vault", "init", "--file", str(keyless.key_file))
    assert r.returncode == USAGE and "already exists" in r.stderr
    assert keyless.key_file.read_bytes() == before
    store(keyless, "openai", OPENAI_GOOD, env=with_file(keyless))
    r = keyless.run("vault", "init", "--file", str(tmp_path / "other.key"))
    assert r.returncode == USAGE and "rotate --to" in r.stderr
    assert not (tmp_path / "other.key").exists()
    r = keyless.run("vault", "init")
    assert r.returncode == USAGE


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_loose_key_file_is_refused(keyless, mode):
    store(keyless, "openai", OPENAI_GOOD, env=with_file(keyless))
    keyless.key_file.chmod(mode)
    r = keyless.run("key", "get", "openai", env=with_file(keyless))
    assert r.returncode == KEYRING_UNAVAILABLE
    assert f"mode {mode:04o}" in r.stderr and "chmod 600" in r.stderr
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file away")
def test_key_file_of_another_user_is_refused(keyless):
    store(keyless, "openai", OPENAI_GOOD, env=with_file(keyless))
    os.chown(keyless.key_file, 65534, 65534)
    r = keyless.run("key", "get", "openai", env=with_file(keyless))
    assert r.returncode == KEYRING_UNAVAILABLE and "uid 65534" in r.stderr


@pytest.mark.parametrize("content", [b"", b"not a key at all\n", b"\xff\xfe" * 40,
                                     b"A" * 10000, base64.urlsafe_b64encode(bytes(32))])
def test_malformed_or_missing_key_file(keyless, tmp_path, content):
    bad = tmp_path / "bad.key"
    bad.write_bytes(content)
    bad.chmod(0o600)
    for path in (bad, tmp_path / "missing.key", tmp_path):
        r = keyless.run("key", "list", "--json", env=with_file(keyless, path))
        assert r.returncode == 0  # listing reads no master key
        r = keyless.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                        env=with_file(keyless, path))
        assert r.returncode == KEYRING_UNAVAILABLE, (path, r.stderr)
        assert "Traceback" not in r.stderr and str(path) in r.stderr
        assert "not a key at all" not in r.stderr


def script(tmp_path, name: str, body: str):
    """A small program (Python, so the test needs nothing else) for the command sources."""
    path = tmp_path / name
    path.write_text(f"#!{PY}\nimport sys, time, os\n{body}\n")
    path.chmod(0o700)
    return path


def test_master_key_from_a_command(keyless, tmp_path, fake):
    key = keyless.key_file.read_text().strip()
    prog = script(tmp_path, "give-key", f"sys.stderr.write('asking the store\\n')\n"
                                        f"print({key!r}); print('second line is ignored')")
    env = {"BYOK_MASTER_KEY_COMMAND": f"{prog} --field 'with space'"}
    assert keyless.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                       env=env).returncode == 0
    r = keyless.run("run", "hi", env=env)
    assert r.returncode == 0, r.stderr
    assert "asking the store" in r.stderr  # its stderr is passed through, for prompts
    # the same vault opens with the file: it is one key, from two places
    assert keyless.run("key", "get", "openai", env=with_file(keyless)).returncode == 0
    status = json.loads(keyless.run("vault", "status", "--json", env=env).stdout)
    assert status["master_key_source"] == "command (BYOK_MASTER_KEY_COMMAND)"
    assert_no_leak(key, r.stdout, r.stderr)


def test_master_key_command_runs_without_a_shell(keyless, tmp_path):
    marker = tmp_path / "shell-was-here"
    r = keyless.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                    env={"BYOK_MASTER_KEY_COMMAND": f"cat {keyless.key_file}; touch {marker}"})
    assert r.returncode == KEYRING_UNAVAILABLE  # cat was given ';', 'touch' and the marker
    assert not marker.exists()
    r = keyless.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                    env={"BYOK_MASTER_KEY_COMMAND": "cat $HOME/x"})
    assert r.returncode == KEYRING_UNAVAILABLE and "$HOME/x" in r.stderr


def test_master_key_command_failures_name_the_command_never_its_output(keyless, tmp_path):
    leak = "SECRET-OUTPUT-d41d8cd98f00b204"
    failing = script(tmp_path, "failing", f"print({leak!r}); sys.exit(3)")
    hung = script(tmp_path, "hung", "print('x', flush=True); time.sleep(600)")
    silent = script(tmp_path, "silent", "pass")
    flood = script(tmp_path, "flood", "sys.stdout.write('k' * 10_000_000)")
    bad = script(tmp_path, "bad", f"print({leak!r})")
    cases = [(f"{failing}", "exit status 3"), (f"{hung}", "did not finish within 1 s"),
             (f"{silent}", "printed nothing"), (f"{flood}", "printed more than"),
             (f"{bad}", "did not print a master key"),
             (str(tmp_path / "no-such-program"), "is not found"),
             ("'unbalanced", "cannot be parsed"), ("   ", "is empty")]
    for command, words in cases:
        r = keyless.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                        env={"BYOK_MASTER_KEY_COMMAND": command, "BYOK_COMMAND_TIMEOUT": "1"},
                        timeout=30)
        assert r.returncode in (KEYRING_UNAVAILABLE, USAGE), (command, r.stderr)
        assert words in r.stderr, (command, r.stderr)
        assert leak not in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert keyless.run("key", "list", "--json").returncode == 0  # nothing was stored
    assert json.loads(keyless.run("key", "list", "--json").stdout)[0]["stored"] is False


def test_one_order_of_sources_and_doctor_warns_when_several_are_set(keyless, tmp_path):
    env_key = new_key()
    other = tmp_path / "other.key"
    other.write_text(new_key())
    other.chmod(0o600)
    everything = {"BYOK_MASTER_KEY": env_key, "BYOK_MASTER_KEY_FILE": str(other),
                  "BYOK_MASTER_KEY_COMMAND": f"cat {keyless.key_file}"}
    store(keyless, "openai", OPENAI_GOOD, env=everything)  # sealed with BYOK_MASTER_KEY
    assert keyless.run("key", "get", "openai", env={"BYOK_MASTER_KEY": env_key}).returncode == 0
    status = json.loads(keyless.run("vault", "status", "--json", env=everything).stdout)
    assert status["master_key_source"] == "environment (BYOK_MASTER_KEY)"
    assert status["master_key_sources_ignored"] == ["BYOK_MASTER_KEY_FILE",
                                                    "BYOK_MASTER_KEY_COMMAND"]
    rows = json.loads(keyless.run("doctor", "--json", env=everything).stdout)
    warning = next(r for r in rows if r["check"] == "master key source")
    assert warning["status"] == "warn"
    assert "BYOK_MASTER_KEY wins" in warning["detail"]
    # the file comes before the command
    del everything["BYOK_MASTER_KEY"]
    status = json.loads(keyless.run("vault", "status", "--json", env=everything).stdout)
    assert status["master_key_source"].startswith("file")


def test_rotate_under_a_file_replaces_the_file_after_the_commit(keyless):
    env = with_file(keyless)
    store(keyless, "openai", OPENAI_GOOD, env=env)
    store(keyless, "anthropic", "sk-ant-api03-good-Aa1b2c3d4e5f6g7h8i9", env=env)
    old = keyless.key_file.read_text()
    r = keyless.run("vault", "rotate", env=env)
    assert r.returncode == 0, r.stderr
    assert "re-encrypted 2 key(s)" in r.stderr
    assert keyless.key_file.read_text() != old
    assert stat.S_IMODE(keyless.key_file.stat().st_mode) == 0o600
    assert not keyless.key_file.with_name("master.key.new").exists()
    assert keyless.run("key", "get", "openai", env=env).stdout.strip() == OPENAI_GOOD
    assert keyless.run("key", "get", "openai",
                       env={"BYOK_MASTER_KEY": old.strip()}).returncode != 0


def test_a_running_gateway_reads_the_key_file_again_after_a_rotation(keyless, fake):
    """`vault rotate` by another process rewrites the key file while a gateway runs: the
    gateway's next request opens the re-sealed key with the file's new master key, not a
    503 until it is restarted (tester6 #8)."""
    from support.byok_gateway import RunningGateway
    from test_gateway import CHAT, bearer, token

    env = with_file(keyless)
    store(keyless, "openai", OPENAI_GOOD, env=env)
    keyless.vars.update(env)
    t = token(keyless, "app", "-p", "openai")
    gw = RunningGateway(keyless.vars)
    try:
        assert gw.request("POST", "/openai/chat/completions", CHAT, bearer(t))[0] == 200
        r = keyless.run("vault", "rotate")
        assert r.returncode == 0, r.stderr
        status, _, body = gw.request("POST", "/openai/chat/completions", CHAT, bearer(t))
        assert status == 200, body
    finally:
        code, said = gw.stop()
    assert code == 0, said
    assert_no_leak(OPENAI_GOOD, said)


def test_rotate_between_environment_file_and_keyring(keyring_env, tmp_path):
    """keyring -> file -> environment-given key -> keyring, keys readable at every step."""
    keyring_env.set_key("openai", OPENAI_GOOD)
    path = tmp_path / "moved.key"
    r = keyring_env.run("vault", "rotate", "--to", "file", "--file", str(path))
    assert r.returncode == 0, r.stderr
    assert "export BYOK_MASTER_KEY_FILE=" in r.stderr
    env = {"BYOK_MASTER_KEY_FILE": str(path)}
    assert keyring_env.run("key", "get", "openai", env=env).stdout.strip() == OPENAI_GOOD
    assert json.loads(keyring_env.run("vault", "status", "--json", env=env).stdout)[
        "missing_master_keys"] == []
    # the keyring's old master key is gone: nothing needs it
    keyring = json.loads((tmp_path / "test-keyring.json").read_text() or "{}")
    assert not any("master-key" in str(k) for k in keyring), keyring
    # under BYOK_MASTER_KEY_COMMAND, byok cannot write the new key: it must be given
    cmd = {"BYOK_MASTER_KEY_COMMAND": f"cat {path}"}
    r = keyring_env.run("vault", "rotate", env=cmd)
    assert r.returncode == USAGE and "BYOK_NEW_MASTER_KEY" in r.stderr
    given = new_key()
    r = keyring_env.run("vault", "rotate", env={**cmd, "BYOK_NEW_MASTER_KEY": given})
    assert r.returncode == 0, r.stderr
    assert keyring_env.run("key", "get", "openai",
                           env={"BYOK_MASTER_KEY": given}).stdout.strip() == OPENAI_GOOD
    r = keyring_env.run("vault", "rotate", "--to", "keyring", env={"BYOK_MASTER_KEY": given})
    assert r.returncode == 0, r.stderr
    assert "unset BYOK_MASTER_KEY" in r.stderr
    assert keyring_env.run("key", "get", "openai").stdout.strip() == OPENAI_GOOD


def test_rotate_refusals(keyless, tmp_path):
    env = with_file(keyless)
    store(keyless, "openai", OPENAI_GOOD, env=env)
    for args in (["--to", "cloud"], ["--file", str(tmp_path / "x")]):
        r = keyless.run("vault", "rotate", *args, env=env)
        assert r.returncode == USAGE, r.stderr
    r = keyless.run("vault", "rotate", "--to", "file", env={})
    assert r.returncode != 0
    assert keyless.run("key", "get", "openai", env=env).stdout.strip() == OPENAI_GOOD


def test_exec_child_gets_no_pointer_to_the_master_key(keyless):
    store(keyless, "openai", OPENAI_GOOD, env=with_file(keyless))
    env = {**with_file(keyless), "BYOK_MASTER_KEY_COMMAND": "true"}
    r = keyless.run("exec", "--", "env", env=env)
    assert r.returncode == 0, r.stderr
    assert f"OPENAI_API_KEY={OPENAI_GOOD}" in r.stdout  # it works: the key is passed on
    assert "BYOK_MASTER_KEY" not in r.stdout


def test_the_readmes_three_keyless_lines(byok_env, tmp_path, fake):
    """The install section's three ways without a keyring, run as shown (each on a home of
    its own, a stand-in `pass` on PATH, the passphrase on stdin), then a key set and a run."""
    import re
    import subprocess
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Without a keyring"):readme.index("## Quickstart")]
    lines = re.search(r"```text\n(.*?)```", section, re.S).group(1).strip().splitlines()
    assert len(lines) == 3
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    master = new_key()
    (bin_dir / "pass").write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'show byok/master' ] && "
                                  f"echo {master}\n")
    (bin_dir / "pass").chmod(0o755)
    for i, line in enumerate(lines):
        home = tmp_path / f"home{i}"
        home.mkdir()
        env = {k: v for k, v in byok_env.vars.items() if k != "BYOK_MASTER_KEY"}
        env.update(HOME=str(home), BYOK_HOME=str(home / "data"), XDG_RUNTIME_DIR="",
                   PATH=f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",
                   PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        script = (f"{line.split('#')[0]}\nprintf %s {OPENAI_GOOD} | byok key set openai "
                  "--no-validate\nbyok run hello </dev/null\nbyok lock")
        r = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True,
                           text=True, timeout=120, input="a passphrase\na passphrase\n")
        assert r.returncode == 0, (line, r.stderr)
        assert r.stdout == "Echo[gpt-6.1-sol]: hello\n", (line, r.stderr)
        assert "error" not in r.stderr, r.stderr


@pytest.mark.parametrize("step", ["after-new-key-saved", "before-commit", "after-commit",
                                  "after-old-key-removed"])
def test_rotate_under_a_file_killed_at_any_step_loses_nothing(keyless, step):
    import subprocess
    from pathlib import Path

    env = with_file(keyless)
    store(keyless, "openai", OPENAI_GOOD, env=env)
    support = Path(__file__).resolve().parent / "support" / "rotate_with_fault.py"
    r = subprocess.run([sys.executable, str(support), step, "vault", "rotate"],
                       env={**keyless.vars, **env}, capture_output=True, timeout=120)
    assert r.returncode == -9, r.stderr  # killed
    got = keyless.run("key", "get", "openai", env=env)
    assert got.returncode == 0 and got.stdout.strip() == OPENAI_GOOD, (step, got.stderr)
    assert stat.S_IMODE(keyless.key_file.stat().st_mode) == 0o600
    r = keyless.run("vault", "rotate", env=env)  # and a later rotation completes
    assert r.returncode == 0, r.stderr
    assert keyless.run("key", "get", "openai", env=env).stdout.strip() == OPENAI_GOOD
