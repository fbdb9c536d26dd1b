"""shell-gpt (sgpt): ``~/.config/shell_gpt/.sgptrc``, NAME=VALUE lines. Gateway mode sets
``API_BASE_URL`` to the gateway and ``OPENAI_API_KEY`` to the tool's token (sgpt sends it
as the bearer key). sgpt has no key command, so no helper mode (run it as
``byok exec -- sgpt``). A real key in OPENAI_API_KEY is never overwritten: setup asks to
import it first. Source: sgpt/config.py (DEFAULT_CONFIG, API_BASE_URL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ..errors import ByokError, Code
from ..importers.sgpt import default_path
from . import GATEWAY, Credentials
from .formats import Lines

TITLE = "shell-gpt"
PROGRAM = "sgpt"
MODES = (GATEWAY,)
PROVIDERS = ("openai",)
IMPORT_SOURCE = "sgpt"
FORMAT = Lines()
TEXT = True  # configure() edits the text itself
NO_HELPER = "sgpt has no key command; run it as `byok exec -- sgpt` instead"


def path(env: Mapping[str, str]) -> Path:
    return default_path(env)


def configure_text(text: str, creds: Credentials) -> tuple[str, list[str]]:
    values = FORMAT.load(text, "")
    current = values.get("OPENAI_API_KEY", "")
    # a key that is not a token byok set earlier (the file already points at the gateway)
    if current and current != creds.token and mode_of(values) is None:
        raise ByokError(Code.USAGE, ".sgptrc's OPENAI_API_KEY holds a key byok has not "
                        "imported; setup does not overwrite it", hint="import it first: "
                        "`byok key import sgpt --scrub`")
    text = FORMAT.set(text, "API_BASE_URL", creds.gateway_url())
    text = FORMAT.set(text, "OPENAI_API_KEY", creds.token)
    return text, []


def mode_of(doc: Mapping[str, str]) -> str | None:
    base = doc.get("API_BASE_URL", "")
    return GATEWAY if base.startswith(("http://127.0.0.1", "http://localhost")) else None
