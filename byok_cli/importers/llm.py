"""Simon Willison's `llm`: keys.json, written by `llm keys set NAME`.

Where: ``$LLM_USER_PATH/keys.json``, else click's app dir for "io.datasette.llm"
(``~/.config/io.datasette.llm`` on Linux, ``~/Library/Application Support/io.datasette.llm``
on macOS, ``%APPDATA%\\io.datasette.llm`` on Windows). Format: one JSON object, written with
``json.dumps(keys, indent=2) + "\\n"``, starting with a ``"// Note"`` member; names are key
aliases: ``openai`` (llm itself), ``anthropic`` (llm-anthropic), ``claude`` (the older
llm-claude plugins), and the plugins' for byok's presets, each its model class's
``needs_key``: ``mistral`` (llm-mistral), ``groq`` (llm-groq), ``openrouter``
(llm-openrouter), ``gemini`` (llm-gemini), ``deepseek`` (llm-deepseek), ``together``
(llm-together). Source: llm/cli.py ``keys_set``, llm/__init__.py ``user_dir``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Mapping

from ..errors import ByokError, Code
from ..registry import builtin
from . import Entry, Reading, open_file
from .jsonfmt import JSON

NAMES = {"openai": "openai", "anthropic": "anthropic", "claude": "anthropic",
         **{plugin: plugin for plugin in ("mistral", "groq", "openrouter", "gemini", "deepseek",
                                          "together")}}
NOTE = "// Note"


def default_path(env: Mapping[str, str]) -> Path:
    if env.get("LLM_USER_PATH"):
        return Path(env["LLM_USER_PATH"]) / "keys.json"
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "win32":
        base = Path(env.get("APPDATA") or home)
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "io.datasette.llm" / "keys.json"


def read(path: Path | None, env: Mapping[str, str]) -> Reading:
    file, doc = open_file(path or default_path(env), JSON(), "keys.json")
    path = file.path
    names = [m.name for m in file.fmt.members(file.text)]
    for name, value in doc.items():
        if name == NOTE:
            continue
        if names.count(name) > 1:
            raise ByokError(Code.INVALID_FORMAT, f"{path} names {name!r} twice; nothing was "
                            "changed", hint="keep one of them (llm uses the last)")
        if not isinstance(value, str):
            raise ByokError(Code.INVALID_FORMAT, f"{path}: the value of {name!r} is a JSON "
                            f"{type(value).__name__}, not a string; nothing was changed")
        if not value.strip():
            continue
        provider = NAMES.get(name)
        file.entries.append(Entry(provider, name, value, (name,), name,
                                  builtin().require(provider).key_env if provider else None))
    return Reading("llm", [file])


def setup_lines(entries: list[Entry], get: Callable[[str], str]) -> list[str]:
    """llm reads OPENAI_API_KEY / ANTHROPIC_API_KEY when keys.json has no key for it."""
    first = entries[0].provider
    return ["llm now finds no key in keys.json and reads the environment instead; run it as",
            "  byok exec -- llm …",
            "or give it one key per call:",
            f'  llm --key "$({get(first)})" …']
