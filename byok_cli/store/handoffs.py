"""The hand-off log: each key `byok key get` gave out, by name and source, and to which program.

Never the key, nor anything derived from it (not even its last four characters). Hand-offs
of one key to one program are counted in one row per UTC day (``at``: the day's first,
``last_at``: its latest), so the log grows with the days and programs, not with the calls.
"""

from __future__ import annotations

from ..records import tuple_record
from .usage import DAY


@tuple_record
class Handoff:
    at: float
    profile: str
    provider: str
    key_name: str
    source: str           # 'stored' or 'environment'
    parent: str           # the parent process's name
    caller: str | None    # when the parent is a shell: the program that started that shell


@tuple_record
class HandoffSummary:
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
        day_start = handoff.at - handoff.at % DAY
        with self.transaction() as conn:  # a failure is already the store's one-line error
            counted = conn.execute(
                "UPDATE handoffs SET count = count + 1, last_at = MAX(COALESCE(last_at, at), ?) "
                "WHERE id = (SELECT id FROM handoffs WHERE profile = ? AND at >= ? AND at < ? "
                "AND provider = ? AND key_name = ? AND source = ? AND parent = ? "
                "AND caller IS ? LIMIT 1)",
                (handoff.at, handoff.profile, day_start, day_start + DAY, handoff.provider,
                 handoff.key_name, handoff.source, handoff.parent, handoff.caller)).rowcount
            if not counted:
                conn.execute("INSERT INTO handoffs (at, profile, provider, key_name, source, "
                             "parent, caller) VALUES (?, ?, ?, ?, ?, ?, ?)", handoff)

    def handoffs(self, profile: str, since: float | None = None,
                 provider: str | None = None) -> list[HandoffSummary]:
        """One row per program and key, the most recent first. A day's row counts in full
        when its latest hand-off is at or after ``since``."""
        sql = ("SELECT parent, caller, provider, key_name, source, SUM(count), MIN(at), "
               "MAX(COALESCE(last_at, at)) FROM handoffs WHERE profile = ? "
               "AND COALESCE(last_at, at) >= ?")
        args: list = [profile, since or 0.0]
        if provider:
            sql += " AND provider = ?"
            args.append(provider)
        sql += (" GROUP BY parent, caller, provider, key_name, source "
                "ORDER BY MAX(at) DESC, parent, provider")
        return [HandoffSummary(*row) for row in self.conn.execute(sql, args)]
