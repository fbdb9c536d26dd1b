"""`byok token create | list | revoke`: the client tokens programs give the gateway."""

from __future__ import annotations

import datetime as dt
import time
from typing import List, Optional

import typer

from ..errors import ByokError, Code
from . import complete, output
from .root import group, no_header_option, state, wide_option

app = group("Client tokens for `byok gateway`: what other programs hold instead of a key.")


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="What the token is for (shown in usage and logs)."),
    provider: Optional[List[str]] = typer.Option(
        None, "--provider", "-p", help="Only this provider; repeat for several (default: "
        "every provider).", autocompletion=complete.providers),
    ttl: Optional[str] = typer.Option(None, "--ttl", metavar="DURATION",
                                      help="Expire after this long: 90s, 30m, 12h, 7d, 2w."),
) -> None:
    """Make a token and print it once, on stdout. Only a digest of it is stored.

    Examples:

      byok token create claude-code -p anthropic --ttl 7d

      TOKEN=$(byok token create scripts)
    """
    from ..gateway import tokens

    st = state(ctx)
    providers = [st.byok.registry.require(p).name for p in dict.fromkeys(provider or [])]
    seconds = tokens.parse_duration(ttl) if ttl is not None else None
    token = tokens.create(st.store, st.profile, name, providers, seconds)
    print(token, flush=True)
    output.info(f"token {name!r} made; it is not shown again")


@app.command("list")
def list_tokens(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Output JSON."),
    no_header: bool = no_header_option(),
    wide: bool = wide_option(),
) -> None:
    """The profile's tokens: name, providers, created, expires, last used, requests."""
    st = state(ctx)
    now = time.time()
    rows = st.store.tokens(st.profile)
    if as_json:
        output.emit_json([{"name": t.name, "providers": list(t.providers) or None,
                           "created": _when(t.created_at), "expires": _when(t.expires_at),
                           "revoked": _when(t.revoked_at), "last_used": _when(t.last_used_at),
                           "requests": t.requests,
                           "state": _state(t, now)} for t in rows])
        return
    when = {"show": output.short_time}  # on a terminal as every table shows times
    output.table(["name", output.Column("providers", drop=2), "state",
                  output.Column("created", drop=1, **when),
                  output.Column("expires", **when), output.Column("last used", **when),
                  "requests"],
                 [[t.name, ",".join(t.providers) or "all", _state(t, now),
                   _when(t.created_at) or "-", _when(t.expires_at) or "never",
                   _when(t.last_used_at) or "never", t.requests] for t in rows],
                 header=not no_header, empty="no tokens yet: `byok token create NAME`",
                 drop=not wide)


@app.command("revoke")
def revoke(ctx: typer.Context,
           name: str = typer.Argument(..., help="The token's name.")) -> None:
    """End a token at once (a running gateway refuses it from its next request)."""
    st = state(ctx)
    if not st.store.revoke_token(st.profile, name, time.time()):
        raise ByokError(Code.USAGE, f"no live token called {name!r}",
                        hint="see `byok token list`")
    output.info(f"token {name!r} revoked")


def _state(t, now: float) -> str:
    if t.revoked_at is not None:
        return "revoked"
    return "live" if t.live(now) else "expired"


def _when(at: float | None) -> str | None:
    if at is None:
        return None
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat(timespec="seconds")
