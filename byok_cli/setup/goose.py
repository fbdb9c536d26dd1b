"""Block's Goose: a declarative custom provider, ``custom_providers/byok.json`` in Goose's
config directory (``$XDG_CONFIG_HOME/goose``, default ``~/.config/goose``).

Goose's custom providers (crates/goose/src/config/declarative_providers.rs:
``DeclarativeProviderConfig``) take ``engine``, ``base_url``, ``api_key_env``,
``requires_auth`` and ``headers``, and no key command, so Goose has no helper mode: byok
points a provider at the gateway and sends the tool's token as its ``Authorization``
header. Goose keeps only the scheme, host and port of ``base_url`` and takes the path from
``base_path`` (crates/goose/src/providers/openai.rs, ``from_custom_config``), so the
gateway's path for the provider goes there, with the engine's endpoint after it.
``dynamic_models`` lets Goose list the models from the gateway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from . import GATEWAY, Credentials, home
from .formats import JSON

TITLE = "Goose"
PROGRAM = "goose"
MODES = (GATEWAY,)
PROVIDERS = ("openai", "anthropic")
IMPORT_SOURCE = None
FORMAT = JSON()
NO_HELPER = ("Goose's custom providers have no key command (only api_key_env, read from "
             "its own keyring or environment)")


def path(env: Mapping[str, str]) -> Path:
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else \
        home(env) / ".config"
    return base / "goose" / "custom_providers" / "byok.json"


def configure(doc: dict, creds: Credentials) -> tuple[Any, list[str]]:
    from urllib.parse import urlsplit

    anthropic = creds.provider == "anthropic"
    url = urlsplit(creds.gateway_url())
    prefix = url.path.strip("/")
    endpoint = "v1/messages" if anthropic else "chat/completions"
    doc.update({"name": "byok", "engine": "anthropic" if anthropic else "openai",
                "display_name": f"byok ({creds.provider})",
                "description": "Models through byok's local gateway",
                "api_key_env": "", "base_url": f"{url.scheme}://{url.netloc}",
                "base_path": f"{prefix}/{endpoint}" if prefix else endpoint,
                "models": doc.get("models") or [], "requires_auth": False,
                "dynamic_models": True})
    headers = doc.get("headers") if isinstance(doc.get("headers"), dict) else {}  # byok's file
    headers["Authorization"] = f"Bearer {creds.token}"
    doc["headers"] = headers
    return doc, ["in Goose, choose the provider `byok` (`goose configure`, or "
                 "GOOSE_PROVIDER=byok)"]


def mode_of(doc: dict) -> str | None:
    return GATEWAY if doc.get("name") == "byok" and doc.get("base_url") else None
