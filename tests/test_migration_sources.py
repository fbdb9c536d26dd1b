"""Migration 11, on a database written by the CLI at schema 10: where a key came from is
'stored' or 'environment' in the usage log too, as in tables and JSON ('user' and 'system'
were the design's words)."""

import hashlib
import sqlite3

import pytest

from byok_cli.secrets.keychain import Keychain
from byok_cli.store import SCHEMA_VERSION, Store
from byok_cli.usage import by_key
from conftest import TESTS
from test_migration import copied_home, raw

SCHEMA10 = TESTS / "data" / "schema10.db"
MASTER = "c2NoZW1hLTEwLXRlc3QtbWFzdGVyLWtleS0zMmJ5dGU="
ROWS = [("default", "openai", "", "OK"), ("default", "anthropic", "", "OK"),
        ("OPENAI_API_KEY", "openai", "", "OK"), ("default", "openai", "key_rejected", "OK")]


@pytest.fixture
def old_home(tmp_path):
    return copied_home(tmp_path, SCHEMA10)


def usage_rows(home):
    return raw(home, "SELECT key_source, key_name, provider, fallbacks, code FROM usage "
                     "ORDER BY id")


def test_the_checked_in_file_is_schema_10_with_the_old_words():
    assert hashlib.sha256(SCHEMA10.read_bytes()).hexdigest() == (
        "83e50c7154db2d3064b8c912b1e08ada299c3b4fd444a52a69e00db572e8011c")
    conn = sqlite3.connect(f"file:{SCHEMA10}?mode=ro&immutable=1", uri=True)  # writes nothing
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10
    assert [r[0] for r in conn.execute("SELECT key_source FROM usage ORDER BY id")] == [
        "user", "user", "system", "user"]
    conn.close()


def test_sources_are_renamed_and_nothing_else_changes(old_home):
    store = Store(old_home)
    assert store.schema_version() == SCHEMA_VERSION > 10
    rows = usage_rows(old_home)
    assert [r[0] for r in rows] == ["stored", "stored", "environment", "stored"]
    assert [r[1:] for r in rows] == ROWS
    keys = {(r["provider"], r["key"]): r["requests"] for r in by_key(store, "default")}
    assert keys == {("openai", "default"): 2, ("anthropic", "default"): 1,
                    ("openai", "OPENAI_API_KEY"): 1}


def test_keys_still_decrypt_after_the_migration(old_home):
    store = Store(old_home)
    chain = Keychain(store, "default", env={"BYOK_MASTER_KEY": MASTER})
    assert chain.get("openai", "default") == "sk-proj-good-schema10-default-K7m3P9q2"
    assert chain.get("openai", "old") == "sk-proj-revoked-schema10-old-N1b2V3c4"
    assert chain.get("anthropic", "default") == "sk-ant-api03-good-schema10-default-W4e5R6t7"


def test_migrating_twice_changes_nothing(old_home):
    Store(old_home)
    first = usage_rows(old_home)
    Store(old_home)
    assert usage_rows(old_home) == first
