"""The gateway's bookkeeping apart from HTTP: usage rows written a pass of the event loop at
a time (gateway.usage_log), and reads kept between changes to the database (gateway.reads),
bounded however many tokens or model names clients make up."""

from __future__ import annotations

import asyncio

from byok_cli.errors import ByokError, Code
from byok_cli.gateway.reads import MAX_KEPT, KeptReads
from byok_cli.gateway.usage_log import UsageLog
from byok_cli.store import Store, UsageRow

NOW = 1_800_000_000.0


def row(i: int) -> UsageRow:
    return UsageRow(NOW + i, "default", "openai", "gpt-4o", "stored", "", 10, i, 5, 9, "OK",
                    token_name=f"t{i % 3}")


def test_the_rows_of_one_pass_land_together_in_order_and_the_next_pass_after(tmp_path):
    store = Store(tmp_path / "home")
    log = UsageLog(store, lambda s: None)
    commits = []
    real = store.record_usages
    store.record_usages = lambda rows: (commits.append(len(rows)), real(rows))  # type: ignore

    async def main():
        first = [asyncio.ensure_future(log.add(row(i), None)) for i in range(5)]
        await asyncio.sleep(0)
        first[0].cancel()  # a request cancelled while it waits leaves the others' wait be
        await asyncio.gather(*first[1:])
        assert first[0].cancelled()
        await log.add(row(5), None)

    try:
        asyncio.run(main())
        assert commits == [5, 1]
        got = store.conn.execute("SELECT output_tokens, token_name FROM usage ORDER BY id")
        assert [tuple(r) for r in got] == [(i, f"t{i % 3}") for i in range(6)]
    finally:
        store.close()


def test_a_pass_whose_rows_cannot_be_written_is_warned_about_and_lets_answers_end(tmp_path):
    store = Store(tmp_path / "home")
    warnings = []
    log = UsageLog(store, warnings.append)

    def refuse(rows):
        raise ByokError(Code.STORE_ERROR, "the database is locked")

    store.record_usages = refuse  # type: ignore[method-assign]

    async def main():
        await asyncio.wait_for(asyncio.gather(log.add(row(0), None), log.add(row(1), None)), 5)

    try:
        asyncio.run(main())
        assert warnings == ["2 request(s) missing from the usage log: the database is locked"]
    finally:
        store.close()


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
