"""`byok setup TOOL`: other AI tools' configuration files, pointed at byok.

One module per tool (``claude``, ``codex``, ``goose``, ``aider``, ``llm``, ``mods``,
``sgpt``), each describing where its file is, which modes it supports and how to edit the
file for each; ``formats`` edits JSON, TOML and YAML round-trip (comments, order and
unrelated settings kept); ``files`` writes the result beside a backup and restores it on
undo. Nothing here knows of Typer, and nothing here starts or asks the gateway: the command
layer passes a ``Credentials`` in, so the gateway stays behind one seam.
"""

from __future__ import annotations

import importlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import ByokError, Code

TOOLS = ("claude", "codex", "goose", "aider", "llm", "mods", "sgpt")
HELPER, GATEWAY = "helper", "gateway"


@dataclass(frozen=True)
class Credentials:
    """How the tool gets its credential: a key command (helper mode), or the gateway's URL
    for each provider and a token made for the tool (gateway mode)."""

    mode: str
    provider: str
    profile: str = "default"
    gateway_urls: Mapping[str, str] | None = None  # provider -> base URL, gateway mode
    token: str | None = None                       # the tool's own gateway token
    program: str = "byok"                          # how the tool runs byok
    tool_keys: bool = False   # also store the token in the tool's own key store (llm's)

    def key_argv(self, provider: str | None = None) -> list[str]:
        argv = [self.program, "key", "get", provider or self.provider]
        if self.profile != "default":
            argv += ["--profile", self.profile]
        return argv

    def key_command(self, provider: str | None = None) -> str:
        return shlex.join(self.key_argv(provider))

    def gateway_url(self, provider: str | None = None) -> str:
        provider = provider or self.provider
        urls = self.gateway_urls or {}
        if provider not in urls:
            raise ByokError(Code.USAGE, f"the gateway does not serve {provider}")
        return urls[provider]


def is_key_command(value: object) -> bool:
    """A key command setup wrote: `byok key get …`, byok perhaps given by its path."""
    return isinstance(value, str) and re.search(r"byok['\"]?\s+key\s+get\s", value) is not None


def wrong_shape(path_name: str, what: str) -> ByokError:
    return ByokError(Code.INVALID_FORMAT, f"{path_name}: {what}, as the tool expects; nothing "
                     "was changed", hint="fix the file by hand, or move it aside")


def tool_module(name: str):
    tool = (name or "").strip().lower()
    if tool not in TOOLS:
        raise ByokError(Code.USAGE, f"byok cannot set up {name!r}",
                        hint="choose one of: " + ", ".join(TOOLS)
                             + " (see `byok setup --list`)")
    return importlib.import_module(f"{__name__}.{tool}")


def home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())
