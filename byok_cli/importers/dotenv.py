"""Any .env file (aider's, fabric's, a project's), given by PATH, read by python-dotenv's rules.

Each variable that holds an API key is an entry: OPENAI_API_KEY, ANTHROPIC_API_KEY (and
aichat's CLAUDE_API_KEY) are byok's; any other ``*_API_KEY`` / ``*_API_TOKEN`` is listed as a
provider byok does not know.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from ..errors import ByokError, Code
from . import (Entry, Reading, SourceFile, looks_like_key_variable, open_file,
               provider_for_variable)
from .linefmt import DOTENV, Lines, dotenv_values


def read(path: Path | None, env: Mapping[str, str]) -> Reading:
    if path is None:
        raise ByokError(Code.USAGE, "which .env file?", hint="byok key import dotenv PATH")
    return Reading("dotenv", [read_lines(path, DOTENV, env)])


def read_lines(path: Path, fmt: Lines, env: Mapping[str, str] | None = None) -> SourceFile:
    """A NAME=VALUE file: each variable that holds an API key is an entry. With ``env``,
    values are interpolated from it as python-dotenv does (see linefmt.dotenv_values)."""
    file, _ = open_file(path, fmt)
    pairs = fmt.pairs(file.text, str(path))
    values = dotenv_values(pairs, env) if env is not None else [p.value for p in pairs]
    for index, (pair, value) in enumerate(zip(pairs, values)):
        if value and looks_like_key_variable(pair.name):
            file.entries.append(Entry(provider_for_variable(pair.name), pair.name, value,
                                      (index,), tool_label(pair.name), pair.name))
    return file


def tool_label(variable: str) -> str:
    """'GEMINI_API_KEY' -> 'gemini': the provider a variable is for."""
    for suffix in ("_API_KEY", "_API_TOKEN"):
        if variable.upper().endswith(suffix):
            return variable[:-len(suffix)].lower()
    return variable.lower()


def setup_lines(entries: list[Entry], get: Callable[[str], str]) -> list[str]:
    return exec_lines(entries, get, "TOOL")


def exec_lines(entries: list[Entry], get: Callable[[str], str], tool: str) -> list[str]:
    """How a tool that reads its key from the environment gets it from byok instead."""
    from ..registry import builtin

    lines = ["a tool that read these from the file or the environment gets them from byok "
             "when run as", f"  byok exec -- {tool} …"]
    other = sorted({f'{e.env_var}="$({get(e.provider)})"' for e in entries
                    if e.provider and e.env_var
                    and e.env_var != builtin().require(e.provider).key_env})
    if other:
        lines += ["(byok exec sets each provider's own variable; for the others:",
                  f"  env {' '.join(other)} {tool} …)"]
    if any(e.provider == "anthropic" for e in entries):
        lines += ["Claude Code: in ~/.claude/settings.json,",
                  f'  "apiKeyHelper": "{get("anthropic")}"']
    return lines
