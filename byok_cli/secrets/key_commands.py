"""Provider keys that stay in a team's secret store: `key set --command "pass show team/openai"`
stores the command (sealed like a key: it may name a vault path), and byok runs it each time
the key is needed in a process, keeping what it printed in that process's memory only.

A command is told apart from a key inside the sealed plaintext (it starts with a NUL, which
no key holds); its row's hint is ``command:PROGRAM``, so listings need not open it.
"""

from __future__ import annotations

from ..errors import Code, remember_secret

MARK = "\x00command\x00"
HINT_PREFIX = "command:"
_fetched: dict[str, str] = {}  # command line -> the key it printed, this process only


def sealed_text(cmdline: str) -> str:
    """What is sealed for a command key."""
    from .commands import parse

    parse(cmdline, "the key command")
    return MARK + cmdline


def hint_for(cmdline: str) -> str:
    from .commands import program_name

    return HINT_PREFIX + program_name(cmdline)


def is_command(plaintext: str) -> bool:
    return plaintext.startswith(MARK)


def is_command_hint(hint: str) -> bool:
    return hint.startswith(HINT_PREFIX)


def key_of(plaintext: str, what: str) -> str:
    """The key a sealed plaintext stands for: itself, or what its command prints (run once
    per process). A failing command is KEYRING_UNAVAILABLE: the key cannot be read now,
    which says nothing against the key (another one may be tried)."""
    if not is_command(plaintext):
        return plaintext
    cmdline = plaintext[len(MARK):]
    if cmdline not in _fetched:
        from .commands import fetch, program_name

        key = fetch(cmdline, f"the command for {what}", shown=program_name(cmdline),
                    code=Code.KEYRING_UNAVAILABLE)
        remember_secret(key)
        _fetched[cmdline] = key
    return _fetched[cmdline]


def shown(hint: str) -> str:
    """How a stored key is shown: '…ABCD', or 'command (pass)' and, once this process
    fetched it, its last 4 characters."""
    if not is_command_hint(hint):
        return "…" + hint
    program = hint[len(HINT_PREFIX):]
    last = next((k[-4:] for c, k in _fetched.items() if hint_for(c) == hint), None)
    return f"command ({program})" + (f" …{last}" if last else "")
