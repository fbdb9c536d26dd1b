"""SQLite store: schema, migrations, modes, refusal to touch newer or corrupt files."""

import hashlib
import sqlite3
import subprocess
import sys

import pytest

from byok_cli.errors import ByokError, Code
from byok_cli.store import DB_NAME, MIGRATIONS, SCHEMA_VERSION, Store, file_mode

# Several tests make their database with sqlite3 (mode 0644): that byok makes it private,
# and says so, is tested through the CLI in test_data_dir.py.
pytestmark = pytest.mark.filterwarnings("ignore:made byok.db")


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_creates_private_dir_and_file(tmp_path):
    home = tmp_path / "a" / "b"
    store = Store(home)
    store.set_provider_setting("default", "openai", "model", "gpt-6-luna")  # a WAL write
    assert file_mode(home) == 0o700
    for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"):
        path = home / name
        assert path.exists(), name
        assert file_mode(path) == 0o600, name
    store.close()


def test_modes_hold_under_a_permissive_umask(tmp_path):
    # The umask is the caller's; byok must not depend on it being strict.
    code = ("import os; os.umask(0); from byok_cli.store import Store; "
            f"s = Store({str(tmp_path / 'h')!r}); s.set_provider_setting('p', 'openai', 'model', 'x')")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert file_mode(tmp_path / "h") == 0o700
    assert {file_mode(p) for p in (tmp_path / "h").iterdir()} == {0o600}


def test_migrates_empty_file_to_current_schema(tmp_path):
    (tmp_path / DB_NAME).touch(mode=0o600)
    store = Store(tmp_path)
    assert store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
    assert {"profiles", "api_keys", "master_keys", "api_keys_profile"} <= tables
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_reopening_does_not_migrate_again(tmp_path):
    Store(tmp_path).set_setting("default", "preferred_provider", "openai")
    assert Store(tmp_path).settings("default")["preferred_provider"] == "openai"


def test_newer_database_is_refused_untouched(tmp_path):
    path = tmp_path / DB_NAME
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(ByokError) as err:
        Store(tmp_path)
    assert err.value.code == Code.STORE_ERROR
    assert "newer byok" in err.value.message and "upgrade" in err.value.hint
    assert digest(path) == before
    assert not (tmp_path / (DB_NAME + "-wal")).exists()


def test_corrupt_database_is_refused_untouched(tmp_path):
    path = tmp_path / DB_NAME
    path.write_bytes(b"this is not a database at all " * 200)
    before = digest(path)
    with pytest.raises(ByokError) as err:
        Store(tmp_path)
    assert err.value.code == Code.STORE_ERROR
    assert "corrupt" in err.value.message
    assert digest(path) == before


def test_read_only_directory_gives_clear_error(tmp_path):
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o500)
    try:
        if sys.platform != "win32" and __import__("os").geteuid() == 0:
            pytest.skip("root ignores directory permissions")
        with pytest.raises(ByokError) as err:
            Store(home)
        assert err.value.code == Code.STORE_ERROR
    finally:
        home.chmod(0o700)


def test_settings_default_and_update(tmp_path):
    store = Store(tmp_path)
    assert store.settings("default")["preferred_provider"] == "system"
    store.set_provider_setting("work", "anthropic", "model", "claude-haiku-5-5")
    store.set_provider_setting("work", "gw", "base_url", "https://gw.test")
    assert store.settings("work")["models"] == {"anthropic": "claude-haiku-5-5"}
    assert store.settings("work")["base_urls"] == {"gw": "https://gw.test"}
    assert store.settings("default")["models"] == {}
    store.set_provider_setting("work", "gw", "base_url", None)  # back to the default
    assert store.conn.execute("SELECT COUNT(*) FROM provider_settings WHERE provider = 'gw'"
                              ).fetchone()[0] == 0
    store.set_setting("work", "fallback", "anthropic, openrouter")
    assert store.settings("work")["fallback"] == "anthropic, openrouter"
    assert store.profiles() == ["work"]


def test_key_crud_is_per_profile_and_name(tmp_path):
    store = Store(tmp_path)
    store.put_key("default", "openai", "default", b"\x01cipher", "abcd", "mk1", "valid")
    store.put_key("work", "openai", "default", b"\x01other", "wxyz", "mk1", "unverified")
    assert store.get_key("default", "openai").hint == "abcd"
    assert store.get_key("work", "openai").hint == "wxyz"
    store.put_key("default", "openai", "default", b"\x01new", "efgh", "mk1", "valid")  # replace
    assert store.get_key("default", "openai").ciphertext == b"\x01new"
    assert len(store.all_keys()) == 2
    assert store.delete_key("default", "openai") is True
    assert store.delete_key("default", "openai") is False
    assert store.get_key("default", "openai") is None
    assert store.get_key("work", "openai") is not None


