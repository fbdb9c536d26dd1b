"""`byok exec -- COMMAND`: run a program with the resolved keys in its environment."""

from __future__ import annotations

import errno
import os
import shutil
import sys
from typing import List, Optional

import typer

from ..errors import ByokError, Code
from . import complete, output
from .root import single, state

MARKER = "BYOK_EXEC"


def exec_command(
    ctx: typer.Context,
    command: List[str] = typer.Argument(..., metavar="-- COMMAND [ARGS]...",
                                        autocompletion=complete.commands,
                                        help="The program to run, and its arguments."),
    provider: Optional[str] = typer.Option(
        None, "--provider", "-p", help="Only this provider's key (default: every provider).",
        autocompletion=complete.providers),
) -> None:
    """Run COMMAND with OPENAI_API_KEY / ANTHROPIC_API_KEY set from the vault.

    Keys are resolved as for `run` (your stored key wins over the environment's); the
    command replaces byok, so its exit status and signals are its own. The keys are
    passed in the environment only, never on a command line.

    Examples:

      byok exec -- python my_script.py

      byok exec -p anthropic -- env | grep -c ANTHROPIC_API_KEY
    """
    from ..ask import key_availability
    from ..keys import BASE_URL_VARS, ENV_VARS, PROVIDERS, check_provider

    if os.environ.get(MARKER):
        raise ByokError(Code.USAGE, "already inside `byok exec` (BYOK_EXEC is set)",
                        hint="run the command directly, or unset BYOK_EXEC")
    st = state(ctx)
    wanted = (check_provider(provider),) if provider else PROVIDERS
    settings = st.store.settings(st.profile)
    keys = key_availability(st.keychain)
    env = dict(os.environ)
    given = []
    for p in wanted:
        found = keys.sources(p, settings)
        key = st.keychain.key(p, found[0][0]) if found else None
        if key:
            env[ENV_VARS[p]] = key
            given.append(p)
            base_url = settings.get(f"{p}_base_url")
            if base_url and not env.get(BASE_URL_VARS[p]):
                env[BASE_URL_VARS[p]] = base_url
    if not given:
        raise ByokError(Code.NO_KEY, "no key to pass on",
                        hint="store one with `byok key set PROVIDER`")
    program = _find(command[0], env.get("PATH"))
    env[MARKER] = st.profile
    if st.debug:
        output.info(f"byok exec: {', '.join(ENV_VARS[p] for p in given)} set for {command[0]}")
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(program, command, env)
    except OSError as exc:
        code = Code.COMMAND_NOT_FOUND if exc.errno == errno.ENOENT else Code.NOT_EXECUTABLE
        raise ByokError(code, f"cannot run {command[0]}: {exc.strerror}") from None


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
