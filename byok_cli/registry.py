"""Providers as data: what a provider is, which ones exist, and what their keys look like.

A provider is a :class:`Provider` record. The built-ins and the presets for well-known
compatible services come from ``data/providers.json``; the person's own providers
(``byok provider add``) are stored per profile in the database and joined to them by
:meth:`Registry.with_custom`. Nothing else in byok lists providers.

Loading reads one small JSON file once per process and compiles nothing: key shapes are
regular expressions compiled only when a key is checked, since `byok run` never does.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator

from .errors import ByokError, Code, looks_like_key
from .records import tuple_record

# The providers' one definition; `registry_data` is generated from it (scripts/generate.py),
# and read at start-up instead: no json module, no parse.
_PATH = os.path.join(os.path.dirname(__file__), "data", "providers.json")

MAX_KEY_LENGTH = 512
RESERVED_NAMES = frozenset({"system", "default", "none", "all", "env", "environment"})
_NAME = r"[a-z][a-z0-9_-]{0,31}"         # compiled on use (re caches): not on the fast path
_ENV_VAR = r"[A-Z_][A-Z0-9_]{0,63}"


@tuple_record
class KeyShape:
    """What a provider's keys look like. Lenient on length: providers lengthen keys."""

    prefix: str
    pattern: str                 # the whole key must match
    example: str                 # for messages
    admin_prefixes: tuple[str, ...] = ()


@tuple_record
class Provider:
    name: str
    title: str
    api: str                     # the wire protocol: a key of api_kinds in providers.json
    base_url: str
    key_env: str | None = None   # the environment variable of its environment key
    base_url_env: str | None = None
    needs_key: bool = True
    list_models: bool = True
    catalog: str | None = None   # the catalogue provider whose models it serves
    default_model: str | None = None
    model_prefixes: tuple[str, ...] = ()
    shape: KeyShape | None = None
    source: str | None = None    # where base_url and key_env were checked
    kind: str = "custom"         # builtin | preset | custom
    schema: bool = True          # its API takes a JSON Schema for the answer (--schema)
    attachments: tuple[str, ...] = ("image", "pdf")  # what -a it takes: images, PDFs

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "kind": self.kind, "api": self.api,
                "base_url": self.base_url, "key_env": self.key_env,
                "base_url_env": self.base_url_env, "needs_key": self.needs_key,
                "list_models": self.list_models, "catalog": self.catalog,
                "default_model": self.default_model,
                "key_shape": self.shape.example if self.shape else None, "source": self.source}


def _record(entry: dict) -> Provider:
    shape = entry.get("key_shape")
    return Provider(
        name=entry["name"], title=entry.get("title") or entry["name"], api=entry["api"],
        base_url=entry["base_url"], key_env=entry.get("key_env"),
        base_url_env=entry.get("base_url_env"), needs_key=entry.get("needs_key", True),
        list_models=entry.get("list_models", True), catalog=entry.get("catalog"),
        default_model=entry.get("default_model"),
        model_prefixes=tuple(entry.get("model_prefixes", ())),
        shape=KeyShape(shape["prefix"], shape["pattern"], shape["example"],
                       tuple(shape.get("admin_prefixes", ()))) if shape else None,
        source=entry.get("source"), kind=entry.get("kind", "preset"),
        schema=entry.get("schema", True),
        attachments=tuple(entry.get("attachments", ("image", "pdf"))))


@functools.lru_cache(maxsize=1)
def _data() -> tuple[dict[str, dict], tuple[Provider, ...]]:
    from .registry_data import API_KINDS, PROVIDERS

    return dict(API_KINDS), tuple(_record(e) for e in PROVIDERS)


def api_kinds() -> dict[str, str]:
    """API kind -> what it is, e.g. for `provider add --api`."""
    return {kind: about["about"] for kind, about in _data()[0].items()}


def wire_module(api: str) -> str:
    """The byok_cli.wire module that speaks an API kind."""
    return _kind(api)["wire"]


def path_prefix(api: str) -> str:
    """What an API kind's paths start with under the base URL ('/v1' for Messages), so that
    a base URL ending in it would double it."""
    return _data()[0].get(api, {}).get("adds", "")  # an unknown kind: listed, never sent


def _kind(api: str) -> dict:
    """An API kind's data. Only `provider add` stores a kind, so an unknown one is a
    damaged database: said as one when the provider is used, and it can still be listed
    and removed."""
    try:
        return _data()[0][api]
    except KeyError:
        raise ByokError(Code.STORE_ERROR, f"a provider in the database has an API kind byok "
                        f"does not know ({api!r})", hint="run `byok provider list`; remove "
                        "that provider with `byok provider remove NAME` and add it again") \
            from None


