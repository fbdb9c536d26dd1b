"""`byok models list | show | sync | default`."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Optional

import typer

from ..catalog.curated import load
from ..errors import ByokError, Code
from . import complete, output
from .model_listing import describe, first_keys, limits, prices_of
from .root import group, no_header_option, state

app = group("See the models you can use, and choose defaults.")

__all__ = ["app", "describe"]


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
    from .model_listing import models_list

    models_list(state(ctx), provider, remote, refresh, every, wide, as_json, no_header)


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
    from ..catalog.curated import default_model
    from ..routing.addressing import resolve
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
    info = data.info(prices_of(record), model_id)
    if known is None and info is None:
        raise ByokError(Code.MODEL_NOT_FOUND, f"byok knows nothing of {prov} model {model_id!r}",
                        hint="see `byok models list --all`, or `byok models sync`")
    today = dt.date.today()
    key = first_keys(st).get(prov)
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
    from ..catalog.curated import default_model
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
