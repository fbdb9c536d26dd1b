"""What each master key source costs `byok run` (issue 23), and what unlocking costs.

    python benchmarks/master_sources.py [--repeat N]

(a) `byok run -p openai hi` whole process with the master key from BYOK_MASTER_KEY_FILE,
    BYOK_MASTER_KEY_COMMAND (`cat FILE`, the cheapest command there is) and the unlock agent,
    each paired against the same run with BYOK_MASTER_KEY (goal: the file and the agent add
    at most 5%; a command adds what starting its program costs);
(b) a provider key from `key set --command` against the same key stored;
(c) the scrypt parameters and what they cost: one derivation, and `byok unlock` whole.

All against the fake provider on 127.0.0.1; ratios are medians of back-to-back pairs.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BYOK, OPENAI_KEY, FakeProviderServer, median_of, paired, ratio_of, run_once  # noqa: E402,E501

PASSPHRASE = "benchmark passphrase"


def byok(env: dict, *args: str, input: str | None = None) -> None:
    subprocess.run([str(BYOK), *args], input=input.encode() if input else None, env=env,
                   check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    server = FakeProviderServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="byok-bench-sources-"))
    master = base64.urlsafe_b64encode(os.urandom(32)).decode()
    key_file = tmp / "master.key"
    key_file.write_text(master + "\n")
    key_file.chmod(0o600)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("OPENAI", "ANTHROPIC", "BYOK_"))}
    base.update(OPENAI_BASE_URL=server.url + "/v1", XDG_RUNTIME_DIR="",
                PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")

    # one vault for the variable, the file and the command (one master key, three places)
    env = {**base, "BYOK_HOME": str(tmp / "home"), "BYOK_MASTER_KEY": master}
    byok(env, "key", "set", "openai", "--no-validate", input=OPENAI_KEY)
    sources = {"BYOK_MASTER_KEY_FILE": {"BYOK_MASTER_KEY_FILE": str(key_file)},
               "BYOK_MASTER_KEY_COMMAND (cat)": {"BYOK_MASTER_KEY_COMMAND": f"cat {key_file}"}}
    # a passphrase vault with its agent
    sealed_env = {**base, "BYOK_HOME": str(tmp / "sealed")}
    byok(sealed_env, "vault", "init", "--passphrase", input=PASSPHRASE + "\n")
    started = time.perf_counter()
    byok(sealed_env, "unlock", "--ttl", "1h", input=PASSPHRASE + "\n")
    unlock_whole = time.perf_counter() - started
    byok(sealed_env, "key", "set", "openai", "--no-validate", input=OPENAI_KEY)
    # a provider key command, in a vault of its own
    command_env = {**base, "BYOK_HOME": str(tmp / "command"), "BYOK_MASTER_KEY": master}
    key_prog = tmp / "print-key"
    key_prog.write_text(f"#!/bin/sh\necho {OPENAI_KEY}\n")
    key_prog.chmod(0o700)
    byok(command_env, "key", "set", "openai", "--command", str(key_prog), "--no-validate")

    cmd = [str(BYOK), "run", "-p", "openai", "hi"]
    rows = []
    reference = lambda: run_once(cmd, env)  # noqa: E731
    for name, extra in sources.items():
        mine = {k: v for k, v in env.items() if k != "BYOK_MASTER_KEY"} | extra
        ref, ours = paired(reference, lambda: run_once(cmd, mine), args.repeat)
        rows.append((f"master key from {name}", median_of(ours, "whole"),
                     ratio_of(ours, ref, "whole")))
    ref, ours = paired(reference, lambda: run_once(cmd, sealed_env), args.repeat)
    rows.append(("master key from the unlock agent", median_of(ours, "whole"),
                 ratio_of(ours, ref, "whole")))
    ref, ours = paired(reference, lambda: run_once(cmd, command_env), args.repeat)
    rows.append(("provider key from a key command (sh)", median_of(ours, "whole"),
                 ratio_of(ours, ref, "whole")))
    reference_ms = median_of(ref, "whole") * 1000
    byok(sealed_env, "lock")

    from byok_cli.secrets import sealed

    derive = []
    for _ in range(5):
        started = time.perf_counter()
        sealed._derive(PASSPHRASE, os.urandom(16), sealed.LOG_N, sealed.R, sealed.P)
        derive.append(time.perf_counter() - started)
    server.shutdown()

    print(f"median of {args.repeat} runs; ratio: median of {args.repeat} paired ratios "
          "against the same `byok run -p openai hi` with BYOK_MASTER_KEY "
          f"(median {reference_ms:.0f} ms)\n")
    print(f"| {'byok run -p openai hi, whole process':<46} | {'ms':>6} | {'ratio':>6} |")
    print(f"|{'-' * 48}|{'-' * 8}|{'-' * 8}|")
    for name, whole, ratio in rows:
        print(f"| {name:<46} | {whole * 1000:>6.0f} | {ratio:>5.2f}x |")
    print(f"\nscrypt: N = 2^{sealed.LOG_N}, r = {sealed.R}, p = {sealed.P} "
          f"({128 * sealed.R * 2 ** sealed.LOG_N // 2 ** 20} MiB); one derivation: "
          f"{statistics.median(derive) * 1000:.0f} ms (median of 5); "
          f"`byok unlock` whole process: {unlock_whole * 1000:.0f} ms")


if __name__ == "__main__":
    main()
