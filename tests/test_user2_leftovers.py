"""The smaller leftovers of a demanding new user's report (notes/user2.md): every error
says what to do, in JSON too, and `key set` does not store one key twice."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from byok_cli.cli import app
from byok_cli.errors import Code
from conftest import OPENAI_GOOD, openai_key


def test_a_json_usage_error_carries_the_hint_stderr_gives(byok_env):
    r = byok_env.run("run", "--json", "--temperature", "5", "x")
    assert r.returncode == Code.USAGE.exit_status
    error = json.loads(r.stdout)["error"]
    assert error["code"] == "USAGE" and "--temperature" in error["message"]
    assert error["hint"] == "see 'byok run -h'"
    assert r.stderr.strip().endswith("— see 'byok run -h'")
    from byok_cli.cli import streams

    runner = CliRunner()  # (`byok` sets json_errors from its argv; the runner has none)
    streams.json_errors = True
    try:
        typer_run = runner.invoke(app, ["key", "list", "--json", "--nope"], env=byok_env.vars)
    finally:
        streams.json_errors = False
    assert typer_run.exit_code == Code.USAGE.exit_status
    first = typer_run.stdout[:typer_run.stdout.rindex("}") + 1]
    assert json.loads(first)["error"]["hint"] == "see 'byok key list -h'"


def test_a_request_the_provider_refuses_says_where_to_look(byok_env, fake):
    byok_env.set_key("openai", openai_key("echoes"))
    r = byok_env.run("run", "--no-fallback", "hi")
    assert r.returncode == Code.BAD_REQUEST.exit_status, r.stderr
    line = r.stderr.strip()
    assert "refused the request (400)" in line and len(line.splitlines()) == 1
    assert " — change what its message names" in line
    assert "`byok models show openai/gpt-6.1-sol`" in line
    as_json = json.loads(byok_env.run("run", "--json", "--no-fallback", "hi").stdout)
    assert as_json["error"]["code"] == "BAD_REQUEST" and as_json["error"]["hint"]


def test_key_set_does_not_store_a_key_twice_under_another_name(byok_env, fake):
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    dup = byok_env.set_key("openai", OPENAI_GOOD, "--name", "dup")
    assert dup.returncode == Code.USAGE.exit_status
    assert f"this openai key (…{OPENAI_GOOD[-4:]}) is already stored as 'default'" \
        in dup.stderr
    assert "-k default" in dup.stderr and "--force" in dup.stderr
    names = [k["name"] for row in json.loads(byok_env.run("key", "list", "--json").stdout)
             if row["provider"] == "openai" for k in row["keys"]]
    assert "dup" not in names
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0  # the same name: fine
    other = byok_env.set_key("openai", openai_key("good"), "--name", "dup")
    assert other.returncode == 0, other.stderr  # another key: stored
    forced = byok_env.set_key("openai", OPENAI_GOOD, "--name", "twice", "--force")
    assert forced.returncode == 0, forced.stderr
    runner = CliRunner()
    again = runner.invoke(app, ["key", "set", "openai", "--name", "three", "--no-validate"],
                          input=OPENAI_GOOD, env=byok_env.vars)
    assert again.exit_code == Code.USAGE.exit_status and "already stored as" in again.output


def test_other_groups_verbs_work_unlisted(byok_env, fake):
    """`key rm`, `budget remove`, `config list`: the verbs of the other groups (user2's
    finding 8) run the group's own command, and help lists each command once."""
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    assert byok_env.run("budget", "set", "--per", "month", "20").returncode == 0
    shown = byok_env.run("config", "show")
    assert byok_env.run("config", "list").stdout == shown.stdout and shown.stdout
    assert byok_env.run("budget", "ls").stdout == byok_env.run("budget", "list").stdout
    removed = byok_env.run("budget", "remove", "--yes")
    assert removed.returncode == 0 and "removed 1 budget" in removed.stderr
    gone = byok_env.run("key", "rm", "openai", "--yes")
    assert gone.returncode == 0, gone.stderr
    rows = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert next(r for r in rows if r["provider"] == "openai")["stored"] is False
    for group, hidden in (("key", " rm "), ("budget", " remove "), ("config", " list ")):
        assert hidden not in byok_env.run(group, "--help").stdout
    typo = byok_env.run("key", "frob")
    assert typo.returncode == Code.USAGE.exit_status and "no such command 'frob'" in typo.stderr
    runner = CliRunner()
    assert runner.invoke(app, ["config", "list"], env=byok_env.vars).exit_code == 0


def test_the_fake_provider_says_how_to_run_it():
    import subprocess
    import sys
    from pathlib import Path

    fake = Path(__file__).with_name("fakeprovider.py")
    helped = subprocess.run([sys.executable, str(fake), "--help"], capture_output=True,
                            text=True, timeout=30)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: ")
    assert "Traceback" not in helped.stderr
    wrong = subprocess.run([sys.executable, str(fake), "notaport"], capture_output=True,
                           text=True, timeout=30)
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert wrong.stderr.splitlines() == [
        "usage: python tests/fakeprovider.py [PORT]  (0 or none: any free port; prints its URL)",
        "not a port: notaport"]


def test_key_set_with_another_master_key_than_the_stored_keys_still_stores(byok_env, fake,
                                                                           master_key):
    """The duplicate check opens only what it can: keys sealed with another master key
    (a new BYOK_MASTER_KEY) are not compared, and the new key is stored as before."""
    import base64
    import os

    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    other = base64.urlsafe_b64encode(os.urandom(32)).decode()
    r = byok_env.run("key", "set", "openai", "--name", "again", "--no-validate",
                     input=OPENAI_GOOD, env={"BYOK_MASTER_KEY": other})
    assert r.returncode == 0, r.stderr
    assert "already stored" not in r.stderr
