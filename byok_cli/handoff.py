"""Handing a key to another program (`byok key get`): which key, and which program asked.

The key itself goes only to the caller's stdout; the hand-off log keeps the key's provider,
name and source and the names of the programs that asked, never the key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import NamedTuple

from .errors import ByokError, Code
from .keychain import Keychain
from .keys import ENV_VARS
from .store import Handoff

DEFAULT_NAME = "default"
SOURCE_NAMES = {"user": "stored", "system": "environment"}
# A parent that is one of these ran `byok key get` for someone else (`$(…)`, `sh -c`):
# the log names that someone too.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "fish", "ksh", "mksh", "ash", "busybox",
                    "tcsh", "csh", "nu", "xonsh", "elvish", "pwsh", "powershell"})


class GivenKey(NamedTuple):
    provider: str
    name: str
    source: str          # 'stored' or 'environment'
    key: str
    status: str | None   # the stored key's ('valid', 'failed: …'); None for the environment's

    @property
    def failed(self) -> bool:
        return (self.status or "").startswith("failed")

    def to_dict(self) -> dict:
        return {"provider": self.provider, "name": self.name, "source": self.source,
                "key": self.key}


def key_to_give(keychain: Keychain, provider: str, name: str = DEFAULT_NAME) -> GivenKey:
    """The key `byok run` would use for this provider: the stored one, else the environment's."""
    from .ask import key_availability

    if name != DEFAULT_NAME:
        raise ByokError(Code.USAGE, f"there is no {provider} key named {name!r}",
                        hint=f"each provider has one key for now, named {DEFAULT_NAME!r}")
    settings = keychain.store.settings(keychain.profile)
    # The profile's base URL does not rule out the environment key here: byok sends it
    # nowhere, and the program it goes to has its own endpoint (issue 11, item 7).
    found = key_availability(keychain)._replace(refused={}).sources(provider, settings)
    if not found:
        stored = keychain.store.get_key(keychain.profile, provider)
        if stored is not None:  # `preferred-provider system` allows environment keys only
            raise ByokError(Code.NO_KEY, f"profile {keychain.profile!r} uses environment keys "
                            f"only, and {ENV_VARS[provider]} is not set",
                            hint=f"use the stored key with `byok config set preferred-provider "
                                 f"{provider}`")
        raise ByokError(Code.NO_KEY, f"no {provider} key: none is stored for profile "
                        f"{keychain.profile!r} and {ENV_VARS[provider]} is not set",
                        hint=f"store one with `byok key set {provider}`")
    source = found[0][0]
    # The one keychain call: named keys will pass `name` along with the source.
    key = keychain.key(provider, source)
    if not key:
        raise ByokError(Code.NO_KEY, f"the {provider} key is gone (removed meanwhile?)")
    status = None
    if source == "user":
        row = keychain.store.get_key(keychain.profile, provider)
        status = row.status if row else None
    return GivenKey(provider, name, SOURCE_NAMES[source], key, status)


def record(keychain: Keychain, given: GivenKey, now: float | None = None) -> Handoff:
    """Log the hand-off (never the key) and return what was logged."""
    parent, caller = requesting_programs()
    row = Handoff(time.time() if now is None else now, keychain.profile, given.provider,
                  given.name, given.source, parent, caller)
    keychain.store.record_handoff(row)
    return row


# -- who asked --------------------------------------------------------------------------
def requesting_programs(pid: int | None = None) -> tuple[str, str | None]:
    """(the parent process's name, and when that is a shell, the name of the shell's parent)."""
    parent_pid = os.getppid() if pid is None else pid
    name, grandparent = process_info(parent_pid)
    caller = None
    if name in SHELLS and grandparent:
        above, _ = process_info(grandparent)
        if above not in SHELLS and above != "unknown":
            caller = above
    return name, caller


def process_info(pid: int) -> tuple[str, int | None]:
    """(name, parent pid) of a process: from /proc on Linux, else from ps."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            name = f.read().decode("utf-8", "replace").strip()
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("utf-8", "replace")
        # "pid (comm) state ppid …": comm may hold spaces and parentheses itself
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        return _clean(name), ppid or None
    except (OSError, ValueError, IndexError):
        pass
    if sys.platform == "win32":
        return "unknown", None
    try:
        out = subprocess.run(["ps", "-o", "ppid=", "-o", "comm=", "-p", str(pid)],
                             capture_output=True, timeout=2, check=False).stdout
        ppid_text, _, command = out.decode("utf-8", "replace").strip().partition(" ")
        # macOS ps gives the command's path
        return _clean(command.strip().rsplit("/", 1)[-1]), int(ppid_text) or None
    except (OSError, ValueError, subprocess.SubprocessError):
        return "unknown", None


def _clean(name: str) -> str:
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:64]
    return name or "unknown"
