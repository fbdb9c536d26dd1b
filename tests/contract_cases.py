"""What byok is asked to do, and the SDK call that means the same thing.

Each case is a byok command line (after optional set-up runs that build a conversation)
and the official SDK calls that a careful script would make for it. The test compares the
requests both put on the wire.

Choices of byok's own that these calls encode (change them here, on purpose, if byok
changes its mind): a streamed OpenAI answer asks for usage (``stream_options``) so that
``--json`` can report tokens; ``--max-tokens`` becomes ``max_completion_tokens`` for
OpenAI; an Anthropic request without ``--max-tokens`` asks for ``DEFAULT_MAX_TOKENS``
(the Messages API requires a limit); a validation is OpenAI's whole model list and one
page of Anthropic's; ``models list --remote`` reads Anthropic's list in pages of 100.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import NamedTuple

OPENAI_MODEL = "gpt-6.2-sol"
ANTHROPIC_MODEL = "claude-sonnet-5-5"
DEFAULT_MAX_TOKENS = 4096
SYSTEM = "Answer in one line."
PROMPT = "Say hi to José ✓"           # not ASCII: the JSON encodings must agree


class SDKCall(NamedTuple):
    protocol: str                      # "openai" | "anthropic"
    op: str                            # "chat" | "models" | "models_first_page"
    params: dict


class Case(NamedTuple):
    id: str
    protocol: str                      # of the compared requests
    argv: tuple[str, ...]              # the byok command whose requests are compared
    sdk: tuple[SDKCall, ...]
    setup: tuple[tuple[str, ...], ...] = ()   # byok runs before it (not compared)
    stdin: str | None = None


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def echo(model: str, text: str) -> str:
    """The capture server's answer (tests/fakeprovider.py)."""
    return f"Echo[{model}]: {text}"


def openai_chat(messages: list, stream: bool = True, **extra) -> SDKCall:
    params = {"model": OPENAI_MODEL, "messages": messages, **extra}
    if stream:
        params.update(stream=True, stream_options={"include_usage": True})
    return SDKCall("openai", "chat", params)


def anthropic_chat(messages: list, stream: bool = True, **extra) -> SDKCall:
    params = {"model": ANTHROPIC_MODEL, "messages": messages,
              "max_tokens": DEFAULT_MAX_TOKENS, **extra}
    if stream:
        params["stream"] = True
    return SDKCall("anthropic", "chat", params)


# --schema: llm's concise form, and an open JSON Schema (OpenAI's strict mode cannot take it)
CONCISE = "name, age int: in years"
CONCISE_SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string"}, "age": {"type": "integer", "description": "in years"}},
    "required": ["name", "age"], "additionalProperties": False}
OPEN_SCHEMA = {"type": "object", "properties": {"tags": {"type": "array",
                                                         "items": {"type": "string"}}}}

# -a: an image and a PDF, in each API's own content parts (attachments before the text)
ATTACHED = Path(__file__).resolve().parent / "data" / "attachments"
PNG, PDF = ATTACHED / "small.png", ATTACHED / "small.pdf"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def openai_attached(text: str) -> dict:
    return {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + _b64(PNG)}},
        {"type": "file", "file": {"filename": "small.pdf",
                                  "file_data": "data:application/pdf;base64," + _b64(PDF)}},
        {"type": "text", "text": text}]}


def anthropic_attached(text: str) -> dict:
    return {"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": _b64(PNG)}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": _b64(PDF)}},
        {"type": "text", "text": text}]}


ATTACH = ("-a", str(PNG), "-a", str(PDF))
RUN_O = ("run", "-p", "openai", "-m", OPENAI_MODEL)
RUN_A = ("run", "-p", "anthropic", "-m", ANTHROPIC_MODEL)
FIRST, SECOND = "first question", "second question"

