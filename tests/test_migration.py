"""The named-providers migration, on a database written by byok 0.1.0 (schema 2).

tests/data/schema2.db was made by that release's own CLI (see tests/data/README.md): two
profiles' keys, settings, conversations and usage. Every key must still decrypt, and the
settings, history and usage must be what they were.
"""

import hashlib
import json
import shutil
import sqlite3

import pytest

from byok_cli.errors import ByokError, Code
from byok_cli.secrets.keychain import Keychain
from byok_cli.store import DB_NAME, SCHEMA_VERSION, Store
from byok_cli.store.conversations import Message
from byok_cli.usage import by_key, summary
from conftest import TESTS

SCHEMA2 = TESTS / "data" / "schema2.db"
MASTER = "bXlncmF0aW9uLXRlc3QtbWFzdGVyLWtleS0zMmJ5dGU="
KEYS = {("default", "openai"): "sk-proj-good-migrated-default-A1b2C3d4",
        ("default", "anthropic"): "sk-ant-api03-good-migrated-default-Q9w8E7r6",
        ("work", "openai"): "sk-proj-good-migrated-work-Z1x2C3v4B5n6"}


def copied_home(tmp_path, database):
    """A data dir holding a copy of ``database`` (a checked-in file is never opened itself)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    shutil.copy(database, home / DB_NAME)
    (home / DB_NAME).chmod(0o600)
    return home


@pytest.fixture
def old_home(tmp_path):
    return copied_home(tmp_path, SCHEMA2)


def raw(home, sql):
    conn = sqlite3.connect(home / DB_NAME)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_the_checked_in_file_is_schema_2():
    # Unchanged since 0.1.0 wrote it (opening it read-write would migrate it).
    assert hashlib.sha256(SCHEMA2.read_bytes()).hexdigest() == (
        "852402bc19327762908415402161633bfdeebe0aa1912f89085c7970ea802b1b")
    conn = sqlite3.connect(f"file:{SCHEMA2}?mode=ro&immutable=1", uri=True)  # writes nothing
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert conn.execute("SELECT COUNT(*) FROM api_keys").fetchone()[0] == 3
    conn.close()


def test_every_key_still_decrypts(old_home):
    store = Store(old_home)
    assert store.schema_version() == SCHEMA_VERSION
    rows = store.all_keys()
    assert {(r.profile, r.provider) for r in rows} == set(KEYS)
    assert {r.name for r in rows} == {"default"}
    for (profile, provider), plain in KEYS.items():
        keychain = Keychain(store, profile, env={"BYOK_MASTER_KEY": MASTER})
        assert keychain.get(provider) == plain
        assert keychain.get(provider, "default") == plain


def test_settings_are_kept(old_home):
    store = Store(old_home)
    default, work = store.settings("default"), store.settings("work")
    assert (default["preferred_provider"], default["logging"], default["fallback"]) == (
        "openai", "on", None)
    assert default["models"] == {"anthropic": "claude-haiku-5-5"}
    assert default["base_urls"] == {"openai": "http://127.0.0.1:9/v1"}
    assert (work["preferred_provider"], work["logging"]) == ("openai", "off")
    assert work["models"] == {"openai": "gpt-6-luna"} and work["base_urls"] == {}
    assert store.profiles() == ["default", "work"]


def test_history_and_usage_are_kept(old_home):
    before_messages = raw(old_home, "SELECT conversation_id, role, content, provider, model "
                                    "FROM messages ORDER BY id")
    before_usage = raw(old_home, "SELECT * FROM usage ORDER BY id")
    store = Store(old_home)
    assert [c["id"] for c in store.conversations("default")] == [3, 2, 1]
    assert store.conversations("work") == []
    second = store.conversation("default", 2)
    assert [(m.role, m.content) for m in second.messages] == [
        ("user", "first question"), ("assistant", "Echo[gpt-6.2-sol]: first question"),
        ("user", "second question"), ("assistant", "Echo[gpt-6.2-sol]: second question")]
    assert raw(old_home, "SELECT conversation_id, role, content, provider, model FROM messages "
                         "ORDER BY id") == before_messages
    after_usage = raw(old_home, "SELECT * FROM usage ORDER BY id")
    width = len(before_usage[0])  # later columns: cached tokens, cost, key_name, stop_reason,
                                  # cache writes, reasoning tokens, token_name (all unknown)
    source = 5  # key_source: 'user'/'system' then, 'stored'/'environment' since migration 11
    renamed = {"user": "stored", "system": "environment"}
    assert [row[:width] for row in after_usage] == [
        row[:source] + (renamed.get(row[source], row[source]),) + row[source + 1:]
        for row in before_usage]
    assert {row[width:] for row in after_usage} == {(None,) * 7}
    totals = {(r["provider"], r["model"]): r["requests"] for r in summary(store, "default")}
    assert totals == {("anthropic", "claude-haiku-5-5"): 2, ("openai", "gpt-6.2-sol"): 2}
    (work,) = by_key(store, "work")
    assert work == {**work, "provider": "openai", "key": "stored", "requests": 1, "errors": 0,
                    "fallbacks": 0, "input_tokens": 11, "output_tokens": 5,
                    "cost_usd": None, "cost_unknown_requests": 1}  # priced before prices


def test_check_constraints_naming_two_providers_are_gone(old_home):
    Store(old_home)
    schema = " ".join(r[0] for r in raw(old_home, "SELECT sql FROM sqlite_master "
                                                  "WHERE sql IS NOT NULL"))
    assert "'openai'" not in schema and "'anthropic'" not in schema
    assert raw(old_home, "PRAGMA foreign_key_check") == []
    assert raw(old_home, "PRAGMA integrity_check") == [("ok",)]


def test_a_failed_migration_leaves_the_old_database_as_it_was(old_home):
    # A table in the way makes the migration fail halfway: nothing of it may stay.
    conn = sqlite3.connect(old_home / DB_NAME)
    conn.execute("CREATE TABLE provider_settings (x)")
    conn.commit()
    conn.close()
    before = raw(old_home, "SELECT id, profile, provider, ciphertext FROM api_keys")
    with pytest.raises(ByokError) as err:
        Store(old_home)
    assert err.value.code == Code.STORE_ERROR
    assert raw(old_home, "PRAGMA user_version") == [(2,)]
    assert raw(old_home, "SELECT id, profile, provider, ciphertext FROM api_keys") == before
    assert raw(old_home, "SELECT name, openai_model FROM profiles ORDER BY name") == [
        ("default", None), ("work", "gpt-6-luna")]


def test_the_cli_uses_the_migrated_keys(old_home, byok_env, fake):
    shutil.rmtree(byok_env.home, ignore_errors=True)
    shutil.copytree(old_home, byok_env.home)
    env = {"BYOK_MASTER_KEY": MASTER}
    listed = json.loads(byok_env.run("key", "list", "--json", env=env).stdout)
    assert [(r["provider"], r["stored_name"], r["stored_key"]) for r in listed] == [
        ("openai", "default", "…C3d4"), ("anthropic", "default", "…E7r6")]
    r = byok_env.run("--profile", "work", "run", "after the upgrade", env=env)
    assert r.returncode == 0, r.stderr
    assert fake.requests[-1]["key"] == KEYS[("work", "openai")]
    assert fake.requests[-1]["model"] == "gpt-6-luna"  # the work profile's openai.model
    new_key = byok_env.run("key", "set", "openai", "--name", "second", "--no-validate",
                           input="sk-proj-good-second-K1l2m3n4o5p6", env=env)
    assert new_key.returncode == 0, new_key.stderr
    assert Keychain(Store(byok_env.home), "default",
                    env=env).get("openai") == KEYS[("default", "openai")]


def test_conversation_ids_are_never_reused_after_the_migration(old_home):
    store = Store(old_home)
    schema = raw(old_home, "SELECT sql FROM sqlite_master WHERE name = 'conversations'")[0][0]
    assert "AUTOINCREMENT" in schema
    fks = raw(old_home, "PRAGMA foreign_key_list(messages)")
    assert [(fk[2], fk[3], fk[4], fk[6]) for fk in fks] == [
        ("conversations", "conversation_id", "id", "CASCADE")]
    assert raw(old_home, "PRAGMA foreign_key_check") == []
    assert store.delete_conversations("default", 3) == 1
    assert raw(old_home, "SELECT COUNT(*) FROM messages WHERE conversation_id = 3") == [(0,)]
    new = store.append_exchange("default", None, None, [Message("user", "after")])
    assert new == 4
