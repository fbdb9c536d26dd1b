"""Which provider and model a name means: `provider/model`, catalogue ids and aliases, ids
the catalogue does not know, and the fallback chain's entries. Pure: no I/O.

A name is read in this order:

1. ``provider/model`` when the first segment names a provider (``openrouter/meta-llama/x``
   is OpenRouter's ``meta-llama/x``; ``meta-llama/x`` alone is not a prefix);
2. a catalogue id or alias, for the provider whose catalogue it is in;
3. an id the catalogue does not know, sent as is to the provider that is known: from -p,
   from the id's customary prefix (``claude…``, ``gpt-…``), or the profile's preference.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from ..catalog.curated import Catalog
from ..errors import ByokError, Code, looks_like_key
from ..inputs import text
from ..records import tuple_record
from ..registry import Provider, Registry


@tuple_record
class Target:
    provider: str
    model: str
    in_catalog: bool
    via: str            # how the provider was found: prefix | provider | catalogue | name | preference


def split_prefix(name: str, registry: Registry) -> tuple[Provider | None, str]:
    """(the provider a `provider/` prefix names, the rest), or (None, the name)."""
    head, slash, rest = name.partition("/")
    found = registry.get(head) if slash else None
    if found is None or not rest.strip():
        return None, name
    return found, rest.strip()


def _catalogue_model(catalog: Catalog, provider: Provider, name: str) -> tuple[str, bool]:
    """The id to send to ``provider`` for ``name``: its catalogue's id for a known id or alias,
    else the name as given. Refuses another catalogue's model for a provider with one."""
    known = catalog.lookup(name)
    if provider.catalog is None:
        # A gateway's own ids (`sonnet`, `team/llama-70b`) are its business: sent as given.
        return name, False
    if known is not None:
        if known.provider != provider.catalog:
            raise ByokError(Code.USAGE, f"{name!r} is {known.provider}'s model, not "
                            f"{provider.name}'s", hint=f"use -p {known.provider}, or "
                            f"{provider.name}/MODEL for one of its own")
        return known.id, True
    return name, False


def _named_for(name: str, registry: Registry) -> Provider | None:
    low = name.lower()
    for p in registry:
        if p.model_prefixes and low.startswith(p.model_prefixes):
            return p
    return None


def _catalogue_provider(catalog_name: str, registry: Registry) -> Provider | None:
    """The provider that serves a catalogue: the built-in linked to it first."""
    linked = [p for p in registry if p.catalog == catalog_name]
    return next((p for p in linked if p.kind == "builtin"), linked[0] if linked else None)


def resolve(name: str, catalog: Catalog, registry: Registry, *, provider: str | None = None,
            preferred: str | None = None) -> Target:
    """The provider and model id ``name`` means (see the module's docstring)."""
    name = (name or "").strip()
    if not name:
        raise ByokError(Code.USAGE, "the model name is empty")
    text(name, "the model name")
    if looks_like_key(name):
        raise ByokError(Code.USAGE, "the model name looks like an API key; it was not used",
                        hint="give keys with `byok key set`, never as a model name")
    given = registry.require(provider) if provider else None
    prefixed, rest = split_prefix(name, registry)
    if prefixed is not None:
        if given is not None and given.name != prefixed.name:
            raise ByokError(Code.USAGE, f"{name!r} names the provider {prefixed.name}, not "
                            f"{given.name}")
        model, known = _catalogue_model(catalog, prefixed, rest)
        return Target(prefixed.name, model, known, "prefix")
    if given is not None:
        named_for = _named_for(name, registry)
        if (given.catalog and named_for is not None and named_for.catalog
                and named_for.catalog != given.catalog and catalog.lookup(name) is None):
            raise ByokError(Code.USAGE, f"{name!r} is not {_article(given.name)} {given.name} "
                            "model", hint=f"use -p {named_for.name}")
        model, known = _catalogue_model(catalog, given, name)
        return Target(given.name, model, known, "provider")
    known = catalog.lookup(name)
    if known is not None:
        serving = _catalogue_provider(known.provider, registry)
        if serving is not None:
            return Target(serving.name, known.id, True, "catalogue")
    named_for = _named_for(name, registry)
    if named_for is not None:
        return Target(named_for.name, name, False, "name")
    fallback = registry.get(preferred)
    if fallback is not None:
        model, in_catalog = _catalogue_model(catalog, fallback, name)
        return Target(fallback.name, model, in_catalog, "preference")
    raise ByokError(Code.MODEL_NOT_FOUND, f"unknown model {name!r}",
                    hint="see `byok models list`, give the provider with -p, or write "
                         "PROVIDER/MODEL")


