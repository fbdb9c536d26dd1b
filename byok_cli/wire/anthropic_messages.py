"""Anthropic Messages: POST {base}/v1/messages and GET {base}/v1/models.

The same requests the `anthropic` SDK sends for the same inputs (captured and compared in
the contract tests), except for what SDK_DIFFERENCES lists.

API_VERSION is pinned here, and only here, to the version Anthropic's API documentation
names ("Versions": "When making API requests, you must send an anthropic-version request
header. For example, anthropic-version: 2023-06-01"; the version history lists 2023-06-01
as the latest, and promises that within a version existing input and output parameters
are preserved). The anthropic SDK 2.14 sends 2026-10-21, a version the documentation does
not describe, and its messages.create() no longer takes `temperature`. byok speaks the
documented contract and changes it deliberately, with the contract tests, not whenever a
new SDK is installed.

Authentication likewise follows the documentation ("All requests to the Anthropic API must
include an x-api-key header with your API key"), where the SDK (2.10 to 2.14) now sends
`Authorization: Bearer`. x-api-key is also what Anthropic-compatible gateways and the
published OpenAPI description expect.
"""

from __future__ import annotations

from typing import Any, Iterator

from . import sse
from .client import Client
from .errors import Malformed, classify
from .types import ChatRequest, ChatResult, normalise_turns

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # the Messages API requires a limit; the SDK has no default

# Every way byok's requests deliberately differ from the anthropic SDK's for the same
# inputs, by part of the request (header names in lower case; a trailing * is a prefix).
# The contract tests compare everything else: method, path, query, headers, JSON body.
SDK_DIFFERENCES = {
    "headers": {
        "user-agent": "byok/<version> names byok, not the SDK",
        "x-stainless-*": "the SDK's reports about itself (language, OS, retry count, "
                         "timeouts); byok sends none",
        "anthropic-version": f"{API_VERSION}, the version Anthropic's documentation names; "
                             "the SDK sends what its release pins (2.10 to 2.14: 2026-10-21)",
        "x-api-key": "byok sends the key as x-api-key, as the documentation says ...",
        "authorization": "... where the SDK (2.10 to 2.14) sends Authorization: Bearer",
    },
    "query": {},
    "body": {},
}

# Not differences, but what "the same inputs" means when calling the SDK to compare.
SDK_SAME_INPUTS = {
    "max_tokens": f"byok sends {DEFAULT_MAX_TOKENS} when --max-tokens is not given (the API "
                  "requires a limit, and the SDK has its caller give one): call the SDK with "
                  f"max_tokens={DEFAULT_MAX_TOKENS}",
    "temperature": "the SDK 2.14's messages.create() has no temperature parameter: give it "
                   "as extra_body={'temperature': T}",
}


