"""Choosing a default model (`models default`, `config set PROVIDER.model`): which models
may be chosen, and making the model's provider the preferred one so that `byok run` uses it."""

from __future__ import annotations

import datetime as dt
import sys

from ..errors import ByokError, Code
from . import output


def choose_model(st, name: str, provider: str | None = None):
    """The addressing Target for a default model: a catalogue model that has not reached
    end of life; for a provider with a catalogue, another id only when the provider lists
    it or a custom base URL may serve it; any id for a gateway without a catalogue."""
    from ..catalog.curated import default_model
    from ..routing.addressing import check_typo, resolve
    from ..catalog.curated import load
    from ..catalog.model_lists import listed_ids
    from ..wire.endpoint import endpoint

    cat = load()
    registry = st.byok.registry
    settings = st.store.settings(st.profile)
    preferred = settings["preferred_provider"]
    target = resolve(name, cat, registry, provider=provider,
                     preferred=None if preferred == "system" else preferred)
    record = registry.require(target.provider)
    if target.in_catalog:
        known = cat.get(target.model)
        if known is not None and known.is_retired(dt.date.today()):
            raise ByokError(Code.MODEL_NOT_FOUND, f"{target.model} reached end of life on "
                            f"{known.end_of_life}",
                            hint=f"use {default_model(record, cat)} instead",
                            provider=target.provider)
        if known is not None and known.is_deprecated(dt.date.today()):  # as `run` warns
            output.warn(f"{target.model} is deprecated and will stop working on "
                        f"{known.end_of_life}; consider {default_model(record, cat)}")
        return target
    if not record.catalog:  # a gateway's or a local server's own ids
        return target
    check_typo(name, target, cat, registry,
               lambda p: listed_ids(st.store.cached_model_lists(p)), anyway=None)
    where = endpoint(record, profile=settings["base_urls"].get(record.name))
    if where.source != "default":  # an OpenAI-compatible server may serve any model
        output.warn(f"{target.model} is not in byok's catalogue: it is sent as given to "
                    f"{record.name} at {where.url}, which may reject it")
        return target
    from ..catalog.model_lists import cached as cached_list

    cached = st.store.cached_models(record.name, "default")
    if cached and target.model in {m["id"] for m in cached_list(cached[1]) or []}:
        return target
    raise ByokError(Code.MODEL_NOT_FOUND, f"unknown {record.name} model {name!r}",
                    hint=f"see `byok models list -p {record.name}`, or `--remote` for "
                         f"{record.name}'s own list", provider=record.name)


def offer_preferred(st, provider: str, model_id: str, yes: bool) -> None:
    """When `provider` is not the preferred one, `byok run` does not use its default model:
    say so, and make it the preferred provider with --yes or a "yes" at a terminal."""
    from ..routing.keys import key_availability

    preferred = st.store.settings(st.profile)["preferred_provider"]
    if preferred == provider:
        return
    now = ("only environment keys (preferred provider 'system')" if preferred == "system"
           else f"{preferred} (the preferred provider)")
    if not (yes or sys.stdin.isatty()):
        output.info(f"note: `byok run` still uses {now}; to use {model_id}, run "
                    f"`byok config set preferred-provider {provider}`, or this with --yes")
        return
    if not yes:
        output.info(f"`byok run` uses {now}")
    output.confirm(f"Make {provider} the preferred provider, so that `byok run` uses "
                   f"{model_id}?", yes, f"switch the preferred provider to {provider}")
    st.store.set_setting(st.profile, "preferred_provider", provider)
    output.info(f"preferred provider for profile {st.profile!r}: {provider} (was {preferred})")
    settings = st.store.settings(st.profile)
    if not key_availability(st.keychain).sources(provider, settings) and \
            st.byok.registry.require(provider).needs_key:
        output.warn(f"there is no {provider} key yet: store one with `byok key set {provider}`")
