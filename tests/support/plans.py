"""Plans for resolution tests: a catalogue, a registry with a gateway and a local
server, and builders for settings and key availability."""

import datetime as dt

from byok_cli.catalog.curated import load
from byok_cli.registry import builtin
from byok_cli.routing.keys import KeyAvailability
from byok_cli.routing.resolve import plan as _plan

CAT = load()
REG = builtin().with_custom([("gw", "openai", "https://gw.test/v1", "GW_KEY", 1),
                             ("local", "anthropic", "http://localhost:4000", None, 0)])
TODAY = dt.date(2026, 11, 25)
DEF = {"openai": "gpt-6.1-sol", "anthropic": "claude-sonnet-5-5"}
VARS = {p.name: p.key_env for p in REG}


def settings(pref="system", openai_model=None, anthropic_model=None, fallback=None, **models):
    chosen = {"openai": openai_model, "anthropic": anthropic_model, **models}
    return {"preferred_provider": pref, "fallback": fallback,
            "models": {p: m for p, m in chosen.items() if m}, "base_urls": {}}


def keys(stored=(), env=()):
    """stored: provider names (one key called default) or (provider, [names]) pairs."""
    by_provider = {}
    for entry in stored:
        provider, names = (entry, ["default"]) if isinstance(entry, str) else entry
        by_provider[provider] = [(n, "user") for n in names]
    return KeyAvailability(by_provider, {p: (VARS[p], "envk") for p in env},
                           frozenset(p.name for p in REG if not p.needs_key))


def plan(*args, **kw):
    return _plan(*args[:3], REG, **kw)


def route(p):
    return [(a.provider, a.model, a.key_source, a.role) for a in p.attempts]
