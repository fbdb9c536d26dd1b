"""The summaries that keep reading commands flat as the database grows (migration 12):
usage per key, each conversation's message count and newest message, and what `doctor`
checks by default. Each summary is held to the raw rows it stands for, whether it was kept
as rows were written or rebuilt by the migration from an older database's rows."""

from __future__ import annotations

import math
import random
import sqlite3

import pytest
from hypothesis import given, settings, strategies as st

from byok_cli.errors import ByokError, Code
from byok_cli import usage
from byok_cli.store import (DAY, DB_NAME, MIGRATIONS, Message, Store, UsageRow, bucket,
                            bucket_sql)
from byok_cli.store.db import statements
from byok_cli.store.usage import TIERS

NOW = 1_800_000_000.0


def raw_by_key(store: Store, profile: str, since: float | None) -> list[tuple]:
    """What `usage --by key` must say, aggregated straight from the raw rows."""
    return [tuple(r) for r in store.conn.execute(
        "SELECT provider, IFNULL(key_name, IFNULL(key_source, '-')) k, COUNT(*), "
        "SUM(code != 'OK'), SUM(fallbacks != ''), TOTAL(input_tokens), TOTAL(output_tokens), "
        "TOTAL(IFNULL(cost_micros, 0)), SUM(code = 'OK' AND cost_micros IS NULL) FROM usage "
        "WHERE profile = ? AND at >= ? GROUP BY provider, k ORDER BY provider, k",
        (profile, 0.0 if since is None else since))]


def raw_totals(store: Store, profile: str, since: float | None) -> list[tuple]:
    """What plain `usage` must count per provider and model, from the raw rows."""
    return [tuple(r) for r in store.conn.execute(
        "SELECT provider, model, COUNT(*), SUM(code != 'OK'), SUM(fallbacks != ''), "
        "TOTAL(input_tokens), TOTAL(output_tokens), TOTAL(IFNULL(cost_micros, 0)), "
        "SUM(code = 'OK' AND cost_micros IS NULL) FROM usage WHERE profile = ? AND at >= ? "
        "GROUP BY provider, model ORDER BY provider, model",
        (profile, 0.0 if since is None else since))]


def raw_buckets(store: Store, profile: str, since: float | None) -> list[tuple]:
    """The latency histograms plain `usage` must compute its percentiles from."""
    return [tuple(r) for r in store.conn.execute(
        " UNION ALL ".join(
            f"SELECT provider, model, '{metric}', {bucket_sql(column)} b, COUNT(*) FROM usage "
            f"WHERE profile = ? AND at >= ? AND {column} IS NOT NULL GROUP BY 1, 2, 4"
            for metric, column in (("ttft", "ttft_ms"), ("total", "latency_ms")))
        + " ORDER BY 1, 2, 3, 4", (profile, 0.0 if since is None else since) * 2)]


def summaries(store: Store) -> list[list[tuple]]:
    tables = [table for tier in TIERS for table in tier[:2]]
    return [store.conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5, 6").fetchall()
            for table in [*tables, "usage_buckets", "usage_buckets_total", "usage_buckets_upto"]]


def normal(rows) -> list[tuple]:
    return [(*r[:2], *(int(x) for x in r[2:])) for r in rows]


def usage_row(rng: random.Random, at: float) -> UsageRow:
    ok = rng.random() > 0.2
    return UsageRow(
        at=at, profile=rng.choice(["default", "work"]),
        provider=rng.choice(["openai", "anthropic"]), model=rng.choice(["m1", "m2"]),
        key_source=rng.choice(["stored", "environment", None]),
        fallbacks=rng.choice(["", "", "key_rejected"]), input_tokens=rng.choice([None, 10, 50]),
        output_tokens=rng.choice([None, 7]), ttft_ms=rng.randint(1, 5000),
        latency_ms=rng.randint(1, 9000), code="OK" if ok else "RATE_LIMITED",
        cost_micros=rng.choice([None, 0, 12_345]) if ok else None,
        key_name=rng.choice([None, "default", "work", "OPENAI_API_KEY"]))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(0, 80),
       since=st.one_of(st.none(), st.floats(0, 1.2)),
       spread=st.sampled_from([3 * 3600, 30 * 3600, 2 * DAY, 10 * DAY]))
