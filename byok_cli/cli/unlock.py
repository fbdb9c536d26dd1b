"""`byok unlock [--ttl 8h]`: open the passphrase-sealed master key and hand it to an agent
that holds it in memory for a while."""

from __future__ import annotations

import typer

from ..errors import ByokError, Code
from . import output, passphrase
from .root import single, state

MAX_TTL = 7 * 86400


def parse_ttl(text: str) -> float:
    """'8h', '30m', '90s', '2d' or plain seconds; a usage error otherwise."""
    import re

    match = re.fullmatch(r"\s*(\d{1,7})\s*([smhd]?)\s*", text or "")
    if not match:
        raise ByokError(Code.USAGE, f"--ttl {text!r} is not a duration",
                        hint="e.g. 8h, 30m, 90s or 2d")
    seconds = int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    if not 1 <= seconds <= MAX_TTL:
        raise ByokError(Code.USAGE, f"--ttl {text!r} is out of range",
                        hint="from 1 second to 7 days")
    return float(seconds)


def unlock(ctx: typer.Context,
           ttl: str = typer.Option("8h", "--ttl", metavar="DURATION",
                                   help="How long the agent keeps the master key: 8h, 30m, "
                                        "90s, 2d.")) -> None:
    """Ask for the vault's passphrase and keep its master key in a per-user agent for a while.

    Until then (or `byok lock`), every command works with no variable set. The passphrase
    is read from a hidden prompt, or from stdin when it is not a terminal.

    Example:

      byok unlock --ttl 8h
    """
    import datetime as dt

    from ..secrets import agent, sealed

    seconds = parse_ttl(ttl)
    st = state(ctx)
    path = sealed.sealed_path(st.store.home)
    if sealed.finish_rotation(st.store.home, set(st.store.sealed_with())):
        output.info("finished an interrupted `vault rotate --to passphrase`")
    if not path.exists():
        raise ByokError(Code.USAGE, "this vault has no passphrase-sealed master key",
                        hint="make one with `byok vault init --passphrase` (a new vault), or "
                             "`byok vault rotate --to passphrase`")
    sealed.read_header(path)  # a damaged file is refused before the passphrase is asked
    key = sealed.unseal(path, passphrase.read("vault passphrase"))
    sock = agent.socket_path(st.store.home)
    pid = agent.start(key, seconds, sock)
    until = dt.datetime.now().astimezone() + dt.timedelta(seconds=seconds)
    output.info(f"unlocked master key {key.id} until {until:%Y-%m-%d %H:%M %Z} "
                f"(agent pid {pid}, {sock})")


app = single("unlock", unlock)
