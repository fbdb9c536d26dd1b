"""Keep secrets out of core dumps.

Before byok reads a master key (so before any key is decrypted) or a key typed in, the
process is made non-dumpable: its core-size limit is set to 0 and, on Linux,
``prctl(PR_SET_DUMPABLE, 0)`` also stops other processes of the same user from attaching
to it or reading its memory through /proc. Cheap (~1 ms, once), and only on the commands
that decrypt or take a key. (An environment key is in every process the shell starts;
reading one does not pay for this.)
"""

from __future__ import annotations

import sys

_PR_SET_DUMPABLE = 4
_state: dict = {}


def no_core_dumps() -> None:
    """Make this process non-dumpable (once; failures are ignored: best effort)."""
    if _state:
        return
    _state["done"] = True
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        _state["core_limit"] = (soft, hard)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))  # hard kept: see restore_for_child
    except (ImportError, OSError, ValueError):
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def restore_for_child() -> None:
    """Give a program that byok execs the core-size limit byok started with (execve resets
    the dumpable flag by itself): its crashes are its own business."""
    limit = _state.get("core_limit")
    if limit:
        import resource

        try:
            resource.setrlimit(resource.RLIMIT_CORE, limit)
        except (OSError, ValueError):
            pass
