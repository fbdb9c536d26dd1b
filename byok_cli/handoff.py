"""Handing a key to another program (`byok key get`): which key, and which program asked.

The key itself goes only to the caller's stdout; the hand-off log keeps the key's provider,
name and source and the names of the programs that asked, never the key.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from typing import Mapping, NamedTuple
from urllib.parse import urlsplit

from .errors import ByokError, Code
from .secrets.keychain import Keychain
from .store import Handoff

DEFAULT_NAME = "default"
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


# The variables a program of each API kind reads (the SDKs' own), for providers that name
# none of their own (a custom provider).
API_VARIABLES = {"openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
                 "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")}


class KeyWithEndpoint(NamedTuple):
    """A key with where it goes: what another program needs besides the key itself, so that
    a gateway's key is not sent to the provider's own URL."""

    given: "GivenKey"
    base_url: str
    base_url_source: str   # environment | profile | default | provider (wire.endpoint)
    key_env: str
    base_url_env: str
    official: bool         # the provider's own base URL

    def to_dict(self) -> dict:
        return {**self.given.to_dict(), "base_url": self.base_url,
                "base_url_source": self.base_url_source, "official_base_url": self.official,
                "key_env": self.key_env, "base_url_env": self.base_url_env}

    def exports(self, env: Mapping[str, str]) -> list[str]:
        """`export` lines for a POSIX shell. A loopback base URL is added to NO_PROXY (and
        no_proxy), so that the program does not send the key through a proxy to it."""
        import shlex

        from .urls import is_loopback, no_proxy_with_loopback

        lines = [f"export {self.key_env}={shlex.quote(self.given.key)}",
                 f"export {self.base_url_env}={shlex.quote(self.base_url)}"]
        host = urlsplit(self.base_url).hostname
        if is_loopback(host):
            for variable in ("NO_PROXY", "no_proxy"):
                value = no_proxy_with_loopback(",".join(filter(None, (env.get(variable), host))))
                lines.append(f"export {variable}={shlex.quote(value)}")
        return lines


def with_endpoint(keychain: Keychain, given: "GivenKey") -> KeyWithEndpoint:
    from .wire.endpoint import endpoint

    record_ = keychain.registry.require(given.provider)
    settings = keychain.store.settings(keychain.profile)
    where = endpoint(record_, profile=settings["base_urls"].get(record_.name), env=keychain.env)
    key_env, url_env = API_VARIABLES.get(record_.api, API_VARIABLES["openai"])
    official = where.source in ("default", "provider") or where.url.rstrip("/") \
        == record_.base_url.rstrip("/")
    return KeyWithEndpoint(given, where.url, where.source, record_.key_env or key_env,
                           record_.base_url_env or url_env, official)


def key_to_give(keychain: Keychain, provider: str, name: str | None = None) -> GivenKey:
    """The key `byok run` would use for this provider (its stored keys in order, else the
    environment's), or the one called ``name`` (a stored key's name, or the variable's)."""
    from .routing.keys import key_availability

    record_ = keychain.registry.require(provider)
    provider, variable = record_.name, record_.key_env
    settings = keychain.store.settings(keychain.profile)
    # The profile's base URL does not rule out the environment key here: byok sends it
    # nowhere, and the program it goes to has its own endpoint (issue 11, item 7).
    found = key_availability(keychain)._replace(refused={}).sources(provider, settings, name)
    found = [s for s in found if s.source != "none"]
    if not found:
        stored = [k.name for k in keychain.store.keys(keychain.profile, provider)]
        if name is not None:
            raise ByokError(Code.USAGE, f"there is no {provider} key named {name!r}",
                            hint=f"its keys: {', '.join(stored)}" if stored else
                            f"store one with `byok key set {provider} --name {name}`")
        if stored:  # `preferred-provider system` allows environment keys only
            raise ByokError(Code.NO_KEY, f"profile {keychain.profile!r} uses environment keys "
                            f"only, and {variable or f'{provider} has no variable that'} is "
                            "not set", hint=f"use the stored key with `byok config set "
                                            f"preferred-provider {provider}`")
        missing = f" and {variable} is not set" if variable else ""
        raise ByokError(Code.NO_KEY, f"no {provider} key: none is stored for profile "
                        f"{keychain.profile!r}{missing}",
                        hint=f"store one with `byok key set {provider}`")
    first = found[0]
    key = keychain.key(provider, first.source, first.name)
    if not key:
        raise ByokError(Code.NO_KEY, f"the {provider} key is gone (removed meanwhile?)")
    status = None
    if first.source == "stored":
        row = keychain.store.get_key(keychain.profile, provider, first.name)
        status = row.status if row else None
    # The hand-off log names a stored key by its name, an environment key as 'default'
    # (its source says where it came from).
    given_name = first.name if first.source == "stored" else DEFAULT_NAME
    return GivenKey(provider, given_name, first.source, key, status)


def record(keychain: Keychain, given: GivenKey, now: float | None = None) -> Handoff:
    """Log the hand-off (never the key) and return what was logged."""
    parent, caller = requesting_programs()
    row = Handoff(time.time() if now is None else now, keychain.profile, given.provider,
                  given.name, given.source, parent, caller)
    keychain.store.record_handoff(row)
    return row


# -- who asked --------------------------------------------------------------------------
def requesting_programs(pid: int | None = None) -> tuple[str, str | None]:
    """(the parent process's name, and when that is a shell, the program it runs for).

    A shell that runs a command string (`sh -c`, as Claude Code's apiKeyHelper or tmux's
    run-shell do) runs it for its parent: the nearest ancestor that is no such shell is named.
    A shell that runs a script (`bash deploy.sh`) names the script. A shell at a prompt
    (`llm --key "$(byok key get openai)"` typed in bash inside tmux) names nobody: the program
    given the key is on that command line, not yet started and no ancestor, and the shell's
    own command line is just `bash`; its parent (tmux, a terminal) did not ask.
    """
    parent_pid = os.getppid() if pid is None else pid
    name, above = process_info(parent_pid)
    if name not in SHELLS:
        return name, None
    return name, _shells_caller(parent_pid, above)


def _shells_caller(pid: int, above: int | None) -> str | None:
    for _ in range(8):  # `sh -c` within `bash -c` within a tool: a few levels, bounded
        runs, script = shell_runs(process_args(pid))
        if runs == "script":
            return script
        if runs != "command" or not above:
            return None
        name, next_above = process_info(above)
        if name == "unknown":
            return None
        if name not in SHELLS:
            return name
        pid, above = above, next_above
    return None


# Options of sh, bash, zsh, ksh and fish that take the next argument as their value.
_VALUED = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file", "-C", "--command",
                     "--init-command"})


