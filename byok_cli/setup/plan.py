"""What `byok setup` does to a tool's file: work the change out (nothing written), write it,
undo it, and say how each known tool stands."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping, NamedTuple

from ..errors import ByokError, Code
from . import GATEWAY, HELPER, TOOLS, Credentials, tool_module
from .files import Edit, has_backup, read


class Change(NamedTuple):
    tool: str
    mode: str
    edit: Edit
    notes: list
    extra: list = []   # other files of the tool's (llm's keys.json with --llm-key)

    @property
    def edits(self) -> list[Edit]:
        return [self.edit, *self.extra]


def choose_mode(tool: str, asked: str | None) -> str:
    """The mode asked for, else the gateway (the tool gets a token, never a key)."""
    module = tool_module(tool)
    if asked == HELPER and HELPER not in module.MODES:
        raise ByokError(Code.USAGE, f"{module.TITLE} cannot use --helper: "
                        f"{getattr(module, 'NO_HELPER', 'it has no key command')}",
                        hint=f"use `byok setup {tool} --gateway`")
    return asked or GATEWAY


def provider_for(tool: str, asked: str | None) -> str:
    module = tool_module(tool)
    if asked is None:
        return module.PROVIDERS[0]
    provider = asked.strip().lower()
    if provider not in module.PROVIDERS:
        raise ByokError(Code.USAGE, f"byok can set up {module.TITLE} for "
                        f"{' or '.join(module.PROVIDERS)}, not {asked!r}")
    return provider


def plan(tool: str, creds: Credentials, env: Mapping[str, str],
         path: Path | None = None) -> Change:
    module = tool_module(tool)
    where = path or module.path(env)
    edit = read(where)
    if edit.before is None and getattr(module, "MUST_EXIST", None):
        raise ByokError(Code.USAGE, f"{where}: no such file", hint=module.MUST_EXIST)
    if getattr(module, "TEXT", False):
        edit.after, notes = module.configure_text(edit.before or "", creds)
    else:
        doc = module.FORMAT.load(edit.before or "", str(where))
        doc, notes = module.configure(doc, creds)
        edit.after = module.FORMAT.dump(doc, edit.before or "")
        module.FORMAT.load(edit.after, str(where))  # what is written must read back
    extra = module.extra_edits(env, creds) if hasattr(module, "extra_edits") else []
    return Change(tool, creds.mode, edit, notes, extra)


def files(tool: str, env: Mapping[str, str]) -> list[Path]:
    module = tool_module(tool)
    return module.files(env) if hasattr(module, "files") else [module.path(env)]


def status(tool: str, env: Mapping[str, str]) -> dict:
    """Found (the program on PATH, or its file there), configured, in which mode."""
    module = tool_module(tool)
    where = module.path(env)
    row = {"tool": tool, "title": module.TITLE, "path": str(where),
           "found": bool(shutil.which(module.PROGRAM, path=env.get("PATH"))) or where.exists(),
           "mode": None, "backup": has_backup(where), "modes": list(module.MODES),
           "problem": None}
    try:
        edit = read(where)
        if edit.before is not None:
            row["mode"] = module.mode_of(module.FORMAT.load(edit.before, str(where)))
    except ByokError as err:
        row["problem"] = err.message
    return row


def statuses(env: Mapping[str, str]) -> list[dict]:
    return [status(tool, env) for tool in TOOLS]
