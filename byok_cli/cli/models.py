"""`byok models list | default`."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from typing import Optional

import typer

from ..catalog import load
from ..errors import ByokError, Code
from ..keys import PROVIDERS, check_provider, source_name
from . import complete, output
from .root import group, no_header_option, state

app = group("See the models you can use, and choose defaults.")


def _key_sources(st) -> dict[str, str]:
    """provider -> 'user' or 'system': the key `run` would use first."""
    from ..ask import key_availability

    settings = st.store.settings(st.profile)
    keys = key_availability(st.keychain)
    return {p: found[0][0] for p in PROVIDERS if (found := keys.sources(p, settings))}


def _remote(ctx: typer.Context, provider: str, source: str, refresh: bool) -> list[dict]:
    """The provider's live list, cached in the database for BYOK_MODELS_TTL seconds."""
    from ..wire import connect
    from ..wire.endpoint import endpoint

    st = state(ctx)
    where = endpoint(provider, profile=st.store.settings(st.profile).get(f"{provider}_base_url"))
    if where.note:
        output.warn(where.note)
    cache_key = where.url if where.source != "default" else "default"
    ttl = float(os.environ.get("BYOK_MODELS_TTL", "3600"))
    cached = None if refresh else st.store.cached_models(provider, cache_key)
    if cached and time.time() - cached[0] < ttl:
        return json.loads(cached[1])
    key = st.keychain.key(provider, source)
    client = connect(provider, key, where.url)
    models = [{"id": m.id, "name": m.name} for m in client.list_models()]
    if client.truncated:
        output.warn(f"{provider}'s model list went on for more than {client.max_pages} pages; "
                    "showing what the first ones held")
    st.store.cache_models(provider, cache_key, time.time(), json.dumps(models))
    return models


