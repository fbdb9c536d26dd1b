"""Which provider, model and key to try, in what order: a pure function of its inputs.

The plan is a list of attempts. The first is what byok sends; the rest are the design's
fallbacks, each taken only on the failure it answers (see :func:`next_attempt`):

1. a key rejected (401/403, no credit, unreadable) -> the provider's next stored key, in the
   order the person set, and only then its environment key
2. the environment key fails too -> stop
3. the model is not available (404, or past end of life) -> the provider's default model
4. the provider is unavailable (no key, 5xx/529, network), or a budget refuses it -> the
   next entry of the profile's fallback chain, with that entry's own model (never the failed
   provider's model id)

An explicit -p or -m pins the provider: 4 is not taken unless the chain is asked for
(``chain=True``, `--fallback`). ``fallback=False`` (`--no-fallback`) turns them all off:
one attempt, one key.

Parameters a model cannot take (--temperature, --effort, per the catalogue) are checked
here, before anything is sent: refused for the first attempt (a usage error), and an
attempt whose model cannot take them is left out of the fallbacks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping

from ..records import fresh, record, tuple_record
from .addressing import ChainEntry, check_typo, default_chain, parse_chain, resolve
from .keys import KeyAvailability, KeySource
from ..catalog.curated import Catalog, default_model
from ..errors import ByokError, Code
from ..registry import Registry

KEY_REJECTED = {Code.UNAUTHORIZED, Code.QUOTA_EXCEEDED, Code.DECRYPT_FAILED}
# A stored key the keyring cannot give back (locked, or its master key gone) is passed
# over like a rejected one (fallback 1), but not marked failed: the key itself is fine.
KEY_UNREADABLE = {Code.KEYRING_UNAVAILABLE}
# An answer past a limit (wire/limits.py) is a server byok will not read: try another.
PROVIDER_DOWN = {Code.PROVIDER_UNAVAILABLE, Code.NETWORK_ERROR, Code.LIMIT_EXCEEDED}


@tuple_record
class Attempt:
    provider: str
    model: str
    key_source: str  # "stored" (encrypted in the vault), "environment" or "none"
    key_hint: str    # last 4 characters, for display
    reason: str
    role: str = "primary"  # primary | key_fallback | model_fallback | provider_fallback
    key_name: str | None = None  # the stored key's name, or the environment variable's
    in_catalog: bool = True

    @property
    def key_label(self) -> str:
        if self.key_source == "none":
            return "no key (none needed)"
        if self.key_source == "environment":
            return f"{self.key_name} (…{self.key_hint})"
        named = "" if self.key_name in (None, "default") else f" {self.key_name!r}"
        return f"stored key{named} (…{self.key_hint})"


@record
class Plan:
    attempts: list[Attempt]
    fallbacks: list[dict] = fresh(list)  # taken before sending anything
    warnings: list[str] = fresh(list)
    chain: list[str] = fresh(list)       # the fallback chain, as planned
    skipped: list[str] = fresh(list)     # fallbacks left out, and why
    endpoints: dict = fresh(dict)        # provider -> wire.endpoint.Endpoint
    # -m's model when the person asked for it and no fallbacks (--fallback): a budget
    # that cannot price it refuses the run, rather than let another model answer
    pinned_model: str | None = None

    def to_dict(self) -> dict:
        def endpoint(provider: str) -> dict:
            found = self.endpoints.get(provider)
            return found.to_dict() if found else {}

        def public(a: Attempt) -> dict:
            shown = a._asdict()
            shown["in_catalogue"] = shown.pop("in_catalog")
            return dict(shown, key_source=a.key_source, key=a.key_label,
                        **endpoint(a.provider))

        return {"attempts": [public(a) for a in self.attempts],
                "fallbacks": self.fallbacks, "warnings": self.warnings, "chain": self.chain,
                "skipped": self.skipped}


def plan(settings: Mapping, keys: KeyAvailability, catalog: Catalog, registry: Registry, *,
         model: str | None = None, provider: str | None = None, key: str | None = None,
         fallback: bool = True, chain: bool = False, pin: bool = True,
         today: dt.date | None = None, temperature: float | None = None,
         effort: str | None = None, schema: bool = False,
         listed: Callable[[str], Collection[str]] | None = None) -> Plan:
    """The ordered attempts. ``model`` and ``provider`` are -m and -p; with ``pin`` (the
    default) they pin the provider. ``key`` is -k; ``chain`` is --fallback. ``listed``: a
    provider's ids from its synced model list; with it, an -m that looks like a typo of a
    catalogue id is refused (:func:`~.addressing.check_typo`)."""
    today = today or dt.date.today()
    preferred = settings.get("preferred_provider") or "system"
    system_only = preferred == "system"
    models = settings.get("models") or {}
    out = Plan([])

    def sources(p: str, k: str | None = None) -> list[KeySource]:
        return keys.sources(p, settings, k)

    # -- the primary provider and model ------------------------------------------------
    flag_model, in_catalog = None, True
    if model:
        target = resolve(model, catalog, registry, provider=provider,
                         preferred=None if system_only else preferred)
        if listed is not None:
            check_typo(model, target, catalog, registry, listed, near=not chain)
        primary, flag_model, in_catalog = target.provider, target.model, target.in_catalog
        why = {"prefix": "the provider named in -m", "provider": "-p/--provider",
               "catalogue": "the model given with -m", "name": "the model given with -m",
               "preference": "preferred provider"}[target.via]
    elif provider:
        primary, why = registry.require(provider).name, "-p/--provider"
    elif not system_only and preferred in registry:
        primary, why = preferred, "preferred provider"
    else:
        if not system_only:
            out.warnings.append(f"the preferred provider {preferred!r} no longer exists; "
                                "using environment keys")
        with_env = [p.name for p in registry if keys.environment.get(p.name)]
        primary = with_env[0] if with_env else registry.builtins()[0].name
        why = "preferred provider 'system': environment keys only"
    pinned = pin and bool(model or provider)
    if key is not None and not sources(primary, key):
        raise _no_named_key(primary, key, keys)

    # -- the fallback chain --------------------------------------------------------------
    text = settings.get("fallback")
    entries = (parse_chain(text, catalog, registry, out.warnings) if text is not None
               else default_chain(registry))  # "" is a chain of none
    entries = [e for e in entries if e.provider != primary]
    out.chain = [str(e) for e in entries]
    use_chain = fallback and (chain or not pinned)
    if pinned and flag_model and not chain:
        out.pinned_model = flag_model

    def model_for(p: str, entry_model: str | None, is_primary: bool) -> tuple[str | None, str]:
        if is_primary and flag_model:
            return flag_model, "from -m/--model"
        if entry_model:
            return entry_model, "the fallback chain's model"
        if models.get(p):
            return models[p], "your preferred model"
        return default_model(registry.require(p), catalog), "the default model"

    def fallback_model(p: str, record, chosen: str | None) -> str | None:
        # When a model is not available, fall back to the one the profile chose for this
        # provider (`models default`), unless that is the one that failed or it is retired.
        own = models.get(p)
        if own and own != chosen:
            known = catalog.get(own) if record.catalog else None
            if not (known and known.provider == record.catalog and known.is_retired(today)):
                return own
        return default_model(record, catalog)

    def attempts_for(p: str, entry_model: str | None, role: str, because: str,
                     is_primary: bool = False) -> list[Attempt]:
        record = registry.require(p)
        chosen, model_why = model_for(p, entry_model, is_primary)
        default = fallback_model(p, record, chosen)
        found = sources(p, key if is_primary else None)
        if chosen is None and is_primary:
            raise ByokError(Code.USAGE, f"no model to use with {p}: it has no default",
                            hint=f"give one with -m {p}/MODEL, or set it with `byok models "
                                 f"default {p}/MODEL`", provider=p)
        if chosen is None:
            if found:
                out.warnings.append(f"no model to use with {p}: set one with `byok models "
                                    f"default {p}/MODEL`; leaving it out")
            return []
        known = catalog.get(chosen) if record.catalog else None
        known = known if known and known.provider == record.catalog else None
        listed = known is not None or (is_primary and flag_model == chosen and in_catalog)
        if not listed:
            model_why += " (not in catalogue)"
        if known and known.is_retired(today):
            if fallback and default and chosen != default:
                out.warnings.append(f"{chosen} reached end of life on {known.end_of_life}; "
                                    f"using {default} instead")
                out.fallbacks.append({"kind": "model_retired", "provider": p, "from": chosen,
                                      "to": default})
                chosen, model_why, listed = default, f"the default model ({known.id} is " \
                                                     f"retired)", True
            else:
                out.warnings.append(f"{chosen} reached end of life on {known.end_of_life}")
        elif known and known.is_deprecated(today):
            out.warnings.append(f"{chosen} is deprecated and will stop working on "
                                f"{known.end_of_life}")
        result = [Attempt(p, chosen, s.source, s.hint, f"{because}; {model_why}",
                          role if i == 0 else "key_fallback", s.name, listed)
                  for i, s in enumerate(found)]
        if fallback and default and chosen != default:
            result += [Attempt(p, default, s.source, s.hint,
                               "fallback when the model is not available", "model_fallback",
                               s.name, catalog.get(default) is not None) for s in found]
        return result

    first = attempts_for(primary, None, "primary", why, is_primary=True)
    if not first:
        if not use_chain:
            raise no_key(primary, system_only, keys, registry, pinned and fallback)
        for i, entry in enumerate(entries):
            first = attempts_for(entry.provider, entry.model, "provider_fallback",
                                 f"no {primary} key")
            if first:
                out.warnings.append(f"no {primary} key is available; using {entry.provider} "
                                    "instead")
                out.fallbacks.append({"kind": "no_key", "from": primary, "to": entry.provider})
                primary, entries = entry.provider, entries[i + 1:]
                break
        else:
            raise no_key(primary, system_only, keys, registry, False)
    out.attempts = first
    if use_chain:
        used = {primary}
        for entry in entries:
            if entry.provider not in used:
                used.add(entry.provider)
                out.attempts += attempts_for(entry.provider, entry.model, "provider_fallback",
                                             f"fallback when {primary} is unavailable")
    if temperature is not None or effort is not None or schema:
        _fit_parameters(out, catalog, registry, temperature, effort, today, schema)
    if not fallback:
        out.attempts = out.attempts[:1]
    return out


def _fit_parameters(out: Plan, catalog: Catalog, registry: Registry,
                    temperature: float | None, effort: str | None, today: dt.date,
                    schema: bool = False) -> None:
    """Refuse parameters the first model cannot take; drop fallbacks that cannot take them.
    Effort levels are the API kind's; what a model takes is the catalogue's, when it knows
    the model (a gateway's own ids are left to the gateway)."""
    def refuses(a: Attempt) -> str | None:
        record = registry.require(a.provider)
        if schema and not record.schema:
            return f"{record.title} cannot be held to a JSON Schema (--schema)"
        return catalog.refuses(record.api, a.model, temperature, effort, schema)

    first = out.attempts[0]
    why = refuses(first)
    if why:
        able = catalog.taking(temperature, effort, today, schema)
        raise ByokError(Code.USAGE, why + "; nothing was sent",
                        hint=("leave it out, or choose a model that takes it: "
                              + ", ".join(able[:6])) if able else "leave it out")
    kept = []
    for a in out.attempts:
        why = refuses(a)
        line = f"no {a.role.replace('_', ' ')} to {a.provider} {a.model}: {why}"
        if why and line not in out.skipped:
            out.skipped.append(line)
        elif not why:
            kept.append(a)
    out.attempts = kept


def no_key(provider: str, system_only: bool, keys: KeyAvailability, registry: Registry,
           pinned: bool) -> ByokError:
    """Why ``provider`` has no key to send, and what to do (run's and the gateway's)."""
    if provider in keys.refused:
        return ByokError(Code.NO_KEY, keys.refused[provider], provider=provider,
                         hint=f"or store a key for this profile with `byok key set {provider}`")
    variable = registry.require(provider).key_env
    if system_only and keys.stored.get(provider):
        missing = f"{variable} is not set" if variable else f"{provider} has no variable"
        return ByokError(Code.NO_KEY, "preferred-provider is 'system', which uses only "
                         f"environment keys, and {missing}",
                         hint=f"use your stored key: `byok config set preferred-provider "
                              f"{provider}`", provider=provider)
    where = f"`byok key set {provider}`" + (f" or set {variable}" if variable else "")
    also = "; or add --fallback to use the fallback chain" if pinned else ""
    return ByokError(Code.NO_KEY, f"no {provider} key is available",
                     hint=f"store one with {where}{also}", provider=provider)


def _no_named_key(provider: str, key: str, keys: KeyAvailability) -> ByokError:
    names = [n for n, _ in keys.stored.get(provider, ())]
    env = keys.environment.get(provider)
    names += [env[0]] if env else []
    return ByokError(Code.NO_KEY, f"{provider} has no key called {key!r}",
                     hint=f"its keys: {', '.join(names)}" if names else
                     f"store one with `byok key set {provider} --name {key}`", provider=provider)


@record
class Excluded:
    """What earlier attempts ruled out."""

    keys: set = fresh(set)      # (provider, key_source, key_name)
    models: set = fresh(set)    # (provider, model)
    providers: set = fresh(set)

    def rules_out(self, a: Attempt) -> bool:
        return ((a.provider, a.key_source, a.key_name) in self.keys
                or (a.provider, a.model) in self.models or a.provider in self.providers)


def next_attempt(attempts: list[Attempt], index: int, code: Code, excluded: Excluded,
                 budget_scope: str | None = None,
                 allowed: Callable[[Attempt], bool] | None = None,
                 pinned_model: str | None = None) -> int | None:
    """The attempt that answers the failure of ``attempts[index]``, or None to stop.
    ``budget_scope`` says what a BUDGET_EXCEEDED refused: a 'key' budget only that key (the
    provider's next key may go on), 'model' (no price known) only that model, a 'provider'
    or 'profile' budget the provider. ``allowed``: whether an attempt may be sent at all
    (the runner's one-key-per-foreign-endpoint rule). ``pinned_model``: the plan's (an
    explicit -m without --fallback), which no price refusal moves off."""
    cur = attempts[index]
    if code == Code.BUDGET_EXCEEDED and budget_scope == "model" and cur.model == pinned_model:
        return None
    if code == Code.BUDGET_EXCEEDED and budget_scope in ("key", "model"):
        if budget_scope == "key":
            excluded.keys.add((cur.provider, cur.key_source, cur.key_name))
        else:
            excluded.models.add((cur.provider, cur.model))

        def answers(a: Attempt) -> bool:
            return True  # whatever the exclusions leave, in the plan's order
    elif code in KEY_REJECTED or code in KEY_UNREADABLE:
        excluded.keys.add((cur.provider, cur.key_source, cur.key_name))
        if cur.key_source != "stored":
            return None  # the environment key failed too: stop (fallback 2)

        def answers(a: Attempt) -> bool:
            return a.provider == cur.provider and a.model == cur.model
    elif code == Code.MODEL_NOT_FOUND:
        excluded.models.add((cur.provider, cur.model))

        def answers(a: Attempt) -> bool:
            return a.provider == cur.provider and a.model != cur.model
    elif code in PROVIDER_DOWN or code == Code.BUDGET_EXCEEDED:
        excluded.providers.add(cur.provider)  # a budget that refuses it refuses its models too

        def answers(a: Attempt) -> bool:
            return a.provider != cur.provider
    else:
        return None
    for j in range(index + 1, len(attempts)):
        if answers(attempts[j]) and not excluded.rules_out(attempts[j]) and (
                allowed is None or allowed(attempts[j])):
            return j
    return None


__all__ = ["Attempt", "ChainEntry", "Excluded", "KEY_REJECTED", "KeyAvailability",
           "KeySource", "PROVIDER_DOWN", "Plan", "next_attempt", "plan"]
