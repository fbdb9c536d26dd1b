"""Simon Willison's llm: ``extra-openai-models.yaml`` in llm's user directory
(``$LLM_USER_PATH``, else ``~/.config/io.datasette.llm`` on Linux), a list of models llm
reaches through an OpenAI-compatible ``api_base``. byok adds one entry per gateway provider,
``model_id: byok-PROVIDER`` with ``model_name`` the provider's default model, and
``api_key_name: byok-gateway``. byok does not put the token into ``llm keys`` itself: llm
keeps its keys in plaintext ``keys.json``. Source: llm's documentation,
"OpenAI-compatible models".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from . import GATEWAY, Credentials, wrong_shape
from .formats import YAML

TITLE = "llm"
PROGRAM = "llm"
MODES = (GATEWAY,)
PROVIDERS = ("openai", "anthropic")
IMPORT_SOURCE = "llm"
FORMAT = YAML()
KEY_NAME = "byok-gateway"
NO_HELPER = "llm has no key command; use `--key \"$(byok key get openai)\"` per call"


def path(env: Mapping[str, str]) -> Path:
    from ..importers.llm import default_path

    return default_path(env).with_name("extra-openai-models.yaml")


def configure(doc: Any, creds: Credentials) -> tuple[Any, list[str]]:
    from ..catalog.curated import load

    from ruamel.yaml.comments import CommentedSeq

    entries = doc if doc is not None else CommentedSeq()
    if not isinstance(entries, list):
        raise wrong_shape("extra-openai-models.yaml", "its top level is not a list")
    model_id = f"byok-{creds.provider}"
    entry = next((e for e in entries if isinstance(e, dict) and e.get("model_id") == model_id),
                 None)
    if entry is None:
        entry = FORMAT.mapping()
        entries.append(entry)
    entry["model_id"] = model_id
    entry["model_name"] = entry.get("model_name") or load().default(creds.provider)
    entry["api_base"] = creds.gateway_url()
    entry["api_key_name"] = KEY_NAME
    return entries, [f"use it as `llm -m {model_id}`; llm looks the token up under the name "
                     f"{KEY_NAME}: pass it with `--key`, or, knowing that llm keeps keys in "
                     f"plaintext, store it with `llm keys set {KEY_NAME}`"]


def mode_of(doc: Any) -> str | None:
    if isinstance(doc, list) and any(isinstance(e, dict) and str(e.get("model_id", ""))
                                     .startswith("byok-") for e in doc):
        return GATEWAY
    return None
