"""`byok usage --handoffs`: which programs took which key through `byok key get`."""

from __future__ import annotations

import datetime as dt

from . import output


def show_handoffs(st, since: float | None, provider: str | None, as_json: bool,
                  no_header: bool = False, period: str = " yet") -> None:
    rows = st.store.handoffs(st.profile, since, provider)
    if as_json:
        output.emit_json([dict(r._asdict(), first_at=_when(r.first_at), last_at=_when(r.last_at))
                          for r in rows])
        return
    # On a terminal the time is shown as every other table shows it (local, to the minute);
    # tab-separated lines keep the exact ISO time.
    output.table([output.Column("program", whole=False), "provider", "key", "source", "times",
                  output.Column("last", show=output.short_time)],
                 [[f"{r.caller} via {r.parent}" if r.caller else r.parent, r.provider,
                   r.key_name, r.source, r.count, _when(r.last_at)] for r in rows],
                 header=not no_header, empty=f"no key handed out with `byok key get` in "
                                             f"profile {st.profile!r}{period}")


def _when(at: float) -> str:
    try:
        return dt.datetime.fromtimestamp(float(at), dt.timezone.utc).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):  # a damaged row's time
        return "?"