def test_named_keys_keep_the_order_set(tmp_path):
    store = Store(tmp_path)
    for name in ("work", "personal", "default"):
        store.put_key("p", "openai", name, b"\x01" + name.encode(), name[:4], "mk1", "valid")
    assert [k.name for k in store.keys("p", "openai")] == ["work", "personal", "default"]
    store.put_key("p", "openai", "work", b"\x01again", "agai", "mk1", "valid")  # keeps its place
    assert [k.name for k in store.keys("p")] == ["work", "personal", "default"]
    store.set_key_order("p", "openai", ["default", "work"])
    assert [(k.name, k.position) for k in store.keys("p", "openai")] == [
        ("default", 0), ("work", 1), ("personal", 2)]


def test_any_provider_name_is_storable(tmp_path):
    # The schema no longer names the providers: the registry decides what exists.
    store = Store(tmp_path)
    store.put_key("default", "mistral", "default", b"x", "abcd", "mk1", "valid")
    store.set_setting("default", "preferred_provider", "my-gateway")
    assert store.get_key("default", "mistral").hint == "abcd"
    assert store.settings("default")["preferred_provider"] == "my-gateway"
    with pytest.raises(ByokError) as err:  # one line, not sqlite3's exception
        store.set_setting("default", "logging", "sometimes")
    assert err.value.code == Code.STORE_ERROR and "CHECK constraint" in err.value.message


def test_parallel_writers_do_not_see_locked(tmp_path):
    code = ("import sys; from byok_cli.store import Store; s = Store(sys.argv[1]); "
            "[s.set_provider_setting(f'p{i % 5}', 'openai', 'model', f'm{i}') for i in range(40)]")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                              stderr=subprocess.PIPE) for _ in range(8)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    assert len(Store(tmp_path).profiles()) == 5


def test_migration_from_version_1_keeps_data(tmp_path):
    path = tmp_path / DB_NAME
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO profiles (name, preferred_provider, created_at, updated_at) "
                 "VALUES ('default', 'openai', 'then', 'then')")
    conn.execute("INSERT INTO api_keys (profile, provider, ciphertext, hint, master_key_id, "
                 "created_at, updated_at) VALUES ('default', 'openai', x'01', 'abcd', 'mk', "
                 "'then', 'then')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    assert store.schema_version() == SCHEMA_VERSION >= 2
    settings = store.settings("default")
    assert settings["preferred_provider"] == "openai" and settings["logging"] == "on"
    assert store.get_key("default", "openai").hint == "abcd"
    assert store.get_key("default", "openai").name == "default"
    assert store.conversations("default") == []


def test_usage_logged_before_costs_existed_stays_unknown(tmp_path):
    """Rows from before migration 4 have no price on record: their cost is unknown, not 0."""
    from byok_cli.usage import summary, totals

    path = tmp_path / DB_NAME
    conn = sqlite3.connect(path)
    for step in MIGRATIONS[:3]:
        conn.executescript(step)
    conn.executemany("INSERT INTO usage (at, profile, provider, model, fallbacks, input_tokens, "
                     "output_tokens, code) VALUES (?, 'default', 'openai', 'gpt-4o', '', 10, 5, ?)",
                     [(86400 * 10 + 5, "OK"), (86400 * 10 + 9, "OK"), (86400 * 10 + 20, "NO_KEY")])
    conn.execute("INSERT INTO usage_daily (profile, provider, model, day, requests, errors, "
                 "input_tokens, output_tokens) VALUES ('default', 'openai', 'gpt-4o', 10, 3, 1, "
                 "30, 15)")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    rows = summary(store, "default", None)
    assert rows[0]["cost_usd"] is None and rows[0]["cost_unknown_requests"] == 2
    store.rebuild_usage_rollups()
    assert totals(summary(store, "default", None))["cost_unknown_requests"] == 2


def test_master_key_states_migration_leaves_one_active(tmp_path):
    """Schema 2 could end with several unretired master keys (concurrent first key sets):
    the newest stays active, the others are retired (still readable, removed once unused)."""
    path = tmp_path / DB_NAME
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:2]:
        for statement in migration.split(";"):
            conn.execute(statement)
    conn.executemany("INSERT INTO master_keys (id, created_at, retired_at) VALUES (?, ?, ?)",
                     [("old", "2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00"),
                      ("twin-a", "2026-03-01T00:00:00+00:00", None),
                      ("twin-b", "2026-03-01T00:00:01+00:00", None)])
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    states = {mk_id: state for mk_id, _, _, state in store.master_keys()}
    assert states == {"old": "retired", "twin-a": "retired", "twin-b": "active"}
    assert store.active_master_key_id() == "twin-b"
    with pytest.raises(ByokError):  # never two active at once
        store.conn.execute("UPDATE master_keys SET state = 'active' WHERE id = 'old'")
