"""The usage log: one row per request, with daily roll-ups and latency histograms."""

from __future__ import annotations

from typing import NamedTuple

DAY = 86400  # the usage roll-ups' period, in seconds


class UsageRow(NamedTuple):
    """One request in the usage log. Never any key material, nor anything derived from it."""

    at: float
    profile: str
    provider: str
    model: str
    key_source: str | None
    fallbacks: str          # comma-separated kinds, '' when none was taken
    input_tokens: int | None
    output_tokens: int | None
    ttft_ms: int | None
    latency_ms: int | None
    code: str               # 'OK' or an error code
    cached_input_tokens: int | None = None  # of input_tokens, those billed at the cached rate
    cost_micros: int | None = None          # USD 10^-6 at the price then; None: not known
    key_name: str | None = None  # the stored key's name, or the environment variable's
    stop_reason: str | None = None  # why the answer ended (wire.STOP_REASONS); None: failed
    cache_write_tokens: int | None = None  # of input_tokens, those written to a prompt cache
    reasoning_tokens: int | None = None    # of output_tokens, those spent reasoning
    token_name: str | None = None  # the gateway client token it came with


# What a request is counted under in usage_daily_by, besides its model: the SQL that
# names it from a raw usage row, as ``dimensions`` names it from a new one: the key, and
# the gateway's client token ('-': none, as for run and chat).
DIMENSION_SQL = {"key": "IFNULL(key_name, IFNULL(key_source, '-'))",
                 "token": "IFNULL(token_name, '-')"}

_ADD_UP = ("ON CONFLICT DO UPDATE SET requests = requests + 1, errors = errors + excluded.errors, "
           "fallbacks = fallbacks + excluded.fallbacks, "
           "input_tokens = input_tokens + excluded.input_tokens, "
           "output_tokens = output_tokens + excluded.output_tokens, "
           "cost_micros = cost_micros + excluded.cost_micros, "
           "cost_unknown = cost_unknown + excluded.cost_unknown")


def dimensions(row: UsageRow) -> dict[str, str]:
    """The names ``row`` is counted under in usage_daily_by, as DIMENSION_SQL names them."""
    key = row.key_name if row.key_name is not None else row.key_source
    return {"key": "-" if key is None else key,
            "token": "-" if row.token_name is None else row.token_name}


