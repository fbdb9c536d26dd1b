"""The WAL between commands. A command that wrote leaves its WAL for SQLite's automatic
checkpoint instead of copying it into byok.db on exit (store.db: Python 3.12+'s setconfig,
or store.sqlite311 through ctypes on CPython 3.11); removing or replacing a key or a
conversation still empties it. Where neither can (another 3.11), the last close copies it
in and removes it, as before. Everything through the installed `byok`, but for the ctypes
call itself."""

import json
import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from byok_cli.store import DB_NAME, sqlite311
from byok_cli.store.db import NO_CHECKPOINT_ON_CLOSE, WAL_LIMIT, WAL_PAGES
from conftest import BYOK, assert_no_leak, openai_key

LEFT_FOR_SQLITE = NO_CHECKPOINT_ON_CLOSE is not None or sqlite311.available()


def wal(home):
    path = home / (DB_NAME + "-wal")
    return path.stat().st_size if path.exists() else 0


def wal_restarts(home) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time it starts the
    log over from its first frame after a checkpoint."""
    with open(home / (DB_NAME + "-wal"), "rb") as f:
        return int.from_bytes(f.read(16)[12:16], "big")


def ciphertexts(home) -> list[bytes]:
    conn = sqlite3.connect(f"file:{home / DB_NAME}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT ciphertext FROM api_keys")]
    finally:
        conn.close()


def test_a_run_leaves_its_rows_in_the_wal_only_where_python_can_skip_the_copy(byok_env):
    key = openai_key("good-wal")
    assert byok_env.run("key", "set", "openai", "--no-validate", input=key).returncode == 0
    r = byok_env.run("run", "-p", "openai", "hi")
    assert r.returncode == 0, r.stderr
    left = wal(byok_env.home)
    if LEFT_FOR_SQLITE:
        assert left > 0
        for name in (DB_NAME + "-wal", DB_NAME + "-shm"):
            assert stat.S_IMODE(os.lstat(byok_env.home / name).st_mode) == 0o600
    else:
        assert left == 0 and not (byok_env.home / (DB_NAME + "-wal")).exists()
    # The next command reads the WAL back in: the run's rows are there.
    usage = byok_env.run("usage", "--json")
    assert usage.returncode == 0 and '"requests": 1' in usage.stdout, usage.stdout
    r = byok_env.run("history", "list")
    assert r.returncode == 0 and "hi" in r.stdout
    assert_no_leak(key, r.stdout, home=byok_env.home)


def test_removing_a_key_empties_the_wal_and_leaves_its_ciphertext_nowhere(byok_env):
    assert byok_env.run("key", "set", "openai", "--no-validate",
                        input=openai_key("good-gone")).returncode == 0
    assert byok_env.run("key", "set", "anthropic", "--no-validate",
                        input="sk-ant-api03-good-kept-000000000001").returncode == 0
    gone = ciphertexts(byok_env.home)[0]
    for _ in range(3):  # rows that leave the WAL non-empty (3.12+) on top of the key's pages
        assert byok_env.run("run", "-p", "openai", "hi").returncode == 0
        assert byok_env.run("key", "validate", "openai").returncode == 0  # its row rewritten
    assert byok_env.run("key", "remove", "openai", "--yes").returncode == 0
    assert wal(byok_env.home) == 0
    for path in byok_env.home.iterdir():
        assert gone not in path.read_bytes(), path.name
    assert len(ciphertexts(byok_env.home)) == 1


def test_the_wal_stays_bounded_however_many_runs(byok_env):
    assert byok_env.run("key", "set", "openai", "--no-validate",
                        input=openai_key("good-many")).returncode == 0
    sizes = []
    for i in range(40):
        assert byok_env.run("run", "-p", "openai", f"question {i}").returncode == 0
        sizes.append(wal(byok_env.home))
    if LEFT_FOR_SQLITE:
        # SQLite copies it in once it reaches WAL_PAGES and starts it over: the file keeps
        # the size of its longest cycle (which varies by a page or two with what a run
        # writes), never more than one run's pages beyond WAL_PAGES, however many runs.
        assert max(sizes) <= min(WAL_LIMIT, (WAL_PAGES + 64) * 4120)
        assert sizes == sorted(sizes) and sizes[-1] > WAL_PAGES * 4096
        assert wal_restarts(byok_env.home) >= 2
    else:
        assert sizes == [0] * 40
    assert "question 39" in byok_env.run("history", "list").stdout


def test_doctor_says_what_the_wal_holds(byok_env):
    assert byok_env.run("key", "set", "openai", "--no-validate",
                        input=openai_key("good-doc")).returncode == 0
    assert byok_env.run("run", "-p", "openai", "hi").returncode == 0
    r = byok_env.run("doctor", "--json")
    rows = {row["check"]: row for row in json.loads(r.stdout)}
    assert rows["database"]["status"] == "ok" and rows["permissions"]["status"] == "ok"
    if LEFT_FOR_SQLITE:
        line = rows["write-ahead log"]
        assert line["status"] == "ok" and "KiB of recent writes beside byok.db" in line["detail"]
        # doctor leaves the WAL as it found it (on Python 3.11 too, where only a connection
        # that writes or reports the WAL turns the close's copy off): the same the next time.
        again = {row["check"]: row for row in json.loads(byok_env.run("doctor", "--json").stdout)}
        assert again["write-ahead log"] == line
    else:
        assert "write-ahead log" not in rows


def written(path, skip_checkpoint: bool = False) -> tuple[sqlite3.Connection, bool]:
    """A connection that wrote to ``path`` (after asking to skip its close's checkpoint)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
    skipped = skip_checkpoint and sqlite311.skip_checkpoint_on_close(conn, path)
    conn.execute("INSERT INTO t VALUES (1)")
    return conn, skipped


@pytest.mark.skipif(not sqlite311.possible(), reason="CPython 3.11 on Linux x86_64/aarch64 only")
def test_python_311_skips_the_close_checkpoint_through_ctypes_only_on_its_own_file(tmp_path):
    path = str(tmp_path / "a.db")
    conn, skipped = written(path, skip_checkpoint=True)
    assert skipped
    conn.close()
    assert os.path.getsize(path + "-wal") > 0  # left for the next to open, not copied in
    again = sqlite3.connect(path)
    assert again.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    again.close()  # no option set: this close copies it in and removes it
    assert not os.path.exists(path + "-wal")
    # A path that is not the connection's own: the pointer is doubted, nothing is set.
    conn, _ = written(path)
    assert not sqlite311.skip_checkpoint_on_close(conn, str(tmp_path / "other.db"))
    conn.close()
    assert not os.path.exists(path + "-wal")
    closed = sqlite3.connect(path)
    closed.close()
    assert not sqlite311.skip_checkpoint_on_close(closed, path)


def test_the_ctypes_call_is_refused_where_the_layout_is_not_known_and_costs_readers_nothing(
        byok_env):
    if not sqlite311.possible():
        conn = sqlite3.connect(":memory:")
        assert not sqlite311.skip_checkpoint_on_close(conn, ":memory:")
        assert not sqlite311.available()
    assert byok_env.run("key", "set", "openai", "--no-validate",
                        input=openai_key("good-reader")).returncode == 0
    for args in (["key", "list"], ["usage"], ["run", "-p", "openai", "hi"]):
        r = subprocess.run([str(BYOK), *args], capture_output=True, text=True,
                           env={**byok_env.vars, "PYTHONPROFILEIMPORTTIME": "1"})
        assert r.returncode == 0, r.stderr
        imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()
                    if line.startswith("import time:")}
        # A reading command never needs them; run imports ctypes anyway (secrets.hardening).
        assert ("ctypes" in imported) == (args[0] == "run"), args
        assert ("byok_cli.store.sqlite311" in imported) == (
            args[0] == "run" and NO_CHECKPOINT_ON_CLOSE is None), args
