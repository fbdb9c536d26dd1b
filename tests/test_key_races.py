"""Keys stay readable, with their newest value, while real byok processes race: rotations,
`key set`, `key remove` and `run` at once, over a keyring whose writes are slow. Also the
master key registry's tidiness, and `key remove`'s wipe while another process reads."""

import base64
import json
import os
import random
import sqlite3
import subprocess
import sys
import time

import pytest

from byok_cli.secrets import vault
from byok_cli.errors import Code
from byok_cli.store import DB_NAME
from conftest import BYOK, OPENAI_GOOD, TESTS, anthropic_key, openai_key

ROUNDS = 10
RUNS_PER_ROUND = 6


@pytest.fixture
def slow_keyring_env(keyring_env):
    """Keyring writes take a second: a rotation's steps, and a first key set's, stretch out
    so that other processes land in between."""
    keyring_env.vars.update(PYTHON_KEYRING_BACKEND="support.fake_keyrings.SlowWritesKeyring",
                            BYOK_TEST_KEYRING_DELAY="1.0", BYOK_KEYRING_TIMEOUT="20")
    return keyring_env


def keyring_entries(env):
    path = env.vars["BYOK_TEST_KEYRING"]
    try:
        with open(path) as f:
            return {k.split(":", 1)[1]: v for k, v in json.load(f).items()}
    except FileNotFoundError:
        return {}


def readable_keys(env) -> dict:
    """{(profile, provider): plaintext or None}, decrypted here with the test keyring's
    master keys: what byok could read, judged without byok."""
    import base64

    masters = {mk_id: vault.MasterKey(base64.urlsafe_b64decode(v), "keyring")
               for mk_id, v in keyring_entries(env).items()}
    conn = sqlite3.connect(env.home / DB_NAME)
    rows = conn.execute("SELECT profile, provider, ciphertext, hint FROM api_keys").fetchall()
    conn.close()
    found = {}
    for profile, provider, blob, hint in rows:
        master = masters.get(vault.envelope_key_id(blob) or "")
        try:
            found[(profile, provider)] = vault.decrypt(
                master, blob, vault.aad(profile, provider, hint), what="k") if master else None
        except Exception:
            found[(profile, provider)] = None
    return found


