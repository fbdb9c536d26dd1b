"""Daniel Miessler's fabric: ``~/.config/fabric/.env``, written by ``fabric --setup``.

A dotenv file of ``VENDOR_API_KEY`` lines (OPENAI_API_KEY, ANTHROPIC_API_KEY, …) beside
settings such as DEFAULT_VENDOR, DEFAULT_MODEL and ``VENDOR_API_BASE_URL``. A key whose
vendor has a base URL other than its provider's official one belongs to that other service,
and is listed as unknown. Source: fabric's plugins (each vendor's ``API_KEY`` and
``API_BASE_URL`` settings, prefixed with the vendor's name) and its setup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from ..registry import builtin
from . import Entry, Reading, same_url
from .dotenv import exec_lines, read_lines
from .linefmt import DOTENV


def default_path(env: Mapping[str, str]) -> Path:
    home = Path(env.get("HOME") or Path.home())
    return home / ".config" / "fabric" / ".env"


def read(path: Path | None, env: Mapping[str, str]) -> Reading:
    path = path or default_path(env)
    if path.is_dir():
        path = path / ".env"
    file = read_lines(path, DOTENV)
    values = {p.name: p.value for p in DOTENV.pairs(file.text, str(path))}
    for index, entry in enumerate(file.entries):
        if entry.provider is None:
            continue
        official = builtin().require(entry.provider).base_url
        prefix = entry.label[: -len("_API_KEY")] if entry.label.endswith("_API_KEY") else None
        if prefix and not same_url(values.get(f"{prefix}_API_BASE_URL"), official):
            file.entries[index] = entry._replace(provider=None, note="a custom API_BASE_URL")
    return Reading("fabric", [file])


def setup_lines(entries: list[Entry], get: Callable[[str], str]) -> list[str]:
    return exec_lines(entries, get, "fabric")
