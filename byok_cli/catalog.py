"""The curated model catalogue (``data/catalog.json``): ids, aliases, defaults, end of life."""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import NamedTuple

from .errors import ByokError, Code, looks_like_key
from .inputs import text
from .keys import PROVIDERS

_PATH = Path(__file__).with_name("data") / "catalog.json"


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(value if len(value) > 7 else value + "-01")


class Model(NamedTuple):
    provider: str
    id: str
    name: str
    description: str
    aliases: tuple[str, ...] = ()
    deprecated: dt.date | None = None
    end_of_life: dt.date | None = None

    def is_deprecated(self, today: dt.date) -> bool:
        return bool(self.deprecated and self.deprecated <= today)

    def is_retired(self, today: dt.date) -> bool:
        return bool(self.end_of_life and self.end_of_life <= today)


class Catalog(NamedTuple):
    models: tuple[Model, ...]
    defaults: dict[str, str]

    def for_provider(self, provider: str) -> list[Model]:
        return [m for m in self.models if m.provider == provider]

    def get(self, model_id: str) -> Model | None:
        for m in self.models:
            if m.id == model_id:
                return m
        return None

    def default(self, provider: str) -> str:
        return self.defaults[provider]

    def lookup(self, name: str) -> Model | None:
        """A model by id or alias (case-insensitive)."""
        name = name.strip().lower()
        for m in self.models:
            if m.id == name or name in m.aliases:
                return m
        return None

    def provider_of(self, model: str) -> str | None:
        """The provider of a model id, known or not, by the providers' naming."""
        known = self.lookup(model)
        if known:
            return known.provider
        m = model.lower()
        if m.startswith("claude"):
            return "anthropic"
        if m.startswith(("gpt-", "o1", "o3", "o4", "chatgpt", "ft:gpt")):
            return "openai"
        return None

    def resolve(self, name: str, provider: str | None = None) -> tuple[str, str]:
        """(provider, model id) for an id or alias; unknown ids pass through when the provider
        is known, so new models work before the catalogue knows them."""
        if not name or not name.strip():
            raise ByokError(Code.USAGE, "the model name is empty")
        text(name, "the model name")
        if looks_like_key(name):
            raise ByokError(Code.USAGE, "the model name looks like an API key; it was not used",
                            hint="give keys with `byok key set`, never as a model name")
        known = self.lookup(name)
        if known:
            if provider and known.provider != provider:
                raise ByokError(Code.USAGE, f"{name!r} is a {known.provider} model, not {provider}")
            return known.provider, known.id
        named_for = self.provider_of(name)
        if provider and named_for not in (None, provider):
            raise ByokError(Code.USAGE, f"{name!r} is not an {provider} model")
        if (provider or named_for) is None:
            raise ByokError(Code.MODEL_NOT_FOUND, f"unknown model {name!r}",
                            hint="see `byok models list`, or give the provider with -p")
        return provider or named_for, name.strip()

    def aliases(self) -> dict[str, str]:
        return {a: m.id for m in self.models for a in m.aliases}


@functools.lru_cache(maxsize=1)
def load() -> Catalog:
    data = json.loads(_PATH.read_text(encoding="utf-8"))
    models = tuple(
        Model(provider=m["provider"], id=m["id"], name=m["name"], description=m["description"],
              aliases=tuple(m.get("aliases", ())), deprecated=_date(m.get("deprecated")),
              end_of_life=_date(m.get("end_of_life")))
        for m in data["models"])
    defaults = dict(data["defaults"])
    assert set(defaults) == set(PROVIDERS)
    return Catalog(models, defaults)
