"""The gateway's bookkeeping apart from HTTP: usage rows written off the event loop, a
batch a transaction (gateway.usage_log), and reads kept between changes to the database (gateway.reads),
bounded however many tokens or model names clients make up."""

from __future__ import annotations

import asyncio
import threading

from byok_cli.errors import ByokError, Code
from byok_cli.gateway.reads import MAX_KEPT, KeptReads
from byok_cli.gateway.usage_log import UsageLog
from byok_cli.store import Store, UsageRow

NOW = 1_800_000_000.0


def row(i: int) -> UsageRow:
    return UsageRow(NOW + i, "default", "openai", "gpt-4o", "stored", "", 10, i, 5, 9, "OK",
                    token_name=f"t{i % 3}")


def test_rows_queued_while_the_writer_commits_land_together_in_order_and_the_loop_runs_on(
        tmp_path):
    """The writer thread commits off the event loop: while it holds a commit (here: a
    gate), the loop serves on and queues more rows, which land in the next transaction,
    in order; a request cancelled while it waits does not lose its row, nor cancel the
    others' wait."""
    store = Store(tmp_path / "home")
    log = UsageLog(store, lambda s: None)
    commits, gate = [], threading.Event()
    real = log.store.record_usages

    def gated(rows):
        gate.wait(10)
        commits.append(len(rows))
        real(rows)

    log.store.record_usages = gated  # type: ignore[method-assign]

    async def main():
        first = asyncio.ensure_future(log.add(row(0), None))
        while not log.lock.locked():  # the writer took row 0 and waits at the gate
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(log.add(row(i), None)) for i in range(1, 6)]
        await asyncio.sleep(0.05)  # the loop is not blocked by the commit in progress
        assert not first.done() and not any(r.done() for r in rest)
        rest[0].cancel()
        gate.set()
        await asyncio.wait_for(asyncio.gather(first, *rest[1:]), 10)
        assert rest[0].cancelled()

    try:
        asyncio.run(main())
        log.close()
        assert commits == [1, 5]
        got = store.conn.execute("SELECT output_tokens, token_name FROM usage ORDER BY id")
        assert [tuple(r) for r in got] == [(i, f"t{i % 3}") for i in range(6)]
    finally:
        store.close()


def test_a_batch_whose_rows_cannot_be_written_is_warned_about_and_lets_answers_end(tmp_path):
    store = Store(tmp_path / "home")
    warnings = []
    log = UsageLog(store, warnings.append)
    gate = threading.Event()

    def refuse(rows):
        gate.wait(10)
        raise ByokError(Code.STORE_ERROR, "the database is locked")

    log.store.record_usages = refuse  # type: ignore[method-assign]

    async def main():
        waits = [log.add(row(0), None), log.add(row(1), None)]
        gate.set()
        await asyncio.wait_for(asyncio.gather(*waits), 5)

    try:
        asyncio.run(main())
        log.close()
        assert "".join(warnings).count("missing from the usage log: the database is locked")
        assert sum(int(w.split()[0]) for w in warnings) == 2
    finally:
        store.close()


def kept_beside_a_writer(tmp_path):
    """The gateway's kept reads and usage writer on one home, and another byok's Store."""
    changes: list[int] = []
    store, other = Store(tmp_path / "home"), Store(tmp_path / "home")
    kept = KeptReads(store, on_change=lambda: changes.append(1))
    log = UsageLog(store, lambda s: None)
    kept.writer = log
    return store, other, kept, log, changes


def close_all(*opened):
    for each in opened:
        each.close()


def test_the_writers_own_commits_keep_what_is_kept_and_anyone_elses_clear_it(tmp_path):
    """Kept reads are cleared by another connection's commit (a revoked token, a new
    key), the gateway's own connection's included, but not by the usage rows, holds and
    token counts the writer commits."""
    store, other, kept, log, changes = kept_beside_a_writer(tmp_path)
    try:
        kept.fresh()
        assert changes == [1]

        async def write():
            await log.add(row(0), None)
        asyncio.run(write())
        kept.token_used("default", "nobody", NOW, 3)  # through the writer's connection
        kept.fresh()
        assert changes == [1]
        assert store.conn.execute("SELECT COUNT(*) FROM usage").fetchone()[0] == 1
        other.add_provider("default", "corp", "openai", "http://127.0.0.1:9/v1", None, True)
        kept.fresh()
        assert changes == [1, 1]
        store.add_provider("default", "mine", "openai", "http://127.0.0.1:9/v1", None, True)
        kept.fresh()
        assert changes == [1, 1, 1]
        kept.fresh()
        assert changes == [1, 1, 1]
    finally:
        close_all(log, store, other)


