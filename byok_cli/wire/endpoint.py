"""Which base URL a provider's requests go to, and where that choice came from.

Pure: no HTTP. The order is --base-url, then the provider's customary environment variable
(OPENAI_BASE_URL / ANTHROPIC_BASE_URL, as the SDKs read them), then the profile's
`PROVIDER.base_url`, then the provider's own (its registry record's). Every source goes
through :func:`normalise`, a custom provider's own URL too (one stored before `provider add`
trimmed it would otherwise double the Messages /v1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..records import tuple_record
from ..urls import check, port_of  # noqa: F401 - port_of: wire modules import it here

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from ..registry import Provider


@tuple_record
class Endpoint:
    provider: str
    url: str            # what requests are sent under, normalised
    source: str         # flag | environment | profile | default | provider (a custom one's own)
    note: str | None = None  # set when the given URL was changed on the way
    variable: str | None = None  # the provider's base URL variable, if it has one

    @property
    def where(self) -> str:
        """The setting a person would edit to change it."""
        return {"flag": "--base-url", "environment": self.variable or "the environment",
                "profile": f"the profile's {self.provider}.base_url",
                "default": "byok's default",
                "provider": f"{self.provider}'s definition (`byok provider add`)"}[self.source]

    def to_dict(self) -> dict:
        return {"base_url": self.url, "base_url_source": self.source}


def _record(provider: "Provider | str") -> "Provider":
    from ..registry import builtin

    return builtin().require(provider) if isinstance(provider, str) else provider


def endpoint(provider: "Provider | str", *, flag: str | None = None,
             profile: str | None = None, env: Mapping[str, str] | None = None) -> Endpoint:
    record = _record(provider)
    env = os.environ if env is None else env
    variable = record.base_url_env
    for source, given in (("flag", flag), ("environment", env.get(variable) if variable else None),
                          ("profile", profile)):
        if given and given.strip():
            url, note = normalise(record, given.strip(), source, env)
            return Endpoint(record.name, url, source, note, variable)
    if record.kind == "custom":
        url, note = normalise(record, record.base_url, "provider", env)
        return Endpoint(record.name, url, "provider", note, variable)
    return Endpoint(record.name, record.base_url, "default", None, variable)


def normalise(provider: "Provider | str", url: str, source: str = "flag",
              env: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """(the URL requests go under, a note when it differs from what was given).

    The URL must be one a key may go to (urls.check: https, or http to this machine; the
    error names where it came from), so a bad one fails the command before any connection.
    Some API kinds add a path prefix themselves (Messages: /v1/messages, /v1/models), so a
    base URL that already ends in it (as OpenAI's does in /v1) would double it: the suffix is
    dropped, with a note. Base URLs of the other kinds keep their /v1.
    """
    from ..registry import path_prefix, trim_added_prefix

    record = _record(provider)
    where = Endpoint(record.name, url, source, None, record.base_url_env).where
    clean = check(url, where, env)
    trimmed = trim_added_prefix(record.api, clean)
    if trimmed != clean:
        adds = path_prefix(record.api)
        return trimmed, (f"{where} ends in {adds}, which byok adds itself; using {trimmed} "
                         f"(remove the {adds} to silence this note)")
    return clean, None
