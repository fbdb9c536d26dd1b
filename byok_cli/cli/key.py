"""`byok key set | list | remove | validate`; `get` and `import` live in modules of their own."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ..errors import ByokError, Code, looks_like_key, mask, remember_secret
from . import complete, output
from .key_checks import (checked_status, live_check, prefer_first_stored, refuse_duplicate,
                         same_keys, store_checked, unread_commands)
from .root import group, no_header_option, state, wide_option

app = group("Store, list, check and remove provider keys (stored encrypted); hand them to "
            "other tools; import them from other tools' files.")

MAX_STDIN = 64 * 1024


def read_secret(provider: str) -> str:
    """The key from a hidden prompt on a terminal, or from stdin when piped — never argv.
    From here on it is masked in everything byok prints."""
    from ..secrets.hardening import no_core_dumps

    no_core_dumps()
    if sys.stdin is None or sys.stdin.closed:
        raise ByokError(Code.INVALID_FORMAT, "no key given: stdin is closed",
                        hint=f'pipe it in: printf %s "$KEY" | byok key set {provider}')
    if sys.stdin.isatty():
        import getpass

        try:
            secret = getpass.getpass(f"{provider} API key (input hidden): ", stream=sys.stderr)
        except EOFError:
            secret = ""
    else:
        secret = output.read_stdin_text(MAX_STDIN, "that is not an API key, and nothing was "
                                        "stored", hint="pipe only the key itself")
    remember_secret(secret.strip())
    return secret


def _refuse_key_on_argv(provider: str, words: list[str], registry) -> None:
    """A key typed as an argument (`byok key set openai sk-…`) is refused, masked in every
    message, with a pointer to the prompt and stdin: argv is visible to every user of the
    machine (ps, /proc) and lands in shell history."""
    known = registry.get(provider) is not None
    if not words and (known or not looks_like_key(provider)):
        return
    for word in words if known else [provider, *words]:
        remember_secret(word.strip())
    name = provider.strip().lower() if known else "PROVIDER"
    raise ByokError(Code.USAGE, "keys are never taken from the command line; nothing was "
                    "stored", hint=f"type it at the hidden prompt of `byok key set {name}`, or "
                    f"pipe it: printf %s \"$KEY\" | byok key set {name} (and since it is now in "
                    "your shell history, consider revoking it)")


@app.command("set")
def set_key(
    ctx: typer.Context,
    provider: str = typer.Argument(..., help="A provider (see `byok provider list`).",
                                   metavar="PROVIDER", autocompletion=complete.providers),
    name: str = typer.Option("default", "--name", "-n", metavar="NAME",
                             help="Keep several keys per provider under names (work, personal)."),
    validate: bool = typer.Option(True, "--validate/--no-validate",
                                  help="Check the key with one cheap call before storing it."),
    force: bool = typer.Option(False, "--force",
                               help="Store the key even if its shape is unexpected, the "
                                    "provider rejects it, or it is stored under another "
                                    "name."),
    command: Optional[str] = typer.Option(
        None, "--command", metavar="CMD",
        help="Store a command that prints the key (e.g. \"pass show team/openai\"), run "
             "without a shell each time the key is needed; the key stays in your store."),
    base_url: Optional[str] = typer.Option(
        None, "--base-url", metavar="URL",
        help="The gateway this key is for: besides the provider's official endpoint, the "
             "one endpoint it is this key's own (checked there; see the Security model)."),
    yes: bool = typer.Option(False, "--yes", "-y",
                             help="Replace a key of the same name without asking."),
    on_argv: Optional[List[str]] = typer.Argument(
        None, hidden=True, help="Refused: a key is never taken from the command line."),
) -> None:
    """Store a provider key, encrypted. Reads it from a hidden prompt or from stdin.

    Examples:

      byok key set openai                                 # prompts, input hidden

      printf %s "$WORK_KEY" | byok key set openai --name work

      printf %s "$ANTHROPIC_KEY" | byok key set anthropic --no-validate

      byok key set openai --name team --command "pass show team/openai"

      printf %s "$K" | byok key set openai -n gw --base-url https://gw.test/v1
    """
    from ..secrets.keychain import check_key_name

    st = state(ctx)
    _refuse_key_on_argv(provider, on_argv or [], st.byok.registry)
    provider = st.byok.registry.require(provider).name
    name = check_key_name(name)
    if command is not None and looks_like_key(command):  # `--command "echo sk-…"`
        _refuse_key_on_argv(provider, [command], st.byok.registry)
    if base_url is not None:
        from ..wire.endpoint import normalise

        base_url, note = normalise(st.byok.registry.require(provider), base_url, "flag")
        if note:
            output.info(note)
    check_master(ctx, provider, name)  # what would refuse to store the key, before asking
    if command is not None:
        set_command_key(ctx, provider, name, command, validate, force, base_url)
        return
    key = st.byok.registry.normalise_key(provider, read_secret(provider),
                                         check_shape=not force)
    refuse_duplicate(st, provider, name, key, force)
    unread_commands(st, provider, name)
    replaced = _replacing(st, provider, name, key, yes)
    status, checked_at = checked_status(ctx, provider, key, validate, force, base_url=base_url)
    store_checked(ctx, provider, key, status, checked_at, name=name, check_shape=not force,
                  base_url=base_url)
    if replaced:
        output.info(f"replaced {replaced}")


def _replacing(st, provider: str, name: str, key: str, yes: bool) -> str | None:
    """A key of this name is there already: at a terminal, ask (DECLINED on "no"; --yes
    skips); elsewhere (scripts, rotations) it is replaced, and what is replaced (both keys'
    ends) is returned, to be said once it is done."""
    import sys

    from ..secrets.keychain import hint_of, mask_hint

    old = st.store.get_key(st.profile, provider, name)
    if old is None:
        return None
    named = "" if name == "default" else f" {name!r}"
    change = f"the {provider} key{named} {mask_hint(old.hint)} with {mask_hint(hint_of(key))}"
    if sys.stdin.isatty() and sys.stderr.isatty() and not yes:
        output.confirm(f"replace {change}?", False, f"replace {change}")
    return change


def set_command_key(ctx: typer.Context, provider: str, name: str, command: str,
                    validate: bool, force: bool, base_url: str | None = None) -> None:
    """Store a key command; with `validate`, run it once and check the key it prints."""
    from ..secrets import key_commands

    st = state(ctx)
    key_commands.sealed_text(command)  # a command line that does not parse is refused first
    status, checked_at = "unverified", None
    if validate:
        fetched = key_commands.key_of(key_commands.sealed_text(command),
                                      f"the {provider} key {name!r}")
        key = st.byok.registry.normalise_key(provider, fetched, check_shape=not force)
        refuse_duplicate(st, provider, name, key, force)  # what it prints, like `key set`'s
        status, checked_at = checked_status(ctx, provider, key, validate, force,
                                            base_url=base_url)
    elif any(k.name != name for k in st.store.keys(st.profile, provider)):
        output.info("the command was not run (--no-validate), so what it prints was not "
                    f"compared with the stored keys; `byok key validate {provider}` does")
    had_keys = bool(st.store.keys(st.profile))
    hint = st.keychain.set_command(provider, command, status, checked_at, name=name,
                                   base_url=base_url)
    named = "" if name == "default" else f" {name!r}"
    output.info(f"stored the {provider} key{named} as {key_commands.shown(hint)} for profile "
                f"{st.profile!r} ({status}); the key stays in your store")
    prefer_first_stored(ctx, provider, had_keys)


def check_master(ctx: typer.Context, provider: str, name: str) -> None:
    """The master key (BYOK_MASTER_KEY, or the keyring's, made on first use) is there to
    seal a key; say so when other keys are sealed with another."""
    st = state(ctx)
    master = st.keychain.master(create=True)
    others = sorted({r.master_key_id for r in st.store.all_keys() if r.master_key_id != master.id
                     and (r.profile, r.provider, r.name) != (st.profile, provider, name)})
    if others:
        output.warn(f"other stored keys are sealed with master key {', '.join(others)}; this one "
                    f"will be sealed with {master.id} (from {master.source})")


@app.command("list")
def list_keys(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    no_header: bool = no_header_option(),
    wide: bool = wide_option(),
) -> None:
    """Show stored and environment keys by name, masked to their last 4 characters.

    One line per key, in the order each provider's keys are tried. The built-in providers
    are always listed; other providers once they have a key.

    Example:

      byok key list --json
    """
    from .readers import key_list

    key_list(state(ctx), as_json, no_header, wide)


@app.command("order")
def order_keys(
    ctx: typer.Context,
    provider: str = typer.Argument(..., metavar="PROVIDER", autocompletion=complete.providers,
                                   help="A provider with stored keys."),
    names: List[str] = typer.Argument(..., metavar="NAME...",
                                      help="Its stored keys' names, first to be tried first."),
) -> None:
    """Set the order a provider's stored keys are tried in (the environment's key comes last).

    A key the provider rejects gives way to the next one. Keys not named keep their order,
    after the ones named.

    Example:

      byok key order openai work personal
    """
    st = state(ctx)
    order = st.keychain.order(provider, names)
    output.info(f"{st.byok.registry.require(provider).name} keys are tried in this order: "
                + ", ".join(order))


@app.command("remove")
def remove_key(
    ctx: typer.Context,
    provider: str = typer.Argument(..., metavar="PROVIDER", help="A provider with a stored key.",
                                  autocompletion=complete.providers),
    name: str = typer.Option("default", "--name", "-n", metavar="NAME",
                             help="Which of its keys (default: the one called default)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove a stored key for good (its ciphertext is wiped from the file).

    Example:

      byok key remove openai --name work --yes
    """
    from ..secrets.keychain import check_key_name, mask_hint

    st = state(ctx)
    provider = st.byok.registry.require(provider).name
    name = check_key_name(name)
    stored = st.store.get_key(st.profile, provider, name)
    if stored is None:
        names = [k.name for k in st.store.keys(st.profile, provider)]
        raise ByokError(Code.NO_KEY, f"no {provider} key called {name!r} is stored for profile "
                        f"{st.profile!r}", hint=f"its stored keys: {', '.join(names)}"
                        if names else None)
    named = "" if name == "default" else f" {name!r}"
    output.confirm(f"Remove the stored {provider} key{named} {mask_hint(stored.hint)}?", yes,
                   "remove a key")
    st.keychain.remove(provider, name)
    output.info(f"removed the {provider} key{named} {mask_hint(stored.hint)} from profile "
                f"{st.profile!r}")
    output.warn_unwiped(st.store, "the removed key's ciphertext")