CASES = [
    # --- OpenAI Chat Completions ---
    Case("openai-run-stream", "openai", (*RUN_O, PROMPT), (openai_chat([user(PROMPT)]),)),
    Case("openai-run-no-stream", "openai", (*RUN_O, "--no-stream", PROMPT),
         (openai_chat([user(PROMPT)], stream=False),)),
    Case("openai-run-system-max-tokens", "openai",
         (*RUN_O, "-s", SYSTEM, "--max-tokens", "50", PROMPT),
         (openai_chat([{"role": "system", "content": SYSTEM}, user(PROMPT)],
                      max_completion_tokens=50),)),
    Case("openai-run-system-no-stream", "openai",
         (*RUN_O, "--no-stream", "-s", SYSTEM, "--max-tokens", "7", PROMPT),
         (openai_chat([{"role": "system", "content": SYSTEM}, user(PROMPT)], stream=False,
                      max_completion_tokens=7),)),
    Case("openai-continue", "openai", (*RUN_O, "-c", SECOND),
         (openai_chat([user(FIRST), assistant(echo(OPENAI_MODEL, FIRST)), user(SECOND)]),),
         setup=((*RUN_O, FIRST),)),
    Case("openai-continue-after-anthropic", "openai", (*RUN_O, "-c", SECOND),
         (openai_chat([user(FIRST), assistant(echo(ANTHROPIC_MODEL, FIRST)), user(SECOND)]),),
         setup=((*RUN_A, FIRST),)),
    Case("openai-chat-piped", "openai", ("chat", "-p", "openai", "-m", OPENAI_MODEL),
         (openai_chat([user(FIRST)]),
          openai_chat([user(FIRST), assistant(echo(OPENAI_MODEL, FIRST)), user(SECOND)])),
         stdin=f"{FIRST}\n{SECOND}\n"),
    Case("openai-key-validate", "openai", ("key", "validate", "openai"),
         (SDKCall("openai", "models", {}),)),
    Case("openai-models-remote", "openai", ("models", "list", "--remote", "-p", "openai"),
         (SDKCall("openai", "models", {}),)),
    Case("openai-run-schema-strict", "openai", (*RUN_O, "--schema", CONCISE, PROMPT),
         (openai_chat([user(PROMPT)], response_format={"type": "json_schema", "json_schema": {
             "name": "answer", "schema": CONCISE_SCHEMA, "strict": True}}),)),
    Case("openai-run-schema-open", "openai",
         (*RUN_O, "--no-stream", "--schema", json.dumps(OPEN_SCHEMA), PROMPT),
         (openai_chat([user(PROMPT)], stream=False, response_format={
             "type": "json_schema", "json_schema": {"name": "answer", "schema": OPEN_SCHEMA,
                                                    "strict": False}}),)),
    Case("openai-run-attachments", "openai", (*RUN_O, *ATTACH, PROMPT),
         (openai_chat([openai_attached(PROMPT)]),)),
    Case("openai-continue-resends-attachments", "openai", (*RUN_O, "--no-stream", "-c", SECOND),
         (openai_chat([openai_attached(FIRST), assistant(echo(OPENAI_MODEL, FIRST)),
                       user(SECOND)], stream=False),),
         setup=((*RUN_O, *ATTACH, FIRST),)),
    # --- Anthropic Messages ---
    Case("anthropic-run-attachments", "anthropic", (*RUN_A, *ATTACH, PROMPT),
         (anthropic_chat([anthropic_attached(PROMPT)]),)),
    Case("anthropic-continue-resends-attachments", "anthropic", (*RUN_A, "-c", SECOND),
         (anthropic_chat([anthropic_attached(FIRST), assistant(echo(ANTHROPIC_MODEL, FIRST)),
                          user(SECOND)]),),
         setup=((*RUN_A, *ATTACH, FIRST),)),
    Case("anthropic-run-schema", "anthropic", (*RUN_A, "--schema", CONCISE, PROMPT),
         (anthropic_chat([user(PROMPT)], output_config={"format": {
             "type": "json_schema", "schema": CONCISE_SCHEMA}}),)),
    Case("anthropic-run-schema-effort", "anthropic",
         (*RUN_A, "--no-stream", "--effort", "low", "--schema", json.dumps(OPEN_SCHEMA),
          PROMPT),
         (anthropic_chat([user(PROMPT)], stream=False, output_config={
             "effort": "low", "format": {"type": "json_schema", "schema": OPEN_SCHEMA}}),)),
    Case("anthropic-run-stream", "anthropic", (*RUN_A, PROMPT),
         (anthropic_chat([user(PROMPT)]),)),
    Case("anthropic-run-no-stream", "anthropic", (*RUN_A, "--no-stream", PROMPT),
         (anthropic_chat([user(PROMPT)], stream=False),)),
    Case("anthropic-run-system-max-tokens", "anthropic",
         (*RUN_A, "-s", SYSTEM, "--max-tokens", "50", PROMPT),
         (anthropic_chat([user(PROMPT)], system=SYSTEM, max_tokens=50),)),
    Case("anthropic-run-system-no-stream", "anthropic",
         (*RUN_A, "--no-stream", "-s", SYSTEM, "--max-tokens", "7", PROMPT),
         (anthropic_chat([user(PROMPT)], stream=False, system=SYSTEM, max_tokens=7),)),
    Case("anthropic-continue", "anthropic", (*RUN_A, "-c", SECOND),
         (anthropic_chat([user(FIRST), assistant(echo(ANTHROPIC_MODEL, FIRST)),
                          user(SECOND)]),),
         setup=((*RUN_A, FIRST),)),
    Case("anthropic-continue-after-openai", "anthropic", (*RUN_A, "-c", SECOND),
         (anthropic_chat([user(FIRST), assistant(echo(OPENAI_MODEL, FIRST)), user(SECOND)]),),
         setup=((*RUN_O, FIRST),)),
    Case("anthropic-chat-piped", "anthropic", ("chat", "-p", "anthropic", "-m", ANTHROPIC_MODEL),
         (anthropic_chat([user(FIRST)]),
          anthropic_chat([user(FIRST), assistant(echo(ANTHROPIC_MODEL, FIRST)),
                          user(SECOND)])),
         stdin=f"{FIRST}\n{SECOND}\n"),
    Case("anthropic-key-validate", "anthropic", ("key", "validate", "anthropic"),
         (SDKCall("anthropic", "models_first_page", {"limit": 1}),)),
    Case("anthropic-models-remote", "anthropic",
         ("models", "list", "--remote", "-p", "anthropic"),
         (SDKCall("anthropic", "models", {"limit": 100}),)),
]
