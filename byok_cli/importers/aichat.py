"""sigoden's aichat: ``clients`` in config.yaml, and the .env file it loads at start.

Where: ``$AICHAT_CONFIG_FILE``, else ``config.yaml`` in the config dir: ``$AICHAT_CONFIG_DIR``,
else ``$XDG_CONFIG_HOME/aichat``, else the platform's config dir + ``aichat``; the .env file is
``$AICHAT_ENV_FILE``, else ``.env`` in the config dir. A client is ``{type, name?, api_base?,
api_key?, …}``; aichat reads ``{NAME}_API_KEY`` (NAME: the client's name, else its type,
upper-cased) from the environment before the config's ``api_key``, and its .env sets
variables the same way (``OPENAI_API_KEY``, ``CLAUDE_API_KEY``). The first-run wizard writes
config.yaml with serde_yaml (``clients:`` then ``- type: openai`` / ``  api_key: …``).
Source: src/config/mod.rs (config_dir, env_file, load_env_file), src/client/macros.rs
(config_get_fn), config.example.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Mapping

from ..errors import ByokError, Code
from . import Entry, Reading, SourceFile, open_file, same_url
from .dotenv import read_lines
from .linefmt import AICHAT_ENV
from .yamlfmt import YAML

# client type -> (byok provider, the official base URL aichat uses by default)
TYPES = {"openai": ("openai", "https://api.openai.com/v1"),
         "claude": ("anthropic", "https://api.anthropic.com/v1")}


def config_dir(env: Mapping[str, str]) -> Path:
    if env.get("AICHAT_CONFIG_DIR"):
        return Path(env["AICHAT_CONFIG_DIR"])
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]) / "aichat"
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "aichat"
    if sys.platform == "win32":
        return Path(env.get("APPDATA") or home) / "aichat"
    return home / ".config" / "aichat"


def read(path: Path | None, env: Mapping[str, str]) -> Reading:
    if path is None:
        config = Path(env["AICHAT_CONFIG_FILE"]) if env.get("AICHAT_CONFIG_FILE") else \
            config_dir(env) / "config.yaml"
        dotenv = Path(env["AICHAT_ENV_FILE"]) if env.get("AICHAT_ENV_FILE") else \
            config_dir(env) / ".env"
    elif path.is_dir():
        config, dotenv = path / "config.yaml", path / ".env"
    else:
        config, dotenv = path, None
    reading = Reading("aichat", [])
    # aichat loads .env into its environment, which wins over config.yaml: read it first.
    if dotenv is not None and _present(dotenv):
        reading.files.append(read_lines(dotenv, AICHAT_ENV))
    if _present(config) or not reading.files:  # neither: say that config.yaml is missing
        reading.files.append(_config_file(config))
    return reading


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _config_file(path: Path) -> SourceFile:
    file, doc = open_file(path, YAML())
    if doc is None:
        return file
    if not isinstance(doc, dict):
        raise _wrong(path, "its top level is not a mapping")
    clients = doc.get("clients")
    if clients is None:
        return file
    if not isinstance(clients, list):
        raise _wrong(path, "'clients' is not a list")
    for index, client in enumerate(clients):
        if not isinstance(client, dict):
            raise _wrong(path, f"clients[{index}] is not a mapping")
        kind, name, key = client.get("type"), client.get("name"), client.get("api_key")
        if key is None or key == "":
            continue
        if not isinstance(key, str):
            raise _wrong(path, f"clients[{index}].api_key is not a string")
        if not isinstance(kind, str) or (name is not None and not isinstance(name, str)):
            raise _wrong(path, f"clients[{index}] has a type or name that is not a string")
        client_name = name or kind
        provider, official = TYPES.get(kind, (None, ""))
        note = None
        if provider and not same_url(client.get("api_base"), official):
            provider, note = None, "a custom api_base"
        file.entries.append(Entry(provider, f"clients[{index}] {client_name}", key,
                                  ("clients", index, "api_key"), client_name,
                                  f"{client_name}_API_KEY".upper(), note))
    return file


def _wrong(path: Path, what: str) -> ByokError:
    return ByokError(Code.INVALID_FORMAT, f"{path}: {what}, as aichat expects; nothing was "
                     "changed")


def setup_lines(entries: list[Entry], get: Callable[[str], str]) -> list[str]:
    """aichat reads {NAME}_API_KEY from its environment before its config file."""
    assignments = sorted({f'{e.env_var}="$({get(e.provider)})"' for e in entries
                          if e.env_var and e.provider})
    return ["aichat reads each client's key from its environment first; add to your shell's "
            "startup file:",
            f"  alias aichat='env {' '.join(assignments)} aichat'"]
