"""Key lifecycle and hardening: rotation under kill -9, exec, doctor, concurrency, faults,
property tests and a fuzz pass over the CLI."""

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from byok_cli.errors import ByokError, Code
from byok_cli.registry import builtin
from byok_cli.store import DB_NAME, SCHEMA_VERSION
from byok_cli.store import sqlite311
from byok_cli.store.db import NO_CHECKPOINT_ON_CLOSE
from conftest import (ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, OPENAI_GOOD_ENV, TESTS,
                      assert_no_leak, fill_disk, openai_key)


def keyring_entries(tmp_path):
    path = tmp_path / "test-keyring.json"
    return json.loads(path.read_text()) if path.exists() else {}


# --- vault status and rotation ---------------------------------------------------------------

def test_vault_status_names_nothing_secret(keyring_env, tmp_path):
    keyring_env.set_key("openai", OPENAI_GOOD)
    r = keyring_env.run("vault", "status", "--json")
    info = json.loads(r.stdout)
    assert info["keyring_backend"] == "support.fake_keyrings.FileKeyring"
    assert info["schema_version"] == SCHEMA_VERSION and info["stored_keys"] == 1
    assert info["master_key_age_days"] == 0 and len(info["master_key_id"]) == 16
    secret = list(keyring_entries(tmp_path).values())[0]
    assert secret not in r.stdout
    assert_no_leak(OPENAI_GOOD, r.stdout, r.stderr)


def test_rotate_reencrypts_everything_and_drops_old_key(keyring_env, tmp_path):
    keyring_env.set_key("openai", OPENAI_GOOD)
    keyring_env.run("--profile", "work", "key", "set", "anthropic", "--no-validate",
                    input=ANTHROPIC_GOOD)
    before = set(keyring_entries(tmp_path))
    db = keyring_env.home / DB_NAME
    blobs_before = sqlite3.connect(db).execute("SELECT ciphertext FROM api_keys").fetchall()
    r = keyring_env.run("vault", "rotate")
    assert r.returncode == 0, r.stderr
    assert "re-encrypted 2 key(s)" in r.stderr
    after = set(keyring_entries(tmp_path))
    assert len(after) == 1 and after != before
    blobs_after = sqlite3.connect(db).execute("SELECT ciphertext FROM api_keys").fetchall()
    assert not set(blobs_before) & set(blobs_after)
    assert keyring_env.run("key", "validate", "openai").returncode == 0
    assert keyring_env.run("--profile", "work", "key", "validate", "anthropic").returncode == 0


@pytest.mark.parametrize("step", ["after-new-key-saved", "before-commit", "after-commit",
                                  "after-old-key-removed"])
def test_rotate_killed_at_any_step_loses_nothing(keyring_env, step):
    keyring_env.set_key("openai", OPENAI_GOOD)
    keyring_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = subprocess.run([sys.executable, str(TESTS / "support" / "rotate_with_fault.py"), step],
                       env=keyring_env.vars, capture_output=True, timeout=60)
    assert r.returncode == -9  # killed
    for provider in ("openai", "anthropic"):
        check = keyring_env.run("key", "validate", provider, "--json")
        assert check.returncode == 0, (step, check.stderr)
    # and a later rotation completes
    assert keyring_env.run("vault", "rotate").returncode == 0
    assert keyring_env.run("key", "validate").returncode == 0