def shell_runs(args: list[str] | None) -> tuple[str, str | None]:
    """What a shell's command line runs: ("command", None) for a command string (-c),
    ("script", its file name) for a script (one read from a file descriptor, as in
    `bash <(…)`, is its parent's command), ("prompt", None) for commands typed or read from
    stdin, or when the command line cannot be read."""
    if not args:
        return "prompt", None
    rest = args[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg in ("-c", "--command") or arg.lower() == "-command" or (
                len(arg) > 1 and arg[0] == "-" and arg[1:].isalpha() and arg[1:].islower()
                and "c" in arg[1:]):
            return "command", None
        if arg == "--":
            i += 1
            break
        if arg in _VALUED:
            i += 2
        elif arg[:1] in ("-", "+") and len(arg) > 1:
            if arg[0] == "-" and arg[1:].isalpha() and "s" in arg[1:]:
                return "prompt", None  # -s: commands from stdin
            i += 1
        else:
            break
    if i < len(rest) and rest[i] != "-":  # `sh -` reads stdin
        if _FED.match(rest[i]):  # `bash <(…)`, a job runner's `bash /dev/fd/3`: no file
            return "command", None  # named, its parent wrote it: it runs for its parent
        return "script", _clean(rest[i].rsplit("/", 1)[-1])
    return "prompt", None


# A script read from a file descriptor its parent opened, not from a file of its own.
_FED = re.compile(r"^/(dev/fd/\d+|dev/stdin|proc/(self|\d+)/fd/\d+)$")


def process_args(pid: int) -> list[str] | None:
    """A process's command line (argv): from /proc on Linux, else from ps; None if unknown."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(65536)
        return [a.decode("utf-8", "replace") for a in raw.split(b"\0")[:64] if a] or None
    except OSError:
        pass
    if sys.platform == "win32":
        return None
    try:
        out = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True,
                             timeout=2, check=False).stdout
        return out.decode("utf-8", "replace").split()[:64] or None
    except (OSError, subprocess.SubprocessError):
        return None


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
