"""Steps 14 on of the schema (``migrations.MIGRATIONS`` ends with them): the summaries
kept as rows are written, so that the reading commands stay flat as the database grows,
and the tables of the features that came with and after them."""

from __future__ import annotations

# Never edit a released entry: add a new one at the end (its number is its place in
# MIGRATIONS).
SUMMARY_MIGRATIONS: list[str] = [
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
