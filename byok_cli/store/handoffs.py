"""The hand-off log: each key `byok key get` gave out, by name and source, and to which program.

Never the key, nor anything derived from it (not even its last four characters).
"""

from __future__ import annotations

from typing import NamedTuple


class Handoff(NamedTuple):
    at: float
    profile: str
    provider: str
    key_name: str
    source: str           # 'stored' or 'environment'
    parent: str           # the parent process's name
    caller: str | None    # when the parent is a shell: the program that started that shell


class HandoffSummary(NamedTuple):
    parent: str
    caller: str | None
    provider: str
    key_name: str
    source: str
    count: int
    first_at: float
    last_at: float


class HandoffTables:
    def record_handoff(self, handoff: Handoff) -> None:
        with self.transaction() as conn:  # a failure is already the store's one-line error
            conn.execute("INSERT INTO handoffs (at, profile, provider, key_name, source, "
                         "parent, caller) VALUES (?, ?, ?, ?, ?, ?, ?)", handoff)

    def handoffs(self, profile: str, since: float | None = None,
                 provider: str | None = None) -> list[HandoffSummary]:
        """One row per program and key, the most recent first."""
        sql = ("SELECT parent, caller, provider, key_name, source, COUNT(*), MIN(at), MAX(at) "
               "FROM handoffs WHERE profile = ? AND at >= ?")
        args: list = [profile, since or 0.0]
        if provider:
            sql += " AND provider = ?"
            args.append(provider)
        sql += (" GROUP BY parent, caller, provider, key_name, source "
                "ORDER BY MAX(at) DESC, parent, provider")
        return [HandoffSummary(*row) for row in self.conn.execute(sql, args)]
