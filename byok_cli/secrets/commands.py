"""Secrets fetched by running a program: a master key (BYOK_MASTER_KEY_COMMAND) or a provider
key kept in a team's store (`key set --command`), e.g. ``pass show byok/master``.

The command line is split like a shell would (``shlex``) and run without one: no globbing,
no expansion, no pipes. Its stderr is byok's, so a pinentry or an `op` prompt can ask on the
terminal; its stdin is empty (byok's may be a prompt in a pipe); its stdout is read, bounded
in size and time. A failure names the command,
never what it printed. The child never gets byok's own master key variables.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from typing import Mapping

from ..errors import ByokError, Code

MAX_OUTPUT = 64 * 1024
TIMEOUT_VARIABLE = "BYOK_COMMAND_TIMEOUT"
# Never handed to a program byok runs for a secret: the master key and where it comes from.
PRIVATE_VARIABLES = ("BYOK_MASTER_KEY", "BYOK_NEW_MASTER_KEY", "BYOK_MASTER_KEY_FILE",
                     "BYOK_MASTER_KEY_COMMAND")


def parse(cmdline: str, what: str) -> list[str]:
    """The argument list of a command line; a usage error when it has none or is unbalanced."""
    try:
        argv = shlex.split(cmdline)
    except ValueError as exc:
        raise ByokError(Code.USAGE, f"{what} cannot be parsed: {exc}",
                        hint="quote it as you would in a shell (it is run without one)") from None
    if not argv:
        raise ByokError(Code.USAGE, f"{what} is empty", hint="give a program and its arguments")
    return argv


def program_name(cmdline: str) -> str:
    """The program a command line runs (its base name), for listings; '?' if unparsable."""
    try:
        argv = shlex.split(cmdline)
    except ValueError:
        return "?"
    return os.path.basename(argv[0]) if argv else "?"


def fetch(cmdline: str, what: str, *, shown: str | None = None,
          env: Mapping[str, str] | None = None, code: Code = Code.KEYRING_UNAVAILABLE) -> str:
    """Run ``cmdline`` and return the first line of its stdout, stripped.

    ``what`` says what the command gives ("the master key command"); ``shown`` is how the
    command is named in errors (default: the whole line). ``code`` is the exit code of its
    failures."""
    from ..inputs import env_number

    argv = parse(cmdline, what)
    named = f"{what} `{shown if shown is not None else cmdline}`"
    wait = env_number(TIMEOUT_VARIABLE, 30.0, low=0.1, high=3600, env=env)
    base = os.environ if env is None else env
    child_env = {k: v for k, v in base.items() if k not in PRIVATE_VARIABLES}
    try:
        # stdin is not the command's: in `git diff | byok run …` it is the prompt's (a
        # pinentry or `op` asks on the terminal itself, and stderr is passed through)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                env=child_env, close_fds=True)
    except FileNotFoundError:
        raise ByokError(code, f"{named} cannot be run: {argv[0]} is not found",
                        hint="install it, or give its full path") from None
    except OSError as exc:
        raise ByokError(code, f"{named} cannot be run: {exc.strerror or type(exc).__name__}",
                        hint="check the program's path and permissions") from None
    out, status = _bounded_output(proc, wait, named, code)
    if status != 0:
        raise ByokError(code, f"{named} failed (exit status {status})",
                        hint="run it yourself to see why")
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        raise ByokError(code, f"{named} printed something that is not UTF-8 text",
                        hint="it must print the key on its first line") from None
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if not first:
        raise ByokError(code, f"{named} printed nothing on its first line",
                        hint="it must print the key on its first line")
    return first


def _bounded_output(proc: subprocess.Popen, wait: float, named: str,
                    code: Code) -> tuple[bytes, int]:
    """stdout (at most MAX_OUTPUT bytes) and the exit status, within ``wait`` seconds; the
    program is killed when it takes longer or prints more."""
    import selectors

    assert proc.stdout is not None
    deadline = time.monotonic() + wait
    chunks: list[bytes] = []
    size = 0
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill(proc)
                raise ByokError(code, f"{named} did not finish within {wait:g} s",
                                hint=f"is it waiting for something? ({TIMEOUT_VARIABLE} sets "
                                     "the wait)")
            if not sel.select(left):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_OUTPUT:
                _kill(proc)
                raise ByokError(code, f"{named} printed more than {MAX_OUTPUT // 1024} KiB",
                                hint="it must print only the key")
            chunks.append(chunk)
    proc.stdout.close()
    try:
        status = proc.wait(max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:  # closed its stdout but runs on
        _kill(proc)
        raise ByokError(code, f"{named} did not finish within {wait:g} s",
                        hint=f"is it waiting for something? ({TIMEOUT_VARIABLE} sets the wait)"
                        ) from None
    return b"".join(chunks), status


def _kill(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
