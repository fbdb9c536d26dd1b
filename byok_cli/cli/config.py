"""`byok config set | get | show`: the profile's settings."""

from __future__ import annotations

import typer

from ..errors import ByokError, Code
from . import complete, output
from .root import group, no_header_option, state
from .setting_names import (ON_OFF, PER_PROVIDER, PROFILE_SETTINGS, PROVIDER_SETTINGS,
                            RESET)

app = group("Show and change the profile's settings.")

def _parse(name: str, registry) -> tuple[str | None, str]:
    """(provider, field) for PROVIDER.model / PROVIDER.base_url, (None, column) otherwise."""
    given = name.strip().lower()
    if given in PROFILE_SETTINGS:
        return None, PROFILE_SETTINGS[given]
    provider, dot, field = given.rpartition(".")
    if dot and field in PROVIDER_SETTINGS and registry.get(provider):
        return registry.get(provider).name, field
    raise ByokError(Code.USAGE, f"unknown setting {name!r}",
                    hint="one of: " + ", ".join(PROFILE_SETTINGS) + ", PROVIDER.model, "
                         "PROVIDER.base_url, PROVIDER.send_env_key (e.g. openai.model)")


def _check(st, provider: str | None, field: str, value: str) -> str | None:
    from ..routing import addressing
    from .. import registry as reg
    from ..catalog.curated import default_model, load

    registry = st.byok.registry
    value = value.strip()
    if field == "preferred_provider":
        if value != "system" and value not in registry:
            raise ByokError(Code.USAGE, f"preferred-provider must be a provider or 'system', "
                            f"not {value!r}", hint="providers: " + ", ".join(registry.names()))
        return value
    if field in ON_OFF:
        if value not in ("on", "off"):
            name = next(n for n, c in PROFILE_SETTINGS.items() if c == field)
            raise ByokError(Code.USAGE, f"{name} must be on or off, not {value!r}")
        return value
    if field == "fallback":
        if value.lower() in RESET:
            return None  # back to the default: the other built-in provider
        if value.lower() == "none":
            return ""    # no provider fallback at all
        from ..catalog.model_lists import listed_ids

        entries = addressing.parse_chain(  # a typo refused as `run -m` refuses it
            value, load(), registry,
            listed=lambda p: listed_ids(st.store.cached_model_lists(p)))
        models = st.store.settings(st.profile)["models"]
        for e in entries:
            if not (e.model or models.get(e.provider)
                    or default_model(registry.require(e.provider), load())):
                output.warn(f"{e.provider} has no default model: the chain will pass it by "
                            f"until you write {e.provider}/MODEL or set `byok models default "
                            f"{e.provider}/MODEL`")
        return ", ".join(str(e) for e in entries)
    if field == "send_env_key":
        if value.lower() in RESET:
            return None  # back to the default: off
        if value not in ("on", "off"):
            raise ByokError(Code.USAGE, f"{provider}.send_env_key must be on or off, not "
                            f"{value!r}")
        return value
    if value.lower() in RESET + ("none",):
        return None  # back to the default
    if field == "model":
        from .model_choice import choose_model

        return choose_model(st, value, provider).model
    stored, note = reg.base_url_to_store(registry.require(provider).api, value,
                                         f"{provider}.base_url")
    if note:
        output.info(f"note: {note}")
    return stored


def _get(settings: dict, provider: str | None, field: str):
    if provider is None:
        return settings[field]
    return settings[PER_PROVIDER[field]].get(provider)


@app.command("set")
def set_value(ctx: typer.Context,
              name: str = typer.Argument(..., metavar="NAME", autocompletion=complete.settings,
                                         help="The setting (see `byok config show`)."),
              value: str = typer.Argument(..., metavar="VALUE",
                                          autocompletion=complete.setting_values,
                                          help="Its new value.")) -> None:
    """Change a setting of the profile ("default" resets it).

    fallback is the chain tried when a provider is unavailable: PROVIDER or PROVIDER/MODEL
    entries, comma-separated ("none": no provider fallback; default: the other built-in).

    Examples:

      byok config set preferred-provider anthropic

      byok config set fallback "anthropic/sonnet, openrouter"

      byok config set openai.base_url http://localhost:11434/v1
    """
    st = state(ctx)
    provider, field = _parse(name, st.byok.registry)
    value = _check(st, provider, field, value)
    if provider is None:
        st.store.set_setting(st.profile, field, value)
    else:
        st.store.set_provider_setting(st.profile, provider, field, value)
    shown = _get(st.store.settings(st.profile), provider, field)
    output.info(f"{name.strip().lower()} = "
                f"{'(default)' if shown is None else shown or '(none)'} for profile "
                f"{st.profile!r}")


@app.command("get")
def get_value(ctx: typer.Context,
              name: str = typer.Argument(..., metavar="NAME", autocompletion=complete.settings,
                                         help="The setting (see `byok config show`).")
              ) -> None:
    """Print one setting's value (empty when it is the default).

    Example:

      byok config get preferred-provider
    """
    st = state(ctx)
    provider, field = _parse(name, st.byok.registry)
    typer.echo(_get(st.store.settings(st.profile), provider, field) or "")


@app.command("show")
def show(ctx: typer.Context,
         as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
         no_header: bool = no_header_option()) -> None:
    """Show every setting of the profile: the built-in providers' always, others' once set.

    Example:

      byok --profile work config show --json
    """
    from .readers import config_show

    config_show(state(ctx), as_json, no_header)
