"""OpenAI Chat Completions: POST {base}/chat/completions and GET {base}/models.

The same requests the `openai` SDK sends for the same inputs (captured and compared in
the contract tests), except for what SDK_DIFFERENCES lists. Also what OpenAI-compatible
gateways (LiteLLM, vLLM, Ollama, proxies) answer in their own ways is read here.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

from . import sse
from .client import Client, header_value
from .errors import Malformed, classify
from .types import ChatRequest, ChatResult, normalise_turns

# Every way byok's requests deliberately differ from the openai SDK's for the same inputs,
# by part of the request (header names in lower case; a trailing * is a prefix). The
# contract tests compare everything else: method, path, query, headers, JSON body.
SDK_DIFFERENCES = {
    "headers": {
        "user-agent": "byok/<version> names byok, not the SDK",
        "x-stainless-*": "the SDK's reports about itself (language, OS, retry count, "
                         "timeouts); byok sends none",
    },
    "query": {
        "after": "GET /models: when a gateway pages its model list (has_more, last_id), byok "
                 "asks for the next page with ?after=<last_id>, for at most 20 pages; the SDK "
                 "reads one page. The first request is the same.",
    },
    "body": {},
}

# What `run` can use: chat models, not embeddings, speech, images or moderation.
_CHAT_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-")
_NOT_CHAT = ("embedding", "whisper", "tts", "dall-e", "moderation", "audio", "realtime",
             "transcribe", "image", "search", "davinci", "babbage")


def is_chat_model(model_id: str) -> bool:
    return model_id.startswith(_CHAT_PREFIXES) and not any(w in model_id for w in _NOT_CHAT)


class OpenAIChat(Client):
    chat_path = "/chat/completions"
    models_path = "/models"
    cursor_param = "after"

    def auth_headers(self, key: str | None) -> dict[str, str]:
        out = {"Authorization": f"Bearer {key}"} if key else {}
        # As the SDK does, from the same variables; they are OpenAI's own, so they go to
        # OpenAI only, never to another service speaking its API.
        if self.provider == "openai":
            for header, variable in (("OpenAI-Organization", "OPENAI_ORG_ID"),
                                     ("OpenAI-Project", "OPENAI_PROJECT_ID")):
                if os.environ.get(variable):
                    out[header] = header_value(os.environ[variable], variable)
        return out

    def keep_model(self, model_id: str) -> bool:
        return not self.own_models_only or is_chat_model(model_id)

    def chat_body(self, request: ChatRequest) -> dict:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [_turn(m) for m in normalise_turns(request.messages)]
        body: dict = {"model": request.model, "messages": messages}
        if request.max_tokens is not None:
            body["max_completion_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.effort is not None:
            body["reasoning_effort"] = request.effort
        if request.schema is not None:
            from ..schema import is_strict

            # strict only where OpenAI's strict mode takes the schema as given (every object
            # closed, all its properties required); else the schema guides without a guarantee
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": request.schema, "strict": is_strict(request.schema)}}
        if request.stream:
            body["stream"] = True
            # Usage arrives in a last chunk only when asked for (tokens for --json and usage).
            body["stream_options"] = {"include_usage": True}
        return body

    def read_whole(self, data: Any, result: ChatResult) -> str:
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise Malformed("an answer without choices")
        _usage(data, result)
        result.served(data.get("model"))
        choice = data["choices"][0] if data["choices"] else {}
        if not isinstance(choice, dict):
            raise Malformed("a choice that is not an object")
        result.stopped(choice.get("finish_reason"), STOPS)
        message = choice.get("message")
        if not isinstance(message, dict):
            return ""
        _message_extras(message, result)
        return _content(message.get("content"))

    def read_stream(self, events: Iterator[sse.Event], result: ChatResult) -> Iterator[str]:
        named: dict = {}  # (choice, tool-call index) -> its name's place in result.tool_calls
        for event in events:
            if event.data.strip() == "[DONE]":
                return  # complete, with or without a finish reason (gateways leave it out)
            chunk = self.decode_event(event)
            if not isinstance(chunk, dict):
                raise Malformed("a stream chunk that is not an object")
            if event.event == "error" or "error" in chunk and chunk["error"]:
                raise classify(self.provider, None, chunk, during="chat", model=chunk.get("model"))
            _usage(chunk, result)
            result.served(chunk.get("model"))
            choices = chunk.get("choices")
            if choices is not None and not isinstance(choices, list):
                raise Malformed("a stream chunk whose choices are not a list")
            for n, choice in enumerate(choices or ()):
                if not isinstance(choice, dict):
                    raise Malformed("a choice that is not an object")
                delta = choice.get("delta")
                if not isinstance(delta, dict):
                    delta = {}
                _message_extras(delta, result, (named, choice.get("index", n)))
                piece = _content(delta.get("content"))
                if piece:
                    result.text_parts.append(piece)
                    yield piece
                result.stopped(choice.get("finish_reason"), STOPS)
        if result.finish_reason is None:
            # Neither [DONE] nor a finish reason: the connection ended mid-answer.
            raise self.incomplete()


# finish_reason -> byok's stop reasons (types.STOP_REASONS); function_call is the older name.
STOPS = {"stop": "end", "length": "length", "content_filter": "content_filter",
         "tool_calls": "tool_call", "function_call": "tool_call"}
MAX_TOOLS = 20  # tool names kept from one answer (a hostile server may send thousands)


def _turn(message: dict) -> dict:
    if not message.get("attachments"):
        return message
    from .attachments import openai_content

    return {"role": message["role"],
            "content": openai_content(message["content"], message["attachments"])}


def _message_extras(message: dict, result: ChatResult, streamed: tuple | None = None
                    ) -> None:
    """What a message (or a stream's delta) says besides text: a refusal, tools called.
    ``streamed``: (the names seen so far, the choice), for a stream's delta, where a tool
    call's name may come in pieces over several deltas of its index: joined, as the SDK
    joins them, into one name."""
    # reasoning_content: DeepSeek, vLLM, LiteLLM; reasoning: OpenRouter, Ollama
    result.reasoned(message.get("reasoning_content") or message.get("reasoning"))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        result.refusal_parts.append(refusal)
        result.stop_reason = "refusal"
    calls = message.get("tool_calls")
    if isinstance(message.get("function_call"), dict):
        calls = [{"function": message["function_call"]}]
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            continue
        index = call.get("index") if streamed is not None else None
        if isinstance(index, int):
            named, choice = streamed  # type: ignore[misc]
            at = named.get((choice, index))
            if at is not None:  # the rest of a name begun in an earlier delta
                result.tool_calls[at] = (result.tool_calls[at] + name)[:100]
                continue
            if len(result.tool_calls) < MAX_TOOLS:
                named[choice, index] = len(result.tool_calls)
        if len(result.tool_calls) < MAX_TOOLS:
            result.tool_calls.append(name[:100])


def _usage(data: dict, result: ChatResult) -> None:
    usage = data.get("usage")
    if isinstance(usage, dict):
        # A count that is present but implausible makes that count unknown (not 0).
        if usage.get("prompt_tokens") is not None:
            result.input_tokens = result.tokens("prompt_tokens", usage["prompt_tokens"])
        if usage.get("completion_tokens") is not None:
            result.output_tokens = result.tokens("completion_tokens", usage["completion_tokens"])
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict) and details.get("cached_tokens") is not None:
            # priced at the cached rate
            result.cached_input_tokens = result.tokens("cached_tokens", details["cached_tokens"])
        details = usage.get("completion_tokens_details")
        if isinstance(details, dict) and details.get("reasoning_tokens") is not None:
            result.reasoning_tokens = result.tokens("reasoning_tokens",
                                                    details["reasoning_tokens"])


def _content(value: Any) -> str:
    """Message content: a string, or (from some gateways) a list of text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p.get("text", "") if isinstance(p, dict) and isinstance(
            p.get("text", ""), str) else "" for p in value)
    return ""


CLIENT = OpenAIChat


def sdk_client(key: str | None, base_url: str):
    """The official `openai` SDK's client with this key and base URL, for scripts
    (`Byok.client`): the SDK is imported here only, on that call."""
    import openai

    from ..urls import sdk_mounts

    # Proxies stay in force beyond this machine; a loopback base URL is never proxied.
    return openai.OpenAI(api_key=key or "no-key-needed", base_url=base_url,
                         http_client=openai.DefaultHttpxClient(mounts=sdk_mounts()))