@app.command("list")
def list_models(
    ctx: typer.Context,
    provider: Optional[str] = typer.Option(None, "--provider", "-p", metavar="PROVIDER",
                                           help="Only this provider's models.",
                                           autocompletion=complete.providers),
    remote: bool = typer.Option(False, "--remote", help="Ask the provider for its live list."),
    refresh: bool = typer.Option(False, "--refresh", help="With --remote: bypass the cache."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    no_header: bool = no_header_option(),
) -> None:
    """List the models byok knows, whether you can use each now, and through which key.

    Examples:

      byok models list

      byok models list --provider anthropic --remote --json
    """
    st = state(ctx)
    cat = load()
    providers = (check_provider(provider),) if provider else PROVIDERS
    settings = st.store.settings(st.profile)
    sources = _key_sources(st)
    today = dt.date.today()
    rows: list[dict] = []
    for p in providers:
        effective_default = cat.resolve(settings.get(f"{p}_model") or cat.default(p), p)[1]
        live: dict[str, dict] | None = None
        if remote:
            if p not in sources:
                raise ByokError(Code.NO_KEY, f"--remote needs a {p} key",
                                hint=f"store one with `byok key set {p}`")
            live = {m["id"]: m for m in _remote(ctx, p, sources[p], refresh)}
        for m in cat.for_provider(p):
            rows.append({
                "provider": p, "id": m.id, "name": m.name, "description": m.description,
                "aliases": list(m.aliases), "available": p in sources and not m.is_retired(today)
                and (live is None or m.id in live), "key_source": source_name(sources.get(p)),
                "default": m.id == effective_default, "deprecated": m.is_deprecated(today),
                "retired": m.is_retired(today),
                "end_of_life": m.end_of_life.isoformat() if m.end_of_life else None,
                "in_catalogue": True,
                "listed_by_provider": None if live is None else m.id in live})
        for mid, m in (live or {}).items():
            if cat.get(mid) is None:
                rows.append({"provider": p, "id": mid, "name": m.get("name") or mid,
                             "description": "not in byok's catalogue", "aliases": [],
                             "available": True, "key_source": source_name(sources.get(p)),
                             "default": mid == effective_default, "deprecated": False,
                             "retired": False, "end_of_life": None, "in_catalogue": False,
                             "listed_by_provider": True})
    if as_json:
        output.emit_json(rows)
        return
    output.table(
        ["provider", "model", output.Column("default", show=lambda v: "*" if v == "yes" else ""),
         "status", output.Column("key", drop=2), "aliases", output.text("description")],
        [[r["provider"], r["id"], "yes" if r["default"] else "no", _status(r),
          r["key_source"] or "none", ",".join(r["aliases"]), r["description"]] for r in rows],
        header=not no_header)


def _status(row: dict) -> str:
    """Whether a model can be used now, in a word or two."""
    if row["retired"]:
        return "retired"
    if row["key_source"] is None:
        return "no key"
    if row["listed_by_provider"] is False:
        return "not listed"
    if row["deprecated"]:
        return f"ends {row['end_of_life']}"
    return "usable"


@app.command("default")
def default_model(
    ctx: typer.Context,
    model: Optional[str] = typer.Argument(None, help="Model id or alias to make the default.",
                                           autocompletion=complete.models),
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="openai or anthropic",
                                           autocompletion=complete.providers),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array (when showing)."),
    no_header: bool = no_header_option(),
    yes: bool = typer.Option(False, "--yes", "-y",
                             help="Also make the model's provider the preferred one, unasked."),
) -> None:
    """Show the default model of each provider, or set the default of the model's provider.

    When that provider is not the preferred one, asks whether to make it so (so that
    `byok run` uses the model); --yes does it unasked.

    Examples:

      byok models default sonnet

      byok models default --provider openai
    """
    st = state(ctx)
    cat = load()
    prov = check_provider(provider) if provider else None
    if model is None:
        settings = st.store.settings(st.profile)
        chosen = {p: settings.get(f"{p}_model") for p in ((prov,) if prov else PROVIDERS)}
        rows = [{"provider": p, "model": m or cat.default(p),
                 "source": "profile" if m else "catalogue"} for p, m in chosen.items()]
        if as_json:
            output.emit_json(rows)
        else:
            output.table(["provider", "model", "source"], [list(r.values()) for r in rows],
                         header=not no_header)
        return
    p, model_id = choose_model(st, model, prov)
    st.store.set_setting(st.profile, f"{p}_model", model_id)
    output.info(f"default {p} model for profile {st.profile!r}: {model_id}")
    preferred = st.store.settings(st.profile)["preferred_provider"]
    if preferred == p:
        return
    now = ("only environment keys (preferred provider 'system')" if preferred == "system"
           else f"{preferred} (the preferred provider)")
    if not (yes or sys.stdin.isatty()):
        output.info(f"note: `byok run` still uses {now}; to use {model_id}, run "
                    f"`byok config set preferred-provider {p}`, or this with --yes")
        return
    if not yes:
        output.info(f"`byok run` uses {now}")
    output.confirm(f"Make {p} the preferred provider, so that `byok run` uses {model_id}?", yes,
                   f"switch the preferred provider to {p}")
    st.store.set_setting(st.profile, "preferred_provider", p)
    output.info(f"preferred provider for profile {st.profile!r}: {p} (was {preferred})")
    if p not in _key_sources(st):
        output.warn(f"there is no {p} key yet: store one with `byok key set {p}`")


def choose_model(st, name: str, provider: str | None = None) -> tuple[str, str]:
    """(provider, model id) for a default model: a catalogue model that has not reached end
    of life, or a model the provider lists or that a custom base URL may serve."""
    from ..wire.endpoint import endpoint

    cat = load()
    p, model_id = cat.resolve(name, provider)
    known = cat.get(model_id)
    if known is not None:
        if known.is_retired(dt.date.today()):
            raise ByokError(Code.MODEL_NOT_FOUND, f"{model_id} reached end of life on "
                            f"{known.end_of_life}", hint=f"use {cat.default(p)} instead", provider=p)
        return p, model_id
    where = endpoint(p, profile=st.store.settings(st.profile).get(f"{p}_base_url"))
    if where.source != "default":  # an OpenAI-compatible server may serve any model
        output.warn(f"{model_id} is not in byok's catalogue; kept for {where.url}")
        return p, model_id
    cached = st.store.cached_models(p, "default")
    if cached and model_id in {m["id"] for m in json.loads(cached[1])}:
        return p, model_id
    raise ByokError(Code.MODEL_NOT_FOUND, f"unknown {p} model {name!r}",
                    hint=f"see `byok models list -p {p}`, or `--remote` for {p}'s own list",
                    provider=p)
