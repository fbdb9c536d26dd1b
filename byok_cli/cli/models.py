"""`byok models list | show | sync | default`."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Optional

import typer

from ..catalog.curated import load
from ..errors import ByokError, Code
from . import complete, output
from .model_prices import describe, limits, per_m, tokens
from .root import group, no_header_option, state

app = group("See the models you can use, and choose defaults.")

__all__ = ["app", "describe"]


def _first_keys(st) -> dict:
    """provider -> the key `run` would try first, as a KeySource (source, name, hint)."""
    from ..routing.ask import key_availability

    settings = st.store.settings(st.profile)
    keys = key_availability(st.keychain)
    return {p.name: found[0] for p in st.byok.registry
            if (found := keys.sources(p.name, settings))}


def _prices_of(provider) -> str:
    """The price data's name for a provider's models: its catalogue's, else its own."""
    return provider.catalog or provider.name


def _remote(st, provider, source, refresh: bool) -> list[dict]:
    """The provider's live list, cached in the database for BYOK_MODELS_TTL seconds."""
    from ..catalog import model_lists
    from ..inputs import env_number
    from ..routing.routes import require
    from ..urls import shown
    from ..wire import connect
    from ..wire.endpoint import endpoint

    settings = st.store.settings(st.profile)
    where = endpoint(provider, profile=settings["base_urls"].get(provider.name),
                     env=st.keychain.env)
    require(where, source.source, settings, st.byok.registry)
    if where.note:
        output.warn(where.note)
    cache_key = shown(where.url) if where.source != "default" else "default"  # no password
    ttl = env_number("BYOK_MODELS_TTL", 3600, high=10 * 365 * 86400)
    cached = None if refresh else st.store.cached_models(provider.name, cache_key)
    models = model_lists.cached(cached[1]) if cached and time.time() - cached[0] < ttl else None
    if models is None:
        key = st.keychain.key(provider.name, source.source, source.name)
        client = connect(provider, key, where.url)
        models, dropped = model_lists.checked(client.list_models())
        if dropped:
            output.warn(f"{provider.name} listed {dropped} model id(s) that look like a key; "
                        "left out (never cached or shown)")
        if client.truncated:
            output.warn(f"{provider.name}'s model list went on for more than "
                        f"{client.max_pages} pages; showing what the first ones held")
        st.store.cache_models(provider.name, cache_key, time.time(),
                              model_lists.payload(models))
        if cached:
            st.store.wipe()  # the list replaced may be one kept before ids were checked
    return models


def _row(provider: str, mid: str, name: str, key, default: str | None, **extra) -> dict:
    return {"provider": provider, "id": mid, "name": name,
            "description": "not in byok's catalogue", "aliases": [],
            "available": key is not None, "key_source": key.source if key else None,
            "key_name": key.name if key else None, "default": mid == default,
            "deprecated": False, "retired": False, "end_of_life": None, "in_catalogue": False,
            "listed_by_provider": None, **extra}


def _live(st, p, key, refresh: bool, one: bool) -> dict[str, dict] | None:
    """A provider's live models by id; with several providers, one that fails is left out."""
    if key is None:
        if one:
            from ..routing.routes import env_key_refusal

            why = st.keychain.env_key(p.name) and env_key_refusal(
                p, st.store.settings(st.profile), st.keychain.env)
            raise ByokError(Code.NO_KEY, why or f"--remote needs a {p.name} key",
                            hint=f"store one with `byok key set {p.name}`")
        return None
    try:
        return {m["id"]: m for m in _remote(st, p, key, refresh)}
    except ByokError as err:
        if one or err.code == Code.USAGE:  # a bad setting or variable is the person's to fix
            raise
        output.warn(f"{p.name}: {err.message}; its live list is left out")
        return None


def _in_use(p, settings: dict) -> bool:
    """Whether --remote asks a provider without --provider: a keyless preset (a local
    server: Ollama, LM Studio) only once the profile uses it (a base URL, a model, the
    preferred provider or a fallback chain entry naming it), so a machine without one is
    not probed and warned about on every listing."""
    from ..routing.addressing import chain_without

    if p.needs_key or p.kind != "preset":
        return True
    return (p.name in settings["base_urls"] or p.name in settings["models"]
            or settings.get("preferred_provider") == p.name
            or bool(chain_without(settings.get("fallback"), p.name)[1]))


