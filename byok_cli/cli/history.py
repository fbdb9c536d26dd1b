"""`byok history list | show | rm | clear`."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from ..errors import ByokError, Code, redact
from . import complete, output
from .root import group, no_header_option, state, wide_option
from .state import MAX_ID

app = group("Browse and delete stored conversations.")


@app.command("list")
def list_conversations(
    ctx: typer.Context,
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, max=MAX_ID, metavar="N",
                                        help="How many, newest first (default: 20 on a "
                                             "terminal, 50 otherwise)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    no_header: bool = no_header_option(),
    wide: bool = wide_option(),
) -> None:
    """List conversations, newest first.

    Example:

      byok history list -n 10
    """
    from .readers import history_list

    history_list(state(ctx), limit, as_json, no_header, wide)


def _conversation_id(cid: int) -> int:
    """``cid`` when SQLite can hold it (1 to 2**63 - 1); a usage error otherwise (the
    argument declares no range: help text stays words)."""
    if not 1 <= cid <= MAX_ID:
        raise ByokError(Code.USAGE, f"{cid} is not a conversation id",
                        hint="ids are whole numbers from 1 (see `byok history list`)")
    return cid


def _missing(st, cid: int) -> ByokError:
    return ByokError(Code.USAGE, f"there is no conversation {cid} in profile {st.profile!r}")


@app.command("show")
def show(ctx: typer.Context,
         cid: int = typer.Argument(..., metavar="ID", autocompletion=complete.conversations,
                                   help="The conversation's id (see `byok history list`)."),
         as_json: bool = typer.Option(False, "--json", help="Print a JSON object.")) -> None:
    """Show a conversation's messages, with the model that wrote each answer.

    Example:

      byok history show 3 --json
    """
    st = state(ctx)
    conv = st.store.conversation(st.profile, _conversation_id(cid))
    if conv is None:
        raise _missing(st, cid)
    if as_json:
        output.emit_json({"id": conv.id, "system": conv.system, "created_at": conv.created_at,
                          "updated_at": conv.updated_at,
                          "messages": [_shown(m) for m in conv.messages]})
        return
    # Masked as --json is: a prompt may have held a key (`run` warned it would be kept).
    if conv.system:
        sys.stdout.write(redact(f"[system]\n{conv.system}\n\n"))
    for m in conv.messages:
        who = "user" if m.role == "user" else f"assistant: {m.provider}/{m.model}"
        names = "".join(f"[attached: {a.name} ({a.media_type})"
                        + ("" if a.data is not None else ", not kept") + "]\n"
                        for a in m.attachments)
        sys.stdout.write(redact(f"[{who}]\n{names}{m.content}\n\n"))
    sys.stdout.flush()


def _shown(message) -> dict:
    """A message for --json: its attachments by name, type, size and digest, not bytes."""
    shown = message._asdict()
    shown["attachments"] = [{"name": a.name, "media_type": a.media_type, "sha256": a.digest,
                             "bytes": len(a.data) if a.data is not None else None,
                             "kept": a.data is not None} for a in message.attachments]
    return shown


@app.command("rm")
def remove(ctx: typer.Context,
           cid: int = typer.Argument(..., metavar="ID", autocompletion=complete.conversations,
                                     help="The conversation's id (see `byok history list`)."),
           yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
           ) -> None:
    """Delete one conversation.

    Asks first at a terminal, as `history clear` does; elsewhere it needs --yes.

    Example:

      byok history rm 3 --yes
    """
    from .readers import one_line

    st = state(ctx)
    conv = st.store.conversation(st.profile, _conversation_id(cid))
    if conv is None:  # said before asking, as `key remove` says a key is missing
        raise _missing(st, cid)
    first = next((m.content for m in conv.messages if m.role == "user"), "")
    n = len(conv.messages)
    output.confirm(f"Delete conversation {cid} ({one_line(redact(first), 40)!r}, {n} "
                   f"message{'s' if n != 1 else ''}) of profile {st.profile!r}?", yes,
                   "delete a conversation")
    if not st.store.delete_conversations(st.profile, cid):  # gone meanwhile
        raise _missing(st, cid)
    output.info(f"deleted conversation {cid}")
    output.warn_unwiped(st.store, "the deleted conversation's text")


@app.command("clear")
def clear(ctx: typer.Context,
          yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask.")) -> None:
    """Delete every conversation of the profile (usage figures are kept).

    Example:

      byok history clear --yes
    """
    st = state(ctx)
    output.confirm(f"Delete every conversation of profile {st.profile!r}?", yes,
                   "delete the history")
    n = st.store.delete_conversations(st.profile)
    output.info(f"deleted {n} conversation(s)")
    output.warn_unwiped(st.store, "the deleted conversations' text")
