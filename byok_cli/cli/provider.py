"""`byok provider add | list | show | remove`: the endpoints byok can send to."""

from __future__ import annotations

import os

from typing import Optional

import typer

from . import complete, output
from .root import group, state, wide_option

app = group("List the providers byok knows, and add your own (any OpenAI- or "
            "Anthropic-compatible endpoint).")


def _where_key(p) -> str:
    if not p.needs_key:
        return "none needed"
    return f"byok key set {p.name}" + (f" or {p.key_env}" if p.key_env else "")


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME",
                               help="Lowercase letters, digits, '-' or '_'; how you address "
                                    "it (-p NAME, NAME/model)."),
    api: str = typer.Option(..., "--api", metavar="openai|anthropic",
                            help="The API it speaks: openai (Chat Completions) or anthropic "
                                 "(Messages)."),
    base_url: str = typer.Option(..., "--base-url", metavar="URL",
                                 help="https, or plain http only to this machine."),
    key_env: Optional[str] = typer.Option(None, "--key-env", metavar="VAR",
                                          help="Environment variable holding its key."),
    no_key: bool = typer.Option(False, "--no-key",
                                help="It needs no key (a local server)."),
) -> None:
    """Add a provider of your own to the profile.

    Examples:

      byok provider add gw --api openai --key-env GW_KEY \\
          --base-url https://llm.example.com/v1

      byok provider add vllm --api openai --no-key \\
          --base-url http://localhost:8000/v1
    """
    st = state(ctx)
    p = st.byok.add_provider(name, api, base_url, key_env, needs_key=not no_key)
    from ..registry import base_url_to_store

    _, note = base_url_to_store(p.api, base_url, "--base-url")
    if note:  # add_provider trimmed the path its API adds itself
        output.info(f"note: {note}")
    output.info(f"added provider {p.name} ({p.api} API at {p.base_url}) to profile "
                f"{st.profile!r}; key: {_where_key(p)}")


@app.command("list")
def list_providers(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    wide: bool = wide_option(),
) -> None:
    """List the built-in providers, the presets and the profile's own, with the base URL
    requests go to now: --base-url aside, the provider's variable (OPENAI_BASE_URL), the
    profile's PROVIDER.base_url, or the provider's own, and which of them it is.

    Example:

      byok provider list --json
    """
    st = state(ctx)
    providers = list(st.byok.registry)
    profile_urls = st.store.settings(st.profile)["base_urls"]
    in_effect = {p.name: _in_effect(p, profile_urls.get(p.name)) for p in providers}
    if as_json:
        output.emit_json([{**p.to_dict(), **in_effect[p.name]} for p in providers])
        return
    # At 80 columns a long base URL (Gemini's) leaves no room for the kind, the API and
    # the key variable, in that order; `provider show NAME` and --json have them all.
    output.table(["name", output.Column("kind", drop=2), output.Column("api", drop=3),
                  "base url", output.Column("from", drop=1), output.Column("key", drop=4)],
                 [[p.name, p.kind, p.api, in_effect[p.name]["url_in_effect"],
                   in_effect[p.name]["url_from"],
                   (p.key_env or "-") if p.needs_key else "none needed"] for p in providers],
                 drop=not wide)


def _in_effect(p, profile_url: str | None) -> dict:
    """The base URL the provider's requests go to now, and the setting it comes from (a
    URL byok would refuse is shown as given, marked so: `run` names the problem)."""
    from ..errors import ByokError
    from ..wire.endpoint import endpoint

    try:
        found = endpoint(p, profile=profile_url)
    except ByokError:
        given = os.environ.get(p.base_url_env or "") or profile_url or p.base_url
        return {"url_in_effect": given, "url_from": "refused (see `byok run --explain`)"}
    where = {"default": "default", "provider": "definition", "profile": "profile"}.get(
        found.source, found.where)  # the environment: its variable's name
    return {"url_in_effect": found.url, "url_from": where}


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", autocompletion=complete.providers,
                               help="The provider's name (see `byok provider list`)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Show one provider: its API, base URL, key variable and where its data came from.

    Example:

      byok provider show openrouter
    """
    st = state(ctx)
    p = st.byok.registry.require(name)
    if as_json:
        output.emit_json(p.to_dict())
        return
    def shown(v):
        return "-" if v is None else ("yes" if v else "no") if isinstance(v, bool) else v

    output.table(["field", "value"], [[k, shown(v)] for k, v in p.to_dict().items()])


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", autocompletion=complete.providers,
                               help="The provider's name (see `byok provider list`)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove a provider you added (built-ins and presets cannot be removed).

    Example:

      byok provider remove gw --yes
    """
    st = state(ctx)
    p = st.byok.registry.require(name)
    keys, entries, preferred = (st.byok.provider_ties(p.name) if p.kind == "custom"
                                else (0, [], False))
    with_keys = f" and its {keys} stored key{'s' * (keys != 1)}" if keys else ""
    chain = f"drop {', '.join(entries)} from the fallback chain" if entries else ""
    if p.kind == "custom":
        output.confirm(f"Remove the provider {p.name} ({p.base_url}){with_keys}"
                       f"{', and ' + chain if chain else ''}?", yes, "remove a provider")
    removed = st.byok.remove_provider(p.name)
    output.info(f"removed provider {removed.name}{with_keys} from profile {st.profile!r}"
                + (f"; {chain.replace('drop', 'dropped', 1)} (now: "
                   f"{st.store.settings(st.profile)['fallback'] or 'none'})" if chain else "")
                + ("; the preferred provider is 'system' again (see `byok config set "
                   "preferred-provider`)" if preferred else ""))
