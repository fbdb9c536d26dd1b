"""Which base URL a provider's requests go to, and where that choice came from.

Pure: no HTTP. The order is --base-url, then the environment (OPENAI_BASE_URL /
ANTHROPIC_BASE_URL, as the SDKs read them), then the profile's `*.base_url`, then the
provider's own API.
"""

from __future__ import annotations

import os
from typing import Mapping, NamedTuple

from ..keys import BASE_URL_VARS
from ..urls import check

DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1",
                     "anthropic": "https://api.anthropic.com"}


class Endpoint(NamedTuple):
    provider: str
    url: str            # what requests are sent under, normalised
    source: str         # flag | environment | profile | default
    note: str | None = None  # set when the given URL was changed on the way

    @property
    def where(self) -> str:
        """The setting a person would edit to change it."""
        return {"flag": "--base-url", "environment": BASE_URL_VARS[self.provider],
                "profile": f"the profile's {self.provider}.base_url",
                "default": "byok's default"}[self.source]

    def to_dict(self) -> dict:
        return {"base_url": self.url, "base_url_source": self.source}


def endpoint(provider: str, *, flag: str | None = None, profile: str | None = None,
             env: Mapping[str, str] | None = None) -> Endpoint:
    env = os.environ if env is None else env
    for source, given in (("flag", flag), ("environment", env.get(BASE_URL_VARS[provider])),
                          ("profile", profile)):
        if given and given.strip():
            url, note = normalise(provider, given.strip(), source, env)
            return Endpoint(provider, url, source, note)
    return Endpoint(provider, DEFAULT_BASE_URLS[provider], "default")


def normalise(provider: str, url: str, source: str = "flag",
              env: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """(the URL requests go under, a note when it differs from what was given).

    The URL must be one a key may go to (urls.check: https, or http to this machine; the
    error names where it came from), so a bad one fails the command before any connection.
    Anthropic paths are /v1/messages and /v1/models under the base URL, so a base URL that
    already ends in /v1 (as OpenAI's does) would send requests to /v1/v1/messages: the
    suffix is dropped, with a note. OpenAI-style base URLs keep their /v1.
    """
    clean = check(url, Endpoint(provider, url, source).where, env)
    if provider == "anthropic" and clean.endswith("/v1"):
        trimmed = clean[:-3]
        where = Endpoint(provider, url, source).where
        return trimmed, (f"{where} ends in /v1, which byok adds itself; using {trimmed} "
                         f"(remove the /v1 to silence this note)")
    return clean, None
