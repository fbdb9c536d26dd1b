"""Which of a provider's keys may go to the endpoint its requests go to (the rule is in
:mod:`byok_cli.urls`; the endpoint comes from :mod:`byok_cli.wire.endpoint`; this module
knows where a provider's key variable and the profile's opt-in setting are).

Every place that sends a key asks here first: the runner (run, chat, the Python API's
ask), `key set`'s and `key validate`'s live checks, `models list --remote`,
`Byok.client`, and `exec`. Resolution asks :func:`env_key_refusal` too, so that a refused
environment key is never planned (and fallback 1 never reaches for it).
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import urls
from ..errors import ByokError, Code
from ..wire.endpoint import Endpoint, endpoint

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from ..registry import Provider, Registry

ON = "on"


def opt_in_setting(provider: str) -> str:
    """The profile setting that lets the environment key go to the profile's base URL."""
    return f"{provider}.send_env_key"


def refusal(where: Endpoint, key_source: str, settings: Mapping, registry: "Registry"
            ) -> str | None:
    """Why the key from ``key_source`` ("stored", "environment" or "none") must not go to
    ``where``, or None when it may."""
    p = where.provider
    variable = registry.require(p).key_env or "the environment key"
    opted_in = (settings.get("send_env_keys") or {}).get(p) == ON
    return urls.env_key_refusal(key_source, where.source, where.url, where.where, variable,
                                opted_in, opt_in_setting(p))


def require(where: Endpoint, key_source: str, settings: Mapping, registry: "Registry") -> None:
    """A NO_KEY error when the key from ``key_source`` must not go to ``where``."""
    why = refusal(where, key_source, settings, registry)
    if why:
        raise ByokError(Code.NO_KEY, why, provider=where.provider,
                        hint=f"or store a key for this profile with `byok key set "
                             f"{where.provider}`")


def is_own(where: Endpoint, key_source: str, key_name: str | None, keychain) -> bool:
    """Whether ``where`` is one of this key's own endpoints (urls.is_own_endpoint): only
    there may a rejection move on to the next key, and only there does a verdict mark a
    stored key failed. Elsewhere byok sends one key per run."""
    stored_for = keychain.stored_for(where.provider, key_name) if key_source == "stored" \
        else None
    return urls.is_own_endpoint(key_source, where.source, where.url, stored_for)


def env_key_refusal(record: "Provider", settings: Mapping,
                    env: Mapping[str, str] | None = None) -> str | None:
    """Why this provider's environment key must not be used with this profile (no
    --base-url given), or None. A base URL that is itself unusable is not decided here: it
    fails the command when something would be sent."""
    from ..registry import Registry

    try:
        where = endpoint(record, profile=(settings.get("base_urls") or {}).get(record.name),
                         env=env)
    except ByokError:
        return None
    return refusal(where, urls.ENVIRONMENT_KEY, settings, Registry([record]))
