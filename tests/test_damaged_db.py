"""A fuzz over damaged databases: random page corruption, truncation and wrong column types.

Whatever the damage, a read-only command ends with no traceback, a known exit code and
never 1 (internal error), and every key that could be read before can still be read after
(reading must not destroy). Many damaged databases go through Typer's runner in this
process; a share of them through the installed `byok` as well.
"""

import base64
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from byok_cli.secrets import vault
from byok_cli.cli.root import app
from byok_cli.errors import Code
from byok_cli.store import DB_NAME
from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, openai_key

KNOWN_EXITS = {c.exit_status for c in Code} | {0}
READ_ONLY_COMMANDS = [
    ["key", "list", "--json"], ["key", "list"], ["vault", "status", "--json"],
    ["doctor", "--json"], ["run", "--explain", "-p", "openai"], ["history", "list"],
    ["history", "show", "1"], ["usage", "--json"], ["usage", "--handoffs"], ["config", "show"],
    ["models", "list"], ["budget", "list"], ["provider", "list"],
]
# exec replaces the process that runs it: only through the installed command
SUBPROCESS_COMMANDS = READ_ONLY_COMMANDS + [["exec", "--", "true"], ["key", "validate"]]
# Every column of the tables a command reads, for the wrong-type damage.
COLUMNS = {
    "api_keys": ["profile", "provider", "name", "position", "ciphertext", "hint",
                 "master_key_id", "status", "checked_at", "created_at", "updated_at"],
    "profiles": ["name", "preferred_provider", "logging", "show_cost", "allow_unpriced",
                 "fallback", "created_at"],
    "provider_settings": ["provider", "model", "base_url"],
    "providers": ["name", "api", "base_url", "key_env", "needs_key"],
    "master_keys": ["id", "created_at", "retired_at", "state"],
    "conversations": ["profile", "system", "created_at", "updated_at"],
    "messages": ["role", "content", "provider", "model", "created_at"],
    "usage": ["at", "profile", "provider", "model", "fallbacks", "input_tokens", "latency_ms",
              "code", "cost_micros", "cached_input_tokens", "key_name"],
    "usage_daily": ["day", "requests", "input_tokens", "model", "cost_micros", "cost_unknown"],
    "budgets": ["scope", "name", "period", "limit_micros", "created_at"],
    "model_cache": ["fetched_at", "payload"],
    "handoffs": ["at", "profile", "provider", "key_name", "source", "parent", "caller"],
}
# The commands that read each table: a column of the wrong type is read by them too.
READERS = {
    "api_keys": [["key", "list", "--json"], ["run", "--explain", "-p", "openai"], ["doctor"]],
    "profiles": [["config", "show"], ["run", "--explain", "-p", "openai"], ["models", "list"]],
    "provider_settings": [["config", "show"], ["run", "--explain", "-p", "anthropic"],
                          ["models", "list"]],
    "providers": [["provider", "list"], ["key", "list"], ["run", "--explain", "-p", "gw"]],
    "master_keys": [["vault", "status", "--json"], ["doctor", "--json"]],
    "conversations": [["history", "list"], ["history", "show", "1"]],
    "messages": [["history", "show", "1", "--json"], ["history", "list"]],
    "usage": [["usage", "--json"], ["usage"]],
    "usage_daily": [["usage", "--since", "all"]],
    "model_cache": [["models", "list"]],
    "budgets": [["budget", "list", "--json"], ["budget", "list"],
                ["run", "--explain", "-p", "openai"]],
    "handoffs": [["usage", "--handoffs", "--since", "all"],
                 ["usage", "--handoffs", "--json", "--since", "all"]],
}
WRONG_VALUES = st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True),
                         st.text(max_size=40), st.binary(max_size=40), st.none())
FIGURES = {"damaged": 0, "commands": 0, "exit_1": 0, "exits": {}}


class Pristine:
    def __init__(self, data: bytes, master: str, env: dict):
        self.data, self.master, self.env = data, master, env

    def __repr__(self) -> str:  # hypothesis prints its arguments: not 300 kB of them
        return f"Pristine({len(self.data)} bytes)"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, fake_server):
    """A database with keys in two profiles, settings, conversations and usage."""
    home = tmp_path_factory.mktemp("pristine") / "home"
    master = base64.urlsafe_b64encode(os.urandom(32)).decode()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "ANTHROPIC_", "BYOK_", "PYTHON_KEYRING"))}
    env.update(BYOK_HOME=str(home), BYOK_MASTER_KEY=master,
               OPENAI_BASE_URL=fake_server.url + "/v1", ANTHROPIC_BASE_URL=fake_server.url)
    steps = [(["key", "set", "openai", "--no-validate"], OPENAI_GOOD),
             (["key", "set", "anthropic", "--no-validate"], ANTHROPIC_GOOD),
             (["--profile", "work", "key", "set", "openai", "--no-validate"],
              openai_key("good-work")),
             (["key", "set", "openai", "--name", "spare", "--no-validate"], openai_key("good-spare")),
             (["provider", "add", "gw", "--api", "openai", "--base-url", fake_server.url + "/v1",
               "--key-env", "GW_KEY"], None),
             (["config", "set", "anthropic.model", "claude-haiku-5-5"], None),
             (["run", "first question"], None), (["run", "-c", "and a second"], None),
             (["run", "-p", "anthropic", "lines:40"], None), (["key", "get", "openai"], None),
             (["budget", "set", "--per", "month", "20"], None),
             (["budget", "set", "--provider", "anthropic", "--per", "day", "2.50"], None)]
    for args, data in steps:
        r = subprocess.run([str(BYOK), *args], input=data.encode() if data else None,
                           capture_output=True, env=env, timeout=60,
                           stdin=None if data else subprocess.DEVNULL)
        assert r.returncode == 0, (args, r.stderr)
    conn = sqlite3.connect(home / DB_NAME)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return Pristine((home / DB_NAME).read_bytes(), master, env)