def test_what_clients_make_up_cannot_grow_the_kept_reads_without_bound(tmp_path):
    store = Store(tmp_path / "home")
    kept = KeptReads(store)
    try:
        kept.fresh()
        for i in range(MAX_KEPT + 500):
            assert kept.token_by_digest(f"{i:064x}") is None
            kept.kept(("plan", "openai", f"model-{i}"), lambda: i)
            assert len(kept._kept) <= MAX_KEPT
    finally:
        store.close()


def test_another_connections_commit_is_passed_on_whoever_notices_it_first(tmp_path):
    """The gateway reads its providers again on the change a stream's token check noticed
    as well as on one a new request noticed: the hook is in KeptReads.fresh itself."""
    changes: list[int] = []
    store, other = Store(tmp_path / "home"), Store(tmp_path / "home")
    kept = KeptReads(store, on_change=lambda: changes.append(1))
    try:
        kept.fresh()
        assert changes == [1]  # the first look: nothing was read yet
        kept.fresh()
        assert changes == [1]  # nothing changed
        other.add_provider("default", "corp", "openai", "http://127.0.0.1:9/v1", None, True)
        kept.fresh()  # (a stream's tokens.StillLive calls this between chunks)
        assert changes == [1, 1]
        kept.fresh()
        assert changes == [1, 1]
    finally:
        store.close()
        other.close()


def test_while_the_writer_is_in_a_transaction_the_loop_does_not_wait_and_misses_no_change(
        tmp_path):
    """fresh() never waits for the writer's connection: while the writer holds it, this
    connection's own data_version is looked at, and any move clears what is kept."""
    store, other, kept, log, changes = kept_beside_a_writer(tmp_path)
    try:
        kept.fresh()
        with log.lock:  # as the writer holds it for a transaction
            assert log.version() is None
            kept.fresh()
            assert changes == [1]
            other.revoke_token("default", "nobody", NOW)  # a commit, whatever it changes
            other.add_provider("default", "corp", "openai", "http://127.0.0.1:9/v1", None,
                               True)
            kept.fresh()
            assert changes == [1, 1]
            kept.fresh()
            assert changes == [1, 1]
        kept.fresh()  # the writer's version moved too: cleared once more, never missed
        kept.fresh()
        assert changes == [1, 1, 1]
    finally:
        close_all(log, store, other)


def test_an_open_streams_token_is_read_again_only_after_a_change_and_a_revocation_ends_it(
        tmp_path):
    """tokens.StillLive, asked between a stream's chunks: it looks at the database at most
    every LIVE_EVERY (all streams together), reads the token again only when what is kept
    was forgotten (whoever noticed the change: a new request's look counts), and finds a
    revoked token dead however the change was noticed."""
    from byok_cli.gateway import tokens

    store, other = Store(tmp_path / "home"), Store(tmp_path / "home")
    kept = KeptReads(store)
    try:
        secret = tokens.create(other, "default", "doomed", [])
        tokens.create(other, "default", "other", [])
        kept.fresh()
        verdict = tokens.check(kept, "default", secret, "openai")
        assert verdict.status == 200
        live = tokens.StillLive(kept, verdict.token)
        looks = []
        real = store.token_by_digest
        store.token_by_digest = lambda d: looks.append(d) or real(d)  # type: ignore
        assert live() and live() and looks == []  # nothing changed: not read again
        other.revoke_token("default", "other", NOW)  # a change, not to this token
        kept.fresh()  # a new request notices it first
        assert live() and looks == [verdict.token.digest]
        assert live() and len(looks) == 1
        other.revoke_token("default", "doomed", NOW)
        kept.fresh()  # noticed by a request: the stream reads its token again
        assert not live()
    finally:
        close_all(store, other)


def test_a_stream_looks_for_a_revocation_once_live_every_has_passed(tmp_path):
    """The bound docs/gateway.md states: a revocation committed more than LIVE_EVERY after
    the last look is seen by the next chunk, with no request in between."""
    import time

    from byok_cli.gateway import tokens

    store, other = Store(tmp_path / "home"), Store(tmp_path / "home")
    kept = KeptReads(store)
    try:
        secret = tokens.create(other, "default", "doomed", [])
        kept.fresh()
        live = tokens.StillLive(kept, tokens.check(kept, "default", secret, "x").token)
        assert live()
        other.revoke_token("default", "doomed", NOW)
        time.sleep(2 * tokens.LIVE_EVERY)
        assert not live()
    finally:
        close_all(store, other)
