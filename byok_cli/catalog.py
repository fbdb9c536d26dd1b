"""The curated model catalogue (``data/catalog.json``): ids, aliases, defaults, end of life."""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import NamedTuple

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
    """Models by the catalogue provider that serves them (a provider record's ``catalog``).
    Which provider a name means is :mod:`byok_cli.addressing`'s business."""

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
    return Catalog(models, dict(data["defaults"]))
