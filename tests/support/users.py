"""Running byok as someone without root's powers, and files owned by someone else.

The tests run as root in CI and on the development machine; root ignores file modes, so
a read-only database would not be read-only for it. ``without_root_powers`` drops the
capabilities that let root write, read or chmod what it does not own (uid stays 0, and
the interpreter under /root stays reachable); as an ordinary user it changes nothing.
"""

from __future__ import annotations

import ctypes
import os

import pytest

OTHER_UID = 65534  # nobody
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def without_root_powers() -> None:
    """A subprocess preexec_fn: after exec, file modes bind this process as any user's."""
    if not is_root():
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def can_drop_root_powers() -> bool:
    import subprocess

    try:
        subprocess.run(["true"], preexec_fn=without_root_powers, check=True)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


def give_to_another_user(path) -> None:
    """chown to nobody (root only: an ordinary user cannot give files away)."""
    if not is_root():
        pytest.skip("only root can give a file to another user")
    os.chown(path, OTHER_UID, -1)
