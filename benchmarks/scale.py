"""How byok's reading commands grow with the database: built small and large through byok's
own storage code, then timed side by side.

    python benchmarks/scale.py [--repeat N] [--small 1000] [--large 1000000]

Builds two databases in temporary directories, one with `--small` usage rows and a
hundredth as many conversations (at least 100), one with `--large` rows and a tenth as many
conversations (the issue's 10^3 / 10^2 and 10^6 / 10^5). Rows go in through `Store`: usage
rows are inserted raw and their summaries derived by `Store.rebuild_usage_rollups` (what a
migration does for an existing log), conversations through `Store.append_exchange` (what
`byok run` does). Then each command runs against both in back-to-back pairs; the growth is
the median of the paired ratios (goal: at most 1.2x).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from byok_cli.store import Message, Store, UsageRow  # noqa: E402

BYOK = Path(sys.executable).with_name("byok")
SPAN = 30 * 86400  # the log covers the last 30 days, however many rows it holds
PAIRS = [("openai", m) for m in ("gpt-6.2-sol", "gpt-6-luna", "gpt-6.1-terra", "gpt-5.5")]
PAIRS += [("anthropic", m) for m in ("claude-sonnet-5-5", "claude-haiku-5-5",
                                     "claude-opus-5-5", "claude-sonnet-4-6")]
KEYS = ("default", "work", "OPENAI_API_KEY")
COMMANDS = [["usage"], ["usage", "--since", "all"], ["usage", "--by", "key"],
            ["usage", "--by", "token"], ["usage", "--since", "36h"], ["usage", "--json"],
            ["history", "list"], ["doctor"], ["budget", "list"]]


def build(home: Path, rows: int, conversations: int, now: float | None = None) -> None:
    """A usage log of ``rows`` requests over the last 30 days and ``conversations``
    conversations of one exchange each, written through byok's storage code."""
    now = time.time() if now is None else now
    rng = random.Random(7)
    store = Store(home)
    try:
        batch = []
        with store.transaction() as conn:
            for i in range(rows):
                provider, model = PAIRS[i % len(PAIRS)]
                ttft = rng.randint(80, 3000)
                ok = i % 25
                key = KEYS[i % len(KEYS)]
                batch.append(UsageRow(
                    at=now - (rows - i) * SPAN / rows, profile="default", provider=provider,
                    model=model, key_source="environment" if key.isupper() else "stored",
                    fallbacks="" if i % 40 else "key_rejected", input_tokens=50,
                    output_tokens=400, ttft_ms=ttft, latency_ms=ttft + rng.randint(50, 8000),
                    code="OK" if ok else "RATE_LIMITED",
                    cost_micros=None if not ok or model == "gpt-6.2-sol"
                    else rng.randint(10, 90_000), key_name=key))
                if len(batch) == 10_000 or i == rows - 1:
                    conn.executemany(
                        f"INSERT INTO usage ({', '.join(UsageRow._fields)}) "
                        f"VALUES ({', '.join('?' * len(UsageRow._fields))})", batch)
                    batch.clear()
            for c in range(conversations):
                provider, model = PAIRS[c % len(PAIRS)]
                store.append_exchange("default", None, None, [
                    Message("user", f"question {c}: what is {c} squared?"),
                    Message("assistant", f"{c * c}", provider, model)])
        store.rebuild_usage_rollups()
    finally:
        store.close()


def wall(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def paired(small, large, repeat: int) -> tuple[float, float, float]:
    """Medians (ms) of each and the median of their paired ratios, alternating the order."""
    small(), large()
    a, b = [], []
    for i in range(repeat):
        if i % 2:
            b.append(large())
            a.append(small())
        else:
            a.append(small())
            b.append(large())
    return (statistics.median(a) * 1000, statistics.median(b) * 1000,
            statistics.median(y / x for x, y in zip(a, b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "ANTHROPIC"))}
    env["BYOK_MASTER_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    homes = []
    for rows in (args.small, args.large):
        home = Path(tempfile.mkdtemp(prefix=f"byok-scale-{rows}-"))
        started = time.perf_counter()
        build(home, rows, max(100, rows // 10))
        print(f"built {rows:,} usage rows in {time.perf_counter() - started:.1f} s: {home}",
              file=sys.stderr)
        homes.append(home)
    small_env, large_env = ({**env, "BYOK_HOME": str(h)} for h in homes)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; {dt.date.today()}; load average "
          f"{os.getloadavg()[0]:.1f}; {args.small:,} and {args.large:,} usage rows; "
          f"{args.repeat} pairs per ratio (the median of the paired ratios)\n")
    print(f"| {'command':<28} | {'small ms':>8} | {'large ms':>8} | {'growth':>6} |")
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 10}|{'-' * 8}|")
    for cmd in COMMANDS:
        full = [str(BYOK), *cmd]
        s, l, ratio = paired(lambda: wall(full, small_env), lambda: wall(full, large_env),
                             args.repeat)
        print(f"| {'byok ' + ' '.join(cmd):<28} | {s:8.1f} | {l:8.1f} | {ratio:5.2f}x |")


if __name__ == "__main__":
    main()
