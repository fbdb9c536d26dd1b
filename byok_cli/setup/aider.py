"""aider: ``~/.aider.conf.yml`` (aider also reads one in the git root and the current
directory; the home one is the person's own). Its options are its command-line flags without
the dashes: ``openai-api-base`` and ``openai-api-key``. aider has no key command, so it has
no helper mode (run it as ``byok exec -- aider`` instead). Source: aider's documentation,
"YAML config file" and "OpenAI compatible APIs".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from . import GATEWAY, Credentials, home, wrong_shape
from .formats import YAML

TITLE = "aider"
PROGRAM = "aider"
MODES = (GATEWAY,)
PROVIDERS = ("openai",)
IMPORT_SOURCE = None
FORMAT = YAML()
NO_HELPER = "aider has no key command; run it as `byok exec -- aider` instead"


def path(env: Mapping[str, str]) -> Path:
    return home(env) / ".aider.conf.yml"


def configure(doc: Any, creds: Credentials) -> tuple[Any, list[str]]:
    if doc is None:  # an empty file
        doc = FORMAT.mapping()
    if not isinstance(doc, dict):
        raise wrong_shape(".aider.conf.yml", "its top level is not a mapping")
    doc["openai-api-base"] = creds.gateway_url()
    doc["openai-api-key"] = creds.token
    return doc, []


def mode_of(doc: Any) -> str | None:
    base = str((doc or {}).get("openai-api-base") or "")
    return GATEWAY if base.startswith(("http://127.0.0.1", "http://localhost")) else None
