"""Reading a passphrase: a hidden prompt on a terminal (asked twice for a new one), else the
first line of stdin. Never argv, never the environment."""

from __future__ import annotations

import sys

from ..errors import ByokError, Code, remember_phrase

MAX_PASSPHRASE = 4096


def read(prompt: str, *, new: bool = False) -> str:
    from ..secrets.hardening import no_core_dumps

    no_core_dumps()
    if sys.stdin is None or sys.stdin.closed:
        raise ByokError(Code.INVALID_FORMAT, "no passphrase given: stdin is closed",
                        hint="run it in a terminal, or pipe the passphrase in")
    if sys.stdin.isatty():
        import getpass

        try:
            text = getpass.getpass(f"{prompt}: ", stream=sys.stderr)
            if new and getpass.getpass("again: ", stream=sys.stderr) != text:
                raise ByokError(Code.USAGE, "the two passphrases differ; nothing was changed",
                                hint="type the same passphrase twice")
        except EOFError:
            text = ""
    else:
        data = _line_of_stdin()
        if len(data) > MAX_PASSPHRASE:
            raise ByokError(Code.INVALID_FORMAT, "the passphrase on stdin is too long",
                            hint=f"at most {MAX_PASSPHRASE} bytes")
        try:
            text = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise ByokError(Code.INVALID_FORMAT, "the passphrase on stdin is not UTF-8 text",
                            hint="pipe the passphrase alone") from None
    if not text:
        raise ByokError(Code.USAGE, "the passphrase is empty; nothing was changed",
                        hint="type a passphrase (or pipe it in)")
    remember_phrase(text)
    return text


def _line_of_stdin() -> bytes:
    """One line of stdin, read a byte at a time so that what follows it stays there for the
    next command (`printf 'pw\\npw\\n' | (byok vault init --passphrase && byok unlock)`)."""
    import os

    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):  # not a real file (Typer's test runner)
        return sys.stdin.buffer.readline(MAX_PASSPHRASE + 1).rstrip(b"\n")
    data = bytearray()
    while len(data) <= MAX_PASSPHRASE:
        byte = os.read(fd, 1)
        if not byte or byte == b"\n":
            break
        data += byte
    return bytes(data)