@app.command("validate")
def validate_keys(
    ctx: typer.Context,
    provider: Optional[str] = typer.Argument(None, metavar="[PROVIDER]",
                                             help="One provider (default: every provider "
                                                  "with a key)",
                                             autocompletion=complete.providers),
    key: Optional[str] = typer.Option(None, "--key", "-k", metavar="NAME",
                                      help="Only this key: a stored key's name, or the "
                                           "environment variable's."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    no_header: bool = no_header_option(),
) -> None:
    """Check the stored and environment keys with one cheap call each.

    Exits 0 only if every key checked is valid. Keys are checked where a run would send
    them; an endpoint that is not a key's own gets one key per run (the others are listed
    as not checked) and its verdict marks none. A gateway with no /models endpoint is
    checked by counting tokens (Messages API, free), else listed as not checked, which
    fails nothing: checking there would need a prompt.

    Examples:

      byok key validate anthropic

      byok key validate openai -k work
    """
    from ..routing.routes import is_own
    from ..secrets.keychain import status_after_check
    from ..urls import shown
    from ..wire.endpoint import endpoint
    from ..wire.errors import NotServed

    st = state(ctx)
    registry = st.byok.registry
    reports = st.keychain.report([registry.require(provider).name] if provider else None)
    settings = st.store.settings(st.profile)
    for r in reports:  # a base URL no key may go to fails the command before any call
        endpoint(r.provider, profile=settings["base_urls"].get(r.provider.name),
                 env=st.keychain.env)
    results, failures, notes = [], [], []
    foreign: dict[str, str] = {}  # endpoint URL -> the one key checked there, not its own
    for r in reports:
        p = r.provider.name
        candidates: list[tuple[str, str, str | None]] = []
        for stored in r.stored:
            if key is not None and stored.name != key:
                continue
            try:
                candidates.append(("stored", stored.name, st.keychain.get(p, stored.name)))
            except ByokError as err:
                failures.append(err)
                results.append({"provider": p, "source": "stored", "name": stored.name,
                                "key": "?", "result": err.code.value, "latency_ms": None,
                                "message": err.message})
        notes += same_keys(p, candidates)
        env = st.keychain.env_key(p)
        if env and key in (None, r.provider.key_env):
            candidates.append(("environment", r.provider.key_env, env))
        for source, name, secret in candidates:
            where = endpoint(r.provider, env=st.keychain.env,  # where a run would send it
                             profile=settings["base_urls"].get(p))
            own = is_own(where, source, name, st.keychain)
            if not own and foreign.setdefault(where.url, name) != name:
                results.append({"provider": p, "source": source, "name": name,
                                "key": mask(secret), "result": "NOT_CHECKED",
                                "latency_ms": None, "message": None})
                notes.append(f"{p} key {name!r} was not checked: {shown(where.url)} is not its "
                             f"own endpoint, and byok sends one key per run there (the "
                             f"{foreign[where.url]!r} key went); check it with -k {name}")
                continue
            try:
                registry.normalise_key(p, secret or "")
                _, err, latency = live_check(
                    ctx, p, secret, source)
            except ByokError as bad:
                err, latency = bad, 0
            if isinstance(err, NotServed):  # a gateway without /models: no verdict
                results.append({"provider": p, "source": source, "name": name,
                                "key": mask(secret), "result": "NOT_CHECKED",
                                "latency_ms": latency, "message": f"can't check: "
                                f"{shown(where.url)} has no /models; prompts may still work"})
                notes.append(f"{p} key {name!r} was not checked: {shown(where.url)} has no "
                             f"/models endpoint ({err.status})"
                             f", and any other check would need a prompt; prompts may still "
                             f"work: try `byok run -p {p} hi`. Its stored status is unchanged.")
                continue
            code = err.code.value if err else "VALID"
            if source == "stored":
                verdict = status_after_check(err) if own else None
                if verdict:
                    st.keychain.mark(p, name, verdict)
                else:
                    notes.append(f"{p} key {name!r}: its stored status is unchanged "
                                 f"({code} says nothing about the key)" if own else
                                 f"{p} key {name!r}: its stored status is unchanged "
                                 f"({shown(where.url)} is not its own endpoint)")
            results.append({"provider": p, "source": source, "name": name, "key": mask(secret),
                            "result": code, "latency_ms": latency,
                            "message": err.message if err else None})
            if err:
                failures.append(err)
    if not results:
        what = f"no key called {key!r}" if key else "no key"
        raise ByokError(Code.NO_KEY, f"{what} to validate",
                        hint="store one with `byok key set PROVIDER` or set the provider's "
                             "environment variable (see `byok provider list`)")
    if as_json:
        output.emit_json(results)
    else:
        output.table(["provider", "source", "name", "key", "result",
                      output.Column("latency ms", show=str)],
                     [[r["provider"], r["source"], r["name"], r["key"], r["result"],
                       r["latency_ms"]] for r in results], header=not no_header)
        for err in failures:
            output.error(err.one_line())
    for note in notes:
        output.info(note)
    if failures:
        raise typer.Exit(failures[0].exit_status)


def _register() -> None:
    from .key_get import get_key
    from .key_import import import_keys

    app.command("get")(get_key)
    app.command("import")(import_keys)


_register()