class AnthropicMessages(Client):
    chat_path = "/v1/messages"
    # Token counting: free, authenticated, and no model call (docs.claude.com, token counting)
    check_path = "/v1/messages/count_tokens"
    models_path = "/v1/models"
    cursor_param = "after_id"
    page_limit = 100
    validate_limit = 1

    def auth_headers(self, key: str | None) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": API_VERSION} if key else {
            "anthropic-version": API_VERSION}

    def check_body(self, model: str) -> dict:
        return {"model": model, "messages": [{"role": "user", "content": "."}]}

    def chat_body(self, request: ChatRequest) -> dict:
        body: dict = {"model": request.model,
                      "messages": [_turn(m) for m in normalise_turns(request.messages)],
                      "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS}
        if request.system:
            body["system"] = request.system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.effort is not None:
            body["output_config"] = {"effort": request.effort}
        if request.schema is not None:  # structured outputs: output_config.format (GA form)
            body.setdefault("output_config", {})["format"] = {"type": "json_schema",
                                                              "schema": request.schema}
        if request.stream:
            body["stream"] = True
        return body

    def read_whole(self, data: Any, result: ChatResult) -> str:
        if not isinstance(data, dict) or not isinstance(data.get("content"), list):
            raise Malformed("an answer without content")
        result.stopped(data.get("stop_reason"), STOPS)
        result.served(data.get("model"))
        _usage(data.get("usage"), result)
        for block in data["content"]:
            _tool_block(block, result)
            if isinstance(block, dict) and block.get("type") == "thinking":
                result.reasoned(block.get("thinking"))
        return "".join(b["text"] for b in data["content"] if isinstance(b, dict)
                       and b.get("type") == "text" and isinstance(b.get("text"), str))

    def read_stream(self, events: Iterator[sse.Event], result: ChatResult) -> Iterator[str]:
        for event in events:
            data = self.decode_event(event)
            if not isinstance(data, dict):
                raise Malformed("an event that is not an object")
            kind = data.get("type") or event.event
            if kind == "error" or event.event == "error":
                raise classify(self.provider, None, data, during="chat")
            if kind == "message_start":
                message = data.get("message")
                if isinstance(message, dict):
                    _usage(message.get("usage"), result)
                    result.served(message.get("model"))
            elif kind == "content_block_start":
                _tool_block(data.get("content_block"), result)
            elif kind == "content_block_delta":
                delta = data.get("delta")
                if isinstance(delta, dict) and delta.get("type") == "text_delta":
                    piece = delta.get("text")
                    if isinstance(piece, str) and piece:
                        result.text_parts.append(piece)
                        yield piece
                elif isinstance(delta, dict) and delta.get("type") == "thinking_delta":
                    result.reasoned(delta.get("thinking"))
            elif kind == "message_delta":
                # Gateways put the input tokens here (and leave 0 in message_start).
                _usage(data.get("usage"), result)
                delta = data.get("delta")
                if isinstance(delta, dict):
                    result.stopped(delta.get("stop_reason"), STOPS)
            elif kind == "message_stop":
                return  # the one sign that the answer is complete
        raise self.incomplete()


# stop_reason -> byok's stop reasons (types.STOP_REASONS); pause_turn and others are `other`.
STOPS = {"end_turn": "end", "stop_sequence": "end", "max_tokens": "length",
         "model_context_window_exceeded": "length", "refusal": "refusal",
         "tool_use": "tool_call"}
MAX_TOOLS = 20  # tool names kept from one answer


def _turn(message: dict) -> dict:
    if not message.get("attachments"):
        return message
    from .attachments import anthropic_content

    return {"role": message["role"],
            "content": anthropic_content(message["content"], message["attachments"])}


def _tool_block(block: Any, result: ChatResult) -> None:
    if isinstance(block, dict) and block.get("type") in ("tool_use", "server_tool_use") \
            and isinstance(block.get("name"), str) and len(result.tool_calls) < MAX_TOOLS:
        result.tool_calls.append(block["name"][:100])


def _usage(usage: Any, result: ChatResult) -> None:
    """Anthropic counts the prompt in three parts: ``input_tokens`` (not cached), and
    ``cache_read_input_tokens`` and ``cache_creation_input_tokens``. byok's input_tokens is
    their sum (as OpenAI's prompt_tokens includes its cached tokens), with the two cache
    parts noted for their own prices."""
    if not isinstance(usage, dict):
        return
    for name, attr in (("cache_read_input_tokens", "cached_input_tokens"),
                       ("cache_creation_input_tokens", "cache_write_tokens")):
        if usage.get(name) is not None:
            setattr(result, attr, result.tokens(name, usage[name]))
    given = usage.get("input_tokens")
    if given is not None and (given != 0 or result.input_tokens is None):
        plain = result.tokens("input_tokens", given)
        cache = (result.cached_input_tokens or 0) + (result.cache_write_tokens or 0)
        result.input_tokens = None if plain is None else plain + cache
    if usage.get("output_tokens") is not None:
        result.output_tokens = result.tokens("output_tokens", usage["output_tokens"])


CLIENT = AnthropicMessages


def sdk_client(key: str | None, base_url: str):
    """The official `anthropic` SDK's client with this key and base URL, for scripts
    (`Byok.client`): the SDK is imported here only, on that call."""
    import anthropic

    from ..urls import sdk_mounts

    # Proxies stay in force beyond this machine; a loopback base URL is never proxied.
    return anthropic.Anthropic(api_key=key or "no-key-needed", base_url=base_url,
                         http_client=anthropic.DefaultHttpxClient(mounts=sdk_mounts()))
