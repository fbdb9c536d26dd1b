"""Dynamic shell completion: provider names and `provider/` prefixes, model ids and
aliases, key names, setting names.

Called by the shell at each TAB through `_BYOK_COMPLETE`; reads the catalogue, the registry
and (for the profile's own providers and keys) the database, never an SDK.
"""

from __future__ import annotations


def _registry(ctx):
    """The built-ins and presets, and the --profile's own providers when the database opens
    (``ctx`` is click's context, passed by Typer to a parameter of that name)."""
    from ..registry import builtin

    try:
        from ..api import Byok
        from .state import profile_name

        given = ctx.find_root().params.get("profile") if ctx is not None else None
        return Byok(profile_name(given) or "default").registry
    except Exception:  # a completion must never fail: fall back to what needs no database
        return builtin()


def providers(ctx, incomplete: str) -> list[str]:
    return [p for p in _registry(ctx).names() if p.startswith(incomplete)]


def models(ctx, incomplete: str) -> list[str]:
    """Catalogue ids and aliases, and `provider/` for addressing any provider's models."""
    from ..catalog import load

    cat = load()
    names = [m.id for m in cat.models] + sorted(cat.aliases())
    names += [f"{p}/" for p in _registry(ctx).names()]
    return [n for n in names if n.startswith(incomplete)]


def efforts(incomplete: str) -> list[str]:
    from ..catalog import load

    levels = dict.fromkeys(x for v in load().effort_levels.values() for x in v)
    return [e for e in levels if e.startswith(incomplete)]


def settings(ctx, incomplete: str) -> list[str]:
    from .config import names

    return [s for s in names(_registry(ctx)) if s.startswith(incomplete)]


def import_sources(incomplete: str) -> list[str]:
    from ..importers import SOURCES

    return [s for s in SOURCES if s.startswith(incomplete)]
