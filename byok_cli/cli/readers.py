"""The bodies of the read-only commands the fast path runs without Typer (see `fast`):
each is called by its Typer command and by the fast path alike, with the invocation's
state and the command's parameters under their Typer names (scripts/generate.py checks
that they match). No Typer here."""

from __future__ import annotations

import os

from ..records import tuple_record
from . import output
from .setting_names import PER_PROVIDER, PROFILE_SETTINGS
from .state import State, note_unknown_profile


def key_list(st: State, as_json: bool, no_header: bool, wide: bool = False) -> None:
    """`byok key list`."""
    from ..secrets.key_reports import mask_hint

    reports = st.byok.key_reader.report()
    note_unknown_profile(st, not any(r.stored for r in reports))
    if as_json:
        output.emit_json([r.to_dict() for r in reports])
        return
    rows = []
    for r in reports:
        order = 0
        for k in r.stored:
            order += 1
            rows.append([r.provider.name, k.name, mask_hint(k.hint), k.status, k.updated_at,
                         order])
        if r.env_hint:
            order += 1
            rows.append([r.provider.name, r.provider.key_env, "…" + r.env_hint, "environment",
                         None, order])
        if not order:
            rows.append([r.provider.name, None, None, "none needed" if not r.provider.needs_key
                         else "none", None, None])
    output.table(["provider", "name", "key", output.Column("status", whole=False),
                  output.Column("set at", drop=1, show=output.short_time), "order"], rows,
                 header=not no_header, drop=not wide)


def config_show(st: State, as_json: bool, no_header: bool) -> None:
    """`byok config show`."""
    settings = st.store.settings(st.profile)
    note_unknown_profile(st)
    registry = st.byok.registry
    values = {name: settings[column] for name, column in PROFILE_SETTINGS.items()}
    configured = set().union(*(settings[kind] for kind in PER_PROVIDER.values()))
    for p in registry:
        if p.kind == "builtin" or p.name in configured:
            for field, kind in PER_PROVIDER.items():
                values[f"{p.name}.{field}"] = settings[kind].get(p.name)
    if as_json:
        output.emit_json({"profile": st.profile, **values})
        return
    shown = {k: v if v is not None else "(default)" for k, v in values.items()}
    # A base URL from the environment wins over the profile's: said on a terminal (the
    # tab-separated value stays the setting's, for scripts).
    for p in registry if output.stdout_is_tty() else ():
        given = p.base_url_env and os.environ.get(p.base_url_env, "").strip()
        if given and f"{p.name}.base_url" in shown:
            shown[f"{p.name}.base_url"] += f"; {p.base_url_env} is in effect: {given}"
    output.table(["setting", output.Column("value", whole=False)],
                 [[k, v] for k, v in shown.items()], header=not no_header)


def history_list(st: State, limit: int | None, as_json: bool, no_header: bool,
                 wide: bool = False) -> None:
    """`byok history list`: without -n, what fits a terminal's screen (20), else 50."""
    on_screen = not as_json and output.stdout_is_tty()
    shown = limit or (20 if on_screen else 50)
    rows = st.store.conversations(st.profile, shown + 1)
    more, rows = len(rows) > shown, rows[:shown]
    note_unknown_profile(st, not rows)
    if as_json:
        output.emit_json(rows)
        return
    # On a terminal a prompt's line breaks show as "⏎" and the row stays one line, cut to
    # fit; scripts get the prompt's words joined by spaces, as before. A key in a prompt is
    # masked before the cut: cut first, the masker would see only a part of it.
    from ..errors import redact

    output.table(["id", output.Column("updated", show=output.short_time), "messages", "model",
                  output.Column("first prompt", whole=False, drop=1, only="tty", clip=True),
                  output.Column("first prompt", only="tsv")],
                 [[r["id"], r["updated_at"], r["messages"], r["model"],
                   one_line(first, newline=" ⏎ "), one_line(first)]
                  for r in rows for first in (redact(r["first_prompt"] or ""),)],
                 header=not no_header, empty=f"no conversations in profile {st.profile!r} yet",
                 drop=not wide)
    if more and on_screen:
        output.info(f"the newest {shown} shown; -n N shows more")


