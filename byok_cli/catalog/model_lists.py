"""A provider's live model list as byok keeps it (the ``model_cache`` table) and shows it.

Ids and names come from the provider or a gateway, which may be hostile: escape sequences
are removed, and a model whose id or name holds something masking would hide (the key it
was sent, echoed whole, in pieces or encoded; any key shape) is left out before it is
cached or printed. Masking at print time is not enough: a list read from the cache is
shown without its key being decrypted, so nothing would be there to recognise it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable  # not typing: ~2 ms to import

from ..errors import holds_secret, strip_controls

# 2: ids checked for keys before they are kept. A list cached before (a bare JSON array)
# counts as stale, so it is fetched again and replaced.
CACHE_VERSION = 2


def checked(listed: Iterable) -> tuple[list[dict], int]:
    """The models (objects with .id and .name) as byok may keep them, and how many were
    left out."""
    models, dropped = [], 0
    for m in listed:
        mid, name = strip_controls(m.id), strip_controls(m.name or "") or None
        if holds_secret(mid) or holds_secret(name):
            dropped += 1
        else:
            models.append({"id": mid, "name": name})
    return models, dropped


def payload(models: list[dict]) -> str:
    return json.dumps({"v": CACHE_VERSION, "models": models})


def listed_ids(payloads: Iterable[str]) -> set[str]:
    """Every model id in these cached lists (stale or unreadable ones give none)."""
    return {m["id"] for text in payloads for m in cached(text) or []
            if isinstance(m, dict) and isinstance(m.get("id"), str)}


def cached(text: str) -> list[dict] | None:
    """The models of a cache row, or None when it must be fetched again."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("v") != CACHE_VERSION:
        return None
    models = data.get("models")
    return models if isinstance(models, list) else None
