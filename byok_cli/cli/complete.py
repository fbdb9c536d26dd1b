"""Dynamic shell completion: provider names, model ids and aliases, setting names.

Called by the shell at each TAB through `_BYOK_COMPLETE`; reads the catalogue only (no SDK).
"""

from __future__ import annotations


def providers(incomplete: str) -> list[str]:
    from ..keys import PROVIDERS

    return [p for p in PROVIDERS if p.startswith(incomplete)]


def models(incomplete: str) -> list[str]:
    from ..catalog import load

    cat = load()
    names = [m.id for m in cat.models] + sorted(cat.aliases())
    return [n for n in names if n.startswith(incomplete)]


def efforts(incomplete: str) -> list[str]:
    from ..catalog import load

    levels = dict.fromkeys(x for v in load().effort_levels.values() for x in v)
    return [e for e in levels if e.startswith(incomplete)]


def settings(incomplete: str) -> list[str]:
    from .config import SETTINGS

    return [s for s in SETTINGS if s.startswith(incomplete)]


def import_sources(incomplete: str) -> list[str]:
    from ..importers import SOURCES

    return [s for s in SOURCES if s.startswith(incomplete)]
