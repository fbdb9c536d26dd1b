"""Which provider, model and key to try, in what order: a pure function of its inputs.

The plan is a list of attempts. The first is what byok sends; the rest are the design's
fallbacks, each taken only on the failure it answers (see :func:`next_attempt`):

1. the person's key rejected (401/403, or no credit) -> the environment key, same provider
2. the environment key fails too -> stop
3. the model is not available (404, or past end of life) -> the provider's default model
4. the provider is unavailable (no key, 5xx/529, network), or a budget refuses it
   -> the other provider

Parameters a model cannot take (--temperature, --effort, per the catalogue) are checked
here, before anything is sent: refused for the first attempt (a usage error), and an
attempt whose model cannot take them is left out of the fallbacks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping, NamedTuple

from .catalog import Catalog
from .errors import ByokError, Code
from .keys import ENV_VARS, PROVIDERS

KEY_REJECTED = {Code.UNAUTHORIZED, Code.QUOTA_EXCEEDED, Code.DECRYPT_FAILED}
PROVIDER_DOWN = {Code.PROVIDER_UNAVAILABLE, Code.NETWORK_ERROR}


class Attempt(NamedTuple):
    provider: str
    model: str
    key_source: str  # "user" (stored, encrypted) or "system" (environment)
    key_hint: str    # last 4 characters, for display
    reason: str
    role: str = "primary"  # primary | key_fallback | model_fallback | provider_fallback

    @property
    def key_label(self) -> str:
        where = "stored key" if self.key_source == "user" else ENV_VARS[self.provider]
        return f"{where} (…{self.key_hint})"


@dataclass
class Plan:
    attempts: list[Attempt]
    fallbacks: list[dict] = field(default_factory=list)  # taken before sending anything
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)     # fallbacks left out, and why
    endpoints: dict = field(default_factory=dict)        # provider -> wire.endpoint.Endpoint

    def to_dict(self) -> dict:
        def endpoint(provider: str) -> dict:
            found = self.endpoints.get(provider)
            return found.to_dict() if found else {}

        return {"attempts": [dict(a._asdict(), key=a.key_label, **endpoint(a.provider))
                             for a in self.attempts],
                "fallbacks": self.fallbacks, "warnings": self.warnings, "skipped": self.skipped}


class KeyAvailability(NamedTuple):
    """Which keys exist, by hint only: resolution never sees key material."""

    stored: Mapping[str, str]       # provider -> hint of the stored key
    environment: Mapping[str, str]  # provider -> hint of the environment key
    # provider -> why its environment key may not go to this profile's base URL
    refused: Mapping[str, str] = {}

    def sources(self, provider: str, settings: Mapping[str, str | None]
                ) -> list[tuple[str, str]]:
        """[(key source, hint)] in the order they are tried: the person's stored key first,
        then the environment's (unless it may not go where this profile sends requests);
        `preferred-provider system` allows only the latter."""
        found = []
        system_only = (settings.get("preferred_provider") or "system") == "system"
        if not system_only and provider in self.stored:
            found.append(("user", self.stored[provider]))
        if provider in self.environment and provider not in self.refused:
            found.append(("system", self.environment[provider]))
        return found


def plan(settings: Mapping[str, str | None], keys: KeyAvailability, catalog: Catalog, *,
         model: str | None = None, provider: str | None = None, fallback: bool = True,
         today: dt.date | None = None, temperature: float | None = None,
         effort: str | None = None) -> Plan:
    today = today or dt.date.today()
    preferred = settings.get("preferred_provider") or "system"
    system_only = preferred == "system"
    out = Plan([])

    def sources(p: str) -> list[tuple[str, str]]:
        return keys.sources(p, settings)

    flag_provider, flag_model = None, None
    if model:
        flag_provider, flag_model = catalog.resolve(model, provider)
    primary = provider or flag_provider
    why = ("-p/--provider" if provider else "the model given with -m" if flag_provider else None)
    if primary is None:
        if not system_only:
            primary, why = preferred, "preferred provider"
        else:
            with_env = [p for p in PROVIDERS if sources(p)]
            primary = with_env[0] if with_env else PROVIDERS[0]
            why = "preferred provider 'system': environment keys only"

    def model_for(p: str) -> tuple[str, str]:
        if flag_model and p == primary:
            return flag_model, "from -m/--model"
        configured = settings.get(f"{p}_model")
        if configured:
            return configured, "your preferred model"
        return catalog.default(p), "the default model"

    def attempts_for(p: str, role: str, because: str) -> list[Attempt]:
        chosen, model_why = model_for(p)
        default = catalog.default(p)
        known = catalog.get(chosen)
        if known and known.is_retired(today):
            if fallback and chosen != default:
                out.warnings.append(f"{chosen} reached end of life on {known.end_of_life}; "
                                    f"using {default} instead")
                out.fallbacks.append({"kind": "model_retired", "provider": p, "from": chosen,
                                      "to": default})
                chosen, model_why = default, f"the default model ({known.id} is retired)"
            else:
                out.warnings.append(f"{chosen} reached end of life on {known.end_of_life}")
        elif known and known.is_deprecated(today):
            out.warnings.append(f"{chosen} is deprecated and will stop working on "
                                f"{known.end_of_life}")
        found = sources(p)
        result = [Attempt(p, chosen, src, hint, f"{because}; {model_why}",
                          role if i == 0 else "key_fallback")
                  for i, (src, hint) in enumerate(found)]
        if fallback and chosen != default:
            result += [Attempt(p, default, src, hint, "fallback when the model is not available",
                               "model_fallback") for src, hint in found]
        return result

    other = [p for p in PROVIDERS if p != primary][0]
    first = attempts_for(primary, "primary", why)
    if not first:
        if not (fallback and sources(other)):
            raise _no_key(primary, system_only, keys)
        out.warnings.append(f"no {primary} key is available; using {other} instead")
        out.fallbacks.append({"kind": "no_key", "from": primary, "to": other})
        primary, other = other, None
        first = attempts_for(primary, "provider_fallback", f"no {out.fallbacks[-1]['from']} key")
    out.attempts = first
    if fallback and other and sources(other):
        out.attempts += attempts_for(other, "provider_fallback",
                                     f"fallback when {primary} is unavailable")
    if temperature is not None or effort is not None:
        _fit_parameters(out, catalog, temperature, effort, today)
    return out


def _fit_parameters(out: Plan, catalog: Catalog, temperature: float | None,
                    effort: str | None, today: dt.date) -> None:
    """Refuse parameters the first model cannot take; drop fallbacks that cannot take them."""
    first = out.attempts[0]
    why = catalog.refuses(first.provider, first.model, temperature, effort)
    if why:
        able = catalog.taking(temperature, effort, today)
        raise ByokError(Code.USAGE, why + "; nothing was sent",
                        hint=("leave it out, or choose a model that takes it: "
                              + ", ".join(able[:6])) if able else "leave it out")
    kept = []
    for a in out.attempts:
        why = catalog.refuses(a.provider, a.model, temperature, effort)
        line = f"no {a.role.replace('_', ' ')} to {a.provider} {a.model}: {why}"
        if why and line not in out.skipped:
            out.skipped.append(line)
        elif not why:
            kept.append(a)
    out.attempts = kept


def _no_key(provider: str, system_only: bool, keys: KeyAvailability) -> ByokError:
    if provider in keys.refused:
        return ByokError(Code.NO_KEY, keys.refused[provider],
                         hint=f"or store a key for this profile with `byok key set {provider}`",
                         provider=provider)
    if system_only and provider in keys.stored:
        return ByokError(Code.NO_KEY,
                         f"preferred-provider is 'system', which uses only environment keys, and "
                         f"{ENV_VARS[provider]} is not set",
                         hint=f"use your stored key: `byok config set preferred-provider {provider}`")
    return ByokError(Code.NO_KEY, f"no {provider} key is available",
                     hint=f"store one with `byok key set {provider}` or set {ENV_VARS[provider]}",
                     provider=provider)


@dataclass
class Excluded:
    """What earlier attempts ruled out."""

    keys: set = field(default_factory=set)      # (provider, key_source)
    models: set = field(default_factory=set)    # (provider, model)
    providers: set = field(default_factory=set)

    def rules_out(self, a: Attempt) -> bool:
        return ((a.provider, a.key_source) in self.keys or (a.provider, a.model) in self.models
                or a.provider in self.providers)


def next_attempt(attempts: list[Attempt], index: int, code: Code, excluded: Excluded
                 ) -> int | None:
    """The attempt that answers the failure of ``attempts[index]``, or None to stop."""
    cur = attempts[index]
    if code in KEY_REJECTED:
        excluded.keys.add((cur.provider, cur.key_source))
        if cur.key_source != "user":
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
        if answers(attempts[j]) and not excluded.rules_out(attempts[j]):
            return j
    return None
