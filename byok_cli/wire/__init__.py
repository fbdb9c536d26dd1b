"""byok's own HTTP client for the two wire protocols it speaks.

    types.py               requests, results, settings (no HTTP)
    endpoint.py            which base URL, from where (no HTTP)
    limits.py              every bound on what a server sends (sizes, depth, deadline)
    clock.py               the overall deadline of one request
    transport.py           HTTP/1.1 over the standard library: proxies, TLS, timeouts, one
                           kept-alive connection per host; check_transport (https beyond
                           loopback)
    sse.py                 server-sent events
    errors.py              statuses, error bodies and transport failures -> ByokError
    retry.py               the one retry policy
    client.py              what both protocols share
    openai_chat.py         OpenAI Chat Completions
    anthropic_messages.py  Anthropic Messages
    attachments.py         images and PDFs (-a): type from the bytes, each API's content
                           parts and documented size limits (no files, no HTTP)

`wire` sends one request and says precisely what happened; it never decides to fall back
(that is the runner's job). It speaks API kinds, not vendors: which provider speaks which
is the registry's data. Importing this package loads no HTTP code: `connect` does; nor
`types` until one of its names is asked for, so that `endpoint` is
light for the commands that only list things.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from ..registry import Provider
    from .client import Client
    from .types import ChatRequest, ChatResult, RemoteModel, Settings

__all__ = ["ChatRequest", "ChatResult", "RemoteModel", "Settings", "connect"]


def connect(provider: "Provider | str", key: str | None, base_url: str,
            settings: Settings | None = None) -> "Client":
    """A client for one provider (a registry record, or a built-in's name), key and base URL
    (see endpoint.endpoint). The provider's API kind picks the protocol module; ``key`` is
    None for a provider that needs none (no credentials are sent at all)."""
    import importlib

    from ..registry import builtin, wire_module
    from .types import Settings

    record = builtin().require(provider) if isinstance(provider, str) else provider
    module = importlib.import_module(f"{__name__}.{wire_module(record.api)}")
    return module.CLIENT(record.name, key, base_url, settings or Settings.from_env(),
                         own_models_only=bool(record.model_prefixes))


def __getattr__(name: str):
    if name in ("ChatRequest", "ChatResult", "RemoteModel", "Settings"):
        from . import types

        return getattr(types, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
