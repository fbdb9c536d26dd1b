"""Charm's mods: ``apis.<name>.api-key`` in mods.yml.

Where: ``mods/mods.yml`` under the XDG config home (``$XDG_CONFIG_HOME``, else
``~/.config`` on Linux, ``~/Library/Application Support`` on macOS, ``%LOCALAPPDATA%`` on
Windows), as github.com/adrg/xdg's ``ConfigFile`` finds it. Each API has ``base-url``,
``api-key``, ``api-key-env`` and ``api-key-cmd``; mods uses ``api-key`` first, then
``api-key-env`` (unless ``api-key-cmd`` is set), then runs ``api-key-cmd`` (split like a
shell would, run without one) and trims its output. The template it writes leaves
``api-key:`` empty under ``openai`` and ``anthropic``. Source: config.go (API, ensureConfig),
mods.go (ensureKey), config_template.yml.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Mapping

from ..errors import ByokError, Code
from . import Entry, Reading, open_file, same_url
from .yamlfmt import YAML

# API name -> (byok provider, its official base URL in mods' template)
APIS = {"openai": ("openai", "https://api.openai.com/v1"),
        "anthropic": ("anthropic", "https://api.anthropic.com/v1")}


def default_path(env: Mapping[str, str]) -> Path:
    home = Path(env.get("HOME") or Path.home())
    if env.get("XDG_CONFIG_HOME"):
        base = Path(env["XDG_CONFIG_HOME"])
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or home)
    else:
        base = home / ".config"
    return base / "mods" / "mods.yml"


def read(path: Path | None, env: Mapping[str, str]) -> Reading:
    file, doc = open_file(path or default_path(env), YAML(), "mods.yml")
    path = file.path
    apis = doc.get("apis") if isinstance(doc, dict) else None
    if doc is not None and not isinstance(doc, dict):
        raise _wrong(path, "its top level is not a mapping")
    if apis is None:
        return Reading("mods", [file])
    if not isinstance(apis, dict):
        raise _wrong(path, "'apis' is not a mapping")
    for name, api in apis.items():
        if api is None:
            continue
        if not isinstance(api, dict) or not isinstance(name, str):
            raise _wrong(path, f"apis.{name} is not a mapping")
        key = api.get("api-key")
        if key is None or key == "":
            continue
        if not isinstance(key, str):
            raise _wrong(path, f"apis.{name}.api-key is not a string")
        provider, official = APIS.get(name, (None, ""))
        note = None
        if provider and not same_url(api.get("base-url"), official):
            provider, note = None, "a custom base-url"
        file.entries.append(Entry(provider, f"apis.{name}.api-key", key,
                                  ("apis", name, "api-key"), name, None, note))
    return Reading("mods", [file])


def _wrong(path: Path, what: str) -> ByokError:
    return ByokError(Code.INVALID_FORMAT, f"{path}: {what}, as mods expects; nothing was "
                     "changed")


def setup_lines(entries: list[Entry], get: Callable[[str], str]) -> list[str]:
    """mods runs api-key-cmd when api-key is empty."""
    lines = ["mods runs an API's api-key-cmd when its api-key is empty; in mods.yml "
             "(`mods --settings`), under apis:"]
    for e in entries:
        lines += [f"  {e.tool_name}:", f"    api-key-cmd: {get(e.provider)}"]
    return lines
