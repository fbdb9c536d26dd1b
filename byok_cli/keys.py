"""Provider key shapes: normalising and checking a key before anything stores or sends it."""

from __future__ import annotations

import re

from .errors import ByokError, Code

PROVIDERS = ("openai", "anthropic")
ENV_VARS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
BASE_URL_VARS = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}
# Key sources: the design's names inside byok ("user", "system"); what people and scripts
# see, in tables and JSON alike.
SOURCE_NAMES = {"user": "stored", "system": "environment"}


def source_name(source: str | None) -> str | None:
    return SOURCE_NAMES.get(source or "", source)

# Lenient on length: providers lengthen keys from time to time.
_ADMIN_PREFIXES = {"openai": ("sk-admin-",), "anthropic": ("sk-ant-admin",)}
_SHAPES = {
    "openai": re.compile(r"sk-(?:proj-|svcacct-|None-)?[A-Za-z0-9_\-]{8,}"),
    "anthropic": re.compile(r"sk-ant-(?:api\d\d-)?[A-Za-z0-9_\-]{8,}"),
}
_EXAMPLES = {"openai": "sk-… or sk-proj-…", "anthropic": "sk-ant-api03-…"}
MAX_KEY_LENGTH = 512


def check_provider(provider: str) -> str:
    name = (provider or "").strip().lower()
    if name not in PROVIDERS:
        raise ByokError(Code.USAGE, f"unknown provider {provider!r}",
                        hint="choose one of: " + ", ".join(PROVIDERS))
    return name


def normalise_key(provider: str, raw: str) -> str:
    """Strip surrounding whitespace and check the key's shape; raise INVALID_FORMAT if wrong.

    Messages never repeat the key itself.
    """
    key = raw.strip()
    where = f"{provider} key"
    if not key:
        raise ByokError(Code.INVALID_FORMAT, f"the {where} is empty; nothing was stored",
                        provider=provider)
    if len(key) > MAX_KEY_LENGTH:
        raise ByokError(Code.INVALID_FORMAT,
                        f"the {where} is {len(key)} characters long, more than any real key",
                        hint="pipe only the key itself", provider=provider)
    if any(ch.isspace() for ch in key):
        raise ByokError(Code.INVALID_FORMAT, f"the {where} contains whitespace inside it",
                        hint="copy the key again, without spaces or line breaks",
                        provider=provider)
    if any(ord(ch) < 32 or ord(ch) == 127 or not ch.isascii() for ch in key):
        raise ByokError(Code.INVALID_FORMAT,
                        f"the {where} contains control or non-ASCII characters",
                        provider=provider)
    if key.startswith(_ADMIN_PREFIXES[provider]):
        raise ByokError(Code.INVALID_FORMAT,
                        f"this is an {provider} admin key, which cannot make model calls",
                        hint="create a regular API key in the provider's console",
                        provider=provider)
    other = "anthropic" if provider == "openai" else "openai"
    if provider == "openai" and key.startswith("sk-ant-"):
        raise ByokError(Code.INVALID_FORMAT, "this looks like an Anthropic key, not an OpenAI one",
                        hint=f"use `byok key set {other}`", provider=provider)
    if not _SHAPES[provider].fullmatch(key):
        raise ByokError(Code.INVALID_FORMAT,
                        f"the {where} does not have the expected shape ({_EXAMPLES[provider]})",
                        provider=provider)
    return key
