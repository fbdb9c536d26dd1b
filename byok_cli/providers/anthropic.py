"""Anthropic adapter over the official ``anthropic`` SDK (imported here and only here)."""

from __future__ import annotations

from typing import Iterator

import anthropic

from ..errors import ByokError, Code
from . import (ChatRequest, ChatResult, RemoteModel, SDKAdapter, classify, network_error,
               normalise_turns, with_retries)

DEFAULT_MAX_TOKENS = 4096  # the Messages API requires a limit


class AnthropicAdapter(SDKAdapter):
    api = "anthropic"

    def _make_client(self, key: str) -> anthropic.Anthropic:
        return anthropic.Anthropic(api_key=key, base_url=self.base_url, max_retries=0,
                                   timeout=anthropic.Timeout(self.settings.timeout,
                                                             connect=self.settings.connect_timeout))

    def _error(self, exc: Exception, during: str, model: str | None = None) -> ByokError:
        if isinstance(exc, anthropic.APIStatusError):
            # An `error` event inside a 200 stream arrives with status 200: the body decides.
            status = exc.status_code if exc.status_code >= 400 else None
            return classify(self.provider, status, exc.body or {},
                            headers=exc.response.headers, during=during, model=model,
                            title=self.title)
        if isinstance(exc, (anthropic.APIConnectionError, anthropic.APITimeoutError)):
            return network_error(self.provider, exc, self.base_url, self.title)
        return network_error(self.provider, exc, self.base_url, self.title)

    def list_models(self) -> list[RemoteModel]:
        def call() -> list[RemoteModel]:
            try:
                # Iterating the page follows `has_more` to the end of the list.
                return [RemoteModel(m.id, m.display_name)
                        for m in self.client.models.list(limit=100)]
            except Exception as exc:
                raise self._error(exc, "models") from None

        return with_retries(call, self.settings)

    def validate(self) -> None:
        def call() -> None:
            try:
                self.client.models.list(limit=1)
            except Exception as exc:
                raise self._error(exc, "models") from None

        with_retries(call, self.settings)

    def _params(self, request: ChatRequest) -> dict:
        params: dict = {"model": request.model, "messages": normalise_turns(request.messages),
                        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS}
        if request.system:
            params["system"] = request.system
        if request.temperature is not None:
            params["temperature"] = request.temperature
        return params

    def _whole(self, params: dict, result: ChatResult) -> Iterator[str]:
        try:
            reply = self.client.messages.create(**params)
        except Exception as exc:
            raise self._error(exc, "chat", params["model"]) from None
        result.finish_reason = reply.stop_reason
        result.input_tokens = reply.usage.input_tokens
        result.output_tokens = reply.usage.output_tokens
        text = "".join(block.text for block in reply.content if block.type == "text")
        result.text_parts.append(text)
        yield text

    def _stream(self, params: dict, result: ChatResult) -> Iterator[str]:
        finished = False
        try:
            with self.client.messages.create(**params, stream=True) as stream:
                for event in stream:
                    kind = event.type
                    if kind == "message_start":
                        result.input_tokens = event.message.usage.input_tokens
                    elif kind == "content_block_delta" and event.delta.type == "text_delta":
                        if event.delta.text:
                            result.text_parts.append(event.delta.text)
                            yield event.delta.text
                    elif kind == "message_delta":
                        result.output_tokens = event.usage.output_tokens
                        result.finish_reason = event.delta.stop_reason
                    elif kind == "message_stop":
                        finished = True
        except ByokError:
            raise
        except Exception as exc:
            raise self._error(exc, "chat", params["model"]) from None
        if not finished:
            # The SDK takes a closed connection for the end of the stream; we do not.
            raise ByokError(Code.NETWORK_ERROR, f"the connection to {self.title} closed before "
                            "the answer was complete", hint="try again", provider=self.provider)


ADAPTER = AnthropicAdapter


def sdk_client(key: str, base_url: str) -> anthropic.Anthropic:
    """A plain SDK client, as the SDK's own users make it (its retries and defaults)."""
    return anthropic.Anthropic(api_key=key, base_url=base_url)