@app.command("list")
def list_models(
    ctx: typer.Context,
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="Only this provider.",
                                           autocompletion=complete.providers),
    remote: bool = typer.Option(False, "--remote",
                                help="Ask each provider with a key (or needing none) for its "
                                     "live list."),
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

    With --remote, every provider that has a key is asked for its models, and each model is
    listed under the provider that serves it; a local server's preset (Ollama, LM Studio)
    only once the profile uses it, or with --provider.

    Examples:

      byok models list

      byok models list --provider anthropic --remote --json
    """
    from ..routing.addressing import default_model
    from ..catalog.prices import load as load_prices

    st = state(ctx)
    cat = load()
    data = load_prices(st.store.home)
    registry = st.byok.registry
    settings = st.store.settings(st.profile)
    first = _first_keys(st)
    today = dt.date.today()
    if provider:
        providers = [registry.require(provider)]
    elif remote:
        providers = [p for p in registry if p.catalog or (p.name in first and p.list_models
                                                          and _in_use(p, settings))]
    else:
        providers = [p for p in registry if p.catalog or p.name in settings["models"]]
    rows: list[dict] = []
    for p in providers:
        effective_default = settings["models"].get(p.name) or default_model(p, cat)
        key = first.get(p.name)
        live = _live(st, p, key, refresh, bool(provider)) if remote and p.list_models else None
        listed = set()
        for m in (cat.for_provider(p.catalog) if p.catalog else []):
            listed.add(m.id)
            rows.append(_row(
                p.name, m.id, m.name, key, effective_default, description=m.description,
                aliases=list(m.aliases), deprecated=m.is_deprecated(today),
                retired=m.is_retired(today), in_catalogue=True,
                available=key is not None and not m.is_retired(today)
                and (live is None or m.id in live),
                end_of_life=m.end_of_life.isoformat() if m.end_of_life else None,
                listed_by_provider=None if live is None else m.id in live))
        extra = dict(live or {})
        if effective_default and effective_default not in listed and live is None:
            extra.setdefault(effective_default, {"name": effective_default})
        for mid, m in extra.items():
            if mid not in listed:
                listed.add(mid)
                rows.append(_row(p.name, mid, m.get("name") or mid, key, effective_default,
                                 listed_by_provider=None if live is None else True))
        if every:
            rows += [_row(p.name, info.id, info.id, key, None)
                     for info in data.all(_prices_of(p)) if info.id not in listed]
    for r in rows:
        r.update(limits(data.info(_prices_of(registry.require(r["provider"])), r["id"]), data))
    output.info(f"prices: {describe(data)}")
    if as_json:
        output.emit_json(rows)
        return

    def via(r: dict) -> str:
        if r["key_source"] is None:
            return "none"
        return r["key_name"] if r["key_source"] in ("stored", "environment") else "none needed"

    # Narrow terminals lose the description, then the context, aliases, prices; the key a
    # model is used through (the command's question) goes last.
    extra = [output.Column("$/M cached", show=per_m),
             output.Column("max out", show=tokens)] if wide else []
    output.table(
        ["provider", "model", output.Column("default", only="tsv"),
         output.Column("status", only="tsv"), output.Column("status", only="tty"),
         output.Column("key", drop=5), output.Column("context", drop=2, show=tokens),
         output.Column("$/M in", only="tsv"), output.Column("$/M out", only="tsv"),
         output.Column("$/M in/out", only="tty", drop=4), *extra,
         output.Column("aliases", drop=3), output.text("description")],
        [[r["provider"], r["id"], "yes" if r["default"] else "no", _status(r),
          _status(r, r["default"]), via(r), r["context_window"],
          _bare_price(r["input_per_mtok"]), _bare_price(r["output_per_mtok"]),
          f"{per_m(r['input_per_mtok'])}/{per_m(r['output_per_mtok'])}"]
         + ([r["cached_input_per_mtok"], r["max_output_tokens"]] if wide else [])
         + [",".join(r["aliases"]), r["description"]] for r in rows],
        header=not no_header, drop=not wide)


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


def _bare_price(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


@app.command("show")
def show_model(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model id, alias or PROVIDER/MODEL.",
                                autocompletion=complete.models),
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
    from ..routing.addressing import default_model, resolve
    from ..catalog.prices import load as load_prices

    st = state(ctx)
    cat = load()
    data = load_prices(st.store.home)
    registry = st.byok.registry
    settings = st.store.settings(st.profile)
    preferred = settings["preferred_provider"]
    target = resolve(model, cat, registry, provider=provider,
                     preferred=None if preferred == "system" else preferred)
    prov, model_id, record = target.provider, target.model, registry.require(target.provider)
    known = cat.get(model_id) if target.in_catalog else None
    info = data.info(_prices_of(record), model_id)
    if known is None and info is None:
        raise ByokError(Code.MODEL_NOT_FOUND, f"byok knows nothing of {prov} model {model_id!r}",
                        hint="see `byok models list --all`, or `byok models sync`")
    today = dt.date.today()
    key = _first_keys(st).get(prov)
    row = {"provider": prov, "id": model_id, "name": known.name if known else model_id,
           "description": known.description if known else "not in byok's catalogue",
           "aliases": list(known.aliases) if known else [], "in_catalogue": known is not None,
           "default": model_id == (settings["models"].get(prov) or default_model(record, cat)),
           "deprecated": known.deprecated.isoformat() if known and known.deprecated else None,
           "end_of_life": known.end_of_life.isoformat() if known and known.end_of_life else None,
           "retired": bool(known and known.is_retired(today)),
           "key_source": key.source if key else None,
           "key_name": key.name if key else None,
           **limits(info, data), "price_source": data.source}
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
    from ..catalog.sync import sync

    st = state(ctx)
    done = sync(st.store, url)
    if as_json:
        output.emit_json(done._asdict())
        return
    shown = 5
    for entry in done.skipped[:shown]:
        output.warn(f"left out {entry}")
    if len(done.skipped) > shown:
        output.warn(f"left out {len(done.skipped) - shown} more implausible entries "
                    "(`byok models sync --json` lists them all)")
    output.info(f"synced {done.models} models from {done.url} (had {done.before})")


@app.command("default")
def default_model_command(
    ctx: typer.Context,
    model: Optional[str] = typer.Argument(None, help="An id, an alias, or PROVIDER/MODEL to make "
                                          "its provider's default.",
                                          autocompletion=complete.models),
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="Which provider.",
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

      byok models default openrouter/meta-llama/llama-4-maverick

      byok models default --provider openai
    """
    from ..routing.addressing import default_model
    from .model_choice import choose_model, offer_preferred

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
                         [[r["provider"], r["model"] or "-", r["source"]] for r in rows],
                         header=not no_header)
        return
    target = choose_model(st, model, provider)
    st.store.set_provider_setting(st.profile, target.provider, "model", target.model)
    output.info(f"default {target.provider} model for profile {st.profile!r}: {target.model}")
    offer_preferred(st, target.provider, target.model, yes)
