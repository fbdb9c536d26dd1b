"""OpenAI adapter over the official ``openai`` SDK (imported here and only here)."""

from __future__ import annotations

from typing import Iterator

import openai

from ..errors import ByokError, Code
from . import (ChatRequest, ChatResult, RemoteModel, SDKAdapter, classify, network_error,
               normalise_turns, with_retries)

# What `run` can use: chat models, not embeddings, speech, images or moderation.
_CHAT_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-")
_NOT_CHAT = ("embedding", "whisper", "tts", "dall-e", "moderation", "audio", "realtime",
             "transcribe", "image", "search", "davinci", "babbage")


def is_chat_model(model_id: str) -> bool:
    return model_id.startswith(_CHAT_PREFIXES) and not any(w in model_id for w in _NOT_CHAT)


class OpenAIAdapter(SDKAdapter):
    api = "openai"

    def _make_client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(api_key=key, base_url=self.base_url, max_retries=0,
                             timeout=openai.Timeout(self.settings.timeout,
                                                    connect=self.settings.connect_timeout))

    def _error(self, exc: Exception, during: str, model: str | None = None) -> ByokError:
        if isinstance(exc, openai.APIStatusError):
            return classify(self.provider, exc.status_code, exc.body or {},
                            headers=exc.response.headers, during=during, model=model,
                            title=self.title)
        if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
            return network_error(self.provider, exc, self.base_url, self.title)
        if isinstance(exc, openai.APIError):  # an error chunk inside a 200 stream
            return classify(self.provider, None, {"error": exc.body} if exc.body else
                            {"error": {"message": exc.message}}, during=during, model=model,
                            title=self.title)
        return network_error(self.provider, exc, self.base_url, self.title)

    def list_models(self) -> list[RemoteModel]:
        def call() -> list[RemoteModel]:
            try:
                return [RemoteModel(m.id) for m in self.client.models.list()
                        if not self.only_chat or is_chat_model(m.id)]
            except Exception as exc:
                raise self._error(exc, "models") from None

        return with_retries(call, self.settings)

    def validate(self) -> None:
        self.list_models()

    def _params(self, request: ChatRequest) -> dict:
        messages = ([{"role": "system", "content": request.system}] if request.system else [])
        messages += normalise_turns(request.messages)
        params: dict = {"model": request.model, "messages": messages}
        if request.max_tokens is not None:
            params["max_completion_tokens"] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        return params

    def _whole(self, params: dict, result: ChatResult) -> Iterator[str]:
        try:
            reply = self.client.chat.completions.create(**params)
        except Exception as exc:
            raise self._error(exc, "chat", params["model"]) from None
        choice = reply.choices[0] if reply.choices else None
        result.finish_reason = choice.finish_reason if choice else None
        if reply.usage:
            result.input_tokens = reply.usage.prompt_tokens
            result.output_tokens = reply.usage.completion_tokens
        text = (choice.message.content or "") if choice else ""
        result.text_parts.append(text)
        yield text

    def _stream(self, params: dict, result: ChatResult) -> Iterator[str]:
        try:
            stream = self.client.chat.completions.create(
                **params, stream=True, stream_options={"include_usage": True})
            with stream:
                for chunk in stream:
                    if chunk.usage:
                        result.input_tokens = chunk.usage.prompt_tokens
                        result.output_tokens = chunk.usage.completion_tokens
                    for choice in chunk.choices:
                        if choice.finish_reason:
                            result.finish_reason = choice.finish_reason
                        piece = choice.delta.content if choice.delta else None
                        if piece:
                            result.text_parts.append(piece)
                            yield piece
        except ByokError:
            raise
        except Exception as exc:
            raise self._error(exc, "chat", params["model"]) from None
        if result.finish_reason is None:
            # The SDK takes a closed connection for the end of the stream; we do not.
            raise ByokError(Code.NETWORK_ERROR, f"the connection to {self.title} closed before "
                            "the answer was complete", hint="try again", provider=self.provider)


ADAPTER = OpenAIAdapter


def sdk_client(key: str, base_url: str) -> openai.OpenAI:
    """A plain SDK client, as the SDK's own users make it (its retries and defaults)."""
    return openai.OpenAI(api_key=key, base_url=base_url)
