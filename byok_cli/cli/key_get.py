"""`byok key get`: a key for another program, on stdout only, and never onto a terminal unasked."""

from __future__ import annotations

import json
import os
import sys
from typing import Optional

import typer

from ..errors import ByokError, Code
from . import complete, output
from .root import state
from .state import profile_name


def get_key(
    ctx: typer.Context,
    provider: str = typer.Argument(..., metavar="PROVIDER",
                                   help="A provider (see `byok provider list`).",
                                   autocompletion=complete.providers),
    name: Optional[str] = typer.Option(None, "--name", "--key", "-k", metavar="NAME",
                                       help="Which of the provider's keys: a stored key's "
                                            "name, or its environment variable (default: the "
                                            "one `byok run` would use first)."),
    profile: Optional[str] = typer.Option(None, "--profile", metavar="NAME",
                                          help="Profile to take the key from."),
    reveal: bool = typer.Option(False, "--reveal",
                                help="Print the key even when stdout is a terminal."),
    as_json: bool = typer.Option(False, "--json",
                                 help="Print the key with its base URL and the provider's "
                                      "variable names, as JSON."),
    as_env: bool = typer.Option(False, "--env",
                                help="Print shell `export` lines for the key and its base "
                                     "URL (and NO_PROXY for a base URL on this machine)."),
) -> None:
    """Print a provider's key, for another program's key command.

    The key byok would use (your stored key, else the environment's) and a newline go to
    stdout, and nothing else. On a terminal it is refused unless --reveal, so a key is not
    left on screen. Each hand-off is logged (which key, to which program; never the key):
    see `byok usage --handoffs`. Exits 4 when there is no key.

    Examples:

      llm "hi" --key "$(byok key get openai)"

      api-key-cmd: byok key get openai          # in mods.yml

      {"apiKeyHelper": "byok key get anthropic"} # in Claude Code's settings.json

      eval "$(byok key get openai --env)" && llm "hi"
    """
    from ..handoff import key_to_give, record, with_endpoint

    st = state(ctx)
    if profile is not None:
        chosen = profile_name(profile)
        if chosen is None:
            from .root import PROFILE_RULE

            raise typer.BadParameter(PROFILE_RULE, param_hint="--profile")
        st.profile = chosen
    if as_json and as_env:
        raise ByokError(Code.USAGE, "--json and --env cannot be used together",
                        hint="--json for a program, --env for a shell")
    if output.stdout_is_tty() and not reveal:
        raise ByokError(Code.USAGE, "refusing to print a key to a terminal",
                        hint=f'use it as "$(byok key get {provider})" or in a tool\'s key '
                             "command, or add --reveal to show it here")
    given = key_to_give(st.keychain, provider, name)
    provider = given.provider
    if given.failed:
        output.warn(f"the stored {provider} key is marked {given.status}; it may be rejected "
                    f"(check it with `byok key validate {provider}`)")
    try:
        record(st.keychain, given)
    except ByokError as err:  # the key is still given: a helper that fails breaks its tool
        output.warn(f"this hand-off was not logged: {err.message}")
    where = with_endpoint(st.keychain, given)
    # The key is for that URL: a program that uses its own sends it to the wrong place. (A
    # URL from the environment is the program's too, through the same variable.)
    if not where.official and where.base_url_source != "environment":
        output.warn(f"this {provider} key is used with {where.base_url} (from "
                    f"{where.base_url_source}), not {provider}'s own URL: give the program "
                    f"that base URL too (`--env` or `--json`)")
    if as_json:
        write_stdout(json.dumps(where.to_dict()) + "\n")
    elif as_env:
        write_stdout("".join(line + "\n" for line in where.exports(st.keychain.env)))
    else:
        write_stdout(given.key + "\n")


def write_stdout(text: str) -> None:
    """Write straight to the stdout file descriptor: whatever wraps sys.stdout (masking,
    colour, encoding) must not alter a key that another program reads."""
    data = text.encode("utf-8")
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # a test runner's in-memory stdout
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        while data:
            data = data[os.write(fd, data):]
    except BrokenPipeError:
        raise
    except OSError as exc:  # a full disk, /dev/full: one line and exit 15, not a traceback
        raise output.output_error(exc.strerror or str(exc)) from None