def trim_added_prefix(api: str, url: str) -> str:
    """``url`` without the path prefix its API kind adds itself (a Messages base URL's /v1)."""
    adds = path_prefix(api)
    return url[:-len(adds)] if adds and url.endswith(adds) else url


def base_url_to_store(api: str, url: str, source: str = "the base URL") -> tuple[str, str | None]:
    """(the base URL as it is stored, a note when that differs from what was given).

    Every place a base URL is set (`provider add`, `config set PROVIDER.base_url`) stores it
    as requests will use it, so a Messages URL's /v1 is trimmed once, here, not warned about
    on every run."""
    checked = check_base_url(url, source)
    stored = trim_added_prefix(api, checked)
    if stored == checked:
        return stored, None
    return stored, (f"{source} ends in {checked[len(stored):]}, which the {api} API adds "
                    f"itself; stored as {stored}")


class Registry:
    """The providers one profile can use: built-ins and presets first, then its own."""

    def __init__(self, providers: Iterable[Provider]):
        self._by_name = {p.name: p for p in providers}

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        return list(self._by_name)

    def builtins(self) -> list[Provider]:
        return [p for p in self if p.kind == "builtin"]

    def get(self, name: str | None) -> Provider | None:
        return self._by_name.get((name or "").strip().lower())

    def require(self, name: str | None) -> Provider:
        """The provider called ``name``; a usage error naming the choices otherwise."""
        found = self.get(name)
        if found is None:
            raise ByokError(Code.USAGE, f"unknown provider {name!r}",
                            hint="choose one of: " + ", ".join(self.names())
                            + " (or add one with `byok provider add`)")
        return found

    def with_custom(self, rows: Iterable[tuple]) -> "Registry":
        """This registry and the profile's own providers, each row as the store keeps it:
        (name, api, base_url, key_env, needs_key)."""
        custom = [Provider(name=name, title=name, api=api, base_url=base_url, key_env=key_env,
                           needs_key=bool(needs_key), kind="custom")
                  for name, api, base_url, key_env, needs_key in rows if name not in self]
        return Registry([*self, *custom]) if custom else self

    def by_key_env(self, variable: str) -> Provider | None:
        for p in self:
            if variable in (p.key_env, p.base_url_env):
                return p
        return None

    # -- keys -------------------------------------------------------------------------
    def normalise_key(self, name: str, raw: str, *, check_shape: bool = True) -> str:
        """Strip surrounding whitespace and check the key; raise INVALID_FORMAT if wrong.

        Every key must be one printable ASCII word of sane length. The shape checks (admin
        keys, another provider's key, the expected pattern) apply only where the provider
        defines a shape, and not at all with ``check_shape=False`` (`--force`). Messages
        never repeat the key itself.
        """
        provider = self.require(name)
        key = raw.strip()
        where = f"the {provider.name} key"

        def bad(message: str, hint: str | None = None) -> ByokError:
            return ByokError(Code.INVALID_FORMAT, message, hint=hint, provider=provider.name)

        if not key:
            raise bad(f"{where} is empty; nothing was stored")
        if len(key) > MAX_KEY_LENGTH:
            raise bad(f"{where} is {len(key)} characters long, more than any real key",
                      "pipe only the key itself")
        if any(ch.isspace() for ch in key):
            raise bad(f"{where} contains whitespace inside it",
                      "copy the key again, without spaces or line breaks")
        if any(ord(ch) < 32 or ord(ch) == 127 or not ch.isascii() for ch in key):
            raise bad(f"{where} contains control or non-ASCII characters")
        shape = provider.shape
        if shape is None or not check_shape:
            return key
        if key.startswith(shape.admin_prefixes):
            raise bad(f"this is an {provider.name} admin key, which cannot make model calls",
                      "create a regular API key in the provider's console")
        for other in self:
            theirs = other.shape
            if (other.name != provider.name and theirs and len(theirs.prefix) > len(shape.prefix)
                    and key.startswith(theirs.prefix)):
                raise bad(f"this looks like {_article(other.title)} {other.title} key, not "
                          f"{_article(provider.title)} {provider.title} one",
                          f"use `byok key set {other.name}`")
        if not re.fullmatch(shape.pattern, key):
            raise bad(f"{where} does not have the expected shape ({shape.example})",
                      "if your endpoint issues keys of another shape, add --force")
        return key


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def builtin() -> Registry:
    """The built-ins and presets of data/providers.json."""
    return _builtin()


@functools.lru_cache(maxsize=1)
def _builtin() -> Registry:
    return Registry(_data()[1])


