"""`byok lock`: end the unlock agent now."""

from __future__ import annotations

import typer

from . import output
from .root import single, state


def lock(ctx: typer.Context) -> None:
    """End the unlock agent at once: the master key leaves memory.

    Example:

      byok lock
    """
    from ..secrets import agent

    st = state(ctx)
    if agent.lock(agent.socket_path(st.store.home)):
        output.info("locked: the agent has ended")
    else:
        output.info("already locked (no agent was running)")


app = single("lock", lock)