def test_every_summary_is_the_raw_rows_summed_for_any_window(tmp_path_factory, seed, count,
                                                              since, spread):
    """Plain `usage` (totals and latency histograms), `usage --by key` and `--by token`, for
    a window starting at any second: whole days, the first day's whole hours and the first
    hour's raw rows add up to the raw rows."""
    rng = random.Random(seed)
    store = Store(tmp_path_factory.mktemp("home"))
    try:
        for _ in range(count):
            store.record_usage(usage_row(rng, NOW - rng.uniform(0, spread)))
        start = None if since is None else NOW - int(since * spread)  # any second
        for profile in ("default", "work"):
            assert normal(store.usage_by_key(profile, start, None)) == \
                normal(raw_by_key(store, profile, start))
            assert normal(store.usage_totals(profile, start, None)) == \
                normal(raw_totals(store, profile, start))
            assert store.usage_buckets(profile, start, None) == raw_buckets(store, profile, start)
            assert sum(r[2] for r in store.usage_by("token", profile, start, None)) == \
                sum(r[2] for r in raw_totals(store, profile, start))
        kept = summaries(store)
        store.rebuild_usage_rollups()
        assert summaries(store) == kept
    finally:
        store.close()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(1, 60),
       spread=st.sampled_from([600, 3 * 3600, 2 * DAY]))
def test_rows_written_in_batches_sum_up_as_rows_written_one_by_one(tmp_path_factory, seed,
                                                                    count, spread):
    """The gateway writes the usage rows of one event-loop pass in one transaction
    (record_usages): the raw rows land in the order given, every hold they settle is
    released, and every summary is what writing them one by one keeps."""
    rng = random.Random(seed)
    rows = [usage_row(rng, NOW - rng.uniform(0, spread)) for _ in range(count)]
    if rng.random() < 0.5:  # requests alike, as a busy gateway's are: sums of many in one
        rows = [rows[0]._replace(at=NOW - rng.uniform(0, 5)) for _ in rows]
    one, batched = (Store(tmp_path_factory.mktemp("home")) for _ in range(2))
    try:
        holds = [batched.conn.execute(
            "INSERT INTO budget_holds (profile, provider, key_name, micros, at, expires_at) "
            "VALUES ('default', 'openai', 'default', 1, ?, ?)", (NOW, NOW + 60)).lastrowid
            for _ in rows]
        for row in rows:
            one.record_usage(row)
        cut = sorted(rng.sample(range(1, count), min(count - 1, rng.randint(0, 4))))
        for start, end in zip([0, *cut], [*cut, count]):
            batched.record_usages(list(zip(rows[start:end], holds[start:end])))
        written = batched.conn.execute(f"SELECT {', '.join(UsageRow._fields)} FROM usage "
                                       "ORDER BY id").fetchall()
        assert [tuple(r) for r in written] == [tuple(r) for r in rows]
        assert batched.conn.execute("SELECT COUNT(*) FROM budget_holds").fetchone()[0] == 0
        assert summaries(batched) == summaries(one)
    finally:
        one.close()
        batched.close()


# The migration that builds the summaries (its number depends on what landed before it).
SUMMARIES = next(i for i, script in enumerate(MIGRATIONS) if "usage_daily_by" in script)


