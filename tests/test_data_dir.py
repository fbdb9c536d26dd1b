"""The data directory belongs to the person; damaged, read-only and full databases are
one-line errors with exit 14, and lose nothing. Everything through the installed `byok`."""

import json
import os
import sqlite3
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from byok_cli.errors import Code
from byok_cli.store import DB_NAME
from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, fill_disk, openai_key
from support.users import (can_drop_root_powers, give_to_another_user, is_root,
                           without_root_powers)

STORE_ERROR = Code.STORE_ERROR.exit_status


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def one_line_error(r, *words):
    """One error line (warnings may come before it), no traceback, these words."""
    errors = [line for line in r.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(errors) == 1 and errors[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    for word in words:
        assert word in r.stderr, r.stderr


# --- whose directory, whose files ------------------------------------------------------

def test_a_data_dir_of_another_user_is_refused(byok_env, tmp_path):
    if is_root():
        home = tmp_path / "theirs"
        home.mkdir(mode=0o700)
        give_to_another_user(home)
    else:
        home = Path("/")  # root's, never an ordinary user's
    r = byok_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                     env={"BYOK_HOME": str(home)})
    assert r.returncode == STORE_ERROR
    one_line_error(r, "belongs to", "not to you", "BYOK_HOME")
    assert not (home / DB_NAME).exists()


def test_a_database_of_another_user_is_refused(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    give_to_another_user(byok_env.home / DB_NAME)
    r = byok_env.run("key", "list")
    assert r.returncode == STORE_ERROR
    one_line_error(r, "database file", "belongs to")
    assert r.stdout == ""


@pytest.mark.parametrize("dir_mode", [0o770, 0o707, 0o777, 0o1777])
def test_a_data_dir_others_can_write_is_refused(byok_env, dir_mode):
    byok_env.set_key("openai", OPENAI_GOOD)
    os.chmod(byok_env.home, dir_mode)
    r = byok_env.run("key", "list")
    assert r.returncode == STORE_ERROR
    one_line_error(r, "can be written by other users", f"chmod 700 {byok_env.home}")


def test_a_database_others_can_write_is_refused(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    os.chmod(byok_env.home / DB_NAME, 0o666)
    r = byok_env.run("run", "hi")
    assert r.returncode == STORE_ERROR
    one_line_error(r, "can be written by other users", "chmod 600")


def test_a_database_others_can_read_is_made_private_and_said_once(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    holder = sqlite3.connect(byok_env.home / DB_NAME)  # while it is open, -wal and -shm exist
    holder.execute("SELECT count(*) FROM api_keys").fetchall()
    files = [byok_env.home / n for n in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm")]
    for path in files:
        os.chmod(path, 0o644)
    first = byok_env.run("key", "list")
    assert first.returncode == 0
    assert first.stderr.count("warning:") == 1 and "made byok.db (0644)" in first.stderr
    assert "byok.db-wal (0644)" in first.stderr and "private (0600)" in first.stderr
    assert [mode(p) for p in files] == [0o600] * 3
    again = byok_env.run("key", "list")
    assert again.returncode == 0 and again.stderr == ""
    holder.close()


@pytest.mark.parametrize("name", [DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"])
def test_a_symlink_in_the_place_of_a_database_file_is_never_followed(byok_env, tmp_path, name):
    byok_env.set_key("openai", OPENAI_GOOD)
    victim = tmp_path / "victim"
    victim.write_bytes(b"someone else's file\n")
    path = byok_env.home / name
    if path.exists():
        path.unlink()
    path.symlink_to(victim)
    dangling = byok_env.home / "dangling"
    for args in (["key", "list"], ["key", "set", "anthropic", "--no-validate"]):
        r = byok_env.run(*args, input=ANTHROPIC_GOOD)
        assert r.returncode == STORE_ERROR
        one_line_error(r, "symbolic link", name)
    assert victim.read_bytes() == b"someone else's file\n"
    # a dangling link must not make byok create its target either
    path.unlink()
    path.symlink_to(dangling)
    assert byok_env.run("key", "list").returncode == STORE_ERROR
    assert not dangling.exists()


def test_a_symlinked_data_dir_is_checked_where_it_points(byok_env, tmp_path):
    real = tmp_path / "real-home"
    link = tmp_path / "link-home"
    real.mkdir(mode=0o700)
    link.symlink_to(real)
    env = {"BYOK_HOME": str(link)}
    assert byok_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                        env=env).returncode == 0
    assert (real / DB_NAME).is_file()
    os.chmod(real, 0o777)  # the link's own mode says nothing; the target's does
    r = byok_env.run("key", "list", env=env)
    assert r.returncode == STORE_ERROR
    one_line_error(r, str(real), "can be written by other users")


# --- damaged, read-only and full databases ------------------------------------------------

def corrupt_table_page(db, table):
    """Overwrite the first page of a table's b-tree with garbage (a 'malformed' page)."""
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                        (table,)).fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([0x0D]) + os.urandom(page_size - 1))


def test_a_corrupt_data_page_is_exit_14_and_doctor_says_so(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    assert byok_env.run("run", "hello").returncode == 0
    db = byok_env.home / DB_NAME
    corrupt_table_page(db, "api_keys")
    before = db.read_bytes()
    for args in (["key", "list"], ["run", "hi"], ["exec", "--", "true"]):
        r = byok_env.run(*args)
        assert r.returncode == STORE_ERROR, (args, r.stderr)
        one_line_error(r, "corrupt")
    doctor = byok_env.run("doctor", "--json")
    assert doctor.returncode == STORE_ERROR and "Traceback" not in doctor.stderr
    checks = {c["check"]: c for c in json.loads(doctor.stdout)}
    assert checks["database"]["status"] == "fail" and "corrupt" in checks["database"]["detail"]
    assert db.read_bytes() == before  # left untouched


@pytest.mark.parametrize("value", [12345, 1.5, "text that is not an envelope at all, x" * 2])
def test_a_ciphertext_that_is_not_a_blob_is_exit_13(byok_env, value):
    byok_env.set_key("openai", OPENAI_GOOD)
    conn = sqlite3.connect(byok_env.home / DB_NAME)
    conn.execute("UPDATE api_keys SET ciphertext = ?", (value,))
    conn.commit()
    conn.close()
    for args in (["exec", "--", "true"], ["key", "validate", "openai"]):
        r = byok_env.run(*args)
        assert r.returncode == Code.DECRYPT_FAILED.exit_status, (args, r.stderr)
        assert "Traceback" not in r.stderr and "not a byok envelope" in r.stderr


@pytest.fixture
def read_only_db(byok_env):
    """A database its owner may only read, used by a process that cannot override that."""
    if not can_drop_root_powers():
        pytest.skip("cannot drop root's powers here")
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.run("config", "set", "openai.model", "gpt-6-luna")
    for path in byok_env.home.iterdir():
        os.chmod(path, 0o400)
    before = (byok_env.home / DB_NAME).read_bytes()
    yield byok_env
    assert (byok_env.home / DB_NAME).read_bytes() == before


def run_unprivileged(env, *args, input=None):
    proc = subprocess.run([str(BYOK), *args], input=input, capture_output=True, env=env.vars,
                          timeout=60, preexec_fn=without_root_powers,
                          stdin=None if input is not None else subprocess.DEVNULL)
    return type("Result", (), {"returncode": proc.returncode, "stdout": proc.stdout.decode(),
                               "stderr": proc.stderr.decode()})()


def test_a_read_only_database_refuses_writes_with_exit_14(read_only_db):
    assert run_unprivileged(read_only_db, "key", "list").returncode == 0  # reading is fine
    for args in (["key", "set", "anthropic", "--no-validate"],
                 ["config", "set", "openai.model", "gpt-6-sol"], ["key", "remove", "openai", "-y"]):
        r = run_unprivileged(read_only_db, *args, input=ANTHROPIC_GOOD.encode())
        assert r.returncode == STORE_ERROR, (args, r.stderr)
        one_line_error(r, "not writable")


def test_a_run_on_a_read_only_database_keeps_its_answer(read_only_db, fake):
    unlogged = run_unprivileged(read_only_db, "run", "--no-log", "hi there")
    assert unlogged.returncode == 0, unlogged.stderr
    assert "hi there" in unlogged.stdout
    assert "warning: this request is missing from the usage log" in unlogged.stderr
    assert "Traceback" not in unlogged.stderr
    logged = run_unprivileged(read_only_db, "run", "hi again")  # the history cannot be kept
    assert "hi again" in logged.stdout
    assert logged.returncode == STORE_ERROR
    assert "error: the answer was not saved in the history" in logged.stderr


def test_a_disk_filling_up_mid_answer_is_exit_14_and_chat_goes_on(byok_env, fake, tiny_disk):
    env = {"BYOK_HOME": str(tiny_disk / "byok")}
    slow = openai_key("slow")  # the fake provider waits before answering
    fake.slow_seconds = 1.5
    assert byok_env.run("key", "set", "openai", "--no-validate", input=slow,
                        env=env).returncode == 0
    filler = threading.Timer(0.8, fill_disk, (tiny_disk,))  # while the request is in flight
    filler.start()
    started = time.monotonic()
    r = byok_env.run("run", "what now", env=env)
    filler.join()
    assert time.monotonic() - started > 1.4
    assert "what now" in r.stdout  # the answer was shown
    assert r.returncode == STORE_ERROR
    one_line_error(r, "the answer was not saved in the history", "disk is full")
    chat = byok_env.run("chat", input="first turn\nsecond turn\n", env=env)
    assert "first turn" in chat.stdout and "second turn" in chat.stdout
    assert chat.stderr.count("not saved in the history") == 2 and "Traceback" not in chat.stderr
    (tiny_disk / "filler").unlink()
    assert byok_env.run("exec", "--", "true", env=env).returncode == 0  # the key is intact
