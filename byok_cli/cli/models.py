"""`byok models list | default`."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from typing import Optional

import typer

from ..catalog import load
from ..errors import ByokError, Code
from . import complete, output
from .root import group, state

app = group("See the models you can use, and choose defaults.")


def _first_keys(st) -> dict:
    """provider -> the key `run` would try first, as a KeySource (source, name, hint)."""
    from ..ask import key_availability

    settings = st.store.settings(st.profile)
    keys = key_availability(st.keychain)
    return {p.name: found[0] for p in st.byok.registry
            if (found := keys.sources(p.name, settings))}


def _remote(st, provider, source, refresh: bool) -> list[dict]:
    """The provider's live list, cached in the database for BYOK_MODELS_TTL seconds."""
    from ..wire import connect
    from ..wire.endpoint import endpoint

    where = endpoint(provider, profile=st.store.settings(st.profile)["base_urls"].get(
        provider.name))
    if where.note:
        output.warn(where.note)
    cache_key = where.url if where.source != "default" else "default"
    ttl = float(os.environ.get("BYOK_MODELS_TTL", "3600"))
    cached = None if refresh else st.store.cached_models(provider.name, cache_key)
    if cached and time.time() - cached[0] < ttl:
        return json.loads(cached[1])
    key = st.keychain.key(provider.name, source.source, source.name)
    client = connect(provider, key, where.url)
    models = [{"id": m.id, "name": m.name} for m in client.list_models()]
    if client.truncated:
        output.warn(f"{provider.name}'s model list went on for more than {client.max_pages} "
                    "pages; showing what the first ones held")
    st.store.cache_models(provider.name, cache_key, time.time(), json.dumps(models))
    return models


def _row(provider: str, mid: str, name: str, key, default: str | None, **extra) -> dict:
    return {"provider": provider, "id": mid, "name": name, "description": "", "aliases": [],
            "available": key is not None, "key_source": key.source if key else None,
            "key_name": key.name if key else None, "default": mid == default,
            "deprecated": False, "retired": False, "end_of_life": None, "in_catalog": False,
            "listed_by_provider": None, **extra}


@app.command("list")
def list_models(
    ctx: typer.Context,
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="Only this provider.",
                                           autocompletion=complete.providers),
    remote: bool = typer.Option(False, "--remote",
                                help="Ask each provider with a key (or needing none) for its "
                                     "live list."),
    refresh: bool = typer.Option(False, "--refresh", help="With --remote: bypass the cache."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List the models byok knows, whether you can use each now, and through which key.

    With --remote, every provider that has a key (or needs none) is asked for its models,
    and each model is listed under the provider that serves it.

    Examples:

      byok models list

      byok models list --provider anthropic --remote --json
    """
    from ..addressing import default_model

    st = state(ctx)
    cat = load()
    registry = st.byok.registry
    settings = st.store.settings(st.profile)
    first = _first_keys(st)
    today = dt.date.today()
    if provider:
        providers = [registry.require(provider)]
    elif remote:
        providers = [p for p in registry if p.catalog or (p.name in first and p.list_models)]
    else:
        providers = [p for p in registry if p.catalog or p.name in settings["models"]]
    rows: list[dict] = []
    for p in providers:
        effective_default = settings["models"].get(p.name) or default_model(p, cat)
        key = first.get(p.name)
        live: dict[str, dict] | None = None
        if remote and p.list_models:
            if key is None:
                if provider:
                    raise ByokError(Code.NO_KEY, f"--remote needs a {p.name} key",
                                    hint=f"store one with `byok key set {p.name}`")
            else:
                try:
                    live = {m["id"]: m for m in _remote(st, p, key, refresh)}
                except ByokError as err:
                    if provider:
                        raise
                    output.warn(f"{p.name}: {err.message}; its live list is left out")
        listed = set()
        for m in (cat.for_provider(p.catalog) if p.catalog else []):
            listed.add(m.id)
            rows.append(_row(
                p.name, m.id, m.name, key, effective_default, description=m.description,
                aliases=list(m.aliases), deprecated=m.is_deprecated(today),
                retired=m.is_retired(today), in_catalog=True,
                available=key is not None and not m.is_retired(today)
                and (live is None or m.id in live),
                end_of_life=m.end_of_life.isoformat() if m.end_of_life else None,
                listed_by_provider=None if live is None else m.id in live))
        extra = dict(live or {})
        if effective_default and effective_default not in listed and live is None:
            extra.setdefault(effective_default, {"name": effective_default})
        for mid, m in extra.items():
            if mid not in listed:
                rows.append(_row(p.name, mid, m.get("name") or mid, key, effective_default,
                                 description="not in byok's catalogue",
                                 listed_by_provider=None if live is None else True))
    if as_json:
        output.emit_json(rows)
        return

    def status(r: dict) -> str:
        if r["retired"]:
            return f"retired {r['end_of_life']}"
        if r["deprecated"]:
            return f"deprecated, ends {r['end_of_life']}"
        return "" if r["in_catalog"] else "not in catalogue"

    def via(r: dict) -> str:
        if r["key_source"] is None:
            return "-"
        return {"user": r["key_name"], "system": r["key_name"]}.get(r["key_source"], "none needed")

    output.table(
        ["provider", "model", "default", "available", "key", "aliases", "status", "description"],
        [[r["provider"], r["id"], "*" if r["default"] else "", "yes" if r["available"] else "no",
          via(r), ",".join(r["aliases"]), status(r), r["description"]]
         for r in rows])


@app.command("default")
def default_model_command(
    ctx: typer.Context,
    model: Optional[str] = typer.Argument(None, help="An id, an alias, or PROVIDER/MODEL to make "
                                          "its provider's default.",
                                          autocompletion=complete.models),
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="Which provider.",
                                           autocompletion=complete.providers),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array (when showing)."),
) -> None:
    """Show the default model of each provider, or set the default of the model's provider.

    Examples:

      byok models default sonnet

      byok models default openrouter/meta-llama/llama-4-maverick

      byok models default --provider openai
    """
    from ..addressing import default_model, resolve

    st = state(ctx)
    cat = load()
    registry = st.byok.registry
    settings = st.store.settings(st.profile)
    if model is None:
        shown = ([registry.require(provider)] if provider else
                 [p for p in registry if p.kind == "builtin" or p.name in settings["models"]])
        rows = []
        for p in shown:
            chosen = settings["models"].get(p.name)
            rows.append({"provider": p.name, "model": chosen or default_model(p, cat),
                         "source": "profile" if chosen else "catalogue"})
        if as_json:
            output.emit_json(rows)
        else:
            output.table(["provider", "model", "source"],
                         [[r["provider"], r["model"] or "-", r["source"]] for r in rows])
        return
    preferred = settings["preferred_provider"]
    target = resolve(model, cat, registry, provider=provider,
                     preferred=None if preferred == "system" else preferred)
    if not target.in_catalog:
        output.warn(f"{target.model} is not in byok's catalogue; it is stored as given")
    st.store.set_provider_setting(st.profile, target.provider, "model", target.model)
    output.info(f"default {target.provider} model for profile {st.profile!r}: {target.model}")
