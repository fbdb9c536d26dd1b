"""`byok key …` through the installed command, plus the keyring policy end to end."""

import base64
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from byok_cli.secrets import vault
from byok_cli.cli import app
from byok_cli.errors import Code
from byok_cli.store import DB_NAME
from conftest import ANTHROPIC_GOOD, OPENAI_GOOD, assert_no_leak, openai_key

INVALID = Code.INVALID_FORMAT.exit_status


def test_set_list_replace_remove_never_leaks(byok_env):
    r = byok_env.set_key("openai", OPENAI_GOOD + "\n")
    assert r.returncode == 0, r.stderr
    assert "…" + OPENAI_GOOD[-4:] in r.stderr and r.stdout == ""
    listing = byok_env.run("key", "list", "--json")
    rows = json.loads(listing.stdout)
    assert rows[0]["provider"] == "openai" and rows[0]["stored_key"] == "…" + OPENAI_GOOD[-4:]
    assert rows[0]["active"] == "stored" and rows[1]["stored"] is False
    plain = byok_env.run("key", "list")
    assert plain.stdout.splitlines()[1].split("\t")[:3] == ["openai", "default",
                                                           "…" + OPENAI_GOOD[-4:]]
    assert_no_leak(OPENAI_GOOD, r.stdout, r.stderr, listing.stdout, plain.stdout,
                   home=byok_env.home)

    replacement = openai_key("good2")
    assert byok_env.set_key("openai", replacement).returncode == 0
    rows = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert rows[0]["stored_key"] == "…" + replacement[-4:]
    assert_no_leak(OPENAI_GOOD, home=byok_env.home)
    assert_no_leak(replacement, home=byok_env.home)

    removed = byok_env.run("key", "remove", "openai", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is False
    assert_no_leak(replacement, removed.stdout, removed.stderr, home=byok_env.home)


def test_removed_ciphertext_is_gone_from_the_file(byok_env):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    db = byok_env.home / DB_NAME
    blob = sqlite3.connect(db).execute("SELECT ciphertext FROM api_keys").fetchone()[0]
    assert byok_env.run("key", "remove", "anthropic", "--yes").returncode == 0
    for path in byok_env.files():
        assert blob[9:40] not in path.read_bytes(), path.name


def test_environment_key_is_shown_masked(byok_env):
    env_key = openai_key("goodenv")
    r = byok_env.run("key", "list", "--json", env={"OPENAI_API_KEY": env_key})
    row = json.loads(r.stdout)[0]
    assert row["environment"] is True and row["environment_key"] == "…" + env_key[-4:]
    assert row["active"] == "environment"
    assert_no_leak(env_key, r.stdout, r.stderr)


@pytest.mark.parametrize("raw, words", [
    ("", "empty"),
    ("   \n\t ", "empty"),
    ("sk-proj-abc def-ghijklmnop", "whitespace"),
    ("sk-proj-abc\x07defghijklmnop", "control"),
    ("pk-live-1234567890abcdef", "shape"),
    ("sk-", "shape"),
    ("sk-admin-abcdefghijklmnop", "admin key"),
    ("sk-ant-api03-abcdefghijkl", "Anthropic key"),
])
def test_bad_openai_keys_are_refused_and_nothing_stored(byok_env, raw, words):
    r = byok_env.run("key", "set", "openai", "--no-validate", input=raw)
    assert r.returncode == INVALID, r.stderr
    assert words in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is False


@pytest.mark.parametrize("raw", ["sk-proj-abcdefghijklmnop", "sk-ant-admin01-abcdefghijklmnop"])
def test_bad_anthropic_keys_are_refused(byok_env, raw):
    r = byok_env.run("key", "set", "anthropic", "--no-validate", input=raw)
    assert r.returncode == INVALID
    assert raw not in r.stderr


def test_huge_and_binary_stdin_are_refused(byok_env):
    huge = byok_env.run("key", "set", "openai", "--no-validate", input=b"sk-" + b"a" * 200_000)
    assert huge.returncode == INVALID and "KiB" in huge.stderr
    binary = byok_env.run("key", "set", "openai", "--no-validate", input=b"sk-\xff\xfe\x00abc")
    assert binary.returncode == INVALID and "UTF-8" in binary.stderr
    assert "Traceback" not in huge.stderr + binary.stderr


def test_key_is_never_taken_from_argv(byok_env):
    r = byok_env.run("key", "set", "openai", OPENAI_GOOD, "--no-validate", input="")
    assert r.returncode == Code.USAGE.exit_status
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is False


def test_unknown_provider(byok_env):
    r = byok_env.set_key("nope", OPENAI_GOOD)
    assert r.returncode == Code.USAGE.exit_status
    assert "unknown provider 'nope'" in r.stderr and "openai, anthropic" in r.stderr


def test_remove_needs_confirmation_when_not_a_terminal(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("key", "remove", "openai")
    assert r.returncode == Code.USAGE.exit_status and "--yes" in r.stderr
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is True
    missing = byok_env.run("key", "remove", "anthropic", "--yes")
    assert missing.returncode == Code.NO_KEY.exit_status


def test_profiles_are_separate(byok_env):
    byok_env.run("--profile", "work", "key", "set", "openai", "--no-validate", input=OPENAI_GOOD)
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is False
    work = byok_env.run("key", "list", "--json", env={"BYOK_PROFILE": "work"})
    assert json.loads(work.stdout)[0]["stored"] is True
    bad = byok_env.run("--profile", "../etc", "key", "list")
    assert bad.returncode == Code.USAGE.exit_status


def test_ciphertext_moved_to_another_profile_fails_clearly(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.run("--profile", "work", "key", "set", "openai", "--no-validate",
                 input=openai_key("other"))
    db = sqlite3.connect(byok_env.home / DB_NAME)
    blob = db.execute("SELECT ciphertext FROM api_keys WHERE profile='default'").fetchone()[0]
    hint = db.execute("SELECT hint FROM api_keys WHERE profile='default'").fetchone()[0]
    db.execute("UPDATE api_keys SET ciphertext=?, hint=? WHERE profile='work'", (blob, hint))
    db.commit()
    r = byok_env.run("--profile", "work", "run", "hello")
    assert r.returncode == Code.DECRYPT_FAILED.exit_status
    assert "integrity check" in r.stderr and "openai" in r.stderr
    assert "Traceback" not in r.stderr
    assert_no_leak(OPENAI_GOOD, r.stdout, r.stderr)


def test_a_stale_master_key_is_never_called_rejected_keys(byok_env, master_key, fake):
    """After a rotation, a run still on the old BYOK_MASTER_KEY cannot open any of the
    provider's keys: it says which master key they need, never that the provider rejected
    them or that they must be stored again while they are fine."""
    import os

    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("openai", openai_key("good-work"), "--name", "work")
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    assert byok_env.run("vault", "rotate", env={"BYOK_NEW_MASTER_KEY": new}).returncode == 0
    r = byok_env.run("run", "hi")
    assert r.returncode == Code.DECRYPT_FAILED.exit_status
    needed = vault.key_id(base64.urlsafe_b64decode(new))
    last = r.stderr.strip().splitlines()[-1]
    assert f"sealed with master key {needed}" in last and "BYOK_MASTER_KEY" in last
    assert "rejected" not in r.stderr and not [q for q in fake.requests if q["method"] == "POST"]


def test_wrong_master_key_is_a_clear_error(byok_env, master_key):
    byok_env.set_key("openai", OPENAI_GOOD)
    import os

    other = base64.urlsafe_b64encode(os.urandom(32)).decode()
    r = byok_env.run("key", "validate", "openai", env={"BYOK_MASTER_KEY": other})
    assert r.returncode == Code.DECRYPT_FAILED.exit_status
    needed = vault.key_id(base64.urlsafe_b64decode(master_key))
    assert f"is sealed with master key {needed}" in r.stderr
    assert f"set BYOK_MASTER_KEY to master key {needed}" in r.stderr


def test_help_has_examples(byok_env):
    for cmd in (["key", "set"], ["key", "list"], ["key", "remove"], ["run"], ["models", "list"]):
        r = byok_env.run(*cmd, "--help")
        assert r.returncode == 0 and "Example" in r.stdout, cmd
    v = byok_env.run("--version")
    assert v.returncode == 0 and v.stdout.startswith("byok ")


def test_typer_runner_agrees_with_subprocess(in_process):
    runner = CliRunner()
    r = runner.invoke(app, ["key", "set", "openai", "--no-validate"], input=OPENAI_GOOD)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["key", "list", "--json"])
    assert json.loads(r.stdout)[0]["stored_key"] == "…" + OPENAI_GOOD[-4:]
    r = runner.invoke(app, ["key", "set", "openai", "--no-validate"], input="nope")
    assert r.exit_code == INVALID


# --- the keyring, through test backends -------------------------------------------------

def test_master_key_made_once_and_kept_in_keyring(keyring_env, tmp_path):
    assert keyring_env.set_key("openai", OPENAI_GOOD).returncode == 0
    stored = json.loads((tmp_path / "test-keyring.json").read_text())
    assert list(stored) and all(k.startswith("byok/master-key:") for k in stored)
    assert keyring_env.set_key("anthropic", ANTHROPIC_GOOD).returncode == 0
    assert len(json.loads((tmp_path / "test-keyring.json").read_text())) == 1
    r = keyring_env.run("key", "validate", "openai", "--json")
    assert r.returncode == 0, r.stderr
    assert_no_leak(OPENAI_GOOD, home=keyring_env.home)


def test_missing_keyring_entry_is_a_clear_error(keyring_env, tmp_path):
    keyring_env.set_key("openai", OPENAI_GOOD)
    (tmp_path / "test-keyring.json").write_text("{}")
    r = keyring_env.run("run", "hi")
    assert r.returncode == Code.DECRYPT_FAILED.exit_status
    assert "sealed with master key" in r.stderr and "the OS keyring do not provide" in r.stderr
    assert "set BYOK_MASTER_KEY to that master key" in r.stderr


@pytest.mark.parametrize("backend, words", [
    ("LockedKeyring", "locked"),
    ("InitErrorKeyring", "could not open or create its collection"),
    ("ForgetfulKeyring", "does not give it back"),
    ("keyring.backends.null.Keyring", "stores nothing"),
    ("keyring.backends.fail.Keyring", "no keyring backend"),
])
def test_unusable_keyrings_fail_closed(keyring_env, backend, words):
    name = backend if "." in backend else f"support.fake_keyrings.{backend}"
    r = keyring_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                        env={"PYTHON_KEYRING_BACKEND": name})
    assert r.returncode == Code.KEYRING_UNAVAILABLE.exit_status, r.stderr
    assert words in r.stderr and "BYOK_MASTER_KEY" in r.stderr
    assert "Traceback" not in r.stderr
    assert keyring_env.run("key", "list", "--json").stdout.count('"stored": true') == 0
    if backend.endswith("fail.Keyring"):  # no keyring at all: the keyless ways come first
        assert r.stderr.index("vault init --file") < r.stderr.index("BYOK_MASTER_KEY")


def test_hanging_keyring_times_out(keyring_env):
    import time

    started = time.monotonic()
    r = keyring_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                        env={"PYTHON_KEYRING_BACKEND": "support.fake_keyrings.SlowKeyring",
                             "BYOK_KEYRING_TIMEOUT": "1"})
    assert time.monotonic() - started < 10
    assert r.returncode == Code.KEYRING_UNAVAILABLE.exit_status
    assert "did not answer within 1 s" in r.stderr


def test_key_list_needs_no_keyring(keyring_env):
    keyring_env.set_key("openai", OPENAI_GOOD)
    r = keyring_env.run("key", "list", env={
        "PYTHON_KEYRING_BACKEND": "support.fake_keyrings.LockedKeyring"})
    assert r.returncode == 0 and "…" + OPENAI_GOOD[-4:] in r.stdout