def readable_keys(db: Path, master: str) -> dict:
    """{(profile, provider, name): key} for every stored key that can still be decrypted."""
    key = vault.master_from_env(master)
    found = {}
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        conn.text_factory = lambda data: data.decode("utf-8", "replace")
        rows = conn.execute("SELECT profile, provider, name, ciphertext, hint FROM api_keys"
                            ).fetchall()
        conn.close()
    except (sqlite3.Error, UnicodeDecodeError):  # a damaged schema's text in the message
        return found
    for profile, provider, name, blob, hint in rows:
        try:
            found[(profile, provider, name)] = vault.decrypt(
                key, blob, vault.aad(profile, provider, hint, name), what="k")
        except Exception:
            pass
    return found


def corrupt_pages(data: bytes, spots: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for page, offset, garbage in spots:
        start = (page % (len(out) // 4096)) * 4096 + offset % 4096
        out[start:start + len(garbage)] = garbage
    return bytes(out[:len(data)])


def wrong_type(db: Path, table: str, column: str, value) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    try:
        conn.execute(f"UPDATE {table} SET {column} = ?", (value,))
        conn.commit()
    except sqlite3.IntegrityError:
        conn.rollback()  # NOT NULL or UNIQUE: this damage cannot be made this way
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


DAMAGE = st.one_of(
    st.tuples(st.just("pages"), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 4095),
                                                   st.binary(min_size=1, max_size=64)),
                                         min_size=1, max_size=4)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("type"), st.sampled_from([(t, c) for t, cs in COLUMNS.items() for c in cs]),
              WRONG_VALUES),
)


def damaged_home(pristine_bytes: bytes, damage) -> Path:
    home = Path(tempfile.mkdtemp(prefix="byok-damaged-")) / "home"
    home.mkdir(mode=0o700)
    db = home / DB_NAME
    kind = damage[0]
    if kind == "pages":
        db.write_bytes(corrupt_pages(pristine_bytes, damage[1]))
    elif kind == "truncate":
        db.write_bytes(pristine_bytes[:int(len(pristine_bytes) * damage[1])])
    else:
        db.write_bytes(pristine_bytes)
        (table, column), value = damage[1], damage[2]
        wrong_type(db, table, column, value)
    os.chmod(db, 0o600)
    FIGURES["damaged"] += 1
    return home


def check(returncode: int, stderr: str, args) -> None:
    FIGURES["commands"] += 1
    FIGURES["exit_1"] += returncode == 1
    FIGURES["exits"][returncode] = FIGURES["exits"].get(returncode, 0) + 1
    assert "Traceback" not in stderr, (args, stderr)
    assert returncode in KNOWN_EXITS and returncode != 1, (args, returncode, stderr)


@settings(max_examples=int(os.environ.get("BYOK_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(damage=DAMAGE, commands=st.lists(st.sampled_from(READ_ONLY_COMMANDS), min_size=1,
                                        max_size=3))
def test_damaged_databases_in_process(pristine, damage, commands):
    data, master, env = pristine.data, pristine.master, pristine.env
    home = damaged_home(data, damage)
    if damage[0] == "type":
        commands = commands + READERS[damage[1][0]]
    try:
        before = readable_keys(home / DB_NAME, master)
        runner = CliRunner()
        for args in commands:
            r = runner.invoke(app, args, env={"BYOK_HOME": str(home), "BYOK_MASTER_KEY": master,
                                              "OPENAI_BASE_URL": env["OPENAI_BASE_URL"],
                                              "ANTHROPIC_BASE_URL": env["ANTHROPIC_BASE_URL"]})
            crash = r.exception if not isinstance(r.exception, SystemExit) else None
            assert crash is None, (damage, args, repr(crash))
            check(r.exit_code, r.stderr, args)
        after = readable_keys(home / DB_NAME, master)
        assert {k: v for k, v in after.items() if k in before} == before, damage
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)


@settings(max_examples=int(os.environ.get("BYOK_FUZZ_SUBPROCESS_EXAMPLES", "20")),
          deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow])
@given(damage=DAMAGE, args=st.sampled_from(SUBPROCESS_COMMANDS))
def test_damaged_databases_through_the_installed_command(pristine, damage, args):
    data, master, env = pristine.data, pristine.master, pristine.env
    home = damaged_home(data, damage)
    try:
        before = readable_keys(home / DB_NAME, master)
        r = subprocess.run([str(BYOK), *args], capture_output=True, timeout=60,
                           env={**env, "BYOK_HOME": str(home)}, stdin=subprocess.DEVNULL)
        check(r.returncode, r.stderr.decode("utf-8", "replace"), args)
        after = readable_keys(home / DB_NAME, master)
        assert {k: v for k, v in after.items() if k in before} == before, damage
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)


def test_damaged_database_figures():
    """Runs last in this module: the figures for the closing note (see -s)."""
    print(f"\ndamaged databases tried: {FIGURES['damaged']}, commands run: "
          f"{FIGURES['commands']}, exit 1: {FIGURES['exit_1']}; exits "
          f"{dict(sorted(FIGURES['exits'].items()))}")
    assert FIGURES["exit_1"] == 0
