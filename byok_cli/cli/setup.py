"""`byok setup TOOL`: point another AI tool at byok (its key command, or the gateway);
`--undo` puts it back; `--list` shows where each known tool stands."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from ..errors import ByokError, Code
from ..setup.files import write
from . import output, setup_gateway
from .root import single, state

TOOLS_HELP = "claude, codex, goose, aider, llm, mods or sgpt"


def setup(
    ctx: typer.Context,
    tool: Optional[str] = typer.Argument(None, metavar="TOOL", help=TOOLS_HELP),
    gateway: bool = typer.Option(False, "--gateway", help="Point the tool at `byok gateway` "
                                 "with a token of its own (the default where it is there)."),
    helper: bool = typer.Option(False, "--helper", help="Point the tool's key command at "
                                "`byok key get`."),
    provider: Optional[str] = typer.Option(None, "--provider", "-p", metavar="PROVIDER",
                                           help="Which provider the tool uses (default: the "
                                                "tool's own)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the change as a diff; write "
                                 "nothing."),
    undo: bool = typer.Option(False, "--undo", help="Restore the tool's file as it was, and "
                              "revoke its token."),
    list_tools: bool = typer.Option(False, "--list", help="Show each known tool: found, "
                                    "configured, in which mode."),
    import_keys: Optional[bool] = typer.Option(None, "--import-keys/--keep-keys",
                                               help="Import a plaintext key found in the "
                                                    "tool's config into byok and remove it "
                                                    "there (asked on a terminal)."),
    port: int = typer.Option(setup_gateway.PORT, "--port", min=1, max=65535,
                             help="With --gateway: the port `byok gateway` listens on."),
    llm_key: bool = typer.Option(False, "--llm-key", help="With llm and --gateway: store the "
                                 "token in llm's keys.json too (plaintext; see the docs)."),
    as_json: bool = typer.Option(False, "--json", help="With --list: print JSON."),
) -> None:
    """Configure another AI tool to get its keys from byok.

    --helper sets the tool's key command to `byok key get PROVIDER` (Claude Code's
    apiKeyHelper, Codex's auth.command, mods' api-key-cmd). --gateway points it at
    `byok gateway` with a token made for it. The file is edited in place, comments and
    every other setting kept, with a backup beside it (FILE.byok-backup) and its mode kept;
    --undo restores it byte for byte.

    Examples:

      byok setup --list

      byok setup claude --helper --dry-run

      byok setup codex --helper

      byok setup mods --undo
    """
    from .. import setup as setup_pkg

    st = state(ctx)
    env = os.environ
    if list_tools:
        _list(env, as_json)
        return
    if tool is None:
        raise ByokError(Code.USAGE, "which tool?", hint=f"byok setup TOOL ({TOOLS_HELP}), or "
                        "byok setup --list")
    if gateway and helper:
        raise ByokError(Code.USAGE, "--gateway and --helper exclude each other")
    module = setup_pkg.tool_module(tool)
    tool = module.__name__.rpartition(".")[2]
    if undo:
        _undo(st, tool, module, env)
        return
    from ..setup.plan import choose_mode, plan, provider_for, status

    mode = choose_mode(tool, "gateway" if gateway else "helper" if helper else None)
    chosen = provider_for(tool, provider)
    if llm_key and (tool != "llm" or mode != setup_pkg.GATEWAY):
        raise ByokError(Code.USAGE, "--llm-key is for `byok setup llm --gateway` only")
    if mode == setup_pkg.HELPER:
        st.byok.registry.require(chosen)
        creds = setup_pkg.Credentials(setup_pkg.HELPER, chosen, st.profile,
                                      program=_program())
    else:  # the file is checked with a stand-in token before a real one is made
        earlier = status(tool, env)["mode"] == setup_pkg.GATEWAY
        creds = setup_gateway.credentials(st, tool, chosen, True, port)
        creds = replace(creds, tool_keys=llm_key)
        plan(tool, creds, env)
    if not dry_run:
        _offer_import(ctx, module, env, import_keys)
    if mode == setup_pkg.GATEWAY and not dry_run:
        creds = replace(setup_gateway.credentials(st, tool, chosen, False, port, earlier),
                        tool_keys=llm_key)
    try:
        change = plan(tool, creds, env)
        if not dry_run:
            for each in change.edits:
                write(each)
    except BaseException:
        if mode == setup_pkg.GATEWAY and not dry_run:
            setup_gateway.revoke(st, tool)  # no token left behind for a file not written
        raise
    _report(change, module, tool, chosen, dry_run)
    gateway = f"`byok gateway{'' if port == setup_gateway.PORT else f' --port {port}'}`"
    if mode == setup_pkg.GATEWAY and dry_run:
        output.info(f"for real, setup makes a token named {tool!r} for {chosen} only, and "
                    f"{module.TITLE} reaches byok through {gateway}, which must be running")
    if mode == setup_pkg.GATEWAY and not dry_run:
        if tool == "llm" and not llm_key:  # the one way llm gets it: the person passes it
            sys.stdout.write(creds.token + "\n")
        output.info(f"the token {tool!r} is for {chosen} only; start the gateway with "
                    f"{gateway}")


def _report(change, module, tool: str, provider: str, dry_run: bool) -> None:
    from ..setup.files import backup_path, created_path

    for edit in change.edits:
        if dry_run:
            if edit.changes:
                sys.stdout.write(edit.diff())
            output.info(f"dry run: {edit.path} would be "
                        f"{'changed' if edit.changes else 'left as it is'}; nothing was written")
        elif edit.changes:
            kept = created_path(edit.path) if created_path(edit.path).exists() else \
                backup_path(edit.path)
            output.info(f"{edit.path} {'created' if edit.before is None else 'changed'} "
                        f"({kept.name} beside it)")
    if dry_run:
        pass
    elif any(e.changes for e in change.edits):
        output.info(f"{module.TITLE} now gets its {provider} key from byok ({change.mode} "
                    f"mode); undo with `byok setup {tool} --undo`")
    else:
        output.info(f"{module.TITLE} is already set up ({change.mode} mode); nothing changed")
    for note in change.notes:
        output.info(note)


def _program() -> str:
    """How the tool should run byok: `byok` when that is this byok on its PATH, else this
    byok's full path."""
    here = shutil.which(sys.argv[0]) or sys.argv[0]
    found = shutil.which("byok")
    if found and here and os.path.realpath(found) == os.path.realpath(here):
        return "byok"
    if here and os.path.basename(here) == "byok" and os.path.isabs(here):
        return here
    return "byok"


