"""OpenAI's Codex CLI: ``config.toml`` in ``$CODEX_HOME`` (default ``~/.codex``).

byok adds ``[model_providers.byok]`` and selects it with ``model_provider = "byok"``.
Codex speaks the Responses API (``wire_api = "responses"``, the only value it accepts now).
Helper mode gives the provider ``[model_providers.byok.auth]``: ``command`` and ``args`` run
with no stdin, the token is the trimmed stdout, ``timeout_ms`` bounds the run and
``refresh_interval_ms = 0`` makes Codex keep the key until a 401, then rerun the command (a
stored key does not expire). Gateway mode points ``base_url`` at the gateway with the tool's
token as ``experimental_bearer_token``. The auth table must not be combined with
``env_key``, ``experimental_bearer_token`` or ``requires_openai_auth``, so those are dropped.
Source: Codex's config reference and advanced configuration ("command-backed
authentication"); openai/codex PRs 16288 and 16480.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..registry import builtin
from . import GATEWAY, HELPER, Credentials, home, wrong_shape
from .formats import TOML

TITLE = "Codex CLI"
PROGRAM = "codex"
MODES = (GATEWAY, HELPER)
PROVIDERS = ("openai",)
IMPORT_SOURCE = "codex"
FORMAT = TOML()
ID = "byok"
HELPER_TIMEOUT_MS = 10_000
EXCLUSIVE = ("env_key", "experimental_bearer_token", "requires_openai_auth", "auth")


def path(env: Mapping[str, str]) -> Path:
    base = Path(env["CODEX_HOME"]) if env.get("CODEX_HOME") else home(env) / ".codex"
    return base / "config.toml"


def configure(doc: Any, creds: Credentials) -> tuple[Any, list[str]]:
    import tomlkit

    if "model_providers" not in doc:
        doc["model_providers"] = tomlkit.table(is_super_table=True)
    providers = doc["model_providers"]
    if not isinstance(providers, dict):
        raise wrong_shape("config.toml", "model_providers is not a table")
    entry = providers[ID] if ID in providers else tomlkit.table()
    if not isinstance(entry, dict):
        raise wrong_shape("config.toml", "model_providers.byok is not a table")
    for name in EXCLUSIVE:
        if name in entry:
            del entry[name]
    entry["name"] = "byok"
    if creds.mode == HELPER:
        entry["base_url"] = builtin().require(creds.provider).base_url
        entry["wire_api"] = "responses"
        auth = tomlkit.table()
        argv = creds.key_argv()
        auth["command"] = argv[0]
        auth["args"] = argv[1:]
        auth["timeout_ms"] = HELPER_TIMEOUT_MS
        auth["refresh_interval_ms"] = 0
        entry["auth"] = auth
    else:
        entry["base_url"] = creds.gateway_url()
        entry["wire_api"] = "responses"
        entry["experimental_bearer_token"] = creds.token
    if ID not in providers:
        providers[ID] = entry
    _set_top_level(doc, "model_provider", ID)
    return doc, []


def _set_top_level(doc: Any, name: str, value: str) -> None:
    """A root key must come before the first table, or TOML reads it as the table's;
    tomlkit's ``add`` puts a new plain key there."""
    if name in doc:
        doc[name] = value
    else:
        doc.add(name, value)


def mode_of(doc: Any) -> str | None:
    if doc.get("model_provider") != ID:
        return None
    entry = (doc.get("model_providers") or {}).get(ID) or {}
    if "auth" in entry:
        return HELPER
    return GATEWAY if entry.get("experimental_bearer_token") else None
