"""Where a provider's requests go, and which of its keys may go there (the rules are in
:mod:`byok_cli.urls`; this module knows the providers' variable and setting names).

Every place that sends a key asks :func:`base_url` first, so that no key leaves byok by
another road: runs and chats (the runner), `key set`'s and `key validate`'s live checks,
`models list --remote`, the Python API's SDK clients, and `exec`.
"""

from __future__ import annotations

import os
from typing import Mapping

from . import urls
from .keys import BASE_URL_VARS, ENV_VARS

ON = "on"


def opt_in_setting(provider: str) -> str:
    """The profile setting that lets the environment key go to the profile's base URL."""
    return f"{provider}.send_env_key"


def endpoint(provider: str, settings: Mapping[str, str | None],
             env: Mapping[str, str] | None = None, *, checked: bool = True) -> urls.Endpoint:
    """The provider's endpoint for this profile; a usage error naming the variable or the
    setting when it is not a URL keys may be sent to (unless ``checked`` is False)."""
    return urls.endpoint(BASE_URL_VARS[provider], f"{provider}.base_url",
                         settings.get(f"{provider}_base_url"), env, checked=checked)


def _opted_in(provider: str, settings: Mapping[str, str | None]) -> bool:
    return settings.get(f"{provider}_send_env_key") == ON


def env_key_refusal(provider: str, settings: Mapping[str, str | None],
                    env: Mapping[str, str] | None = None) -> str | None:
    """Why this provider's environment key must not be used with this profile, or None.
    (Whether the URL itself is acceptable is checked when something is sent.)"""
    return endpoint(provider, settings, env, checked=False).refusal(
        urls.ENVIRONMENT_KEY, ENV_VARS[provider], _opted_in(provider, settings),
        opt_in_setting(provider))


def base_url(provider: str, key_source: str, settings: Mapping[str, str | None],
             env: Mapping[str, str] | None = None) -> str | None:
    """The base URL (None: the official one) to send the key from ``key_source`` ("user"
    or "system") to; ByokError when it may not be sent at all."""
    env = os.environ if env is None else env
    return endpoint(provider, settings, env).require(
        key_source, ENV_VARS[provider], _opted_in(provider, settings), opt_in_setting(provider))
