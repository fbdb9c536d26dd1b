"""Charm's mods: ``mods.yml`` (where ``mods --settings`` opens it; see importers.mods).

Helper mode sets ``apis.openai.api-key-cmd`` (or ``apis.anthropic``): mods runs it, split like
a shell would, when the API's ``api-key`` is empty, and reads its stdout and stderr together,
so `byok key get` prints nothing on stderr when it succeeds. Gateway mode adds an API named
``byok`` with the gateway as ``base-url`` and the token as ``api-key``. mods writes a full
template on first run and expects its settings there, so setup edits an existing file only.
Source: mods' config.go, config_template.yml and mods.go (ensureKey).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..importers.mods import APIS, default_path
from . import GATEWAY, HELPER, Credentials, is_key_command, wrong_shape
from .formats import YAML

TITLE = "mods"
PROGRAM = "mods"
MODES = (GATEWAY, HELPER)
PROVIDERS = ("openai", "anthropic")
IMPORT_SOURCE = "mods"
FORMAT = YAML()
MUST_EXIST = "run `mods --settings` once so that mods writes its settings file"


def path(env: Mapping[str, str]) -> Path:
    return default_path(env)


def configure(doc: Any, creds: Credentials) -> tuple[Any, list[str]]:
    if not isinstance(doc, dict):
        raise wrong_shape("mods.yml", "its top level is not a mapping")
    if doc.get("apis") is None:
        doc["apis"] = FORMAT.mapping()
    apis = doc["apis"]
    if not isinstance(apis, dict):
        raise wrong_shape("mods.yml", "'apis' is not a mapping")
    notes = []
    if creds.mode == HELPER:
        name = creds.provider
        if apis.get(name) is None:
            apis[name] = FORMAT.mapping()
            apis[name]["base-url"] = APIS[name][1]
        api = apis[name]
        if not isinstance(api, dict):
            raise wrong_shape("mods.yml", f"apis.{name} is not a mapping")
        api["api-key-cmd"] = creds.key_command()
        if api.get("api-key"):
            notes.append(f"apis.{name}.api-key still holds a key, which mods uses before "
                         "api-key-cmd: import it with `byok key import mods --scrub`")
    else:
        if apis.get("byok") is None:
            apis["byok"] = FORMAT.mapping()
        api = apis["byok"]
        if not isinstance(api, dict):
            raise wrong_shape("mods.yml", "apis.byok is not a mapping")
        api["base-url"] = creds.gateway_url()
        api["api-key"] = creds.token
        notes.append("use it as `mods --api byok -m MODEL`")
    return doc, notes


def mode_of(doc: Any) -> str | None:
    apis = doc.get("apis") if isinstance(doc, dict) else None
    if not isinstance(apis, dict):
        return None
    if isinstance(apis.get("byok"), dict) and apis["byok"].get("base-url"):
        return GATEWAY
    for api in apis.values():
        if isinstance(api, dict) and is_key_command(api.get("api-key-cmd")):
            return HELPER
    return None
