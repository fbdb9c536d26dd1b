"""Keys in other tools' plaintext stores: read them as each tool does, and remove them after
they are imported (``--scrub``), editing only the lines that held them.

One module per source (``llm``, ``aichat``, ``mods``, ``sgpt``, ``fabric``, ``codex``,
``dotenv``, ``env``), each with
``read(path, env) -> Reading`` and ``setup_lines(entries, command) -> [str]``: what to put in
that tool's configuration so it gets its key from byok. The file formats are in ``jsonfmt``,
``yamlfmt`` and ``linefmt``; ``files`` reads and rewrites the files safely; ``scrub`` removes
entries and proves that nothing else changed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, NamedTuple

from ..errors import ByokError, Code
from ..registry import builtin

SOURCES = ("llm", "aichat", "mods", "sgpt", "fabric", "codex", "dotenv", "env")

# Environment variable -> byok provider: the built-ins' and presets' own variables (other
# tools' files name other services' keys too; those are listed as unknown and left alone);
# CLAUDE_API_KEY is aichat's name for its `claude` client.
KEY_VARIABLES = {**{p.key_env: p.name for p in builtin() if p.key_env},
                 "CLAUDE_API_KEY": "anthropic"}


class Entry(NamedTuple):
    """One key found in a source."""

    provider: str | None   # byok's provider; None when byok does not know it
    label: str             # what the tool calls it: 'openai', 'clients[1] claude', 'OPENAI_API_KEY'
    key: str
    path: tuple            # where it is in the parsed file (for scrubbing); () when not in a file
    tool_name: str         # the provider as the tool names it (for "unknown provider" lines)
    env_var: str | None = None  # the variable the tool reads instead, once the key is gone
    note: str | None = None     # why a known tool's provider is not taken as byok's


@dataclass
class SourceFile:
    """A file as it was read: its text, and what to compare it with before rewriting it."""

    path: Path
    text: str
    data: bytes
    identity: tuple      # (device, inode, size, mtime_ns)
    mode: int
    fmt: Any             # jsonfmt.JSON, yamlfmt.YAML or a linefmt.Lines
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Reading:
    source: str
    files: list[SourceFile]
    entries_outside_files: list[Entry] = field(default_factory=list)  # `env`
    notes: list[str] = field(default_factory=list)

    def entries(self) -> list[tuple[SourceFile | None, Entry]]:
        found = [(f, e) for f in self.files for e in f.entries]
        return found + [(None, e) for e in self.entries_outside_files]


def open_file(path: Path, fmt: Any, name_in_dir: str | None = None) -> tuple[SourceFile, Any]:
    """Read and parse a tool's file (PATH may be its directory): (the file, its document)."""
    from .files import read_file

    if name_in_dir and path.is_dir():
        path = path / name_in_dir
    data, text, ident, mode = read_file(path)
    return SourceFile(path, text, data, ident, mode, fmt), fmt.load(text, str(path))


def source_module(source: str):
    name = (source or "").strip().lower()
    if name not in SOURCES:
        raise ByokError(Code.USAGE, f"cannot import from {source!r}",
                        hint="choose one of: " + ", ".join(SOURCES))
    return importlib.import_module(f"{__name__}.{name}")


def read(source: str, path: str | None, env: Mapping[str, str]) -> Reading:
    return source_module(source).read(Path(path).expanduser() if path else None, env)


def provider_for_variable(name: str) -> str | None:
    return KEY_VARIABLES.get(name)


def looks_like_key_variable(name: str) -> bool:
    """A variable that holds some provider's API key (listed as unknown when not byok's)."""
    upper = name.upper()
    return upper in KEY_VARIABLES or upper.endswith(("_API_KEY", "_API_TOKEN"))


def same_url(url: Any, default: str) -> bool:
    """True when a tool's base URL setting is absent or its provider's official one."""
    if url is None or url == "":
        return True
    return isinstance(url, str) and url.strip().rstrip("/") == default.rstrip("/")