def _undo(st, tool: str, module, env) -> None:
    from ..setup.files import has_backup, undo
    from ..setup.plan import files, status

    was = status(tool, env)["mode"]
    paths = [p for p in files(tool, env) if has_backup(p)] or [module.path(env)]
    for path in paths:
        output.info(undo(path))
    if was == "gateway":
        done = setup_gateway.revoke(st, tool)
        if done:
            output.info(done)


def _offer_import(ctx: typer.Context, module, env, wanted: Optional[bool]) -> None:
    """A plaintext key in the tool's config: import it and remove it there when asked (or
    confirmed on a terminal); otherwise only say how."""
    source = getattr(module, "IMPORT_SOURCE", None)
    if not source or wanted is False:
        return
    from ..importers import read

    try:
        reading = read(source, None, env)
    except ByokError:
        return  # no file, or one the importer refuses: setup says what is wrong with it
    found = [e for _f, e in reading.entries() if e.provider]
    if not found:
        return
    files = ", ".join(sorted({str(f.path) for f in reading.files}))
    if wanted is None:
        if not (_interactive() and typer.confirm(
                f"{files} holds {len(found)} API key{'s' if len(found) > 1 else ''} in "
                "plaintext. Import into byok and remove there?", default=False, err=True)):
            output.info(f"{files} still holds a plaintext key; `byok key import {source} "
                        "--scrub` moves it into byok")
            return
    from .key_import import import_keys as run_import

    ctx.invoke(run_import, ctx=ctx, source=source, path=None, dry_run=False, scrub=True,
               replace=False, names=None, validate=True, as_json=False)


def _interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _list(env, as_json: bool) -> None:
    from ..setup.plan import statuses

    rows = statuses(env)
    if as_json:
        output.emit_json(rows)
        return
    output.table(["tool", "found", "configured", "file"],
                 [[r["tool"], "yes" if r["found"] else "no",
                   r["mode"] or ("unreadable" if r["problem"] else "no"),
                   r["path"].replace(str(Path(env.get("HOME") or "~")), "~", 1)]
                  for r in rows])


app = single("setup", setup)
