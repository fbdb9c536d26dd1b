"""Run a command as the child of a process named like another program (tmux's server calls
itself "tmux: server"): `python named_parent.py NAME COMMAND [ARGS]...`. Linux only (prctl)."""

import ctypes
import subprocess
import sys

PR_SET_NAME = 15

name, command = sys.argv[1], sys.argv[2:]
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
sys.exit(subprocess.run(command).returncode)
