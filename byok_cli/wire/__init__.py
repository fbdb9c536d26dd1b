"""byok's own HTTP client for the two wire protocols it speaks.

    types.py               requests, results, settings (no HTTP)
    endpoint.py            which base URL, from where (no HTTP)
    transport.py           HTTP/1.1 over the standard library: proxies, TLS, timeouts, one
                           kept-alive connection per host; check_transport (https beyond
                           loopback)
    sse.py                 server-sent events
    errors.py              statuses, error bodies and transport failures -> ByokError
    retry.py               the one retry policy
    client.py              what both protocols share
    openai_chat.py         OpenAI Chat Completions
    anthropic_messages.py  Anthropic Messages

`wire` sends one request and says precisely what happened; it never decides to fall back
(that is the runner's job). Importing this package loads no HTTP code: `connect` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .types import ChatRequest, ChatResult, RemoteModel, Settings

if TYPE_CHECKING:
    from .client import Client

__all__ = ["ChatRequest", "ChatResult", "RemoteModel", "Settings", "connect", "API_KINDS"]

# Which wire protocol each provider speaks.
API_KINDS = {"openai": "openai_chat", "anthropic": "anthropic_messages"}


def connect(provider: str, key: str, base_url: str, settings: Settings | None = None
            ) -> "Client":
    """A client for one provider, key and base URL (see endpoint.endpoint)."""
    from ..errors import ByokError, Code

    settings = settings or Settings.from_env()
    kind = API_KINDS.get(provider)
    if kind == "openai_chat":
        from .openai_chat import OpenAIChat

        return OpenAIChat(provider, key, base_url, settings)
    if kind == "anthropic_messages":
        from .anthropic_messages import AnthropicMessages

        return AnthropicMessages(provider, key, base_url, settings)
    raise ByokError(Code.USAGE, f"unknown provider {provider!r}")
