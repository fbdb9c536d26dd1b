"""`byok exec -- COMMAND`: run a program with the resolved keys in its environment."""

from __future__ import annotations

import errno
import os
import shutil
import sys
from typing import List, Optional

import typer

from ..errors import ByokError, Code
from ..secrets.vault import MASTER_KEY_VARIABLES
from ..urls import no_proxy_with_loopback
from . import complete, output
from .root import single, state

MARKER = "BYOK_EXEC"
# Never handed to the child: with the master key it could decrypt every stored key.
WITHHELD = MASTER_KEY_VARIABLES + ("BYOK_MASTER_KEY_FILE", "BYOK_MASTER_KEY_COMMAND")
# Credentials the providers' own SDKs and tools read under other names: the anthropic SDK
# and Claude Code's ANTHROPIC_AUTH_TOKEN, the Gemini SDK's GOOGLE_API_KEY.
SDK_KEY_VARIABLES = {"ANTHROPIC_AUTH_TOKEN", "GOOGLE_API_KEY"}


def provider_key_variables(st) -> set[str]:
    """Every variable byok knows to hold an AI provider key, none of which reaches the
    child unless it asked for that provider: the key variables of the built-ins, the
    presets and the custom providers of every profile in the store (a key stays a key in
    another profile), the names other tools read them under (aichat's CLAUDE_API_KEY,
    SDK_KEY_VARIABLES),
    and the admin-key siblings of those variables (OPENAI_ADMIN_KEY, which manages an
    organisation and makes no model calls). Other secrets (GITHUB_TOKEN) are not byok's
    to hide: it is no sandbox."""
    from ..importers import KEY_VARIABLES

    names = ({p.key_env for p in st.byok.registry if p.key_env} | set(KEY_VARIABLES)
             | SDK_KEY_VARIABLES)
    for profile in st.store.profiles():
        names |= {row[3] for row in st.store.custom_providers(profile) if row[3]}
    return names | {n[:-len("_API_KEY")] + "_ADMIN_KEY" for n in names
                    if n.endswith("_API_KEY")}


