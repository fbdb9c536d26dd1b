"""The schema, as the forward-only steps that build it (``PRAGMA user_version`` counts the
steps a database has taken; see ``db.Database._migrate``)."""

from __future__ import annotations

from .migrations_summaries import SUMMARY_MIGRATIONS

# Each entry moves the schema from version i to i+1. Never edit a released entry: add
# a new one at the end of migrations_summaries.SUMMARY_MIGRATIONS (steps 14 on, kept
# apart only to keep each file readable).
MIGRATIONS: list[str] = [
    # 1: profiles (the design's UserSettings), keys, master key registry, model cache
    """
    CREATE TABLE profiles (
        name               TEXT PRIMARY KEY,
        preferred_provider TEXT NOT NULL DEFAULT 'system'
                           CHECK (preferred_provider IN ('openai', 'anthropic', 'system')),
        openai_model       TEXT,
        anthropic_model    TEXT,
        openai_base_url    TEXT,
        anthropic_base_url TEXT,
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        id            INTEGER PRIMARY KEY,
        profile       TEXT NOT NULL REFERENCES profiles(name) ON DELETE CASCADE,
        provider      TEXT NOT NULL CHECK (provider IN ('openai', 'anthropic')),
        ciphertext    BLOB NOT NULL,
        hint          TEXT NOT NULL,
        master_key_id TEXT NOT NULL,
        status        TEXT NOT NULL DEFAULT 'unverified',
        checked_at    TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        UNIQUE (profile, provider)
    );
    CREATE INDEX api_keys_profile ON api_keys(profile);
    CREATE TABLE master_keys (
        id         TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        retired_at TEXT
    );
    CREATE TABLE model_cache (
        provider   TEXT NOT NULL,
        base_url   TEXT NOT NULL,
        fetched_at REAL NOT NULL,
        payload    TEXT NOT NULL,
        PRIMARY KEY (provider, base_url)
    );
    """,
    # 2: conversations, usage log with daily roll-ups, the `logging` setting
    """
    ALTER TABLE profiles ADD COLUMN logging TEXT NOT NULL DEFAULT 'on'
        CHECK (logging IN ('on', 'off'));
    CREATE TABLE conversations (
        id         INTEGER PRIMARY KEY,
        profile    TEXT NOT NULL,
        system     TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX conversations_profile ON conversations(profile, id);
    CREATE TABLE messages (
        id              INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role            TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content         TEXT NOT NULL,
        provider        TEXT,
        model           TEXT,
        created_at      TEXT NOT NULL
    );
    CREATE INDEX messages_conversation ON messages(conversation_id, id);
    CREATE TABLE usage (
        id            INTEGER PRIMARY KEY,
        at            REAL NOT NULL,
        profile       TEXT NOT NULL,
        provider      TEXT,
        model         TEXT,
        key_source    TEXT,
        fallbacks     TEXT NOT NULL DEFAULT '',
        input_tokens  INTEGER,
        output_tokens INTEGER,
        ttft_ms       INTEGER,
        latency_ms    INTEGER,
        code          TEXT NOT NULL
    );
    CREATE INDEX usage_profile_at ON usage(profile, at);
    CREATE TABLE usage_daily (
        profile       TEXT NOT NULL,
        provider      TEXT NOT NULL,
        model         TEXT NOT NULL,
        day           INTEGER NOT NULL,
        requests      INTEGER NOT NULL DEFAULT 0,
        errors        INTEGER NOT NULL DEFAULT 0,
        fallbacks     INTEGER NOT NULL DEFAULT 0,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (profile, day, provider, model)
    );
    CREATE TABLE usage_buckets (
        profile  TEXT NOT NULL,
        provider TEXT NOT NULL,
        model    TEXT NOT NULL,
        day      INTEGER NOT NULL,
        metric   TEXT NOT NULL CHECK (metric IN ('ttft', 'total')),
        bucket   INTEGER NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (profile, day, provider, model, metric, bucket)
    );
    """,
    # 3: hand-offs (`byok key get`): which key went to which program; never the key itself
    """
    CREATE TABLE handoffs (
        id       INTEGER PRIMARY KEY,
        at       REAL NOT NULL,
        profile  TEXT NOT NULL,
        provider TEXT NOT NULL,
        key_name TEXT NOT NULL DEFAULT 'default',
        source   TEXT NOT NULL CHECK (source IN ('stored', 'environment')),
        parent   TEXT NOT NULL,
        caller   TEXT
    );
    CREATE INDEX handoffs_profile_at ON handoffs(profile, at);
    """,
    # 4: what requests cost (micro-dollars at the price in force; NULL when unknown), budgets
    # and the reservations that hold their room while a request is in flight; each price sync
    """
    ALTER TABLE usage ADD COLUMN cached_input_tokens INTEGER;
    ALTER TABLE usage ADD COLUMN cost_micros INTEGER;
    ALTER TABLE usage_daily ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage_daily ADD COLUMN cost_unknown INTEGER NOT NULL DEFAULT 0;
    UPDATE usage_daily SET cost_unknown = requests - errors;
    ALTER TABLE profiles ADD COLUMN show_cost TEXT NOT NULL DEFAULT 'off'
        CHECK (show_cost IN ('on', 'off'));
    ALTER TABLE profiles ADD COLUMN allow_unpriced TEXT NOT NULL DEFAULT 'off'
        CHECK (allow_unpriced IN ('on', 'off'));
    CREATE TABLE budgets (
        profile      TEXT NOT NULL,
        scope        TEXT NOT NULL CHECK (scope IN ('profile', 'provider', 'key')),
        name         TEXT NOT NULL DEFAULT '',
        period       TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
        limit_micros INTEGER NOT NULL CHECK (limit_micros > 0),
        created_at   TEXT NOT NULL,
        PRIMARY KEY (profile, scope, name, period)
    );
    CREATE TABLE budget_holds (
        id         INTEGER PRIMARY KEY,
        profile    TEXT NOT NULL,
        provider   TEXT NOT NULL,
        key_name   TEXT,
        micros     INTEGER NOT NULL,
        at         REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX budget_holds_profile ON budget_holds(profile, at);
    CREATE TABLE catalog_syncs (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        url     TEXT NOT NULL,
        outcome TEXT NOT NULL,
        models  INTEGER,
        sha256  TEXT
    );
    """,
    # 5: the person's own providers (`byok provider add`), per profile
    """
    CREATE TABLE providers (
        profile    TEXT NOT NULL,
        name       TEXT NOT NULL,
        api        TEXT NOT NULL,
        base_url   TEXT NOT NULL,
        key_env    TEXT,
        needs_key  INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        PRIMARY KEY (profile, name)
    );
    """,
    # 6: named keys in an order the person sets; model and base URL per provider name
    # instead of one column each for two providers; the fallback chain; the key's name on
    # usage rows. The CHECK constraints naming the two providers go: profiles and api_keys
    # are rebuilt (with foreign keys off, see _migrate), keeping every row, row id and
    # ciphertext (a key named `default` has the associated data it always had).
    """
    CREATE TABLE profiles_next (
        name               TEXT PRIMARY KEY,
        preferred_provider TEXT NOT NULL DEFAULT 'system',
        logging            TEXT NOT NULL DEFAULT 'on' CHECK (logging IN ('on', 'off')),
        show_cost          TEXT NOT NULL DEFAULT 'off' CHECK (show_cost IN ('on', 'off')),
        allow_unpriced     TEXT NOT NULL DEFAULT 'off' CHECK (allow_unpriced IN ('on', 'off')),
        fallback           TEXT,
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL
    );
    INSERT INTO profiles_next (name, preferred_provider, logging, show_cost, allow_unpriced,
                               created_at, updated_at)
        SELECT name, preferred_provider, logging, show_cost, allow_unpriced, created_at,
               updated_at FROM profiles;
    INSERT OR IGNORE INTO profiles_next (name, created_at, updated_at)
        SELECT profile, MIN(created_at), MAX(updated_at) FROM api_keys GROUP BY profile;
    CREATE TABLE provider_settings (
        profile  TEXT NOT NULL,
        provider TEXT NOT NULL,
        model    TEXT,
        base_url TEXT,
        PRIMARY KEY (profile, provider)
    );
    INSERT INTO provider_settings (profile, provider, model, base_url)
        SELECT name, 'openai', openai_model, openai_base_url FROM profiles
        WHERE openai_model IS NOT NULL OR openai_base_url IS NOT NULL;
    INSERT INTO provider_settings (profile, provider, model, base_url)
        SELECT name, 'anthropic', anthropic_model, anthropic_base_url FROM profiles
        WHERE anthropic_model IS NOT NULL OR anthropic_base_url IS NOT NULL;
    CREATE TABLE api_keys_next (
        id            INTEGER PRIMARY KEY,
        profile       TEXT NOT NULL REFERENCES profiles(name) ON DELETE CASCADE,
        provider      TEXT NOT NULL,
        name          TEXT NOT NULL DEFAULT 'default',
        position      INTEGER NOT NULL DEFAULT 0,
        ciphertext    BLOB NOT NULL,
        hint          TEXT NOT NULL,
        master_key_id TEXT NOT NULL,
        status        TEXT NOT NULL DEFAULT 'unverified',
        checked_at    TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        UNIQUE (profile, provider, name)
    );
    INSERT INTO api_keys_next (id, profile, provider, name, position, ciphertext, hint,
                             master_key_id, status, checked_at, created_at, updated_at)
        SELECT id, profile, provider, 'default', 0, ciphertext, hint, master_key_id, status,
               checked_at, created_at, updated_at FROM api_keys;
    DROP TABLE api_keys;
    DROP TABLE profiles;
    ALTER TABLE profiles_next RENAME TO profiles;
    ALTER TABLE api_keys_next RENAME TO api_keys;
    CREATE INDEX api_keys_profile ON api_keys(profile, provider, position);
    ALTER TABLE usage ADD COLUMN key_name TEXT;
    """,
    # 7: master key states. A new master key is recorded as 'pending' before the keyring
    # holds it, so a crash leaves no key byok does not know of; at most one is 'active'.
    """
    ALTER TABLE master_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
        CHECK (state IN ('pending', 'active', 'retired'));
    UPDATE master_keys SET state = 'retired' WHERE retired_at IS NOT NULL;
    UPDATE master_keys SET state = 'retired', retired_at = strftime('%Y-%m-%dT%H:%M:%S+00:00')
        WHERE state = 'active' AND id != (SELECT id FROM master_keys WHERE state = 'active'
                                          ORDER BY created_at DESC, rowid DESC LIMIT 1);
    CREATE UNIQUE INDEX master_keys_one_active ON master_keys(state) WHERE state = 'active';
    """,
    # 8: per profile and provider, whether the environment key may go to the profile's
    # base URL for it (`byok config set PROVIDER.send_env_key on`; NULL: off)
    """
    ALTER TABLE provider_settings ADD COLUMN send_env_key TEXT
        CHECK (send_env_key IN ('on', 'off'));
    """,
    # 9: the hand-off log keeps one row per program, key and UTC day, counting the hand-offs
    # (a tool that runs `byok key get` on every call would otherwise add a row each time)
    """
    ALTER TABLE handoffs ADD COLUMN count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1);
    ALTER TABLE handoffs ADD COLUMN last_at REAL;
    """,
    # 10: conversation ids are never reused (AUTOINCREMENT), so a saved `--cid 20` cannot
    # continue another conversation after `history rm`. SQLite's table rebuild: ids kept,
    # messages' foreign key names the table by name and holds once it is renamed back.
    """
    CREATE TABLE conversations_next (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        profile    TEXT NOT NULL,
        system     TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    INSERT INTO conversations_next (id, profile, system, created_at, updated_at)
        SELECT id, profile, system, created_at, updated_at FROM conversations;
    DROP TABLE conversations;
    ALTER TABLE conversations_next RENAME TO conversations;
    CREATE INDEX conversations_profile ON conversations(profile, id);
    CREATE INDEX conversations_updated ON conversations(profile, updated_at);
    """,
    # 11: one vocabulary for where a key came from: the usage log said 'user' and 'system'
    # (the design's words), while tables and JSON said 'stored' and 'environment'. Only this
    # migration still knows the old words.
    """
    UPDATE usage SET key_source = CASE key_source WHEN 'user' THEN 'stored'
                                                  ELSE 'environment' END
        WHERE key_source IN ('user', 'system');
    """,
    # 12: why each answer ended (end, length, refusal, content_filter, tool_call, other), the
    # input tokens written to a prompt cache (priced apart) and the output tokens of reasoning
    """
    ALTER TABLE usage ADD COLUMN stop_reason TEXT;
    ALTER TABLE usage ADD COLUMN cache_write_tokens INTEGER;
    ALTER TABLE usage ADD COLUMN reasoning_tokens INTEGER;
    """,
    # 13: the base URL a stored key was stored for (`key set --base-url`): besides the
    # provider's official endpoint, the one endpoint that may receive it after another
    # key was rejected there (issue 27). NULL: the official endpoint only.
    """
    ALTER TABLE api_keys ADD COLUMN base_url TEXT;
    """,
]
MIGRATIONS += SUMMARY_MIGRATIONS
SCHEMA_VERSION = len(MIGRATIONS)