def near_miss(name: str, catalog: Catalog, catalog_name: str | None) -> str | None:
    """The id or alias in ``catalog_name``'s catalogue that ``name`` looks like a typo of,
    or None. Close means one or two letters off with the same numbers in the same order:
    ids that differ in a number (``claude-sonnet-4-5``, ``gpt-4.1-mini``) or where one
    merely extends the other (``gpt-4`` and ``gpt-4o``) are other models, which the
    provider judges. A provider's new id can still be near; callers ask the provider's
    own list before refusing."""
    if not catalog_name:
        return None
    from difflib import get_close_matches

    wanted = name.strip().lower()
    digits = _digits(wanted)
    names = [n for m in catalog.for_provider(catalog_name) for n in (m.id, *m.aliases)
             if _digits(n) == digits and not (n.startswith(wanted) or wanted.startswith(n))]
    found = get_close_matches(wanted, names, n=1, cutoff=0.85)
    return found[0] if found else None


def near_provider(name: str, registry: Registry) -> str | None:
    """The provider of this profile that ``name`` looks like a typo of, or None."""
    from difflib import get_close_matches

    found = get_close_matches(name.strip().lower(), registry.names(), n=1, cutoff=0.75)
    return found[0] if found else None


def chain_meant(text: str, registry: Registry) -> str:
    """A chain's text with each provider that looks like a typo of one of this profile's
    put right (``opnai/gpt-4o`` -> ``openai/gpt-4o``): what doctor's fix offers, so that
    the fix does not shorten the chain by the entries a run leaves out."""
    parts = []
    for part in (text or "").replace("\n", ",").split(","):
        named, slash, rest = part.strip().partition("/")
        if named and registry.get(named) is None:
            named = near_provider(named, registry) or named
        parts.append(named + slash + rest)
    return ", ".join(p for p in parts if p)


def _digits(name: str) -> str:
    return "".join(c for c in name if c.isdigit())


def check_typo(name: str, target: Target, catalog: Catalog, registry: Registry,
               listed: Callable[[str], Collection[str]], *, near: bool = True,
               anyway: str | None = "--fallback sends it anyway") -> None:
    """Refuse a model name that is most likely a typo before anything is sent: an unknown
    ``PROVIDER/`` (exit 2), or an id the catalogue does not know, close to one it does, that
    the provider's own synced list does not hold either (exit 8). ``listed``: a provider's
    ids from its last synced list (``byok models list --remote``). ``near=False`` (the person
    asked for fallbacks, `--fallback`) lets the provider judge a near id. ``anyway``: how
    the command that asks can send a near id all the same, for the hint (None: it cannot)."""
    if target.in_catalog:
        return
    record = registry.require(target.provider)
    if not record.catalog or target.model in listed(record.name):
        return  # a gateway's own ids are its business; a listed id is real
    head, slash, _ = name.partition("/")
    if slash and target.via in ("preference", "name") and registry.get(head) is None:
        raise ByokError(Code.USAGE, f"{name!r}: there is no provider {head.strip()!r}",
                        hint="providers: " + ", ".join(registry.names()) + f"; to send an id "
                             f"with a slash to {record.name} as it is, add -p {record.name}")
    close = near_miss(target.model, catalog, record.catalog) if near else None
    if close is None and near and target.via == "preference":
        # an id no catalogue knows went to the preferred provider; it may be another's
        # model misspelled (`sonet`), which its own provider would have been chosen for
        others = sorted({p.catalog for p in registry if p.catalog} - {record.catalog})
        close = next(filter(None, (near_miss(target.model, catalog, c) for c in others)), None)
    if close is not None:
        err = ByokError(Code.MODEL_NOT_FOUND, f"unknown model {target.model!r}; did you mean "
                        f"{close!r}?", provider=record.name,
                        hint=f"if {target.model} is a new {record.name} model, `byok models "
                             f"list -p {record.name} --remote` syncs its list"
                             + (f"; {anyway}" if anyway else ", and then it is known"))
        err.meant = close  # type: ignore[attr-defined]  (for a fix to write: doctor)
        raise err


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


