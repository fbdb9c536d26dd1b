"""shell_gpt (sgpt): OPENAI_API_KEY in ``~/.config/shell_gpt/.sgptrc``.

sgpt asks for the key on first run and writes every setting as ``NAME=value`` lines (no
quotes, no comments); it reads lines that are not blank and do not start with '#', split at
the first '='. Its environment wins over the file. Source: sgpt/config.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from . import Entry, Reading
from .dotenv import read_lines
from .linefmt import SGPTRC


def default_path(env: Mapping[str, str]) -> Path:
    home = Path(env.get("HOME") or Path.home())
    return home / ".config" / "shell_gpt" / ".sgptrc"


def read(path: Path | None, env: Mapping[str, str]) -> Reading:
    path = path or default_path(env)
    if path.is_dir():
        path = path / ".sgptrc"
    return Reading("sgpt", [read_lines(path, SGPTRC)])


def setup_lines(entries: list[Entry], get: Callable[[str], str]) -> list[str]:
    """sgpt reads OPENAI_API_KEY from its environment before .sgptrc."""
    return ["sgpt reads OPENAI_API_KEY from its environment first; run it as",
            "  byok exec -- sgpt …",
            "or add to your shell's startup file:",
            "  alias sgpt='byok exec -- sgpt'"]