class UsageTables:
    def record_usage(self, row: UsageRow, hold_id: int | None = None) -> None:
        """One request: its raw row, and the daily roll-ups `byok usage` and budgets read. The
        budget reservation ``hold_id`` gives way to the actual cost in the same transaction."""
        day = int(row.at // DAY)
        errors, fell_back = int(row.code != "OK"), int(bool(row.fallbacks))
        unknown = int(row.code == "OK" and row.cost_micros is None)
        key = (row.profile, row.provider, row.model, day)
        counts = (errors, fell_back, row.input_tokens or 0, row.output_tokens or 0,
                  row.cost_micros or 0, unknown)
        with self.transaction() as conn:
            conn.execute(f"INSERT INTO usage ({', '.join(UsageRow._fields)}) "
                         f"VALUES ({', '.join('?' * len(row))})", row)
            conn.execute(
                "INSERT INTO usage_daily (profile, provider, model, day, requests, errors, "
                "fallbacks, input_tokens, output_tokens, cost_micros, cost_unknown) "
                "VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?) " + _ADD_UP, (*key, *counts))
            for dimension, name in dimensions(row).items():
                conn.execute(
                    "INSERT INTO usage_daily_by (profile, dimension, name, provider, day, "
                    "requests, errors, fallbacks, input_tokens, output_tokens, cost_micros, "
                    "cost_unknown) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?) " + _ADD_UP,
                    (row.profile, dimension, name, row.provider, day, *counts))
            if hold_id is not None:
                conn.execute("DELETE FROM budget_holds WHERE id = ?", (hold_id,))
            for metric, ms in (("ttft", row.ttft_ms), ("total", row.latency_ms)):
                if ms is not None:
                    conn.execute("INSERT INTO usage_buckets VALUES (?, ?, ?, ?, ?, ?, 1) "
                                 "ON CONFLICT DO UPDATE SET n = n + 1",
                                 (*key, metric, bucket(ms)))

    def rebuild_usage_rollups(self) -> None:
        """Derive the roll-ups from the raw usage rows again (after bulk imports)."""
        counts = ("COUNT(*), SUM(code != 'OK'), SUM(fallbacks != ''), TOTAL(input_tokens), "
                  "TOTAL(output_tokens), SUM(IFNULL(cost_micros, 0)), "
                  "SUM(code = 'OK' AND cost_micros IS NULL)")
        with self.transaction() as conn:
            conn.execute("DELETE FROM usage_daily")
            conn.execute("DELETE FROM usage_daily_by")
            conn.execute("DELETE FROM usage_buckets")
            conn.execute(
                f"INSERT INTO usage_daily SELECT profile, provider, model, CAST(at / {DAY} AS INT), "
                f"{counts} FROM usage GROUP BY profile, provider, model, CAST(at / {DAY} AS INT)")
            for dimension, expression in DIMENSION_SQL.items():
                conn.execute(
                    f"INSERT INTO usage_daily_by SELECT profile, '{dimension}', {expression}, "
                    f"provider, CAST(at / {DAY} AS INT), {counts} FROM usage "
                    f"WHERE {expression} IS NOT NULL GROUP BY 1, 3, 4, 5")
            for metric, column in (("ttft", "ttft_ms"), ("total", "latency_ms")):
                conn.execute(
                    f"INSERT INTO usage_buckets SELECT profile, provider, model, "
                    f"CAST(at / {DAY} AS INT), '{metric}', {bucket_sql(column)}, COUNT(*) "
                    f"FROM usage WHERE {column} IS NOT NULL "
                    f"GROUP BY 1, 2, 3, 4, 6")

    def usage_totals(self, profile: str, since: float | None, provider: str | None) -> list[tuple]:
        """(provider, model, requests, errors, fallbacks, input, output, cost in micro-dollars,
        successful requests of unknown cost) per provider and model.

        Whole days come from the roll-ups; the first, partial day from the raw rows.
        """
        where, whole, raw = self._usage_window(profile, since, provider)
        sql = (
            "SELECT provider, model, SUM(r), SUM(e), SUM(f), SUM(i), SUM(o), SUM(c), SUM(u) FROM ("
            " SELECT provider, model, requests r, errors e, fallbacks f, input_tokens i, "
            " output_tokens o, cost_micros c, cost_unknown u FROM usage_daily "
            " WHERE profile = ? AND day > ?" + where +
            " UNION ALL SELECT provider, model, 1, code != 'OK', fallbacks != '', "
            " IFNULL(input_tokens, 0), IFNULL(output_tokens, 0), IFNULL(cost_micros, 0), "
            " code = 'OK' AND cost_micros IS NULL FROM usage "
            " WHERE profile = ? AND at >= ? AND at < ?" + where +
            ") GROUP BY provider, model ORDER BY provider, model")
        return list(self.conn.execute(sql, whole + raw))

    def usage_by_key(self, profile: str, since: float | None, provider: str | None
                     ) -> list[tuple]:
        """(provider, key name, requests, errors, fallbacks, input, output, cost in
        micro-dollars, successful requests of unknown cost) per provider and key. Rows from
        before keys had names say which kind of key they used ('stored', 'environment')."""
        return self.usage_by("key", profile, since, provider)

    def usage_by(self, dimension: str, profile: str, since: float | None,
                 provider: str | None) -> list[tuple]:
        """As :meth:`usage_by_key`, per provider and name under ``dimension`` (a key of
        DIMENSION_SQL): whole days from ``usage_daily_by``, the first, partial day from the
        raw rows (through the index covering them)."""
        expression = DIMENSION_SQL[dimension]
        where, whole, raw = self._usage_window(profile, since, provider)
        sql = (
            "SELECT provider, name, SUM(r), SUM(e), SUM(f), SUM(i), SUM(o), SUM(c), SUM(u) FROM ("
            " SELECT provider, name, requests r, errors e, fallbacks f, input_tokens i, "
            " output_tokens o, cost_micros c, cost_unknown u FROM usage_daily_by "
            " WHERE profile = ? AND dimension = ? AND day > ?" + where +
            f" UNION ALL SELECT provider, {expression}, 1, code != 'OK', fallbacks != '', "
            " IFNULL(input_tokens, 0), IFNULL(output_tokens, 0), IFNULL(cost_micros, 0), "
            " code = 'OK' AND cost_micros IS NULL FROM usage "
            " WHERE profile = ? AND at >= ? AND at < ?" + where +
            f" AND {expression} IS NOT NULL"
            ") GROUP BY provider, name ORDER BY provider, name")
        return list(self.conn.execute(sql, [whole[0], dimension, *whole[1:], *raw]))

    def usage_buckets(self, profile: str, since: float | None, provider: str | None
                      ) -> list[tuple]:
        """(provider, model, metric, bucket, count), the latency histograms. The partial
        day's raw rows are read once (a materialized CTE) for both metrics."""
        where, whole, raw_args = self._usage_window(profile, since, provider)
        raw = " UNION ALL ".join(
            f"SELECT provider, model, '{metric}' metric, {bucket_sql(column)} bucket, 1 n "
            f"FROM raw WHERE {column} IS NOT NULL"
            for metric, column in (("ttft", "ttft_ms"), ("total", "latency_ms")))
        sql = ("WITH raw AS MATERIALIZED (SELECT provider, model, ttft_ms, latency_ms FROM usage "
               " WHERE profile = ? AND at >= ? AND at < ?" + where + ") "
               "SELECT provider, model, metric, bucket, SUM(n) FROM ("
               " SELECT provider, model, metric, bucket, n FROM usage_buckets "
               " WHERE profile = ? AND day > ?" + where + " UNION ALL " + raw +
               ") GROUP BY provider, model, metric, bucket ORDER BY provider, model, metric, bucket")
        return list(self.conn.execute(sql, raw_args + whole))

    @staticmethod
    def _usage_window(profile: str, since: float | None, provider: str | None
                      ) -> tuple[str, list, list]:
        """(provider filter, arguments for the whole days, arguments for the partial day)."""
        first_day = -1 if since is None else int(since // DAY)
        start = 0.0 if since is None else since
        edge = 0.0 if since is None else (first_day + 1) * float(DAY)
        extra = [provider] if provider else []
        return (" AND provider = ?" if provider else "", [profile, first_day, *extra],
                [profile, start, edge, *extra])


# Latency histograms keep two significant figures (exact below 100 ms): percentiles come
# from a few hundred buckets per model, however many requests there were.
_DECADES = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)


def bucket(ms: int) -> int:
    ms = max(0, int(ms))
    if ms < _DECADES[0]:
        return ms
    for limit in _DECADES[1:]:
        if ms < limit:
            step = limit // 100
            return ms // step * step
    step = _DECADES[-1] // 10
    return ms // step * step


def bucket_sql(column: str) -> str:
    cases = [f"WHEN {column} < {_DECADES[0]} THEN MAX({column}, 0)"]
    cases += [f"WHEN {column} < {limit} THEN {column} / {limit // 100} * {limit // 100}"
              for limit in _DECADES[1:]]
    step = _DECADES[-1] // 10
    return f"(CASE {' '.join(cases)} ELSE {column} / {step} * {step} END)"

