"""OpenAI's Codex CLI: ``auth.json`` in ``$CODEX_HOME`` (default ``~/.codex``).

``codex login --with-api-key`` stores the key as the member ``OPENAI_API_KEY`` of this JSON
object (beside ``tokens`` and ``last_refresh`` when signed in with ChatGPT, where the key is
null). Removing the member leaves a file Codex still reads. Source: codex-rs login
(``AuthDotJson``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from ..errors import ByokError, Code
from . import Entry, Reading, open_file
from .jsonfmt import JSON

MEMBER = "OPENAI_API_KEY"


def default_path(env: Mapping[str, str]) -> Path:
    base = Path(env["CODEX_HOME"]) if env.get("CODEX_HOME") else \
        Path(env.get("HOME") or Path.home()) / ".codex"
    return base / "auth.json"


def read(path: Path | None, env: Mapping[str, str]) -> Reading:
    file, doc = open_file(path or default_path(env), JSON(), "auth.json")
    key = doc.get(MEMBER)
    if key is not None and not isinstance(key, str):
        raise ByokError(Code.INVALID_FORMAT, f"{file.path}: {MEMBER} is not a string, as "
                        "Codex expects; nothing was changed")
    if key:
        file.entries.append(Entry("openai", MEMBER, key, (MEMBER,), "openai", MEMBER))
    return Reading("codex", [file])


def setup_lines(entries: list[Entry], get: Callable[[str], str]) -> list[str]:
    return ["Codex runs a key command for a provider: `byok setup codex --helper` sets one up",
            "(model_providers.byok.auth in ~/.codex/config.toml)"]
