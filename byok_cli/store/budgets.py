"""Budgets and the reservations ("holds") that keep parallel requests from overspending them.

A budget caps what a profile spends in a period, on the whole or on one provider or key.
Before a request is sent, byok holds its worst-case cost: in one IMMEDIATE transaction it
adds up what each applicable budget's period has spent (the usage roll-ups, whose days are
UTC days like the periods) and what other requests hold, and inserts its hold only if every
budget still allows it. Writers queue on that transaction, so two processes cannot both see
the same room. The hold is deleted in the transaction that records the actual cost.
"""

from __future__ import annotations

import math

from ..records import tuple_record
from .db import now
from .usage import DAY


@tuple_record
class Budget:
    scope: str          # 'profile', 'provider', 'key' or 'token' (a gateway client token)
    name: str           # the provider or key; '' for the profile
    period: str         # 'day', 'week' or 'month'
    limit_micros: int   # USD 10^-6

    @property
    def label(self) -> str:
        return "profile" if self.scope == "profile" else f"{self.scope} {self.name}"


@tuple_record
class Standing:
    """A budget's period so far, as seen inside the reserving transaction."""

    budget: Budget
    start: float        # the period's start (unix time)
    spent: int          # recorded costs in the period
    held: int           # other requests' holds in the period

    def allows(self, micros: int) -> bool:
        return self.spent + self.held + micros <= self.budget.limit_micros


class BudgetTables:
    def set_budget(self, profile: str, budget: Budget) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO budgets (profile, scope, name, period, limit_micros, "
                         "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                         "limit_micros = excluded.limit_micros", (profile, *budget, now()))

    def budgets(self, profile: str) -> list[Budget]:
        # A limit that damage garbled reads as 0: every request is refused, the safe side.
        return [Budget(scope, name, period, _micros(limit)) for scope, name, period, limit in
                self.conn.execute(
            "SELECT scope, name, period, limit_micros FROM budgets WHERE profile = ? "
            "ORDER BY scope != 'profile', scope, name, "
            "CASE period WHEN 'day' THEN 0 WHEN 'week' THEN 1 ELSE 2 END", (profile,))]

    def delete_budgets(self, profile: str, scope: str, name: str, period: str | None) -> int:
        with self.transaction() as conn:
            cur = conn.execute("DELETE FROM budgets WHERE profile = ? AND scope = ? AND name = ? "
                               "AND (? IS NULL OR period = ?)", (profile, scope, name, period,
                                                                 period))
        return cur.rowcount

    def standing(self, profile: str, budget: Budget, start: float, at: float) -> Standing:
        """What ``budget`` has spent and holds since ``start`` (a UTC midnight)."""
        spent = self._spent(profile, budget, start)
        where, args = _scope_filter(budget)
        held = self.conn.execute(
            "SELECT IFNULL(SUM(micros), 0) FROM budget_holds WHERE profile = ? AND at >= ? "
            "AND expires_at > ?" + where, (profile, start, at, *args)).fetchone()[0]
        return Standing(budget, start, _micros(spent), _micros(held))

    def _spent(self, profile: str, budget: Budget, start: float) -> int:
        if budget.scope in ("key", "token"):
            column = f"{budget.scope}_name"
            if column not in self._usage_columns():
                return 0  # no request has been made with one yet
            return self.conn.execute(
                "SELECT IFNULL(SUM(cost_micros), 0) FROM usage WHERE profile = ? AND at >= ? "
                f"AND {column} = ?", (profile, start, budget.name)).fetchone()[0]
        where, args = _scope_filter(budget)
        return self.conn.execute(
            "SELECT IFNULL(SUM(cost_micros), 0) FROM usage_daily WHERE profile = ? AND day >= ?"
            + where, (profile, int(start // DAY), *args)).fetchone()[0]

    def _usage_columns(self) -> set[str]:
        return {r[1] for r in self.conn.execute("PRAGMA table_info(usage)")}

    def reserve(self, profile: str, provider: str, key_name: str | None, micros: int,
                budgets: list[tuple[Budget, float]], at: float, ttl: float,
                token_name: str | None = None) -> tuple[int | None, list[Standing]]:
        """Hold ``micros`` against every (budget, period start) given, all or none: (hold id,
        standings) if each allows it, else (None, standings)."""
        with self.transaction() as conn:
            standings = [self.standing(profile, b, start, at) for b, start in budgets]
            if not all(s.allows(micros) for s in standings):
                return None, standings
            hold = conn.execute("INSERT INTO budget_holds (profile, provider, key_name, micros, "
                                "at, expires_at, token_name) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (profile, provider, key_name, micros, at, at + ttl,
                                 token_name)).lastrowid
            conn.execute("DELETE FROM budget_holds WHERE expires_at <= ?", (at,))
        return hold, standings

    def release_hold(self, hold_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM budget_holds WHERE id = ?", (hold_id,))


def _micros(total: object) -> int:
    """Micro-dollars (a limit, or a sum) as an integer, even where damage left text or a
    REAL (0 for what is not a number)."""
    return int(total) if isinstance(total, (int, float)) and math.isfinite(total) else 0


def _scope_filter(budget: Budget) -> tuple[str, list]:
    if budget.scope == "provider":
        return " AND provider = ?", [budget.name]
    if budget.scope in ("key", "token"):
        return f" AND {budget.scope}_name = ?", [budget.name]
    return "", []
