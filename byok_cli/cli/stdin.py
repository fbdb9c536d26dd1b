"""Whether and how `byok run` reads stdin. No Typer here (the fast path uses it).

- A terminal, /dev/null or a closed stdin is never read, nor anything with --no-stdin.
- A file is read.
- A pipe is read to its end, however long its writer takes (`make 2>&1 | byok run "why"`),
  as `llm` does, with one exception: a pipe byok *inherited* — its parent's own stdin,
  fed by one of byok's ancestors (an IDE's or a job runner's pipe that a script passes
  down) — is waited on for at most BYOK_STDIN_TIMEOUT seconds (default 1) for its first
  byte when the prompt is in the arguments. If nothing comes, it is left unread for
  whoever reads it next, so input that arrives later is not consumed and lost; once input
  starts, it is read to its end. Telling an inherited pipe apart needs /proc (Linux);
  elsewhere every pipe is read to its end.
"""

from __future__ import annotations

import os
import select
import stat
import sys

MAX_INPUT = 10 * 1024 * 1024
_MAX_ANCESTORS = 16


def kind(fd: int = 0) -> str:
    """'file', 'pipe' (or socket) or 'none' (a terminal, /dev/null, nothing)."""
    try:
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError):
        return "none"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return "pipe"
    return "none"


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # "pid (comm) state ppid …": comm may hold spaces and parentheses
            return int(f.read().rpartition(b")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _writes_to(pid: int, target: tuple[int, int]) -> bool:
    """Whether process `pid` holds the write end of the pipe `target` (st_dev, st_ino)."""
    fds = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fds)
    except OSError:
        return False
    for name in names:
        try:
            # The link's own mode shows how the descriptor was opened (l-wx: for writing).
            if not os.lstat(f"{fds}/{name}").st_mode & stat.S_IWUSR:
                continue
            st = os.stat(f"{fds}/{name}")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == target:
            return True
    return False


def inherited(fd: int = 0) -> bool:
    """Whether stdin is a pipe byok inherited rather than was given: the same pipe as its
    parent's stdin, with its write end held by one of byok's ancestors (not by a
    producer in a pipeline, which the shell starts beside byok)."""
    try:
        mine = os.fstat(fd)
        parents = os.stat(f"/proc/{os.getppid()}/fd/0")
    except OSError:
        return False
    target = (mine.st_dev, mine.st_ino)
    if (parents.st_dev, parents.st_ino) != target:
        return False
    pid = os.getppid()
    for _ in range(_MAX_ANCESTORS):
        if pid is None or pid <= 1:
            return False
        if _writes_to(pid, target):
            return True
        pid = _parent(pid)
    return False


def _timeout() -> float:
    from ..inputs import env_number

    return env_number("BYOK_STDIN_TIMEOUT", 1.0)


def read(have_args: bool, enabled: bool = True) -> str | None:
    """stdin's text, or None when it is not to be read (see the module's docstring)."""
    from . import streams

    if not enabled or sys.stdin is None:
        return None
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    found = kind(fd)
    if found == "none":
        return None
    if found == "pipe" and have_args and inherited(fd):
        wait = _timeout()
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            streams.info(f"note: stdin is a pipe inherited from the calling process and gave "
                        f"nothing within {wait:g} s; it was left unread (pipe input into byok, "
                        "or use --no-stdin)")
            return None
    return streams.read_stdin_text(MAX_INPUT, "nothing was sent", hint="send a smaller excerpt")
