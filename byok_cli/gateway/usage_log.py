"""The gateway's usage rows, written together: those of one event-loop pass in one
transaction, at the start of the next pass.

A request's answer ends (its last bytes leave) only once its row is committed, so a
gateway killed at any moment has lost no row of an answer a client received whole. The
budget room a request held stays held until the same transaction settles it, so a budget
never shows less spent than it is, to this process or any other byok process.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from ..errors import ByokError
from ..store import Store, UsageRow


class UsageLog:
    def __init__(self, store: Store, on_warning: Callable[[str], None]):
        self.store, self.on_warning = store, on_warning
        self._rows: list[tuple[UsageRow, int | None]] = []
        self._written: asyncio.Future | None = None

    def add(self, row: UsageRow, hold: int | None) -> Awaitable[None]:
        """Queue ``row`` (settling ``hold``); done once it is committed (or could not be)."""
        if self._written is None:
            loop = asyncio.get_running_loop()
            self._written = loop.create_future()
            loop.call_soon(self.flush)
        self._rows.append((row, hold))
        # shielded: a request cancelled while it waits must not cancel the others' wait
        return asyncio.shield(self._written)

    def flush(self) -> None:
        """Write what is queued, in the order it was queued."""
        rows, written = self._rows, self._written
        self._rows, self._written = [], None
        try:
            self.store.record_usages(rows)
        except ByokError as err:
            self.on_warning(f"{len(rows)} request(s) missing from the usage log: "
                            f"{err.message}")
        finally:
            if written is not None and not written.done():
                written.set_result(None)