def start(env, delay, *args, input=None, after_keyring_write=False):
    """A byok process that starts after `delay` seconds (a shell sleeps, not the test) or,
    with `after_keyring_write`, once a keyring write has begun (a rotation saving its new
    master key: the moment a key set must not be lost in). Its stdin is given at once."""
    wait = ('until [ -e "$BYOK_TEST_KEYRING.writing" ]; do sleep 0.02; done; '
            if after_keyring_write else "")
    command = f"{wait}sleep {delay:.2f}; exec \"$0\" \"$@\""
    proc = subprocess.Popen(["sh", "-c", command, str(BYOK), *args], env=env.vars,
                            stdin=subprocess.PIPE if input else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if input:
        proc.stdin.write(input.encode())
        proc.stdin.close()
        proc.stdin = None  # given: communicate() has nothing left to send
    return proc


def finish(started):
    out = []
    for proc in started:
        stdout, stderr = proc.communicate(timeout=180)
        out.append((proc.returncode, stdout.decode(), stderr.decode()))
    return out


def test_rotations_racing_runs_and_key_sets_lose_no_key(slow_keyring_env, fake):
    env = slow_keyring_env
    env.set_key("openai", OPENAI_GOOD)
    env.set_key("anthropic", anthropic_key("good-round0"))
    env.run("--profile", "work", "key", "set", "openai", "--no-validate",
            input=openai_key("good-work"))
    expected = {("default", "openai"): OPENAI_GOOD,
                ("default", "anthropic"): anthropic_key("good-round0"),
                ("work", "openai"): openai_key("good-work")}
    lost, failed = [], []
    for n in range(1, ROUNDS + 1):
        rng = random.Random(n)
        newest = anthropic_key(f"good-round{n}")
        started = [start(env, 0, "vault", "rotate"),
                   start(env, rng.uniform(0, 0.3), "key", "set", "anthropic", "--no-validate",
                         input=newest, after_keyring_write=n % 2 == 1)]
        started += [start(env, rng.uniform(0, 2.0), "run", "-p", "openai", f"round {n} run {i}")
                    for i in range(RUNS_PER_ROUND)]
        results = finish(started)
        failed += [(n, rc, err) for rc, _, err in results if rc != 0]
        expected[("default", "anthropic")] = newest
        now = readable_keys(env)
        lost += [(n, k) for k, v in expected.items() if now.get(k) != v]
        assert len(keyring_entries(env)) == 1, (n, keyring_entries(env))
    print(f"\nrace: {ROUNDS} rounds of rotate + {RUNS_PER_ROUND} runs + 1 key set; "
          f"keys lost: {len(lost)}; processes failed: {len(failed)}")
    assert lost == [] and failed == [], (lost, failed)


def test_rotations_racing_each_other_and_key_remove(slow_keyring_env):
    env = slow_keyring_env
    env.set_key("openai", OPENAI_GOOD)
    lost, failed = [], []
    for n in range(1, 6):
        rng = random.Random(100 + n)
        value = anthropic_key(f"good-again{n}")
        env.set_key("anthropic", value)
        started = [start(env, 0, "vault", "rotate"), start(env, rng.uniform(0, 0.6), "vault",
                                                             "rotate"),
                   start(env, rng.uniform(0, 0.9), "key", "remove", "anthropic", "--yes")]
        failed += [(n, rc, err) for rc, _, err in finish(started) if rc != 0]
        now = readable_keys(env)
        if now != {("default", "openai"): OPENAI_GOOD}:
            lost.append((n, now))
    assert lost == [] and failed == [], (lost, failed)
    assert len(keyring_entries(env)) == 1
    conn = sqlite3.connect(env.home / DB_NAME)
    assert conn.execute("SELECT count(*) FROM master_keys WHERE retired_at IS NULL").fetchone() == (1,)


def test_concurrent_first_key_sets_make_one_master_key(slow_keyring_env):
    env = slow_keyring_env
    values = {f"p{i}": openai_key(f"good-first{i}") for i in range(6)}
    started = [start(env, 0, "--profile", p, "key", "set", "openai", "--no-validate",
                     input=v) for p, v in values.items()]
    assert [rc for rc, _, _ in finish(started)] == [0] * 6
    assert len(keyring_entries(env)) == 1, keyring_entries(env)
    conn = sqlite3.connect(env.home / DB_NAME)
    assert conn.execute("SELECT count(*) FROM master_keys WHERE retired_at IS NULL").fetchone() == (1,)
    assert readable_keys(env) == {(p, "openai"): v for p, v in values.items()}


@pytest.mark.parametrize("step", ["after-new-key-saved", "before-commit", "after-commit"])
@pytest.mark.parametrize("cleaner", [("vault", "rotate"), ("doctor", "--fix")])
def test_master_keys_left_by_a_crashed_rotation_are_removed(keyring_env, step, cleaner):
    keyring_env.set_key("openai", OPENAI_GOOD)
    killed = subprocess.run([sys.executable, str(TESTS / "support" / "rotate_with_fault.py"),
                             step], env=keyring_env.vars, capture_output=True, timeout=60)
    assert killed.returncode == -9
    assert len(keyring_entries(keyring_env)) == 2  # the old and the new: one is not needed
    if cleaner[0] == "doctor":
        report = {c["check"]: c for c in json.loads(keyring_env.run("doctor", "--json").stdout)}
        assert report["master keys"]["status"] == "warn"
        assert report["master keys"]["fix"] == "byok doctor --fix"
    r = keyring_env.run(*cleaner)
    # doctor exits NEEDS_ATTENTION while anything else warns (the key was never validated)
    assert r.returncode in (0, Code.NEEDS_ATTENTION.exit_status), r.stderr + r.stdout
    assert len(keyring_entries(keyring_env)) == 1
    assert readable_keys(keyring_env) == {("default", "openai"): OPENAI_GOOD}


def test_key_remove_wipes_even_while_another_process_reads(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    db = byok_env.home / DB_NAME
    blob = sqlite3.connect(db).execute("SELECT ciphertext FROM api_keys").fetchone()[0]

    def ciphertext_on_disk():
        return [p.name for p in byok_env.home.iterdir() if blob[12:40] in p.read_bytes()]

    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM api_keys").fetchone() == (1,)  # a snapshot
    started = time.monotonic()
    r = byok_env.run("key", "remove", "openai", "--yes")
    assert r.returncode == 0 and time.monotonic() - started < 10
    assert "warning: another process is still reading the database" in r.stderr
    assert "byok wipes it the next time it runs" in r.stderr
    assert ciphertext_on_disk()  # the reader's snapshot still needs it
    reader.execute("COMMIT")
    reader.close()
    assert byok_env.run("key", "list").returncode == 0  # the next run finishes the wipe
    assert ciphertext_on_disk() == []
    assert not (byok_env.home / "byok.db-wipe").exists()


@pytest.mark.parametrize("command", ["rotate", "history rm", "history clear"])
def test_a_rotation_or_a_deleted_conversation_warns_as_a_key_removal_does(byok_env, command):
    """While another process reads, `vault rotate` leaves the old ciphertexts and `history
    rm`/`clear` the deleted text in the file until the next byok: each says so, as `key
    remove` does (tester6 #9)."""
    byok_env.set_key("openai", OPENAI_GOOD)
    assert byok_env.run("run", "remember MARKERZEBRA43").returncode == 0
    db = byok_env.home / DB_NAME
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM api_keys").fetchone()  # a snapshot
    try:
        new_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        r = byok_env.run(*({"rotate": ["vault", "rotate"],
                            "history rm": ["history", "rm", "1", "--yes"],
                            "history clear": ["history", "clear", "--yes"]}[command]),
                         env={"BYOK_NEW_MASTER_KEY": new_key})
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert r.returncode == 0, r.stderr
    assert "warning: another process is still reading the database, so the file still " \
           "holds" in r.stderr
    assert byok_env.run("key", "list").returncode == 0  # the next run finishes the wipe
    assert not any(b"MARKERZEBRA43" in p.read_bytes() for p in byok_env.home.iterdir()
                   if p.is_file()) or command == "rotate"


def test_key_remove_wipes_at_once_when_nobody_reads(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    db = byok_env.home / DB_NAME
    blob = sqlite3.connect(db).execute("SELECT ciphertext FROM api_keys").fetchone()[0]
    r = byok_env.run("key", "remove", "openai", "--yes")
    assert r.returncode == 0 and "warning" not in r.stderr
    assert not any(blob[12:40] in p.read_bytes() for p in byok_env.home.iterdir())