# --- the fallback chain ------------------------------------------------------------------

@tuple_record
class ChainEntry:
    provider: str
    model: str | None    # None: that provider's preferred, else its default model
    in_catalog: bool = True

    def __str__(self) -> str:
        return self.provider + (f"/{self.model}" if self.model else "")


def parse_chain(text: str, catalog: Catalog, registry: Registry,
                warnings: list[str] | None = None,
                listed: Callable[[str], Collection[str]] | None = None,
                typos: list | None = None) -> list[ChainEntry]:
    """`anthropic/sonnet, openrouter` -> entries; every entry must start with a provider.

    With a ``warnings`` list, an entry that no longer makes sense (its provider was removed)
    is left out with a warning instead of failing: the chain is read on every run. With
    ``listed`` (a provider's synced ids, when the chain is set), a model that is most likely
    a typo is refused as `-m` refuses it (`check_typo`); with a ``typos`` list too, it is
    kept, as a run keeps it, and (entry, error) added there (doctor, on a stored chain).
    """
    out: list[ChainEntry] = []
    for part in (text or "").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            named = part.partition("/")[0]
            provider = registry.get(named)
            near = near_provider(named, registry) if provider is None else None
            meant = f"; did you mean {near!r}?" if near else ""
            if provider is None and "/" in part:
                raise ByokError(Code.USAGE, f"fallback entry {part!r} names the provider "
                                f"{named.strip().lower()!r}, which no longer exists (or never "
                                f"did) in this profile{meant}", hint="providers: "
                                + ", ".join(registry.names()))
            if provider is None:
                raise ByokError(Code.USAGE, f"fallback entry {part!r} does not start with a "
                                f"provider{meant}", hint="write PROVIDER or PROVIDER/MODEL, "
                                "e.g. anthropic/sonnet; providers: "
                                + ", ".join(registry.names()))
            if "/" in part:
                target = resolve(part, catalog, registry)
                entry = ChainEntry(target.provider, target.model, target.in_catalog)
                if listed is not None:
                    try:
                        check_typo(part, target, catalog, registry, listed, anyway=None)
                    except ByokError as err:
                        if typos is None:
                            raise
                        typos.append((entry, err))
                out.append(entry)
            else:
                out.append(ChainEntry(provider.name, None))
        except ByokError as err:
            if warnings is None:
                raise
            warnings.append(f"{err.message}; leaving it out of the fallback chain")
    return out


def chain_without(text: str | None, provider: str) -> tuple[str | None, list[str]]:
    """(the chain's text without the entries naming ``provider``, those entries): what
    removing the provider does to it. An unset chain stays unset."""
    if text is None:
        return None, []
    parts = [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]
    dropped = [p for p in parts if p.partition("/")[0].strip().lower() == provider]
    return ", ".join(p for p in parts if p not in dropped), dropped


def default_chain(registry: Registry) -> list[ChainEntry]:
    """Without a chain set: the built-in providers (the other one, as before chains)."""
    return [ChainEntry(p.name, None) for p in registry.builtins()]
