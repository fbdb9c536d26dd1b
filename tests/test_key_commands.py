"""Provider keys that stay in a team's store (issue 23): `key set --command` stores the command,
sealed like a key; byok runs it (no shell) when the key is needed, once per process, and run,
the fallbacks, exec, key get and key validate treat it as a stored key."""

from __future__ import annotations

import json
import sys

from byok_cli.errors import Code
from conftest import OPENAI_GOOD, OPENAI_GOOD_ENV, assert_no_leak, openai_key

PY = sys.executable


def key_program(tmp_path, key: str, name: str = "team-store", fail: bool = False):
    """A stand-in for `pass show …`: prints the key, and counts its runs in a file."""
    path = tmp_path / name
    count = tmp_path / f"{name}.runs"
    path.write_text(f"#!{PY}\nimport sys\nopen({str(count)!r}, 'a').write('x')\n"
                    f"print({key!r})\n" + ("sys.exit(7)\n" if fail else ""))
    path.chmod(0o700)
    return path, count


def chats(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


def test_command_key_is_used_like_a_stored_key(byok_env, fake, tmp_path):
    prog, runs = key_program(tmp_path, OPENAI_GOOD)
    command = f"{prog} team/vault/openai-prod"
    r = byok_env.run("key", "set", "openai", "--name", "team", "--command", command,
                     "--no-validate")
    assert r.returncode == 0, r.stderr
    assert "command (team-store)" in r.stderr and not runs.exists()  # not run when stored
    listing = json.loads(byok_env.run("key", "list", "--json").stdout)[0]
    assert listing["stored_key"] == "command (team-store)"
    assert listing["keys"][0]["name"] == "team"
    r = byok_env.run("run", "--json", "hello")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["key_source"] == "stored"
    assert [q["key"] for q in chats(fake)] == [OPENAI_GOOD]
    assert runs.read_text() == "x"  # once for that process
    assert byok_env.run("key", "get", "openai", "--name", "team").stdout == OPENAI_GOOD + "\n"
    r = byok_env.run("exec", "--", "env")
    assert f"OPENAI_API_KEY={OPENAI_GOOD}" in r.stdout
    r = byok_env.run("key", "validate", "openai")
    assert r.returncode == 0, r.stderr
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored_status"] == \
        "valid"
    # the command line is sealed like a key: its vault path is in no file byok wrote
    for path in byok_env.files():
        assert b"openai-prod" not in path.read_bytes(), path
    assert_no_leak(OPENAI_GOOD, r.stderr, home=byok_env.home)


def test_validate_at_set_time_runs_the_command_and_checks_the_key(byok_env, fake, tmp_path):
    prog, runs = key_program(tmp_path, openai_key("revoked"))
    r = byok_env.run("key", "set", "openai", "--command", str(prog))
    assert r.returncode == Code.UNAUTHORIZED.exit_status, r.stderr
    assert runs.read_text() == "x"
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is False
    good, _ = key_program(tmp_path, OPENAI_GOOD, "good-store")
    r = byok_env.run("key", "set", "openai", "--command", str(good))
    assert r.returncode == 0, r.stderr
    assert "command (good-store) …" + OPENAI_GOOD[-4:] in r.stderr


def test_failing_command_falls_back_and_names_only_the_program(byok_env, fake, tmp_path):
    prog, _ = key_program(tmp_path, "leaked-output-" + "q" * 20, fail=True)
    assert byok_env.run("key", "set", "openai", "--command", f"{prog} secret/path",
                        "--no-validate").returncode == 0
    r = byok_env.run("run", "--json", "hi", env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["key_source"] == "environment"
    assert [q["key"] for q in chats(fake)] == [OPENAI_GOOD_ENV]
    r = byok_env.run("key", "get", "openai")
    assert r.returncode == Code.KEYRING_UNAVAILABLE.exit_status
    assert "team-store" in r.stderr and "exit status 7" in r.stderr
    assert "leaked-output" not in r.stderr and "secret/path" not in r.stderr
    # the key list still lists it (as a command), and says so without running it
    assert "command (team-store)" in byok_env.run("key", "list").stdout


def test_refusals(byok_env, tmp_path):
    r = byok_env.run("key", "set", "openai", "--command", f"echo {OPENAI_GOOD}")
    assert r.returncode == Code.USAGE.exit_status
    assert OPENAI_GOOD not in r.stderr
    for bad in ("'unbalanced", ""):
        r = byok_env.run("key", "set", "openai", "--command", bad, "--no-validate")
        assert r.returncode == Code.USAGE.exit_status, (bad, r.stderr)
        assert "Traceback" not in r.stderr
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is False


def test_rotation_keeps_the_command_not_what_it_printed(byok_env, fake, tmp_path):
    import base64
    import os

    prog, runs = key_program(tmp_path, OPENAI_GOOD)
    assert byok_env.run("key", "set", "openai", "--command", str(prog),
                        "--no-validate").returncode == 0
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    r = byok_env.run("vault", "rotate", env={"BYOK_NEW_MASTER_KEY": new})
    assert r.returncode == 0, r.stderr
    assert not runs.exists()  # re-sealing needs no key: the command was not run
    listing = byok_env.run("key", "list", "--json", env={"BYOK_MASTER_KEY": new}).stdout
    assert json.loads(listing)[0]["stored_key"] == "command (team-store)"
    r = byok_env.run("key", "get", "openai", env={"BYOK_MASTER_KEY": new})
    assert r.stdout == OPENAI_GOOD + "\n"
    r = byok_env.run("key", "remove", "openai", "--yes", env={"BYOK_MASTER_KEY": new})
    assert r.returncode == 0 and "command (team-store)" in r.stderr, r.stderr
