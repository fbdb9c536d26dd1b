"""The usage log: one row per request, with roll-ups per day and, under them, per hour (a
window reads whole days, then the whole hours of its first day, then at most half an hour
of raw rows), and latency histograms per day and as running sums per bucket (all time, and
up to each hour: a window's histogram is one lookup per bucket of a bounded set, then at
most half an hour of raw rows). So what a reading command costs does not grow with the
requests logged."""

from __future__ import annotations

from ..records import tuple_record


DAY = 86400  # the usage roll-ups' period, in seconds
HOUR = 3600  # the finer roll-ups' period, for a window's first, partial day

# Each tier: (its totals, its totals per dimension, the period column, seconds)
TIERS = (("usage_daily", "usage_daily_by", "day", DAY),
         ("usage_hourly", "usage_hourly_by", "hour", HOUR))


@tuple_record
class UsageRow:
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

_ADD_UP = ("ON CONFLICT DO UPDATE SET requests = requests + excluded.requests, errors = errors + excluded.errors, "
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
        """One request: its raw row, and the roll-ups `byok usage` and budgets read (per day
        and per hour). The budget reservation ``hold_id`` gives way to the actual cost in
        the same transaction."""
        self.record_usages([(row, hold_id)])

    def record_usages(self, rows: list[tuple[UsageRow, int | None]]) -> None:
        """Several requests (each with the hold it settles) in one transaction, the raw rows
        in the order given; the roll-ups are added up first, so that requests alike cost
        one statement per roll-up row between them, not one each."""
        if not rows:
            return
        totals: dict[tuple, list[int]] = {}
        by: dict[tuple, list[int]] = {}
        days: dict[tuple, int] = {}
        running: dict[tuple, int] = {}
        for row, _ in rows:
            counts = (1, int(row.code != "OK"), int(bool(row.fallbacks)),
                      row.input_tokens or 0, row.output_tokens or 0, row.cost_micros or 0,
                      int(row.code == "OK" and row.cost_micros is None))
            for table, by_table, column, seconds in TIERS:
                period = int(row.at // seconds)
                _add(totals, (table, column, row.profile, row.provider, row.model, period),
                     counts)
                for dimension, name in dimensions(row).items():
                    _add(by, (by_table, column, row.profile, dimension, name, row.provider,
                              period), counts)
            for metric, ms in (("ttft", row.ttft_ms), ("total", row.latency_ms)):
                if ms is not None:
                    key = (row.profile, row.provider, row.model, metric, bucket(ms))
                    day = (row.profile, row.provider, row.model, int(row.at // DAY), metric,
                           key[4])
                    days[day] = days.get(day, 0) + 1
                    hour = (key, int(row.at // HOUR))
                    running[hour] = running.get(hour, 0) + 1
        with self.transaction() as conn:
            conn.executemany(f"INSERT INTO usage ({', '.join(UsageRow._fields)}) "
                             f"VALUES ({', '.join('?' * len(UsageRow._fields))})",
                             [row for row, _ in rows])
            for (table, period, *key), counts in totals.items():
                conn.execute(
                    f"INSERT INTO {table} (profile, provider, model, {period}, requests, "
                    "errors, fallbacks, input_tokens, output_tokens, cost_micros, cost_unknown) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) " + _ADD_UP, (*key, *counts))
            for (table, period, *key), counts in by.items():
                conn.execute(
                    f"INSERT INTO {table} (profile, dimension, name, provider, {period}, "
                    "requests, errors, fallbacks, input_tokens, output_tokens, cost_micros, "
                    "cost_unknown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) " + _ADD_UP,
                    (*key, *counts))
            for day, n in days.items():
                conn.execute("INSERT INTO usage_buckets VALUES (?, ?, ?, ?, ?, ?, ?) "
                             "ON CONFLICT DO UPDATE SET n = n + excluded.n", (*day, n))
            for (key, hour), n in running.items():
                _count_in_running_sums(conn, key, hour, n)
            holds = [(hold,) for _, hold in rows if hold is not None]
            if holds:
                conn.executemany("DELETE FROM budget_holds WHERE id = ?", holds)

    def rebuild_usage_rollups(self) -> None:
        """Derive the roll-ups from the raw usage rows again (after bulk imports)."""
        counts = ("COUNT(*), SUM(code != 'OK'), SUM(fallbacks != ''), TOTAL(input_tokens), "
                  "TOTAL(output_tokens), SUM(IFNULL(cost_micros, 0)), "
                  "SUM(code = 'OK' AND cost_micros IS NULL)")
        with self.transaction() as conn:
            for table in ("usage_buckets", "usage_buckets_total", "usage_buckets_upto"):
                conn.execute(f"DELETE FROM {table}")
            for totals, by, _, seconds in TIERS:
                period = f"CAST(at / {seconds} AS INT)"
                for table in (totals, by):
                    conn.execute(f"DELETE FROM {table}")
                conn.execute(
                    f"INSERT INTO {totals} SELECT profile, provider, model, {period}, {counts} "
                    f"FROM usage GROUP BY profile, provider, model, {period}")
                for dimension, expression in DIMENSION_SQL.items():
                    conn.execute(
                        f"INSERT INTO {by} SELECT profile, '{dimension}', {expression}, "
                        f"provider, {period}, {counts} FROM usage "
                        f"WHERE {expression} IS NOT NULL GROUP BY 1, 3, 4, 5")
            for metric, column in (("ttft", "ttft_ms"), ("total", "latency_ms")):
                conn.execute(
                    f"INSERT INTO usage_buckets SELECT profile, provider, model, "
                    f"CAST(at / {DAY} AS INT), '{metric}', {bucket_sql(column)}, COUNT(*) "
                    f"FROM usage WHERE {column} IS NOT NULL GROUP BY 1, 2, 3, 4, 6")
                conn.execute(
                    f"INSERT INTO usage_buckets_upto SELECT profile, provider, model, "
                    f"'{metric}', b, h, SUM(c) OVER (PARTITION BY profile, provider, model, b "
                    f"ORDER BY h) FROM (SELECT profile, provider, model, {bucket_sql(column)} b, "
                    f"CAST(at / {HOUR} AS INT) h, COUNT(*) c FROM usage "
                    f"WHERE {column} IS NOT NULL GROUP BY 1, 2, 3, 4, 5)")
            conn.execute("INSERT INTO usage_buckets_total SELECT profile, provider, model, "
                         "metric, bucket, SUM(n) FROM usage_buckets GROUP BY 1, 2, 3, 4, 5")

    def usage_totals(self, profile: str, since: float | None, provider: str | None) -> list[tuple]:
        """(provider, model, requests, errors, fallbacks, input, output, cost in micro-dollars,
        successful requests of unknown cost) per provider and model.

        Whole days and the first day's whole hours come from the roll-ups; at most half of
        the first hour from the raw rows (see _usage_window).
        """
        where, tiers, raw, sign = self._usage_window(profile, since, provider)
        summed = " UNION ALL ".join(
            f"SELECT provider, model, requests r, errors e, fallbacks f, input_tokens i, "
            f"output_tokens o, cost_micros c, cost_unknown u FROM {totals} "
            f"WHERE profile = ? AND {period} > ? AND {period} < ?" + where
            for totals, _, period, _ in TIERS)
        sql = (
            "SELECT provider, model, SUM(r), SUM(e), SUM(f), SUM(i), SUM(o), SUM(c), SUM(u) FROM ("
            + summed + f" UNION ALL SELECT provider, model, {_RAW_COUNTS.format(s=sign)} "
            " FROM usage WHERE profile = ? AND at >= ? AND at < ?" + where +
            ") GROUP BY provider, model HAVING SUM(r) > 0 ORDER BY provider, model")
        return self.conn.execute(sql, [*tiers[0], *tiers[1], *raw]).fetchall()

    def usage_by_key(self, profile: str, since: float | None, provider: str | None
                     ) -> list[tuple]:
        """(provider, key name, requests, errors, fallbacks, input, output, cost in
        micro-dollars, successful requests of unknown cost) per provider and key. Rows from
        before keys had names say which kind of key they used ('stored', 'environment')."""
        return self.usage_by("key", profile, since, provider)

    def usage_by(self, dimension: str, profile: str, since: float | None,
                 provider: str | None) -> list[tuple]:
        """As :meth:`usage_by_key`, per provider and name under ``dimension`` (a key of
        DIMENSION_SQL): whole days and hours from the roll-ups per dimension, at most half the
        first hour from the raw rows (through the index covering them)."""
        expression = DIMENSION_SQL[dimension]
        where, tiers, raw, sign = self._usage_window(profile, since, provider)
        summed = " UNION ALL ".join(
            f"SELECT provider, name, requests r, errors e, fallbacks f, input_tokens i, "
            f"output_tokens o, cost_micros c, cost_unknown u FROM {by} "
            f"WHERE profile = ? AND dimension = ? AND {period} > ? AND {period} < ?" + where
            for _, by, period, _ in TIERS)
        sql = (
            "SELECT provider, name, SUM(r), SUM(e), SUM(f), SUM(i), SUM(o), SUM(c), SUM(u) FROM ("
            + summed + f" UNION ALL SELECT provider, {expression}, "
            f"{_RAW_COUNTS.format(s=sign)} FROM usage WHERE profile = ? AND at >= ? AND at < ?"
            + where + f" AND {expression} IS NOT NULL"
            ") GROUP BY provider, name HAVING SUM(r) > 0 ORDER BY provider, name")
        args = [a for tier in tiers for a in (tier[0], dimension, *tier[1:])]
        return self.conn.execute(sql, [*args, *raw]).fetchall()

    def usage_buckets(self, profile: str, since: float | None, provider: str | None
                      ) -> list[tuple]:
        """(provider, model, metric, bucket, count), the latency histograms: every hour
        after the window's first from the running sums (all time, less those up to its first
        hour: one index lookup per bucket, however long the window), the first hour from its
        raw rows (read once, a materialized CTE, for both metrics)."""
        where, tiers, raw_args, sign = self._usage_window(profile, since, provider)
        raw = " UNION ALL ".join(
            f"SELECT provider, model, '{metric}' metric, {bucket_sql(column)} bucket, {sign} n "
            f"FROM raw WHERE {column} IS NOT NULL"
            for metric, column in (("ttft", "ttft_ms"), ("total", "latency_ms")))
        before = "0" if since is None else (
            "IFNULL((SELECT u.n FROM usage_buckets_upto u WHERE u.profile = t.profile "
            "AND u.provider = t.provider AND u.model = t.model AND u.metric = t.metric "
            "AND u.bucket = t.bucket AND u.hour <= ? ORDER BY u.hour DESC LIMIT 1), 0)")
        hours = (f"SELECT provider, model, metric, bucket, n - {before} n "
                 "FROM usage_buckets_total t WHERE profile = ?" + where)
        sql = ("WITH raw AS MATERIALIZED (SELECT provider, model, ttft_ms, latency_ms FROM usage "
               " WHERE profile = ? AND at >= ? AND at < ?" + where + ") "
               "SELECT provider, model, metric, bucket, SUM(n) FROM (" + hours + " UNION ALL "
               + raw + ") GROUP BY provider, model, metric, bucket "
               "HAVING SUM(n) > 0 ORDER BY provider, model, metric, bucket")
        first_hour = [] if since is None else [tiers[1][1]]  # the last hour not counted
        # fetchall, not list(): thousands of bucket rows at 10^6 requests, each row's
        # fetch through the store's guarded cursor would be a Python call of its own
        return self.conn.execute(sql, [*raw_args, *first_hour, profile,
                                       *([provider] if provider else [])]).fetchall()

    @staticmethod
    def _usage_window(profile: str, since: float | None, provider: str | None
                      ) -> tuple[str, list[list], list, int]:
        """(the provider filter; for each tier of TIERS, the arguments that pick its whole
        periods: the days after the first, then hours of the first day after the one given;
        the arguments for the raw rows; whether those are added (1) or taken away (-1)).

        The hour ``since`` falls in is read from the raw rows, but never more than half of
        it: from ``since`` to its end, added to the whole hours after it; or, when ``since``
        is in its first half, from its start to ``since``, taken away from the whole hours
        from it on."""
        extra = [provider] if provider else []
        if since is None:  # every day from the daily tier; no hours, no raw rows
            return (" AND provider = ?" if provider else "",
                    [[profile, -1, 2**62, *extra], [profile, 0, 0, *extra]],
                    [profile, 0.0, 0.0, *extra], 1)
        first_day, first_hour = int(since // DAY), int(since // HOUR)
        start, end = first_hour * float(HOUR), (first_hour + 1) * float(HOUR)
        taken_away = since - start < end - since
        raw, sign = ([start, since], -1) if taken_away else ([since, end], 1)
        return (" AND provider = ?" if provider else "",
                [[profile, first_day, 2**62, *extra],
                 [profile, first_hour - taken_away, (first_day + 1) * (DAY // HOUR), *extra]],
                [profile, *raw, *extra], sign)


# A raw usage row's counts in a window's sums, times {s}: 1 added, -1 taken away
_RAW_COUNTS = ("{s}, {s} * (code != 'OK'), {s} * (fallbacks != ''), "
               "{s} * IFNULL(input_tokens, 0), {s} * IFNULL(output_tokens, 0), "
               "{s} * IFNULL(cost_micros, 0), {s} * (code = 'OK' AND cost_micros IS NULL)")


def _count_in_running_sums(conn, key: tuple, hour: int, n: int = 1) -> None:
    """``n`` requests in a histogram bucket's running sums: all time, and up to each hour
    from their own on (requests logged after later hours' first ones count in theirs too)."""
    match = "profile = ? AND provider = ? AND model = ? AND metric = ? AND bucket = ?"
    conn.execute("INSERT INTO usage_buckets_total VALUES (?, ?, ?, ?, ?, ?) "
                 "ON CONFLICT DO UPDATE SET n = n + excluded.n", (*key, n))
    conn.execute(f"UPDATE usage_buckets_upto SET n = n + ? WHERE {match} AND hour > ?",
                 (n, *key, hour))
    conn.execute(f"INSERT INTO usage_buckets_upto SELECT ?, ?, ?, ?, ?, ?, ? + IFNULL((SELECT n "
                 f"FROM usage_buckets_upto WHERE {match} AND hour < ? ORDER BY hour DESC "
                 "LIMIT 1), 0) WHERE true ON CONFLICT DO UPDATE SET n = n + ?",
                 (*key, hour, n, *key, hour, n))


def _add(sums: dict[tuple, list[int]], key: tuple, counts: tuple) -> None:
    found = sums.get(key)
    if found is None:
        sums[key] = list(counts)
    else:
        for i, c in enumerate(counts):
            found[i] += c


# Latency histograms are kept in steps of the 1-2-5 series: exact below 20 ms; then 20, 22,
# 24 ... 48, 50, 55 ... 95, 100, 110 ... 190, 200, 220 ...: each value is rounded down to its
# step, at most 10% below it (35 buckets a decade). A window's percentiles thus come from
# ~100 buckets per model and metric however many requests there were; the finer two
# significant figures before (90 a decade) made reading them grow with the log (migration 18).
# (limit, step): values below the limit, and at or above the one before, go down to the step.
_STEPS = tuple((factor * 10 ** decade, step * 10 ** (decade - 1))
               for decade in range(1, 7) for factor, step in ((2, 1), (5, 2), (10, 5))
               if factor * 10 ** decade > 20)
_EXACT = 20  # below this, every millisecond is its own bucket
_TOP_STEP = 1_000_000  # from the last limit (10^7 ms, ~2.8 hours) on


def bucket(ms: int) -> int:
    """The histogram bucket of a latency: its lower bound, ``ms`` rounded down to its step."""
    ms = max(0, int(ms))
    if ms < _EXACT:
        return ms
    for limit, step in _STEPS:
        if ms < limit:
            return ms // step * step
    return ms // _TOP_STEP * _TOP_STEP


def bucket_sql(column: str) -> str:
    """:func:`bucket` in SQL, for an integer ``column``."""
    cases = [f"WHEN {column} < {_EXACT} THEN MAX({column}, 0)"]
    cases += [f"WHEN {column} < {limit} THEN {column} / {step} * {step}"
              for limit, step in _STEPS]
    return f"(CASE {' '.join(cases)} ELSE {column} / {_TOP_STEP} * {_TOP_STEP} END)"
