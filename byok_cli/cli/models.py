"""`byok models list | default`."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Optional

import typer

from ..catalog import load
from ..errors import ByokError, Code
from ..keys import PROVIDERS, check_provider
from . import complete, output
from .root import group, state

app = group("See the models you can use, and choose defaults.")


def _key_sources(st) -> dict[str, str]:
    """provider -> 'user' or 'system': the key `run` would use first."""
    from ..ask import key_availability

    settings = st.store.settings(st.profile)
    keys = key_availability(st.keychain)
    return {p: found[0][0] for p in PROVIDERS if (found := keys.sources(p, settings))}


def _remote(ctx: typer.Context, provider: str, source: str, refresh: bool) -> list[dict]:
    """The provider's live list, cached in the database for BYOK_MODELS_TTL seconds."""
    from ..errors import strip_controls
    from ..inputs import env_number
    from ..routes import require
    from ..urls import shown
    from ..wire import connect
    from ..wire.endpoint import endpoint

    st = state(ctx)
    settings = st.store.settings(st.profile)
    where = endpoint(provider, profile=settings.get(f"{provider}_base_url"), env=st.keychain.env)
    require(where, source, settings)
    if where.note:
        output.warn(where.note)
    cache_key = shown(where.url) if where.source != "default" else "default"  # no password
    ttl = env_number("BYOK_MODELS_TTL", 3600, high=10 * 365 * 86400)
    cached = None if refresh else st.store.cached_models(provider, cache_key)
    if cached and time.time() - cached[0] < ttl:
        models = json.loads(cached[1])
    else:
        key = st.keychain.key(provider, source)
        client = connect(provider, key, where.url)
        models = [{"id": m.id, "name": m.name} for m in client.list_models()]
        if client.truncated:
            output.warn(f"{provider}'s model list went on for more than {client.max_pages} "
                        "pages; showing what the first ones held")
        st.store.cache_models(provider, cache_key, time.time(), json.dumps(models))
    # Ids and names come from the provider or a gateway: no escape sequences reach a terminal.
    return [{"id": strip_controls(m["id"]), "name": strip_controls(m["name"] or "") or None}
            for m in models]


@app.command("list")
def list_models(
    ctx: typer.Context,
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="openai or anthropic",
                                           autocompletion=complete.providers),
    remote: bool = typer.Option(False, "--remote", help="Ask the provider for its live list."),
    refresh: bool = typer.Option(False, "--refresh", help="With --remote: bypass the cache."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
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
                from ..routes import env_key_refusal

                why = st.keychain.env_key(p) and env_key_refusal(p, settings, st.keychain.env)
                raise ByokError(Code.NO_KEY, why or f"--remote needs a key for {p}",
                                hint=f"store one with `byok key set {p}`")
            live = {m["id"]: m for m in _remote(ctx, p, sources[p], refresh)}
        for m in cat.for_provider(p):
            rows.append({
                "provider": p, "id": m.id, "name": m.name, "description": m.description,
                "aliases": list(m.aliases), "available": p in sources and not m.is_retired(today)
                and (live is None or m.id in live), "key_source": sources.get(p),
                "default": m.id == effective_default, "deprecated": m.is_deprecated(today),
                "retired": m.is_retired(today),
                "end_of_life": m.end_of_life.isoformat() if m.end_of_life else None,
                "in_catalog": True, "listed_by_provider": None if live is None else m.id in live})
        for mid, m in (live or {}).items():
            if cat.get(mid) is None:
                rows.append({"provider": p, "id": mid, "name": m.get("name") or mid,
                             "description": "not in byok's catalogue", "aliases": [],
                             "available": True, "key_source": sources.get(p),
                             "default": mid == effective_default, "deprecated": False,
                             "retired": False, "end_of_life": None, "in_catalog": False,
                             "listed_by_provider": True})
    if as_json:
        output.emit_json(rows)
        return

    def status(r: dict) -> str:
        if r["retired"]:
            return f"retired {r['end_of_life']}"
        if r["deprecated"]:
            return f"deprecated, ends {r['end_of_life']}"
        return "" if r["in_catalog"] else "not in catalogue"

    output.table(
        ["provider", "model", "default", "available", "key", "aliases", "status", "description"],
        [[r["provider"], r["id"], "*" if r["default"] else "", "yes" if r["available"] else "no",
          r["key_source"] or "-", ",".join(r["aliases"]), status(r), r["description"]]
         for r in rows])


@app.command("default")
def default_model(
    ctx: typer.Context,
    model: Optional[str] = typer.Argument(None, help="Model id or alias to make the default.",
                                           autocompletion=complete.models),
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="openai or anthropic",
                                           autocompletion=complete.providers),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array (when showing)."),
) -> None:
    """Show the default model of each provider, or set the default of the model's provider.

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
            output.table(["provider", "model", "source"], [list(r.values()) for r in rows])
        return
    p, model_id = cat.resolve(model, prov)
    if cat.get(model_id) is None:
        output.warn(f"{model_id} is not in byok's catalogue; it is stored as given")
    st.store.set_setting(st.profile, f"{p}_model", model_id)
    output.info(f"default {p} model for profile {st.profile!r}: {model_id}")
