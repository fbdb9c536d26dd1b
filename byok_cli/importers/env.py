"""The current environment: OPENAI_API_KEY, ANTHROPIC_API_KEY (and CLAUDE_API_KEY); other
``*_API_KEY`` variables are listed as providers byok does not know. Nothing to scrub: the
person removes the `export` lines from their shell's startup files."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from ..errors import ByokError, Code
from . import Entry, Reading, looks_like_key_variable, provider_for_variable
from .dotenv import exec_lines, tool_label


def read(path: Path | None, env: Mapping[str, str]) -> Reading:
    if path is not None:
        raise ByokError(Code.USAGE, "`env` reads the current environment and takes no PATH",
                        hint="for a file: byok key import dotenv PATH")
    reading = Reading("env", [])
    for name in sorted(env):
        value = env[name].strip()
        if value and looks_like_key_variable(name):
            reading.entries_outside_files.append(
                Entry(provider_for_variable(name), name, value, (), tool_label(name), name))
    return reading


def setup_lines(entries: list[Entry], get: Callable[[str], str]) -> list[str]:
    names = " ".join(sorted({e.label for e in entries}))
    return [f"remove the lines that export {names} from your shell's startup files;"] + \
        exec_lines(entries, get, "TOOL")
