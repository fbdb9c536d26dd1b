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

import os
from collections.abc import Callable, Sequence

from .errors import ByokError, Code
from .store import Store

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:  # kept out of start-up: commands that only list things never need them
    from typing import Any
    from .routing.ask import AskResult
    from .secrets.key_reports import KeyReader
    from .secrets.keychain import Keychain
    from .registry import Provider, Registry
    from .routing.resolve import Plan

__all__ = ["Byok", "ByokError", "Code"]


class Byok:
    """One profile of one byok data directory."""

    def __init__(self, profile: str = "default", home: str | os.PathLike | None = None,
                 on_warning: Callable[[str], None] | None = None):
        """``on_warning`` hears what byok changed or could not do on its own (a database
        made private, a master key made anew); by default, Python's warnings."""
        self.profile = profile
        self._home = home or None  # a path as given: opening the store resolves it
        self._on_warning = on_warning
        self._store: Store | None = None
        self._keychain: Keychain | None = None
        self._key_reader: KeyReader | None = None

    @property
    def keychain(self) -> "Keychain":
        """The profile's keys (set, open, remove, report); opened on first use."""
        if self._keychain is None:
            from .secrets.keychain import Keychain

            self._keychain = Keychain(self.store, self.profile)
        return self._keychain

    @property
    def key_reader(self) -> "KeyReader":
        """What is known of the profile's keys without opening one (the keychain once it
        is open): reading commands need neither the vault nor the master key."""
        if self._keychain is not None:
            return self._keychain
        if self._key_reader is None:
            from .secrets.key_reports import KeyReader

            self._key_reader = KeyReader(self.store, self.profile)
        return self._key_reader

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self._home, warn=self._on_warning)
        return self._store

    @property
    def registry(self) -> "Registry":
        """The providers this profile can use: built-ins, presets and its own."""
        return self.key_reader.registry

    def add_provider(self, name: str, api: str, base_url: str, key_env: str | None = None,
                     needs_key: bool = True) -> "Provider":
        """Add a provider of the profile's own: any endpoint that speaks one of byok's APIs."""
        from . import registry

        current = self.registry
        name = registry.check_name(name, current)
        api = registry.check_api(api)
        base_url, _ = registry.base_url_to_store(api, base_url)
        key_env = registry.check_key_env(key_env, current) if key_env else None
        self.store.add_provider(self.profile, name, api, base_url, key_env, needs_key)
        self.keychain.forget_registry()
        return self.registry.require(name)

    def provider_ties(self, name: str) -> tuple[int, list[str], bool]:
        """What removing the provider takes with it: (its stored keys, the fallback chain's
        entries naming it, whether it is the preferred provider)."""
        from .routing.addressing import chain_without

        found = self.registry.require(name)
        keys = sum(1 for k in self.store.keys(self.profile) if k.provider == found.name)
        settings = self.store.settings(self.profile)
        return (keys, chain_without(settings.get("fallback"), found.name)[1],
                settings.get("preferred_provider") == found.name)

    def remove_provider(self, name: str) -> "Provider":
        """Remove a provider of the profile's own (built-ins and presets stay), with its
        stored keys (wiped as `key remove` wipes them), the fallback chain's entries naming
        it, and its place as the preferred provider (back to 'system'; see
        :meth:`provider_ties`)."""
        from .routing.addressing import chain_without

        found = self.registry.require(name)
        if found.kind != "custom":
            what = "built in" if found.kind == "builtin" else "a preset"
            raise ByokError(Code.USAGE, f"{found.name!r} is {what} and cannot be removed",
                            hint="only providers added with `byok provider add` can")
        self.store.remove_provider(self.profile, found.name)
        settings = self.store.settings(self.profile)
        kept, dropped = chain_without(settings.get("fallback"), found.name)
        if dropped:
            self.store.set_setting(self.profile, "fallback", kept)
        if settings.get("preferred_provider") == found.name:
            self.store.set_setting(self.profile, "preferred_provider", "system")
        self.keychain.forget_registry()
        return found

    def plan(self, model: str | None = None, provider: str | None = None,
             fallback: bool = True, *, key: str | None = None, chain: bool = False,
             temperature: float | None = None, effort: str | None = None,
             base_url: str | None = None) -> "Plan":
        """The ordered attempts (provider, model, key, reason) and the base URL of each
        provider; sends nothing. ``model`` may be ``provider/model``; ``key`` names a stored
        key (or the environment variable); ``chain`` uses the fallback chain even though -p
        or -m pin the provider."""
        from .routing.ask import make_plan

        return make_plan(self.keychain, model, provider, fallback, key=key, chain=chain,
                         temperature=temperature, effort=effort, base_url=base_url)

    def client(self, provider: str, *, key: str | None = None) -> Any:
        """An official SDK client of the provider's API kind (``openai.OpenAI`` or
        ``anthropic.Anthropic``) with the key and base URL byok would use for it."""
        import importlib

        from .routing.keys import key_availability
        from .registry import wire_module
        from .routing.routes import require
        from .wire.endpoint import endpoint

        record = self.registry.require(provider)
        settings = self.store.settings(self.profile)
        found = key_availability(self.keychain).sources(record.name, settings, key)
        if not found:  # no model is needed here, so this is not a plan
            raise ByokError(Code.NO_KEY, f"no {record.name} key" + (f" called {key!r}" if key
                            else " is available"), hint=f"store one with `byok key set "
                            f"{record.name}`", provider=record.name)
        # The SDK would send the key there: the same rules hold (https, which key where).
        where = endpoint(record, profile=settings["base_urls"].get(record.name),
                         env=self.keychain.env)
        require(where, found[0].source, settings, self.registry)
        secret = self.keychain.key(record.name, found[0].source, found[0].name)
        module = importlib.import_module(f"{__package__}.wire.{wire_module(record.api)}")
        return module.sdk_client(secret, where.url)

    def ask(self, prompt: str, *, model: str | None = None, provider: str | None = None,
            key: str | None = None, system: str | None = None, max_tokens: int | None = None,
            temperature: float | None = None, effort: str | None = None,
            base_url: str | None = None, stream: bool = True, fallback: bool = True,
            chain: bool = False, log: bool = True, conversation_id: int | None = None,
            continue_latest: bool = False, allow_unpriced: bool | None = None,
            on_text: Callable[[str], None] | None = None,
            on_warning: Callable[[str], None] | None = None,
            strict: bool = False, schema: "str | dict | None" = None,
            on_reasoning: Callable[[str], None] | None = None,
            attachments: "Sequence[str | os.PathLike | bytes] | None" = None) -> "AskResult":
        """Send a prompt as `byok run` does and return the answer with its provenance and
        cost (``result.outcome.cost_micros``); budgets apply as they do to `byok run`.
        A refusal, a content filter or an answer that is only a tool call raises ByokError
        (REFUSED, UNEXPECTED_TOOL_CALL) with the answer as its ``outcome``; so does a cut-off
        answer with ``strict`` (TRUNCATED). ``schema`` (a JSON Schema as a dict, or as
        `run --schema` takes it) asks for JSON that fits it, in ``result.outcome.data``;
        an answer that is not such JSON raises SCHEMA_MISMATCH. ``attachments``: images
        (PNG, JPEG, GIF, WebP) or PDFs, each a path, an http(s) URL or the bytes themselves,
        checked as `run -a` checks them (type from the content, size, the model's inputs)."""
        from .routing.ask import AskOptions, ask, find_conversation

        options = AskOptions(model=model, provider=provider, key=key, system=system,
                             max_tokens=max_tokens, temperature=temperature, effort=effort,
                             base_url=base_url, stream=stream, fallback=fallback, chain=chain,
                             log=log, allow_unpriced=allow_unpriced, strict=strict,
                             schema=_schema(schema), attachments=_attachments(attachments))
        cid = find_conversation(self.keychain, conversation_id, continue_latest)
        return ask(self.keychain, prompt, options, conversation_id=cid,
                   on_text=on_text or (lambda s: None), on_warning=on_warning or (lambda s: None),
                   on_reasoning=on_reasoning)


def _schema(schema: "str | dict | None") -> dict | None:
    if schema is None or isinstance(schema, dict):
        return schema
    from .schema import load

    return load(schema)


def _attachments(given) -> list:
    if not given:
        return []
    if isinstance(given, (str, bytes, os.PathLike)):
        given = [given]  # one attachment, not a sequence of characters
    from .attachments import load
    from .wire.attachments import MAX_ATTACHMENT, identify

    out = []
    for i, item in enumerate(given):
        if isinstance(item, (bytes, bytearray)):
            if len(item) > MAX_ATTACHMENT:
                from .attachments import too_big

                raise too_big(f"#{i + 1}", len(item))
            out.append(identify(bytes(item), f"attachment-{i + 1}"))
        else:
            out.append(load(os.fspath(item)))
    return out