def before_summaries_home(tmp_path, fill) -> sqlite3.Connection:
    """A data dir whose database has taken every step before the summaries, filled by
    ``fill(conn)``."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    conn = sqlite3.connect(home / DB_NAME)
    for script in MIGRATIONS[:SUMMARIES]:
        for statement in statements(script):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SUMMARIES}")
    fill(conn)
    conn.commit()
    conn.close()
    (home / DB_NAME).chmod(0o600)
    return home


def test_the_migration_builds_the_summaries_of_an_existing_database(tmp_path):
    rng = random.Random(12)
    rows = [usage_row(rng, NOW - rng.uniform(0, 20 * DAY)) for _ in range(300)]

    def fill(conn):
        columns = {r[1] for r in conn.execute("PRAGMA table_info(usage)")}
        fields = [f for f in UsageRow._fields if f in columns]  # later columns come later
        conn.executemany(f"INSERT INTO usage ({', '.join(fields)}) VALUES "
                         f"({', '.join('?' * len(fields))})",
                         [[getattr(row, f) for f in fields] for row in rows])
        for cid, (stamp, n) in enumerate([("2026-01-02T00:00:00+00:00", 3),
                                          ("2026-01-03T00:00:00+00:00", 0),
                                          ("2026-01-03T00:00:00+00:00", 2)], start=1):
            conn.execute("INSERT INTO conversations (id, profile, created_at, updated_at) "
                         "VALUES (?, 'default', ?, ?)", (cid, stamp, stamp))
            conn.executemany("INSERT INTO messages (conversation_id, role, content, created_at)"
                             " VALUES (?, ?, ?, ?)", [(cid, ("user", "assistant")[i % 2],
                                                       f"m{i}", stamp) for i in range(n)])

    store = Store(before_summaries_home(tmp_path, fill))
    try:
        for since in (None, NOW - 3.5 * DAY):
            assert normal(store.usage_by_key("default", since, None)) == \
                normal(raw_by_key(store, "default", since))
        listed = store.conversations("default")
        # the newest first: conversation 3 and 2 share a second; 3's messages are newer
        assert [(c["id"], c["messages"]) for c in listed] == [(3, 2), (2, 0), (1, 3)]
        assert store.latest_conversation_id("default") == 3
    finally:
        store.close()


# The migration that adds the hour tier (its number depends on what landed before it).
HOURS = next(i for i, script in enumerate(MIGRATIONS) if "CREATE TABLE usage_hourly " in script)
# The one that rebuilds the latency histograms in the 1-2-5 steps.
LATENCY_STEPS = next(i for i, script in enumerate(MIGRATIONS) if "latency_18" in script)


def test_the_migration_builds_the_hour_tier_of_an_existing_database(tmp_path):
    """A database from before the hour tier (its rows, its daily summaries) gets, at its
    first opening, the hour tier that recording the same rows would have kept."""
    home = tmp_path / "home"
    store = Store(home)
    rng = random.Random(17)
    for _ in range(400):
        store.record_usage(usage_row(rng, NOW - rng.uniform(0, 3 * DAY)))
    kept = summaries(store)
    store.close()
    conn = sqlite3.connect(home / DB_NAME)
    # a later migration would need undoing here too, but for 18's, which rebuilds the
    # histograms from the raw rows whatever they held
    assert all(m in (HOURS, LATENCY_STEPS) for m in range(HOURS, len(MIGRATIONS)))
    for table in ("usage_hourly", "usage_hourly_by", "usage_buckets_total",
                  "usage_buckets_upto"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute(f"PRAGMA user_version = {HOURS}")
    conn.commit()
    conn.close()
    store = Store(home)
    try:
        assert summaries(store) == kept
        since = NOW - 30 * 3600 - 1234.5
        assert normal(store.usage_totals("default", since, None)) == \
            normal(raw_totals(store, "default", since))
        assert store.usage_buckets("work", since, None) == raw_buckets(store, "work", since)
    finally:
        store.close()


def test_the_migration_rebuilds_the_histograms_in_the_new_steps(tmp_path):
    """A database whose histograms were kept in other steps (two significant figures, before
    migration 18) gets at its first opening exactly the histograms recording the same rows
    keeps now, and windows whose percentiles agree with the raw rows."""
    home = tmp_path / "home"
    store = Store(home)
    rng = random.Random(18)
    for _ in range(300):
        store.record_usage(usage_row(rng, NOW - rng.uniform(0, 3 * DAY)))
    kept = summaries(store)
    store.close()
    conn = sqlite3.connect(home / DB_NAME)
    for table in ("usage_buckets", "usage_buckets_total", "usage_buckets_upto"):
        conn.execute(f"DELETE FROM {table}")
    # the old steps' rows, as record_usage kept them before (here: the exact values)
    conn.execute("INSERT INTO usage_buckets SELECT profile, provider, model, "
                 "CAST(at / 86400 AS INT), 'ttft', ttft_ms, COUNT(*) FROM usage GROUP BY 1, 2, "
                 "3, 4, 6")
    conn.execute("INSERT INTO usage_buckets_total SELECT profile, provider, model, 'ttft', "
                 "ttft_ms, COUNT(*) FROM usage GROUP BY 1, 2, 3, 5")
    conn.execute(f"PRAGMA user_version = {LATENCY_STEPS}")
    conn.commit()
    conn.close()
    store = Store(home)
    try:
        assert summaries(store) == kept
        since = NOW - 30 * 3600 - 1234.5
        assert store.usage_buckets("work", since, None) == raw_buckets(store, "work", since)
    finally:
        store.close()


def nearest_rank(values: list[int], p: float) -> int | None:
    """The p-th percentile of the exact values (what the histogram approximates)."""
    values = sorted(values)
    return values[max(1, math.ceil(p * len(values))) - 1] if values else None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(1, 120),
       since=st.one_of(st.none(), st.floats(0, 1)),
       scale=st.sampled_from([30, 400, 5000, 90_000, 20_000_000]))
def test_usage_percentiles_are_the_raw_rows_to_the_promised_precision(
        tmp_path_factory, seed, count, since, scale):
    """`byok usage`'s p50/p95 (time to first token, latency) for any window are the raw
    rows' percentiles (nearest rank) over their buckets, recomputed here from the rows
    alone; and each is the exact percentile of the raw values to the precision the help
    promises: exact below 20 ms, else at most 10% below."""
    rng = random.Random(seed)
    store = Store(tmp_path_factory.mktemp("home"))
    try:
        rows = [usage_row(rng, NOW - rng.uniform(0, 2 * DAY))._replace(
            ttft_ms=rng.choice([None, rng.randint(0, scale)]),
            latency_ms=rng.randint(0, 2 * scale)) for _ in range(count)]
        for row in rows:
            store.record_usage(row)
        start = None if since is None else NOW - since * 2 * DAY
        for profile in ("default", "work"):
            shown = {(r["provider"], r["model"]): r
                     for r in usage.summary(store, profile, start)}
            window = [r for r in rows if r.profile == profile
                      and (start is None or r.at >= start)]
            assert set(shown) == {(r.provider, r.model) for r in window}
            for (provider, model), figures in shown.items():
                mine = [r for r in window if (r.provider, r.model) == (provider, model)]
                for field, column in (("ttft", "ttft_ms"), ("latency", "latency_ms")):
                    values = [getattr(r, column) for r in mine
                              if getattr(r, column) is not None]
                    for p in (50, 95):
                        got = figures[f"{field}_p{p}_ms"]
                        exact = nearest_rank(values, p / 100)
                        assert got == (None if exact is None else bucket(exact))
                        assert exact is None or (got == exact if exact < 20
                                                 else exact * 0.9 < got <= exact)
    finally:
        store.close()


def test_message_counts_follow_every_write(tmp_path):
    store = Store(tmp_path / "home")
    try:
        a = store.append_exchange("default", None, None, [Message("user", "a?"),
                                                          Message("assistant", "a", "p", "m")])
        b = store.append_exchange("default", None, None, [Message("user", "b?")])
        assert store.latest_conversation_id("default") == b
        store.append_exchange("default", a, None, [Message("user", "again?")])
        assert store.latest_conversation_id("default") == a  # the newest message decides
        counts = {c["id"]: c["messages"] for c in store.conversations("default")}
        assert counts == {a: 3, b: 1}
        with store.transaction() as conn:  # whoever deletes a message, the count follows
            conn.execute("DELETE FROM messages WHERE conversation_id = ? AND content = 'again?'",
                         (a,))
        assert {c["id"]: c["messages"] for c in store.conversations("default")} == {a: 2, b: 1}
        assert store.latest_conversation_id("default") == b
        store.delete_conversations("default", b)
        assert [c["id"] for c in store.conversations("default")] == [a]
        assert store.latest_conversation_id("work") is None
    finally:
        store.close()


def _page_of(path, table: str) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?",
                            (table,)).fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return size, root
    finally:
        conn.close()


@pytest.mark.parametrize("table, by_default", [("usage", False), ("api_keys", True)])
def test_doctor_checks_the_logs_only_when_asked(tmp_path, table, by_default):
    store = Store(tmp_path / "home")
    rng = random.Random(3)
    for _ in range(50):
        store.record_usage(usage_row(rng, NOW))
    with store.transaction() as conn:
        conn.execute("INSERT INTO profiles (name, created_at, updated_at) VALUES ('p', '', '')")
        conn.execute("INSERT INTO api_keys (profile, provider, ciphertext, hint, master_key_id, "
                     "created_at, updated_at) VALUES ('p', 'openai', x'00', 'abcd', 'm', '', '')")
    store.close()
    path = tmp_path / "home" / DB_NAME
    size, root = _page_of(path, table)
    with open(path, "r+b") as f:  # the table's root page: a b-tree page type no page has
        f.seek((root - 1) * size)
        f.write(b"\x63" + b"\xff" * 15)
    store = Store(tmp_path / "home")

    def damage_found(full: bool) -> bool:
        try:
            return store.check(full) != ["ok"]
        except ByokError as err:  # SQLite may stop at the damage: doctor reports it so
            return err.code is Code.STORE_ERROR

    try:
        assert damage_found(full=True)
        assert damage_found(full=False) == by_default
    finally:
        store.close()


def test_doctor_full_reads_the_logs_the_default_leaves(byok_env):
    import json

    store = Store(byok_env.home)
    rng = random.Random(4)
    for _ in range(50):
        store.record_usage(usage_row(rng, NOW))
    store.close()
    size, root = _page_of(byok_env.home / DB_NAME, "usage")
    with open(byok_env.home / DB_NAME, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\x63" + b"\xff" * 15)
    quick = byok_env.run("doctor", "--json")
    database = [c for c in json.loads(quick.stdout) if c["check"] == "database"]
    assert database[0]["status"] == "ok" and "--full" in database[0]["detail"]
    full = byok_env.run("doctor", "--full", "--json")
    assert full.returncode == Code.STORE_ERROR.exit_status, full.stderr
    database = [c for c in json.loads(full.stdout) if c["check"] == "database"]
    assert database[0]["status"] == "fail" and "corrupt" in database[0]["detail"]
