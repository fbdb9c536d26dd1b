"""The built-in providers' names, variables and key checks, as views of the registry.

Kept while the rest of byok moves to :mod:`byok_cli.registry`, which owns all of this
(providers as data, key shapes).
"""

from __future__ import annotations

from .errors import ByokError, Code
from .registry import MAX_KEY_LENGTH, builtin

_BUILTINS = builtin().builtins()
PROVIDERS = tuple(p.name for p in _BUILTINS)
ENV_VARS = {p.name: p.key_env for p in _BUILTINS}
BASE_URL_VARS = {p.name: p.base_url_env for p in _BUILTINS}

__all__ = ["BASE_URL_VARS", "ENV_VARS", "MAX_KEY_LENGTH", "PROVIDERS", "check_provider",
           "normalise_key"]


def check_provider(provider: str) -> str:
    name = (provider or "").strip().lower()
    if name not in PROVIDERS:
        raise ByokError(Code.USAGE, f"unknown provider {provider!r}",
                        hint="choose one of: " + ", ".join(PROVIDERS))
    return name


def normalise_key(provider: str, raw: str) -> str:
    """Strip surrounding whitespace and check the key's shape; raise INVALID_FORMAT if wrong."""
    return builtin().normalise_key(provider, raw)
