"""Simon Willison's llm: ``extra-openai-models.yaml`` in llm's user directory
(``$LLM_USER_PATH``, else ``~/.config/io.datasette.llm`` on Linux), a list of models llm
reaches through an OpenAI-compatible ``api_base``. byok adds one entry per gateway provider,
``model_id: byok-PROVIDER`` with ``model_name`` the provider's default model, and
``api_key_name: byok-gateway``. The token goes into ``llm keys`` (keys.json, beside the
models file) only when asked (``--llm-key``): llm keeps its keys there in plaintext. Source: llm's documentation,
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


NOTE = "This file stores secret API credentials. Do not share!"  # llm's first member


def path(env: Mapping[str, str]) -> Path:
    return keys_path(env).with_name("extra-openai-models.yaml")


def keys_path(env: Mapping[str, str]) -> Path:
    from ..importers.llm import default_path

    return default_path(env)


def files(env: Mapping[str, str]) -> list[Path]:
    """Every file setup may change, for --undo."""
    return [path(env), keys_path(env)]


def extra_edits(env: Mapping[str, str], creds: Credentials) -> list:
    """With --llm-key: the token in keys.json under KEY_NAME, as `llm keys set` puts it."""
    if not creds.tool_keys:
        return []
    from ..importers.llm import NOTE as NOTE_MEMBER
    from .files import read
    from .formats import JSON

    edit = read(keys_path(env))
    fmt = JSON()
    doc = fmt.load(edit.before or "", str(edit.path))
    if edit.before is None:
        doc[NOTE_MEMBER] = NOTE
    doc[KEY_NAME] = creds.token
    edit.after = fmt.dump(doc, edit.before or "")
    return [edit]


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
    if creds.tool_keys:
        return entries, [f"use it as `llm -m {model_id}` (the token is in llm's keys.json "
                         f"as {KEY_NAME})"]
    return entries, [f"use it as `llm -m {model_id} --key TOKEN`, with the token `byok setup llm` "
                     "prints on stdout; "
                     f"`byok setup llm --gateway --llm-key` stores it in llm's keys.json "
                     "instead, in plaintext"]


def mode_of(doc: Any) -> str | None:
    if isinstance(doc, list) and any(isinstance(e, dict) and str(e.get("model_id", ""))
                                     .startswith("byok-") for e in doc):
        return GATEWAY
    return None