def one_line(text: str | None, width: int = 60, newline: str = " ") -> str:
    """``text`` on one line: runs of blanks one space, and its line breaks ``newline``."""
    lines = [" ".join(line.split()) for line in (text or "").splitlines()]
    flat = newline.join(line for line in lines if line)
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def usage(st: State, since: str, provider: str | None, by: str, as_json: bool, handoffs: bool,
          no_header: bool, wide: bool = False) -> None:
    """`byok usage`."""
    from ..errors import ByokError, Code
    from ..usage import by_key, parse_since, summary, totals

    if by not in ("model", "key", "token"):
        raise ByokError(Code.USAGE, f"--by must be model, key or token, not {by!r}")
    start = parse_since(since)
    # A removed provider's rows stay in the log: filter by the name as given.
    name = provider.strip().lower() if provider else None
    period = (" yet" if since.strip().lower() == "all" else
              f" in the last {since.strip()}" if since.strip()[-1:].isalpha()
              else f" since {since.strip()}")
    if handoffs:
        from .handoffs import show_handoffs

        show_handoffs(st, start, name, as_json, no_header, period)
        return
    rows = (by_key(st.store, st.profile, start, name, by=by) if by != "model"
            else summary(st.store, st.profile, start, name))
    total = totals(rows)
    note_unknown_profile(st, not rows)
    if as_json:
        import datetime as dt

        output.emit_json({"since": None if start is None else dt.datetime.fromtimestamp(
            start, dt.timezone.utc).isoformat(timespec="seconds"), "rows": rows, "totals": total})
        return

    def ms(header: str, drop: int) -> output.Column:
        return output.Column(header + " ms", drop=drop)

    def line(r: dict, name: str, what: str, times: list) -> list:
        tokens = [UNKNOWN if r[k] is None else r[k] for k in ("input_tokens", "output_tokens")]
        return [name, what, r["requests"], r["errors"], r["fallbacks"], *tokens,
                UNKNOWN if r["output_tokens"] is None else "/".join(map(str, tokens)),
                Cost.of(r), r["cost_unknown_requests"], *times]

    times = [] if by != "model" else [ms("ttft p50", 3), ms("ttft p95", 1), ms("total p50", 3),
                                    ms("total p95", 1)]
    table = [line(r, r["provider"], r[by], [] if by != "model" else [
        r["ttft_p50_ms"], r["ttft_p95_ms"], r["latency_p50_ms"], r["latency_p95_ms"]])
        for r in rows]
    if rows:
        table.append(line(total, "total", "", [None] * len(times)))
    # Tokens in and out: two bare columns for scripts, one "in/out" cell on a terminal.
    output.table(["provider", by, "requests", output.Column("errors", drop=4),
                  output.Column("fallbacks", drop=2), output.Column("tokens in", only="tsv"),
                  output.Column("tokens out", only="tsv"),
                  output.Column("tokens in/out", only="tty"),
                  output.Column("cost usd", show=Cost.show),  # "≥$0.00117 (1 unknown)" whole
                  output.Column("cost unknown", only="tsv"), *times], table,
                 header=not no_header, empty=f"no requests in profile {st.profile!r}{period}",
                 drop=not wide)


UNKNOWN = "unknown"  # a count nobody reported: never shown as 0


@tuple_record
class Cost:
    """A row's cost: bare in tab-separated lines (dollars, or "unknown"), with a dollar
    sign and the requests of unknown price on a terminal."""

    micros: int | None
    unknown: int
    answered: bool

    @classmethod
    def of(cls, row: dict) -> "Cost":
        return cls(row["cost_micro_usd"], row["cost_unknown_requests"],
                   row["requests"] > row["errors"])

    def __str__(self) -> str:
        from ..routing.budget import decimal_dollars

        if self.micros is None:
            return UNKNOWN if self.answered else ""
        return decimal_dollars(self.micros)

    def show(self) -> str:
        from ..routing.budget import dollars

        if self.micros is None:
            return "unknown" if self.answered else "-"
        return f"≥{dollars(self.micros)} ({self.unknown} unknown)" if self.unknown \
            else dollars(self.micros)
