"""`byok vault rotate`, killed with SIGKILL at one step of the rotation (argv[1]).

The fault hook is set here, in-process: the shipped byok has no way to reach it from the
environment or the command line.

    python rotate_with_fault.py STEP [byok global options...]
    python rotate_with_fault.py STEP vault rotate [--to SOURCE ...]
"""

import os
import signal
import sys

from byok_cli.cli import main, vault


def kill_at(chosen: str):
    def fault(step: str) -> None:
        if step == chosen:
            os.kill(os.getpid(), signal.SIGKILL)
    return fault


if __name__ == "__main__":
    vault.FAULT = kill_at(sys.argv[1])
    rest = sys.argv[2:]  # byok's global options, or a whole `vault rotate …` command
    sys.argv = ["byok", *rest] if rest[:2] == ["vault", "rotate"] else \
        ["byok", *rest, "vault", "rotate"]
    main()
