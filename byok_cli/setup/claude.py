"""Claude Code: ``settings.json`` in ``$CLAUDE_CONFIG_DIR`` (default ``~/.claude``).

Helper mode sets ``apiKeyHelper``, a command Claude Code runs in /bin/sh and sends the output
of as both ``X-Api-Key`` and ``Authorization: Bearer``. It reruns it after
``CLAUDE_CODE_API_KEY_HELPER_TTL_MS`` (default five minutes) and at once on a 401, so a key
rotated in byok is picked up without a restart; byok leaves that TTL alone. Gateway mode sets
``env.ANTHROPIC_BASE_URL`` to the gateway and ``env.ANTHROPIC_AUTH_TOKEN`` to the tool's
token. Source: Claude Code's settings documentation (settings files, apiKeyHelper, env).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from . import GATEWAY, HELPER, Credentials, home, is_key_command, wrong_shape
from .formats import JSON

TITLE = "Claude Code"
PROGRAM = "claude"
MODES = (GATEWAY, HELPER)
PROVIDERS = ("anthropic",)
IMPORT_SOURCE = None
FORMAT = JSON()


def path(env: Mapping[str, str]) -> Path:
    base = Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else \
        home(env) / ".claude"
    return base / "settings.json"


def configure(doc: dict, creds: Credentials) -> tuple[Any, list[str]]:
    notes = []
    if "env" in doc and not isinstance(doc["env"], dict):
        raise wrong_shape("settings.json", "'env' is not an object")
    env = doc.get("env")
    if creds.mode == HELPER:
        doc["apiKeyHelper"] = creds.key_command()
        if env and env.get("ANTHROPIC_API_KEY"):
            notes.append("settings.json's env.ANTHROPIC_API_KEY holds a key in plaintext; "
                         "store it with `byok key set anthropic` and remove it by hand")
    else:
        if env is None:
            env = doc["env"] = {}
        env["ANTHROPIC_BASE_URL"] = creds.gateway_url()
        env["ANTHROPIC_AUTH_TOKEN"] = creds.token
    return doc, notes


def mode_of(doc: dict) -> str | None:
    helper = doc.get("apiKeyHelper")
    if is_key_command(helper):
        return HELPER
    env = doc.get("env")
    if isinstance(env, dict) and str(env.get("ANTHROPIC_BASE_URL", "")).startswith(
            ("http://127.0.0.1", "http://localhost")) and env.get("ANTHROPIC_AUTH_TOKEN"):
        return GATEWAY
    return None