def exec_command(
    ctx: typer.Context,
    command: List[str] = typer.Argument(..., metavar="-- COMMAND [ARGS]...",
                                        autocompletion=complete.commands,
                                        help="The program to run, and its arguments."),
    provider: Optional[List[str]] = typer.Option(
        None, "--provider", "-p", help="Only this provider's key; repeat for several "
        "(default: every provider with a key and a variable).",
        autocompletion=complete.providers),
    key: Optional[str] = typer.Option(None, "--key", "-k", metavar="NAME",
                                      help="With one -p: which of its keys."),
    gateway: Optional[bool] = typer.Option(
        None, "--gateway/--keys", help="Give COMMAND a gateway of its own and a one-run "
        "token instead of keys (default: the exec-gateway setting, off)."),
) -> None:
    """Run COMMAND with each provider's key variable (OPENAI_API_KEY, ANTHROPIC_API_KEY,
    OPENROUTER_API_KEY, …) set from the vault, and its base URL variable where it has one.

    Keys are resolved as for `run` (your stored keys, in order, before the environment's);
    the command replaces byok, so its exit status and signals are its own. The keys are
    passed in the environment only, never on a command line. The child gets the keys of
    the providers asked for and no other AI provider key byok knows of (any profile's,
    admin keys, other tools' names for them), nor BYOK_MASTER_KEY. Other secrets in your
    environment (GITHUB_TOKEN, …) pass through: byok is not a sandbox.

    With --gateway (or `byok config set exec-gateway on`) COMMAND gets no key at all: byok
    serves the providers on a free loopback port for as long as COMMAND runs, sets each
    one's base URL variable (OPENAI_BASE_URL, ANTHROPIC_BASE_URL, …) to it and its key
    variable to a token made for this run and limited to those providers, and applies
    its key order, fallbacks, budgets and usage log to COMMAND's requests. The token is
    deleted when COMMAND ends; byok ends with COMMAND's status.

    Examples:

      byok exec -- python my_script.py

      byok exec -p anthropic -p openrouter -- env | grep -c _API_KEY

      byok exec -p openai -k work -- python agent.py

      byok exec --gateway -p anthropic -- claude
    """
    from ..routing.keys import key_availability
    from ..secrets.hardening import restore_for_child
    from ..routing.routes import require
    from ..wire.endpoint import endpoint

    if os.environ.get(MARKER):
        raise ByokError(Code.USAGE, "already inside `byok exec` (BYOK_EXEC is set)",
                        hint="run the command directly, or unset BYOK_EXEC")
    st = state(ctx)
    registry = st.byok.registry
    if key is not None and len(provider or []) != 1:
        raise ByokError(Code.USAGE, "-k/--key needs exactly one -p/--provider")
    wanted = [registry.require(p) for p in dict.fromkeys(provider or [])]
    for p in wanted:
        if p.key_env is None and p.needs_key:
            raise ByokError(Code.USAGE, f"{p.name} has no key variable to set",
                            hint="a provider of your own gets one with `byok provider add "
                                 f"{p.name} … --key-env VAR`")
    settings = st.store.settings(st.profile)
    keys = key_availability(st.keychain)
    # Only what was asked for: no master key, no key of a provider not given below.
    key_variables = provider_key_variables(st)
    # Case-insensitively: a program may read openai_api_key as well (python-dotenv users do).
    withheld = {n.upper() for n in set(WITHHELD) | key_variables}
    env = {k: v for k, v in os.environ.items() if k.upper() not in withheld}
    if gateway if gateway is not None else settings.get("exec_gateway") == "on":
        if key is not None:
            raise ByokError(Code.USAGE, "-k/--key does not go with --gateway",
                            hint="the gateway tries the provider's keys in their order")
        _exec_with_gateway(st, wanted, keys, settings, command, env)
        return
    given = []
    for p in wanted or [p for p in registry if p.key_env]:
        found = keys.sources(p.name, settings, key)
        if key is not None and not found:
            raise ByokError(Code.NO_KEY, f"{p.name} has no key called {key!r}")
        if not found and p.name in keys.refused:
            output.warn(f"{keys.refused[p.name]}; {p.key_env} is not passed on")
        secret = st.keychain.key(p.name, found[0].source, found[0].name) if found else None
        if secret and p.key_env:
            # The child will send the key where byok would: the same rules hold.
            where = endpoint(p, profile=settings["base_urls"].get(p.name), env=st.keychain.env)
            require(where, found[0].source, settings, registry)
            env[p.key_env] = secret
            given.append(p.key_env)
            if where.source == "profile" and p.base_url_env:  # the environment's is there
                env[p.base_url_env] = where.url
    if not given:
        raise ByokError(Code.NO_KEY, "no key to pass on",
                        hint="store one with `byok key set PROVIDER`")
    # The child's SDK honours HTTP_PROXY/ALL_PROXY even for a loopback base URL: a key must
    # not travel in clear text through a proxy to this machine (both spellings, as curl
    # reads the lower-case one first).
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = no_proxy_with_loopback(env.get(name) or env.get("NO_PROXY"))
    program = _find(command[0], env.get("PATH"))
    env[MARKER] = st.profile
    if st.debug:
        output.info(f"byok exec: {', '.join(given)} set for {command[0]}")
    sys.stdout.flush()
    sys.stderr.flush()
    restore_for_child()
    try:
        os.execve(program, command, env)
    except OSError as exc:
        code = Code.COMMAND_NOT_FOUND if exc.errno == errno.ENOENT else Code.NOT_EXECUTABLE
        raise ByokError(code, f"cannot run {command[0]}: {exc.strerror}") from None


def _exec_with_gateway(st, wanted: list, keys, settings: dict, command: List[str],
                       env: dict) -> None:
    """Run COMMAND under a gateway of its own (see gateway.child) and end with its status."""
    from ..gateway.child import run
    from ..secrets.hardening import restore_for_child

    chosen = [p for p in (wanted or [p for p in st.byok.registry if p.key_env])
              if keys.sources(p.name, settings)]
    if not chosen:
        raise ByokError(Code.NO_KEY, "no provider has a key to serve",
                        hint="store one with `byok key set PROVIDER`")
    for base_variable in {p.base_url_env for p in chosen if p.base_url_env}:
        env.pop(base_variable, None)
    program = _find(command[0], env.get("PATH"))
    env[MARKER] = st.profile
    if st.debug:
        output.info(f"byok exec: a gateway for {', '.join(p.name for p in chosen)}")
    sys.stdout.flush()
    sys.stderr.flush()
    raise typer.Exit(run(st.keychain, chosen, program, command, env,
                         preexec=restore_for_child, on_warning=output.warn))


def _find(name: str, path: str | None) -> str:
    """The program to run, as a shell finds it: a missing command is 127, one that is
    there but cannot be run is 126."""
    if os.sep in name:
        candidates = [name]
    else:
        found = shutil.which(name, path=path)
        if found:
            return found
        candidates = [os.path.join(d or ".", name) for d in (path or os.defpath).split(os.pathsep)]
    for candidate in candidates:
        if os.path.isdir(candidate):
            if os.sep in name:
                raise ByokError(Code.NOT_EXECUTABLE, f"{name} is a directory")
            continue
        if os.path.exists(candidate):
            if not os.access(candidate, os.X_OK):
                raise ByokError(Code.NOT_EXECUTABLE, f"{name} is not executable",
                                hint=f"chmod +x {candidate}")
            return candidate
    raise ByokError(Code.COMMAND_NOT_FOUND, f"command not found: {name}")


app = single("exec", exec_command)