# -- what a person may add -------------------------------------------------------------

def check_name(name: str, registry: Registry) -> str:
    """A new provider's name: lowercase, starts with a letter, no '/', not taken."""
    given = (name or "").strip().lower()
    if looks_like_key(name or ""):
        raise ByokError(Code.USAGE, "the provider name looks like an API key; it was not used",
                        hint="give keys with `byok key set`, never as a name")
    if not re.fullmatch(_NAME, given):
        raise ByokError(Code.USAGE, f"{name!r} is not a valid provider name",
                        hint="use a lowercase letter, then letters, digits, '-' or '_' "
                             "(at most 32)")
    if given in RESERVED_NAMES:
        raise ByokError(Code.USAGE, f"{given!r} is reserved and cannot name a provider")
    if given in registry:
        existing = registry.require(given)
        what = {"builtin": "a built-in provider", "preset": "a preset"}.get(
            existing.kind, "a custom provider")
        raise ByokError(Code.USAGE, f"{given!r} is already {what}",
                        hint=f"see `byok provider show {given}`")
    return given


def check_api(api: str) -> str:
    kinds = api_kinds()
    given = (api or "").strip().lower()
    if given not in kinds:
        raise ByokError(Code.USAGE, f"unknown API kind {api!r}",
                        hint="choose one of: " + ", ".join(kinds))
    return given


# What the system and the toolchain read: never a provider key's variable, whatever it holds.
_SYSTEM_VARIABLES = {"PATH", "HOME", "SHELL", "USER", "LOGNAME", "TERM", "LANG", "PWD",
                     "TMPDIR", "EDITOR", "VISUAL", "PAGER", "DISPLAY", "MAIL", "HOSTNAME",
                     "IFS", "PS1", "CDPATH", "ENV", "BASH_ENV", "MANPATH", "TZ"}
_SYSTEM_PREFIXES = ("LD_", "DYLD_", "PYTHON", "LC_", "XDG_", "SSH_", "GIT_", "NODE_", "NPM_",
                    "PIP_", "VIRTUAL_ENV", "CONDA_", "DBUS_", "GPG_", "SUDO_")
_KEY_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "AUTH")


def key_like_variable(name: str) -> bool:
    """A name a provider key may be kept under: it says it holds one (KEY, TOKEN, SECRET …),
    and it is none of the system's or the toolchain's (PATH, HOME, LD_*, PYTHON*, SSH_*),
    which `exec` would otherwise strip from every child."""
    upper = name.upper()
    if upper in _SYSTEM_VARIABLES or upper.startswith(_SYSTEM_PREFIXES) \
            or upper.endswith("_PROXY"):
        return False
    return any(word in upper for word in _KEY_WORDS)


def check_key_env(variable: str, registry: Registry) -> str:
    """The environment variable a custom provider's key is read from.

    An environment key goes only to its own provider's endpoint: another provider's
    variable is refused, and so is byok's own (BYOK_MASTER_KEY must never leave).
    """
    given = (variable or "").strip()
    if not re.fullmatch(_ENV_VAR, given):
        raise ByokError(Code.USAGE, f"{variable!r} is not an environment variable name",
                        hint="use capital letters, digits and '_', e.g. MYGATEWAY_API_KEY")
    if given.startswith("BYOK_"):
        raise ByokError(Code.USAGE, f"{given} is byok's own variable, not a provider key's")
    if not key_like_variable(given):
        raise ByokError(Code.USAGE, f"{given} does not name a key variable (`exec` would "
                        "withhold it from every child)",
                        hint="use a name with KEY, TOKEN or SECRET in it, e.g. "
                             "MYGATEWAY_API_KEY")
    owner = registry.by_key_env(given)
    if owner is not None:
        raise ByokError(Code.USAGE, f"{given} belongs to the provider {owner.name!r}",
                        hint="an environment key is sent only to its own provider; "
                             "choose a variable of this provider's own")
    return given


def check_base_url(url: str, source: str = "the base URL") -> str:
    """A base URL keys may be sent to: an http(s) URL without credentials, query or fragment
    (the trailing '/' dropped), under the transport rule every request keeps (urls.check:
    https, or plain http only to this machine; errors name ``source``)."""
    from urllib.parse import urlsplit

    from .urls import check

    given = check(url or "", source)
    parts = urlsplit(given)
    if parts.username or parts.password:
        raise ByokError(Code.USAGE, "the base URL must not carry credentials",
                        hint="store the key with `byok key set` instead")
    if parts.query or parts.fragment:
        raise ByokError(Code.USAGE, "the base URL must not have a query or a fragment")
    return given
