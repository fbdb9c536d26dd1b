"""The body of `byok models list`, without Typer: the fast path runs it (see `fast`), and so
does the Typer command in `models`. It also holds what `models show` shares with it: the
key each provider would use first, a model's status in a word or two, and how prices,
limits and the price data's age are printed."""

from __future__ import annotations

import time

from ..errors import ByokError, Code
from . import output
from .state import State


def models_list(st: State, provider: str | None, remote: bool, refresh: bool, every: bool,
                wide: bool, as_json: bool, no_header: bool) -> None:
    """`byok models list`."""
    import datetime as dt

    from ..catalog.curated import default_model, load
    from ..catalog.prices import load as load_prices

    cat = load()
    data = load_prices(st.store.home_dir)
    registry = st.byok.registry
    settings = st.store.settings(st.profile)
    first = first_keys(st, settings)
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
                     for info in data.all(prices_of(p)) if info.id not in listed]
    for r in rows:
        r.update(limits(data.info(prices_of(registry.require(r["provider"])), r["id"]), data))
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


def first_keys(st, settings: dict | None = None) -> dict:
    """provider -> the key `run` would try first, as a KeySource (source, name, hint).
    ``settings``: the profile's, when the caller has read them already."""
    from ..routing.keys import key_availability

    if settings is None:
        settings = st.store.settings(st.profile)
    keys = key_availability(st.byok.key_reader)  # names and hints: no key is opened
    return {p.name: found[0] for p in st.byok.registry
            if (found := keys.sources(p.name, settings))}


def prices_of(provider) -> str:
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


# How `models list` and `models show` print prices, limits and the price data's age

def limits(info, data) -> dict:
    from ..catalog.prices import ModelInfo

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


def tokens(n: int | None) -> str:
    if not n:
        return "-"
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n % 1000 == 0 else str(n))


def per_m(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
