"""`byok models list | show | sync | default`."""

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
    every: bool = typer.Option(False, "--all",
                               help="Also every chat model the price data knows."),
    wide: bool = typer.Option(False, "--wide",
                              help="Also cached-input price, output limit, aliases."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    no_header: bool = no_header_option(),
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

    extra = [output.Column("$/M cached", drop=3, show=_per_m),
             output.Column("max out", drop=3, show=_tokens)] if wide else []
    output.table(
        ["provider", "model", output.Column("default", only="tsv"),
         output.Column("status", only="tsv"), output.Column("status", only="tty"),
         output.Column("key", drop=2), output.Column("context", drop=3, show=_tokens),
         output.Column("$/M in", only="tsv"), output.Column("$/M out", only="tsv"),
         output.Column("$/M in/out", only="tty", drop=5), *extra,
         output.Column("aliases", drop=4), output.text("description")],
        [[r["provider"], r["id"], "yes" if r["default"] else "no", _status(r),
          _status(r, r["default"]), r["key_source"] or "none", r["context_window"],
          _bare_price(r["input_per_mtok"]), _bare_price(r["output_per_mtok"]),
          f"{_per_m(r['input_per_mtok'])}/{_per_m(r['output_per_mtok'])}"]
         + ([r["cached_input_per_mtok"], r["max_output_tokens"]] if wide else [])
         + [",".join(r["aliases"]), r["description"]] for r in rows],
        header=not no_header)


def _status(row: dict, default: bool = False) -> str:
    """Whether a model can be used now, in a word or two; with `default`, marked as the
    default (on a terminal, where that saves a column)."""
    if row["retired"]:
        found = "retired"
    elif row["key_source"] is None:
        found = "no key"
    elif row["listed_by_provider"] is False:
        found = "not listed"
    elif row["deprecated"]:
        found = f"ends {row['end_of_life']}"
    else:
        return "default" if default else "usable"
    return f"{found} (default)" if default else found


def _uncatalogued(provider: str, mid: str, name: str, sources: dict,
                  listed: bool | None, default: bool, today: dt.date) -> dict:
    return {"provider": provider, "id": mid, "name": name,
            "description": "not in byok's catalogue", "aliases": [],
            "available": provider in sources, "key_source": source_name(sources.get(provider)),
            "default": default, "deprecated": False, "retired": False, "end_of_life": None,
            "in_catalogue": False, "listed_by_provider": listed}


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


def _bare_price(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def _per_m(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


@app.command("show")
def show_model(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model id or alias.", autocompletion=complete.models),
    provider: Optional[str] = typer.Option(None, "--provider", "-p",
                                           help="The model's provider, for an id byok does "
                                                "not know.",
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
           "aliases": list(known.aliases) if known else [], "in_catalogue": known is not None,
           "default": model_id == cat.resolve(settings.get(f"{prov}_model")
                                              or cat.default(prov), prov)[1],
           "deprecated": known.deprecated.isoformat() if known and known.deprecated else None,
           "end_of_life": known.end_of_life.isoformat() if known and known.end_of_life else None,
           "retired": bool(known and known.is_retired(today)),
           "key_source": source_name(_key_sources(st).get(prov)), **_limits(info, data),
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
