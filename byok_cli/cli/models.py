"""`byok models list | show | sync | default`."""

from __future__ import annotations

import datetime as dt
import json
import sys
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
    every: bool = typer.Option(False, "--all",
                               help="Also every chat model the price data knows."),
    wide: bool = typer.Option(False, "--wide",
                              help="Also cached-input price, output limit, aliases."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List the models byok knows, whether you can use each now and through which key, their
    context window and price (USD per million tokens, input/output).

    Examples:

      byok models list

      byok models list --provider anthropic --remote --json
    """
    from ..prices import load as load_prices

    st = state(ctx)
    cat = load()
    data = load_prices(st.store.home)
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
                rows.append(_uncatalogued(p, mid, m.get("name") or mid, sources, True,
                                          mid == effective_default, today))
        if every:
            seen = {r["id"] for r in rows if r["provider"] == p}
            rows += [_uncatalogued(p, info.id, info.id, sources, None, False, today)
                     for info in data.all(p) if info.id not in seen]
    for r in rows:
        info = data.info(r["provider"], r["id"])
        r.update(_limits(info, data))
    output.info(f"prices: {describe(data)}")
    if as_json:
        output.emit_json(rows)
        return

    def status(r: dict) -> str:
        if r["retired"]:
            return f"retired {r['end_of_life']}"
        if r["deprecated"]:
            return f"deprecated, ends {r['end_of_life']}"
        return "" if r["in_catalog"] else "not in catalogue"

    headers = ["provider", "model", "default", "available", "key", "context", "$/M in/out",
               "status"]
    extra = ["$/M cached", "max out", "aliases", "description"] if wide else []
    output.table(headers + extra, [
        [r["provider"], r["id"], "*" if r["default"] else "", "yes" if r["available"] else "no",
         r["key_source"] or "-", _tokens(r["context_window"]),
         f"{_per_m(r['input_per_mtok'])}/{_per_m(r['output_per_mtok'])}", status(r)]
        + ([_per_m(r["cached_input_per_mtok"]), _tokens(r["max_output_tokens"]),
            ",".join(r["aliases"]), r["description"]] if wide else [])
        for r in rows])


def _uncatalogued(provider: str, mid: str, name: str, sources: dict,
                  listed: bool | None, default: bool, today: dt.date) -> dict:
    return {"provider": provider, "id": mid, "name": name,
            "description": "not in byok's catalogue", "aliases": [],
            "available": provider in sources, "key_source": sources.get(provider),
            "default": default, "deprecated": False, "retired": False, "end_of_life": None,
            "in_catalog": False, "listed_by_provider": listed}


def _limits(info, data) -> dict:
    from ..prices import ModelInfo

    blank = ModelInfo("", "", None, None, None, None).to_dict()
    fields = info.to_dict() if info else blank
    fields["price_date"] = data.source["taken"][:10] if info and info.price else None
    return fields


def describe(data) -> str:
    """Where the price data comes from and how old it is, in a line."""
    src = data.source
    where = (f"synced from {src['url']}" if src.get("kind") == "sync"
             else f"byok's snapshot of LiteLLM {src.get('version', '')}".rstrip())
    age = data.age_days()
    return f"{where}, taken {src['taken'][:10]} ({age} day{'s' if age != 1 else ''} old)"


def _tokens(n: int | None) -> str:
    if not n:
        return "-"
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n % 1000 == 0 else str(n))


def _per_m(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


@app.command("show")
def show_model(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model id or alias.", autocompletion=complete.models),
    provider: Optional[str] = typer.Option(None, "--provider", "-p",
                                           autocompletion=complete.providers),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Everything byok knows about one model: catalogue entry, limits, prices and their date.

    Examples:

      byok models show sonnet

      byok models show gpt-4o --json
    """
    from ..prices import load as load_prices

    st = state(ctx)
    cat = load()
    data = load_prices(st.store.home)
    prov, model_id = cat.resolve(model, check_provider(provider) if provider else None)
    known, info = cat.get(model_id), data.info(prov, model_id)
    if known is None and info is None:
        raise ByokError(Code.MODEL_NOT_FOUND, f"byok knows nothing of {prov} model {model_id!r}",
                        hint="see `byok models list --all`, or `byok models sync`")
    today = dt.date.today()
    settings = st.store.settings(st.profile)
    row = {"provider": prov, "id": model_id, "name": known.name if known else model_id,
           "description": known.description if known else "not in byok's catalogue",
           "aliases": list(known.aliases) if known else [], "in_catalog": known is not None,
           "default": model_id == cat.resolve(settings.get(f"{prov}_model")
                                              or cat.default(prov), prov)[1],
           "deprecated": known.deprecated.isoformat() if known and known.deprecated else None,
           "end_of_life": known.end_of_life.isoformat() if known and known.end_of_life else None,
           "retired": bool(known and known.is_retired(today)),
           "key_source": _key_sources(st).get(prov), **_limits(info, data),
           "price_source": data.source}
    if as_json:
        output.emit_json(row)
        return
    for name, value in row.items():
        if name == "price_source":
            value = describe(data)
        elif name == "price_tiers":
            value = "; ".join(f"above {t['above_input_tokens']} input tokens: "
                              f"{t['input_per_mtok']:g}/{t['output_per_mtok']:g}"
                              for t in value) or None
        elif isinstance(value, list):
            value = ", ".join(value) or None
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        sys.stdout.write(f"{name.replace('_', ' ')}: {'-' if value is None else value}\n")


@app.command("sync")
def sync_models(
    ctx: typer.Context,
    url: Optional[str] = typer.Option(None, "--url", help="Where to fetch LiteLLM's "
                                      "model_prices_and_context_window.json (default: "
                                      "BYOK_CATALOG_URL, else LiteLLM's GitHub)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Refresh context windows and prices from LiteLLM's public map, if it passes the sanity
    checks (not empty, not much smaller, keeps most priced models); else keep the old data.

    Example:

      byok models sync
    """
    from ..catalog_sync import sync

    st = state(ctx)
    done = sync(st.store, url)
    if as_json:
        output.emit_json(done._asdict())
        return
    output.info(f"synced {done.models} models from {done.url} (had {done.before})")


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
