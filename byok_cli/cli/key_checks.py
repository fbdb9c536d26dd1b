"""A key's live check and its storing, shared by `byok key set`, `key validate` and
`key import` (a module of their own, so that `key` and `key_import` need not import each
other)."""

from __future__ import annotations

import time

import typer

from ..errors import ByokError, Code
from ..urls import shown
from . import output
from .root import state


def live_check(ctx: typer.Context, provider: str, key: str | None, source: str,
               base_url: str | None = None) -> tuple[str, ByokError | None, int]:
    """One cheap authenticated call with a key from ``source`` ("stored": stored or about
    to be, "environment": the environment's). Returns (status, error, the request's own latency in
    ms: connection and answer, not byok's start-up)."""
    from ..routing.routes import require
    from ..wire import Settings, connect
    from ..wire.endpoint import endpoint

    st = state(ctx)
    profile_settings = st.store.settings(st.profile)
    record = st.byok.registry.require(provider)
    where = endpoint(record, flag=base_url,
                     profile=profile_settings["base_urls"].get(record.name), env=st.keychain.env)
    require(where, source, profile_settings, st.byok.registry)
    # one retry, briefly: a check is no answer worth waiting for (the deadline still holds)
    client = connect(record, key, where.url,
                     Settings.from_env()._replace(max_retries=1, max_wait=5.0))
    started = time.monotonic()
    try:
        latency = client.validate(_check_model(record, profile_settings))
    except ByokError as err:
        return f"failed: {err.code.value}", err, int((time.monotonic() - started) * 1000)
    return "valid", None, latency


def _check_model(record, profile_settings: dict) -> str | None:
    """The model a prompt-free check names (a server without /models): the one a run would
    use by default."""
    from ..catalog.curated import load
    from ..catalog.curated import default_model

    return profile_settings["models"].get(record.name) or default_model(record, load())


def checked_status(ctx: typer.Context, provider: str, key: str, validate: bool,
                   force: bool, base_url: str | None = None) -> tuple[str, str | None]:
    """The status a key is stored with, after its live check (unless not `validate`).

    A rejected key raises UNAUTHORIZED unless `force`; a provider that cannot be reached
    leaves it unverified. `key set` and `key import` both go through here.
    """
    from ..secrets.keychain import status_after_check
    from ..store import now

    if not validate:
        return "unverified", None
    status, err, _ = live_check(ctx, provider, key, "stored", base_url)
    checked_at = now()
    if err is not None:
        if err.code == Code.UNAUTHORIZED and not force:
            err.hint = "nothing was stored; use --force to store it anyway"
            raise err
        if status_after_check(err) is None:  # an outage, not the provider's verdict
            status = "unverified"
            output.warn(f"could not check the key ({err.message}); storing it as unverified")
        else:
            output.warn(f"{err.message}; storing it anyway")
    return status, checked_at


def store_checked(ctx: typer.Context, provider: str, key: str, status: str,
                  checked_at: str | None, *, name: str = "default",
                  check_shape: bool = True, base_url: str | None = None) -> str:
    """Store a checked key under its name, say so on stderr, and return its hint."""
    st = state(ctx)
    had_keys = bool(st.store.keys(st.profile))
    hint = st.keychain.set(provider, key, status, checked_at, name=name,
                           check_shape=check_shape, base_url=base_url)
    named = "" if name == "default" else f" {name!r}"
    for_url = f", for {shown(base_url)}" if base_url else ""
    output.info(f"stored the {provider} key{named} …{hint} for profile {st.profile!r} "
                f"({status}{for_url})")
    prefer_first_stored(ctx, provider, had_keys)
    return hint


def prefer_first_stored(ctx: typer.Context, provider: str, had_keys: bool) -> None:
    """After the profile's first stored key: its provider is preferred over 'system'."""
    st = state(ctx)
    settings = st.store.settings(st.profile)
    if settings["preferred_provider"] == "system" and not had_keys:
        # 'system' uses environment keys only; a first stored key is clearly meant to be used.
        st.store.set_setting(st.profile, "preferred_provider", provider)
        output.info(f"preferred provider is now {provider} (was 'system', which uses only "
                    "environment keys); change it with `byok config set preferred-provider`")


def refuse_duplicate(st, provider: str, name: str, key: str, force: bool) -> None:
    """The same key under a second name would be tried twice and listed twice: refused,
    as `key import` does not store a key twice (--force stores it anyway)."""
    try:
        holder = st.keychain.name_holding(provider, key)
    except ByokError:  # a stored key this master key cannot open: nothing to compare with
        return
    if holder is None or holder == name or force:
        return
    from ..secrets.keychain import hint_of, mask_hint

    raise ByokError(Code.USAGE, f"this {provider} key ({mask_hint(hint_of(key))}) is already "
                    f"stored as {holder!r}; nothing was stored",
                    hint=f"use it with -k {holder}, put it first with `byok key order "
                         f"{provider} {holder}`, or add --force to store it twice")


def same_keys(provider: str, stored: list[tuple[str, str, str | None]]) -> list[str]:
    """Stored names that hold one key, for `key validate`: what a key command prints is
    read only when the key is needed, so `key set` may not have compared it."""
    from ..secrets.keychain import hint_of, mask_hint

    first: dict[str, str] = {}
    notes = []
    for _, name, secret in stored:
        if not secret:
            continue
        if secret in first:
            notes.append(f"{provider} keys {first[secret]!r} and {name!r} are the same key "
                         f"({mask_hint(hint_of(secret))}), tried twice in turn; remove one "
                         f"with `byok key remove {provider} --name {name}`")
        else:
            first[secret] = name
    return notes


def unread_commands(st, provider: str, name: str) -> None:
    """A plain key is compared with the stored keys, not with what key commands print:
    running them here could prompt (a gpg passphrase) for a key not asked for."""
    from ..secrets.key_commands import is_command_hint

    commands = [k.name for k in st.store.keys(st.profile, provider)
                if is_command_hint(k.hint) and k.name != name]
    if commands:
        plural = "s" if len(commands) > 1 else ""
        output.info(f"not compared with the output of the key command{plural} "
                    f"{', '.join(repr(c) for c in commands)} (not run here); "
                    f"`byok key validate {provider}` says if one prints this key")
