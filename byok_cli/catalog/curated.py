"""The curated model catalogue (``data/catalog.json``): ids, aliases, defaults, end of life,
and which parameters (temperature, effort) each model takes. It is read from
``catalog_data``, the JSON as Python literals (scripts/generate.py): bytecode, no parse."""

from __future__ import annotations

import datetime as dt
import functools
import os

from ..records import tuple_record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from ..registry import Provider

# The catalogue's one definition; catalog_data is generated from it
_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "catalog.json")


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(value if len(value) > 7 else value + "-01")


# The sampling temperatures each API documents: OpenAI's Chat Completions takes 0 to 2,
# Anthropic's Messages API 0 to 1 (a 1.5 meant for OpenAI is refused before it is sent).
TEMPERATURE_RANGES = {"openai": (0.0, 2.0), "anthropic": (0.0, 1.0)}


@tuple_record
class Model:
    provider: str
    id: str
    name: str
    description: str
    aliases: tuple[str, ...] = ()
    deprecated: dt.date | None = None
    end_of_life: dt.date | None = None
    temperature: bool = True          # takes a sampling temperature
    effort: tuple[str, ...] = ()      # levels of its effort / reasoning control, if any
    schema: bool = True               # takes a JSON Schema for its answer (structured output)
    attachments: tuple[str, ...] = ("image", "pdf")  # what -a it reads: images, PDFs

    def is_deprecated(self, today: dt.date) -> bool:
        return bool(self.deprecated and self.deprecated <= today)

    def is_retired(self, today: dt.date) -> bool:
        return bool(self.end_of_life and self.end_of_life <= today)


@tuple_record
class Catalog:
    """Models by the catalogue provider that serves them (a provider record's ``catalog``);
    effort levels by API kind. Which provider a name means is :mod:`byok_cli.routing.addressing`'s
    business."""

    models: tuple[Model, ...]
    defaults: dict[str, str]
    effort_levels: dict[str, tuple[str, ...]] = {}  # every level each provider's API knows

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

    def refuses(self, api: str, model_id: str, temperature: float | None = None,
                effort: str | None = None, schema: bool = False) -> str | None:
        """Why this model cannot take these parameters, or None when it can (or when the
        catalogue does not know the model: then the API decides)."""
        if effort is not None and effort not in self.effort_levels.get(api, (effort,)):
            return (f"--effort {effort} is not a level of the {api} API (one of: "
                    + ", ".join(self.effort_levels[api]) + ")")
        if temperature is not None and api in TEMPERATURE_RANGES:
            low, high = TEMPERATURE_RANGES[api]
            if not low <= temperature <= high:
                return (f"--temperature {temperature:g} is outside the {api} API's range "
                        f"({low:g} to {high:g})")
        m = self.get(model_id)
        if m is None:
            return None
        if temperature is not None and not m.temperature:
            return f"{m.id} does not take --temperature"
        if schema and not m.schema:
            return f"{m.id} cannot be held to a JSON Schema (--schema)"
        if effort is not None and not m.effort:
            return f"{m.id} has no effort control (--effort)"
        if effort is not None and effort not in m.effort:
            return f"{m.id} takes --effort " + ", ".join(m.effort) + f", not {effort}"
        return None

    def taking(self, temperature: float | None, effort: str | None,
               today: dt.date, schema: bool = False) -> list[str]:
        """Current models that take these parameters, for a hint."""
        return [m.id for m in self.models if not m.is_retired(today)
                and self.refuses(m.provider, m.id, temperature, effort, schema) is None]

    def aliases(self) -> dict[str, str]:
        return {a: m.id for m in self.models for a in m.aliases}


def default_model(provider: "Provider", catalog: Catalog) -> str | None:
    """The provider's own default: its catalogue's, else its record's, else none."""
    if provider.catalog and provider.catalog in catalog.defaults:
        return catalog.default(provider.catalog)
    return provider.default_model


@functools.lru_cache(maxsize=1)
def load() -> Catalog:
    from .catalog_data import CATALOG as data

    models = tuple(
        Model(provider=m["provider"], id=m["id"], name=m["name"], description=m["description"],
              aliases=tuple(m.get("aliases", ())), deprecated=_date(m.get("deprecated")),
              end_of_life=_date(m.get("end_of_life")), temperature=bool(m["temperature"]),
              effort=tuple(m["effort"]), schema=bool(m.get("schema", True)),
              attachments=tuple(m.get("attachments", ("image", "pdf"))))
        for m in data["models"])
    defaults = dict(data["defaults"])
    levels = {p: tuple(v) for p, v in data["effort_levels"].items()}
    return Catalog(models, defaults, levels)
