"""byok's Python API: the same resolution, vault and fallbacks as the CLI, for scripts.

>>> from byok_cli import Byok
>>> b = Byok()                                    # profile "default", BYOK_HOME or the usual dir
>>> b.plan(model="sonnet").attempts[0].provider   # what `byok run --explain` shows
'anthropic'
>>> client = b.client("openai")                   # an openai.OpenAI with the resolved key
>>> b.ask("2+2?", on_text=print).outcome.text     # streamed, with the design's fallbacks

Failures raise :class:`byok_cli.errors.ByokError`, whose ``code`` is one of
:class:`byok_cli.errors.Code`. Keys are never returned except inside an SDK client.
Requests go through byok's own HTTP client (:mod:`byok_cli.wire`); an SDK is imported only
by :meth:`Byok.client`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import ByokError, Code
from .keychain import Keychain
from .keys import check_provider
from .store import Store

if TYPE_CHECKING:  # kept out of start-up: commands that only list things never need them
    from .ask import AskResult
    from .resolve import Plan

__all__ = ["Byok", "ByokError", "Code"]


class Byok:
    """One profile of one byok data directory."""

    def __init__(self, profile: str = "default", home: str | Path | None = None):
        self.profile = profile
        self._home = Path(home) if home else None
        self._keychain: Keychain | None = None

    @property
    def keychain(self) -> Keychain:
        """The profile's keys (set, remove, report); opened on first use."""
        if self._keychain is None:
            self._keychain = Keychain(Store(self._home), self.profile)
        return self._keychain

    @property
    def store(self) -> Store:
        return self.keychain.store

    def plan(self, model: str | None = None, provider: str | None = None,
             fallback: bool = True, *, temperature: float | None = None,
             effort: str | None = None, base_url: str | None = None) -> "Plan":
        """The ordered attempts (provider, model, key source, reason) and the base URL of
        each provider; sends nothing."""
        from .ask import make_plan

        return make_plan(self.keychain, model, check_provider(provider) if provider else None,
                         fallback, temperature=temperature, effort=effort, base_url=base_url)

    def client(self, provider: str) -> Any:
        """An official SDK client (``openai.OpenAI`` or ``anthropic.Anthropic``) configured
        with the key and base URL byok would use for this provider."""
        from .routes import require

        provider = check_provider(provider)
        the_plan = self.plan(provider=provider, fallback=False)
        source = the_plan.attempts[0].key_source
        where = the_plan.endpoints[provider]  # checked: https, or http to this machine
        require(where, source, self.store.settings(self.profile))  # the SDK would send it
        key = self.keychain.key(provider, source)
        base_url = where.url
        if provider == "openai":
            import openai

            return openai.OpenAI(api_key=key, base_url=base_url)
        import anthropic

        return anthropic.Anthropic(api_key=key, base_url=base_url)

    def ask(self, prompt: str, *, model: str | None = None, provider: str | None = None,
            system: str | None = None, max_tokens: int | None = None,
            temperature: float | None = None, effort: str | None = None,
            base_url: str | None = None, stream: bool = True, fallback: bool = True,
            log: bool = True, conversation_id: int | None = None, continue_latest: bool = False,
            allow_unpriced: bool | None = None, on_text: Callable[[str], None] | None = None,
            on_warning: Callable[[str], None] | None = None) -> "AskResult":
        """Send a prompt as `byok run` does and return the answer with its provenance and
        cost (``result.outcome.cost_micros``); budgets apply as they do to `byok run`."""
        from .ask import AskOptions, ask, find_conversation

        options = AskOptions(model=model, provider=check_provider(provider) if provider else None,
                             system=system, max_tokens=max_tokens, temperature=temperature,
                             effort=effort, base_url=base_url, stream=stream,
                             fallback=fallback, log=log, allow_unpriced=allow_unpriced)
        cid = find_conversation(self.keychain, conversation_id, continue_latest)
        return ask(self.keychain, prompt, options, conversation_id=cid,
                   on_text=on_text or (lambda s: None), on_warning=on_warning or (lambda s: None))