def test_rotate_with_environment_master_key(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    refused = byok_env.run("vault", "rotate")
    assert refused.returncode == Code.USAGE.exit_status and "BYOK_NEW_MASTER_KEY" in refused.stderr
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    assert byok_env.run("vault", "rotate", env={"BYOK_NEW_MASTER_KEY": new}).returncode == 0
    assert byok_env.run("key", "validate", "openai").returncode == Code.DECRYPT_FAILED.exit_status
    assert byok_env.run("key", "validate", "openai",
                        env={"BYOK_MASTER_KEY": new}).returncode == 0


# --- exec --------------------------------------------------------------------------------

def test_exec_passes_keys_exit_code_and_signals(byok_env, tmp_path):
    byok_env.set_key("openai", OPENAI_GOOD)
    out = tmp_path / "seen"
    script = f'printf "%s|%s|%s" "$OPENAI_API_KEY" "$BYOK_EXEC" "$ANTHROPIC_API_KEY" > {out}; exit 7'
    r = byok_env.run("exec", "--", "sh", "-c", script,
                     env={"OPENAI_API_KEY": OPENAI_GOOD_ENV, "ANTHROPIC_API_KEY": ANTHROPIC_GOOD})
    assert r.returncode == 7
    stored_wins, marker, anthropic = out.read_text().split("|")
    assert stored_wins == OPENAI_GOOD and marker == "default" and anthropic == ANTHROPIC_GOOD
    assert_no_leak(OPENAI_GOOD, r.stdout, r.stderr)
    killed = byok_env.run("exec", "--", "sh", "-c", "kill -TERM $$")
    assert killed.returncode == -15


def test_exec_refuses_nesting_and_missing_things(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    nested = byok_env.run("exec", "--", "true", env={"BYOK_EXEC": "default"})
    assert nested.returncode == Code.USAGE.exit_status and "already inside" in nested.stderr
    missing = byok_env.run("exec", "--", "no-such-program-here")
    assert missing.returncode == 127 and "command not found" in missing.stderr
    nokey = byok_env.run("--profile", "empty", "exec", "--", "true")
    assert nokey.returncode == Code.NO_KEY.exit_status


def test_exec_keys_not_in_argv(byok_env, tmp_path):
    byok_env.set_key("openai", OPENAI_GOOD)
    out = tmp_path / "cmdline"
    r = byok_env.run("exec", "--", "sh", "-c", f"cat /proc/$$/cmdline > {out}")
    assert r.returncode == 0
    assert OPENAI_GOOD.encode() not in out.read_bytes()


# --- doctor --------------------------------------------------------------------------------

def test_doctor_healthy_and_unhealthy(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    ok = byok_env.run("doctor", "--json")
    assert ok.returncode == Code.NEEDS_ATTENTION.exit_status, ok.stdout  # one warning
    checks = {c["check"]: c for c in json.loads(ok.stdout)}
    assert checks["database"]["status"] == "ok" and checks["permissions"]["status"] == "ok"
    assert checks[f"stored openai key …{OPENAI_GOOD[-4:]}"]["status"] == "warn"  # unverified
    os.chmod(byok_env.home, 0o755)
    plain_http = {"OPENAI_BASE_URL": "http://proxy.example.com/v1"}
    warned = {c["check"]: c for c in json.loads(byok_env.run("doctor", "--json",
                                                             env=plain_http).stdout)}
    assert warned["permissions"]["status"] == "warn" and "chmod 700" in warned["permissions"]["fix"]
    assert warned["openai base URL"]["status"] == "fail"  # plain http is refused
    bad = byok_env.run("doctor", env={"BYOK_MASTER_KEY": base64.urlsafe_b64encode(
        os.urandom(32)).decode()})
    assert bad.returncode == Code.DECRYPT_FAILED.exit_status
    assert_no_leak(OPENAI_GOOD, ok.stdout, bad.stdout, bad.stderr)


# --- concurrency and damaged files ---------------------------------------------------------------

def test_24_parallel_runs_keep_every_usage_row(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    procs = [subprocess.Popen([str(BYOK), "run", f"parallel {i}"], env=byok_env.vars,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL) for i in range(24)]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert b"locked" not in err
    usage = json.loads(byok_env.run("usage", "--json").stdout)["rows"]
    assert usage[0]["requests"] == 24
    assert len(json.loads(byok_env.run("history", "list", "-n", "100", "--json").stdout)) == 24


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_corrupt_or_newer_database_is_left_alone(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    db = byok_env.home / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = sha(db)
    for args in (["key", "list"], ["run", "hi"], ["key", "set", "openai", "--no-validate"]):
        r = byok_env.run(*args, input=OPENAI_GOOD)
        assert r.returncode == Code.STORE_ERROR.exit_status and "newer byok" in r.stderr
        assert "Traceback" not in r.stderr
    assert sha(db) == before
    db.write_bytes(b"garbage" * 1000)
    before = sha(db)
    r = byok_env.run("key", "list")
    assert r.returncode == Code.STORE_ERROR.exit_status and "corrupt" in r.stderr
    assert sha(db) == before


def test_unwritable_data_dir(byok_env, tmp_path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    r = byok_env.run("key", "list", env={"BYOK_HOME": str(blocker / "sub")})
    assert r.returncode == Code.STORE_ERROR.exit_status and "data directory" in r.stderr


def test_full_disk_is_a_clear_error(byok_env):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    byok_env.set_key("openai", OPENAI_GOOD)
    r = subprocess.run(f'"{BYOK}" key list > /dev/full', shell=True, capture_output=True,
                       env=byok_env.vars, timeout=30)
    assert r.returncode != 0 and b"Traceback" not in r.stderr


# --- property tests and fuzzing --------------------------------------------------------------

@given(st.text(alphabet=st.characters(codec="ascii"), max_size=80))
def test_key_parsing_never_crashes(raw):
    for provider in ("openai", "anthropic"):
        try:
            key = builtin().normalise_key(provider, raw)
        except ByokError as err:
            assert err.code == Code.INVALID_FORMAT
            # Never echoed; a short input can coincide with the message's own words ('open'
            # in 'the openai key ...'), so only inputs of 12 or more characters are checked.
            assert len(raw.strip()) < 12 or raw.strip() not in err.message
        else:
            assert key == raw.strip() and key.startswith("sk-") and " " not in key


@given(st.from_regex(r"sk-(proj-|svcacct-)?[A-Za-z0-9_-]{8,120}", fullmatch=True))
def test_valid_openai_shapes_are_accepted(key):
    if not key.startswith("sk-admin-") and not key.startswith("sk-ant-"):
        assert builtin().normalise_key("openai", f"  {key}\n") == key


@given(st.from_regex(r"sk-ant-api03-[A-Za-z0-9_-]{8,120}", fullmatch=True))
def test_valid_anthropic_shapes_are_accepted(key):
    assert builtin().normalise_key("anthropic", key + "\r\n") == key


FUZZ_ARGS = st.lists(st.one_of(
    st.sampled_from(["run", "key", "set", "list", "models", "config", "history", "usage",
                     "--json", "-m", "-p", "--since", "openai", "anthropic", "--cid", "-c",
                     "--max-tokens", "--temperature", "--profile", "show", "rm", "vault"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=12)), max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=FUZZ_ARGS, data=st.binary(max_size=300))
def test_fuzz_cli_never_tracebacks_or_changes_keys(byok_env, fake, args, data):
    if not (byok_env.home / DB_NAME).exists():
        byok_env.set_key("openai", OPENAI_GOOD)
    db = byok_env.home / DB_NAME
    keys_before = sqlite3.connect(db).execute(
        "SELECT profile, provider, ciphertext FROM api_keys ORDER BY 1, 2").fetchall()
    if args[:2] == ["key", "set"] or "rm" in args or "vault" in args:
        args = ["key", "list"] + args[2:]  # the fuzz must not replace or delete on purpose
    r = byok_env.run(*args, input=data, timeout=60)
    assert "Traceback" not in r.stderr, (args, r.stderr)
    assert r.returncode in {c.exit_status for c in Code} | {0}, (args, r.returncode)
    keys_after = sqlite3.connect(db).execute(
        "SELECT profile, provider, ciphertext FROM api_keys ORDER BY 1, 2").fetchall()
    assert keys_after == keys_before
    assert_no_leak(OPENAI_GOOD, r.stdout, r.stderr)


def test_huge_stdin_for_run_is_refused_quickly(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    started = time.monotonic()
    r = byok_env.run("run", input=os.urandom(11 * 1024 * 1024))
    assert r.returncode == Code.INVALID_FORMAT.exit_status
    assert time.monotonic() - started < 20 and fake.requests == []


def test_leak_scan_across_a_whole_session(byok_env, fake):
    """Every command that touches a key, then one scan of all output and every file."""
    rejected = openai_key("revoked")
    outputs = []
    for args, data in ((["key", "set", "openai"], rejected), (["key", "set", "openai", "--force"],
                       rejected), (["--debug", "run", "hi"], None), (["key", "list"], None),
                       (["key", "validate", "--json"], None), (["--debug", "doctor"], None),
                       (["run", "--explain"], None), (["vault", "status"], None)):
        r = byok_env.run(*args, input=data, env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
        outputs += [r.stdout, r.stderr]
    assert_no_leak(rejected, *outputs, home=byok_env.home)
    assert_no_leak(OPENAI_GOOD_ENV, *outputs, home=byok_env.home)


def test_full_disk_loses_nothing(byok_env, tiny_disk):
    home = tiny_disk / "byok"
    env = {"BYOK_HOME": str(home)}
    assert byok_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                        env=env).returncode == 0
    filler = fill_disk(tiny_disk)
    r = byok_env.run("key", "set", "anthropic", "--no-validate", input=ANTHROPIC_GOOD, env=env)
    assert r.returncode == Code.STORE_ERROR.exit_status, r.stderr
    assert "disk is full" in r.stderr and "Traceback" not in r.stderr
    filler.unlink()
    listing = json.loads(byok_env.run("key", "list", "--json", env=env).stdout)
    assert listing[0]["stored"] is True and listing[1]["stored"] is False
    assert byok_env.run("exec", "--", "true", env=env).returncode == 0  # still decrypts


def test_read_only_data_dir_is_a_clear_error(byok_env, tiny_disk):
    home = tiny_disk / "byok"
    env = {"BYOK_HOME": str(home)}
    assert byok_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                        env=env).returncode == 0
    before = sha(home / DB_NAME)
    left_for_sqlite = NO_CHECKPOINT_ON_CLOSE is not None or sqlite311.available()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    try:
        if left_for_sqlite:
            # The last write left its WAL and -shm (see store.db), so SQLite
            # reads the file without writing anything: a reading command still works.
            r = byok_env.run("key", "list", env=env)
            assert r.returncode == 0 and "…" + OPENAI_GOOD[-4:] in r.stdout, r.stderr
        readers = [] if left_for_sqlite else [["key", "list"]]
        for args in readers + [["key", "set", "anthropic", "--no-validate"]]:
            r = byok_env.run(*args, input=ANTHROPIC_GOOD, env=env)
            assert r.returncode == Code.STORE_ERROR.exit_status, r.stderr
            assert "not writable" in r.stderr and "Traceback" not in r.stderr
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tiny_disk)], check=True)
    assert sha(home / DB_NAME) == before
    assert json.loads(byok_env.run("key", "list", "--json", env=env).stdout)[0]["stored"]
