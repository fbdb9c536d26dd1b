"""The schema, as the forward-only steps that build it (``PRAGMA user_version`` counts the
steps a database has taken; see ``db.Database._migrate``)."""

from __future__ import annotations

# Each entry moves the schema from version i to i+1. Never edit a released entry:
# add a new one.
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
    # 14: summaries kept as rows are written, so that reading commands stay flat as the
    # database grows. Usage per key (and, by the same table, any other dimension a request
    # is counted under: the gateway's client tokens add dimension 'token'), per UTC day,
    # rebuilt here from the existing log. An index covering the usage columns the reading
    # commands take from the raw rows of a partial day (it replaces usage_profile_at, its
    # prefix). Each conversation's message count and newest message id, kept by triggers
    # whoever writes messages, with an index in `history list`'s order.
    """
    CREATE TABLE usage_daily_by (
        profile       TEXT NOT NULL,
        dimension     TEXT NOT NULL,
        name          TEXT NOT NULL,
        provider      TEXT NOT NULL,
        day           INTEGER NOT NULL,
        requests      INTEGER NOT NULL DEFAULT 0,
        errors        INTEGER NOT NULL DEFAULT 0,
        fallbacks     INTEGER NOT NULL DEFAULT 0,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_micros   INTEGER NOT NULL DEFAULT 0,
        cost_unknown  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (profile, dimension, day, provider, name)
    ) WITHOUT ROWID;
    INSERT INTO usage_daily_by SELECT profile, 'key', IFNULL(key_name, IFNULL(key_source, '-')),
        provider, CAST(at / 86400 AS INT), COUNT(*), SUM(code != 'OK'), SUM(fallbacks != ''),
        TOTAL(input_tokens), TOTAL(output_tokens), SUM(IFNULL(cost_micros, 0)),
        SUM(code = 'OK' AND cost_micros IS NULL)
        FROM usage WHERE provider IS NOT NULL GROUP BY 1, 3, 4, 5;
    DROP INDEX usage_profile_at;
    CREATE INDEX usage_window ON usage(profile, at, provider, model, key_name, key_source, code,
        fallbacks, input_tokens, output_tokens, cost_micros, ttft_ms, latency_ms);
    ALTER TABLE conversations ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE conversations ADD COLUMN last_message_id INTEGER NOT NULL DEFAULT 0;
    UPDATE conversations SET
        message_count = (SELECT COUNT(*) FROM messages WHERE conversation_id = conversations.id),
        last_message_id = IFNULL((SELECT MAX(id) FROM messages
                                  WHERE conversation_id = conversations.id), 0);
    CREATE INDEX conversations_newest ON conversations(profile, updated_at DESC,
        last_message_id DESC, id DESC);
    DROP INDEX conversations_updated;
    CREATE TRIGGER messages_counted AFTER INSERT ON messages BEGIN
        UPDATE conversations SET message_count = message_count + 1,
            last_message_id = MAX(last_message_id, NEW.id) WHERE id = NEW.conversation_id;
    END;
    CREATE TRIGGER messages_uncounted AFTER DELETE ON messages BEGIN
        UPDATE conversations SET message_count = message_count - 1,
            last_message_id = IFNULL((SELECT MAX(id) FROM messages
                                      WHERE conversation_id = OLD.conversation_id), 0)
            WHERE id = OLD.conversation_id;
    END;
    """,
    # 15: the gateway's client tokens (only a SHA-256 digest of each: a token is 32 random
    # bytes, so no slow hash is needed), the token a usage row was made with, and budgets
    # and holds per token (SQLite's table rebuild lets budgets' scope take 'token'); and
    # the profile setting that makes `byok exec` start a gateway instead of passing keys.
    """
    CREATE TABLE client_tokens (
        profile      TEXT NOT NULL,
        name         TEXT NOT NULL,
        digest       TEXT NOT NULL UNIQUE,
        providers    TEXT NOT NULL DEFAULT '',
        created_at   REAL NOT NULL,
        expires_at   REAL,
        revoked_at   REAL,
        last_used_at REAL,
        requests     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (profile, name)
    );
    ALTER TABLE usage ADD COLUMN token_name TEXT;
    ALTER TABLE budget_holds ADD COLUMN token_name TEXT;
    CREATE TABLE budgets_next (
        profile      TEXT NOT NULL,
        scope        TEXT NOT NULL CHECK (scope IN ('profile', 'provider', 'key', 'token')),
        name         TEXT NOT NULL DEFAULT '',
        period       TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
        limit_micros INTEGER NOT NULL CHECK (limit_micros > 0),
        created_at   TEXT NOT NULL,
        PRIMARY KEY (profile, scope, name, period)
    );
    INSERT INTO budgets_next SELECT profile, scope, name, period, limit_micros, created_at
        FROM budgets;
    DROP TABLE budgets;
    ALTER TABLE budgets_next RENAME TO budgets;
    ALTER TABLE profiles ADD COLUMN exec_gateway TEXT NOT NULL DEFAULT 'off'
        CHECK (exec_gateway IN ('on', 'off'));
    INSERT INTO usage_daily_by SELECT profile, 'token', '-', provider, CAST(at / 86400 AS INT),
        COUNT(*), SUM(code != 'OK'), SUM(fallbacks != ''), TOTAL(input_tokens),
        TOTAL(output_tokens), SUM(IFNULL(cost_micros, 0)), SUM(code = 'OK' AND cost_micros IS NULL)
        FROM usage WHERE provider IS NOT NULL GROUP BY 1, 4, 5;
    """,
    # 16: attachments (-a), each stored once by the SHA-256 of its bytes however many
    # messages carry it, so `-c` sends it again. A message's attachments in order; the
    # bytes may be missing (data NULL) when the store's bound on them was reached. Bytes no
    # message refers to are deleted with the last conversation that had them.
    """
    CREATE TABLE attachments (
        digest      TEXT PRIMARY KEY,
        media_type  TEXT NOT NULL,
        size        INTEGER NOT NULL,
        data        BLOB,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE message_attachments (
        message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        digest      TEXT NOT NULL REFERENCES attachments(digest),
        name        TEXT NOT NULL,
        PRIMARY KEY (message_id, position)
    );
    CREATE INDEX message_attachments_digest ON message_attachments(digest);
    """,
    # 17: an hour tier
    # under the daily roll-ups, so that a window's partial first day is read from at most
    # 24 hours' summaries and one hour of raw rows, however many requests that day had; and
    # the latency histograms as running sums (all time, and up to each hour), so that a
    # window costs one lookup per bucket and one hour of raw rows, however long it is.
    """
    CREATE TABLE usage_hourly (
        profile       TEXT NOT NULL,
        provider      TEXT NOT NULL,
        model         TEXT NOT NULL,
        hour          INTEGER NOT NULL,
        requests      INTEGER NOT NULL DEFAULT 0,
        errors        INTEGER NOT NULL DEFAULT 0,
        fallbacks     INTEGER NOT NULL DEFAULT 0,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_micros   INTEGER NOT NULL DEFAULT 0,
        cost_unknown  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (profile, hour, provider, model)
    ) WITHOUT ROWID;
    CREATE TABLE usage_hourly_by (
        profile       TEXT NOT NULL,
        dimension     TEXT NOT NULL,
        name          TEXT NOT NULL,
        provider      TEXT NOT NULL,
        hour          INTEGER NOT NULL,
        requests      INTEGER NOT NULL DEFAULT 0,
        errors        INTEGER NOT NULL DEFAULT 0,
        fallbacks     INTEGER NOT NULL DEFAULT 0,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_micros   INTEGER NOT NULL DEFAULT 0,
        cost_unknown  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (profile, dimension, hour, provider, name)
    ) WITHOUT ROWID;
    INSERT INTO usage_hourly SELECT profile, provider, model, CAST(at / 3600 AS INT), COUNT(*),
        SUM(code != 'OK'), SUM(fallbacks != ''), TOTAL(input_tokens), TOTAL(output_tokens),
        SUM(IFNULL(cost_micros, 0)), SUM(code = 'OK' AND cost_micros IS NULL)
        FROM usage GROUP BY 1, 2, 3, 4;
    INSERT INTO usage_hourly_by SELECT profile, 'key', IFNULL(key_name, IFNULL(key_source, '-')),
        provider, CAST(at / 3600 AS INT), COUNT(*), SUM(code != 'OK'), SUM(fallbacks != ''),
        TOTAL(input_tokens), TOTAL(output_tokens), SUM(IFNULL(cost_micros, 0)),
        SUM(code = 'OK' AND cost_micros IS NULL)
        FROM usage WHERE provider IS NOT NULL GROUP BY 1, 3, 4, 5;
    INSERT INTO usage_hourly_by SELECT profile, 'token', IFNULL(token_name, '-'), provider,
        CAST(at / 3600 AS INT), COUNT(*), SUM(code != 'OK'), SUM(fallbacks != ''),
        TOTAL(input_tokens), TOTAL(output_tokens), SUM(IFNULL(cost_micros, 0)),
        SUM(code = 'OK' AND cost_micros IS NULL)
        FROM usage WHERE provider IS NOT NULL GROUP BY 1, 3, 4, 5;
    CREATE TABLE usage_buckets_total (
        profile  TEXT NOT NULL,
        provider TEXT NOT NULL,
        model    TEXT NOT NULL,
        metric   TEXT NOT NULL CHECK (metric IN ('ttft', 'total')),
        bucket   INTEGER NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (profile, provider, model, metric, bucket)
    ) WITHOUT ROWID;
    CREATE TABLE usage_buckets_upto (
        profile  TEXT NOT NULL,
        provider TEXT NOT NULL,
        model    TEXT NOT NULL,
        metric   TEXT NOT NULL CHECK (metric IN ('ttft', 'total')),
        bucket   INTEGER NOT NULL,
        hour     INTEGER NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (profile, provider, model, metric, bucket, hour)
    ) WITHOUT ROWID;
    INSERT INTO usage_buckets_total SELECT profile, provider, model, metric, bucket, SUM(n)
        FROM usage_buckets GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO usage_buckets_upto SELECT profile, provider, model, 'ttft', b, h,
        SUM(c) OVER (PARTITION BY profile, provider, model, b ORDER BY h) FROM (
        SELECT profile, provider, model, (CASE WHEN ttft_ms < 100 THEN MAX(ttft_ms, 0)
            WHEN ttft_ms < 1000 THEN ttft_ms / 10 * 10
            WHEN ttft_ms < 10000 THEN ttft_ms / 100 * 100
            WHEN ttft_ms < 100000 THEN ttft_ms / 1000 * 1000
            WHEN ttft_ms < 1000000 THEN ttft_ms / 10000 * 10000
            WHEN ttft_ms < 10000000 THEN ttft_ms / 100000 * 100000
            ELSE ttft_ms / 1000000 * 1000000 END) b,
            CAST(at / 3600 AS INT) h, COUNT(*) c
        FROM usage WHERE ttft_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 5);
    INSERT INTO usage_buckets_upto SELECT profile, provider, model, 'total', b, h,
        SUM(c) OVER (PARTITION BY profile, provider, model, b ORDER BY h) FROM (
        SELECT profile, provider, model, (CASE WHEN latency_ms < 100 THEN MAX(latency_ms, 0)
            WHEN latency_ms < 1000 THEN latency_ms / 10 * 10
            WHEN latency_ms < 10000 THEN latency_ms / 100 * 100
            WHEN latency_ms < 100000 THEN latency_ms / 1000 * 1000
            WHEN latency_ms < 1000000 THEN latency_ms / 10000 * 10000
            WHEN latency_ms < 10000000 THEN latency_ms / 100000 * 100000
            ELSE latency_ms / 1000000 * 1000000 END) b,
            CAST(at / 3600 AS INT) h, COUNT(*) c
        FROM usage WHERE latency_ms IS NOT NULL GROUP BY 1, 2, 3, 4, 5);
    """,
    # 18: the latency histograms in steps of the 1-2-5 series (exact below 20 ms, then at
    # most 10% below each value: 35 buckets a decade where two significant figures took 90),
    # so that a window's percentiles come from a bounded, small number of rows: every
    # histogram is rebuilt from the raw rows in the new steps (store.usage.bucket).
    """
    CREATE TEMP TABLE latency_18 AS SELECT profile, provider, model, metric,
        CAST(at / 3600 AS INT) hour, (CASE WHEN ms < 20 THEN MAX(ms, 0) WHEN ms < 50 THEN ms / 2 * 2
            WHEN ms < 100 THEN ms / 5 * 5 WHEN ms < 200 THEN ms / 10 * 10
            WHEN ms < 500 THEN ms / 20 * 20 WHEN ms < 1000 THEN ms / 50 * 50
            WHEN ms < 2000 THEN ms / 100 * 100 WHEN ms < 5000 THEN ms / 200 * 200
            WHEN ms < 10000 THEN ms / 500 * 500 WHEN ms < 20000 THEN ms / 1000 * 1000
            WHEN ms < 50000 THEN ms / 2000 * 2000 WHEN ms < 100000 THEN ms / 5000 * 5000
            WHEN ms < 200000 THEN ms / 10000 * 10000
            WHEN ms < 500000 THEN ms / 20000 * 20000
            WHEN ms < 1000000 THEN ms / 50000 * 50000
            WHEN ms < 2000000 THEN ms / 100000 * 100000
            WHEN ms < 5000000 THEN ms / 200000 * 200000
            WHEN ms < 10000000 THEN ms / 500000 * 500000
            ELSE ms / 1000000 * 1000000 END) bucket, COUNT(*) n FROM (
            SELECT profile, provider, model, at, 'ttft' metric, ttft_ms ms FROM usage
                WHERE ttft_ms IS NOT NULL
            UNION ALL SELECT profile, provider, model, at, 'total', latency_ms FROM usage
                WHERE latency_ms IS NOT NULL)
        GROUP BY 1, 2, 3, 4, 5, 6;
    DELETE FROM usage_buckets;
    DELETE FROM usage_buckets_total;
    DELETE FROM usage_buckets_upto;
    INSERT INTO usage_buckets SELECT profile, provider, model, hour / 24, metric, bucket, SUM(n)
        FROM latency_18 GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO usage_buckets_total SELECT profile, provider, model, metric, bucket, SUM(n)
        FROM latency_18 GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO usage_buckets_upto SELECT profile, provider, model, metric, bucket, hour,
        SUM(n) OVER (PARTITION BY profile, provider, model, metric, bucket ORDER BY hour)
        FROM latency_18;
    DROP TABLE temp.latency_18;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
