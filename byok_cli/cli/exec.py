"""`byok exec -- COMMAND`: run a program with the resolved keys in its environment."""

from __future__ import annotations

import os
import shutil
import sys
from typing import List, Optional

import typer

from ..errors import ByokError, Code
from . import complete, output
from .root import single, state

MARKER = "BYOK_EXEC"
# Never handed to the child: with the master key it could decrypt every stored key.
WITHHELD = ("BYOK_MASTER_KEY", "BYOK_NEW_MASTER_KEY")


def exec_command(
    ctx: typer.Context,
    command: List[str] = typer.Argument(..., metavar="-- COMMAND [ARGS]..."),
    provider: Optional[List[str]] = typer.Option(
        None, "--provider", "-p", help="Only this provider's key; repeat for more "
        "(default: every provider).", autocompletion=complete.providers),
) -> None:
    """Run COMMAND with OPENAI_API_KEY / ANTHROPIC_API_KEY set from the vault.

    Keys are resolved as for `run` (your stored key wins over the environment's); the
    command replaces byok, so its exit status and signals are its own. The keys are
    passed in the environment only, never on a command line. The child gets the keys of
    the providers asked for and nothing else: not the other providers' keys, not
    BYOK_MASTER_KEY.

    Examples:

      byok exec -- python my_script.py

      byok exec -p anthropic -- env | grep -c ANTHROPIC_API_KEY
    """
    from ..ask import key_availability
    from ..hardening import restore_for_child
    from ..keys import BASE_URL_VARS, ENV_VARS, PROVIDERS, check_provider
    from ..routes import require
    from ..wire.endpoint import endpoint

    if os.environ.get(MARKER):
        raise ByokError(Code.USAGE, "already inside `byok exec` (BYOK_EXEC is set)",
                        hint="run the command directly, or unset BYOK_EXEC")
    st = state(ctx)
    wanted = tuple(dict.fromkeys(map(check_provider, provider))) if provider else PROVIDERS
    settings = st.store.settings(st.profile)
    keys = key_availability(st.keychain)
    env = {k: v for k, v in os.environ.items()
           if k not in WITHHELD and k not in ENV_VARS.values()}
    given = []
    for p in wanted:
        found = keys.sources(p, settings)
        if not found:
            if p in keys.refused:
                output.warn(f"{keys.refused[p]}; {ENV_VARS[p]} is not passed on")
            continue
        source = found[0][0]
        # The child will send the key where byok would: the same rules hold.
        where = endpoint(p, profile=settings.get(f"{p}_base_url"), env=st.keychain.env)
        require(where, source, settings)
        key = st.keychain.key(p, source)
        if not key:
            continue
        env[ENV_VARS[p]] = key
        if where.source == "profile":  # the environment's own is already there
            env[BASE_URL_VARS[p]] = where.url
        given.append(p)
    if not given:
        raise ByokError(Code.NO_KEY, "no key to pass on",
                        hint="store one with `byok key set PROVIDER`")
    program = shutil.which(command[0], path=env.get("PATH"))
    if program is None:
        raise ByokError(Code.USAGE, f"command not found: {command[0]}")
    env[MARKER] = st.profile
    if st.debug:
        output.info(f"byok exec: {', '.join(ENV_VARS[p] for p in given)} set for {command[0]}")
    sys.stdout.flush()
    sys.stderr.flush()
    restore_for_child()
    try:
        os.execve(program, command, env)
    except OSError as exc:
        raise ByokError(Code.USAGE, f"cannot run {command[0]}: {exc.strerror}") from None


app = single("exec", exec_command)
