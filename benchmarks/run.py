"""byok's figures: startup of offline commands, `byok run` against bare SDK scripts, chat.

    python benchmarks/run.py [--repeat N]

(a) wall time of `byok --version`, `byok key list`, `byok models list`, `byok config show`
    against `python -c "import typer"` (goal: at most 2x);
(b) `byok run -p P hi`, whole process and to its first token, against a minimal script
    making the same streamed call with the provider's SDK (goals for the whole process: at
    most 0.25x the openai script, 0.12x the anthropic one), and byok's peak memory (the
    child's ru_maxrss; goal: under 40 MiB); all against the fake provider on 127.0.0.1;
(c) `byok chat`: time to first token of the second turn against the first, in the same
    process (goal: below 1x, the connection being reused), and how many connections the
    server saw;
(d) `byok usage` (with costs and totals) and `byok budget list` over a usage log of
    1,000,000 requests (goal: well under a second);
(e) what a profile budget adds to `byok run -m gpt-6-luna` (its whole process and first
    token, against the same run without one), and what reading the price data costs.

Prints a table of medians; each ratio is the median of the ratios of back-to-back pairs
(see paired). docs/testing.md quotes the latest table.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakeprovider import FakeProviderServer  # noqa: E402

BYOK = Path(sys.executable).with_name("byok")
OPENAI_KEY = "sk-proj-good-benchmark0000000001"
ANTHROPIC_KEY = "sk-ant-api03-good-benchmark000001"

BARE = {
    "openai": """
import os, sys
from openai import OpenAI
c = OpenAI(api_key=os.environ["K"], base_url=os.environ["U"] + "/v1", max_retries=0)
for ch in c.chat.completions.create(model="gpt-6.2-sol", stream=True,
        messages=[{"role": "user", "content": "hi"}], stream_options={"include_usage": True}):
    if ch.choices and ch.choices[0].delta.content:
        sys.stdout.write(ch.choices[0].delta.content); sys.stdout.flush()
""",
    "anthropic": """
import os, sys
from anthropic import Anthropic
c = Anthropic(api_key=os.environ["K"], base_url=os.environ["U"], max_retries=0)
with c.messages.create(model="claude-sonnet-5-5", max_tokens=100, stream=True,
        messages=[{"role": "user", "content": "hi"}]) as s:
    for e in s:
        if e.type == "content_block_delta":
            sys.stdout.write(e.delta.text); sys.stdout.flush()
""",
}


def wall(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


class Sample(NamedTuple):
    first: float   # seconds from start to the first byte on stdout
    whole: float   # seconds from start to exit
    rss_kib: int   # the child's peak resident memory


def run_once(cmd: list[str], env: dict) -> Sample:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    proc.stdout.read(1)
    first = time.perf_counter() - started
    proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    whole = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{cmd} failed with {proc.returncode}")
    return Sample(first, whole, usage.ru_maxrss)


def chat_turns(env: dict, provider: str) -> tuple[float, float]:
    """Seconds to the first byte of the first and of the second answer of one `byok chat`."""
    proc = subprocess.Popen([str(BYOK), "chat", "-p", provider], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    times = []
    for line in (b"first turn\n", b"second turn\n"):
        started = time.perf_counter()
        proc.stdin.write(line)
        proc.stdin.flush()
        proc.stdout.read(1)
        times.append(time.perf_counter() - started)
        proc.stdout.readline()
    proc.stdin.close()
    proc.wait()
    return times[0], times[1]


def fill_usage(home: Path, count: int) -> None:
    """A usage log of `count` requests over the last 30 days, 8 provider/model pairs."""
    import random

    sys.path.insert(0, str(ROOT))
    from byok_cli.store import Store

    store = Store(home)
    pairs = [("openai", m) for m in ("gpt-6.2-sol", "gpt-6-luna", "gpt-6.1-terra", "gpt-5.5")]
    pairs += [("anthropic", m) for m in ("claude-sonnet-5-5", "claude-haiku-5-5",
                                         "claude-opus-5-5", "claude-sonnet-4-6")]
    rng = random.Random(7)
    now = time.time()
    rows = []
    for i in range(count):
        provider, model = pairs[i % len(pairs)]
        ttft = rng.randint(80, 3000)
        ok = i % 25
        cost = None if not ok or model == "gpt-6.2-sol" else rng.randint(10, 90_000)
        rows.append((now - (count - i) * 30 * 86400 / count, "default", provider, model,
                     "stored", "" if i % 40 else "key_rejected", 50, 400, ttft,
                     ttft + rng.randint(50, 8000), "OK" if ok else "RATE_LIMITED", cost))
    with store.transaction() as conn:
        conn.executemany("INSERT INTO usage (at, profile, provider, model, key_source, fallbacks, "
                         "input_tokens, output_tokens, ttft_ms, latency_ms, code, cost_micros) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    store.rebuild_usage_rollups()
    store.close()


def budget_rows(env: dict, repeat: int) -> list[tuple]:
    """`byok run` under a profile budget (a hold before sending, its settlement after)
    against the same run without one; and what reading the price data adds to a process that
    has loaded `byok run`'s modules (as it does after the answer)."""
    budgeted = {**env, "BYOK_HOME": tempfile.mkdtemp(prefix="byok-bench-budget-")}
    subprocess.run([str(BYOK), "key", "set", "openai", "--no-validate"],
                   input=OPENAI_KEY.encode(), env=budgeted, check=True, capture_output=True)
    subprocess.run([str(BYOK), "budget", "set", "--per", "month", "1000"], env=budgeted,
                   check=True, capture_output=True)
    cmd = [str(BYOK), "run", "-p", "openai", "-m", "gpt-6-luna", "hi"]
    base, ours = paired(lambda: run_once(cmd, env), lambda: run_once(cmd, budgeted), repeat)
    load = [sys.executable, "-c", "import time, byok_cli.routing.ask, byok_cli.cli.run_body; "
            "t = time.perf_counter(); "
            "from byok_cli import prices; prices.load(None).info('openai', 'gpt-6-luna'); "
            "print((time.perf_counter() - t) * 1000)"]
    loads = [float(subprocess.run(load, capture_output=True, check=True, text=True).stdout)
             for _ in range(repeat)]
    return [("byok run -m gpt-6-luna, whole process", median_of(base, "whole") * 1000),
            ("  the same under a profile budget", median_of(ours, "whole") * 1000,
             ratio_of(ours, base, "whole")),
            ("  its first token", median_of(ours, "first") * 1000,
             ratio_of(ours, base, "first")),
            ("  price data: import and parse, after run's modules", statistics.median(loads))]


def median_ms(fn, repeat: int) -> float:
    fn()  # warm the OS file cache
    return statistics.median(fn() for _ in range(repeat)) * 1000


def paired(base_fn, ours_fn, repeat: int) -> tuple[list, list]:
    """Both measured `repeat` times in back-to-back pairs, alternating which goes first.

    A shared VM's speed drifts by tens of percent within a minute; the ratio within a pair
    cancels that drift, where a ratio of two medians does not."""
    base_fn(), ours_fn()
    base, ours = [], []
    for i in range(repeat):  # alternate which goes first, so that neither warms the other
        if i % 2:
            ours.append(ours_fn())
            base.append(base_fn())
        else:
            base.append(base_fn())
            ours.append(ours_fn())
    return base, ours


def paired_ms(base_fn, ours_fn, repeat: int) -> tuple[float, float, float]:
    """Medians of the two (in ms) and the median of their paired ratios."""
    base, ours = paired(base_fn, ours_fn, repeat)
    ratio = statistics.median(o / b for o, b in zip(ours, base))
    return statistics.median(base) * 1000, statistics.median(ours) * 1000, ratio


def ratio_of(ours: list, base: list, field: str) -> float:
    return statistics.median(getattr(o, field) / getattr(b, field) for o, b in zip(ours, base))


def median_of(samples: list, field: str) -> float:
    return statistics.median(getattr(x, field) for x in samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=31)
    args = parser.parse_args()
    server = FakeProviderServer().start()
    home = tempfile.mkdtemp(prefix="byok-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "ANTHROPIC"))}
    env.update(BYOK_HOME=home, BYOK_MASTER_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
               OPENAI_BASE_URL=server.url + "/v1", ANTHROPIC_BASE_URL=server.url)
    for provider, key in (("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY)):
        subprocess.run([str(BYOK), "key", "set", provider, "--no-validate"], input=key.encode(),
                       env=env, check=True, capture_output=True)
    subprocess.run([str(BYOK), "config", "set", "preferred-provider", "openai"], env=env,
                   check=True, capture_output=True)

    rows = []
    typer_only = [sys.executable, "-c", "import typer"]
    for cmd in (["--version"], ["key", "list"], ["models", "list"], ["config", "show"]):
        base, t, ratio = paired_ms(lambda: wall(typer_only, env),
                                   lambda: wall([str(BYOK), *cmd], env), args.repeat)
        if not rows:
            rows.append(("python -c 'import typer'", base, None, None))
        rows.append((f"byok {' '.join(cmd)}", t, ratio, 2.0))

    goals = {"openai": 0.25, "anthropic": 0.12}
    memory = []
    for provider, key in (("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY)):
        bare_env = {**env, "K": key, "U": server.url}
        base, ours = paired(lambda: run_once([sys.executable, "-c", BARE[provider]], bare_env),
                            lambda: run_once([str(BYOK), "run", "-p", provider, "hi"], env),
                            args.repeat)
        rows.append((f"bare {provider} SDK streamed call, whole process",
                     median_of(base, "whole") * 1000, None, None))
        rows.append((f"bare {provider} SDK streamed call, first token",
                     median_of(base, "first") * 1000, None, None))
        rows.append((f"byok run -p {provider}, whole process", median_of(ours, "whole") * 1000,
                     ratio_of(ours, base, "whole"), goals[provider]))
        rows.append((f"byok run -p {provider}, first token", median_of(ours, "first") * 1000,
                     ratio_of(ours, base, "first"), None))
        memory.append((provider, median_of(base, "rss_kib"), max(x.rss_kib for x in ours)))

    rows += budget_rows(env, args.repeat)
    server.reset()
    turns = [chat_turns(env, "openai") for _ in range(max(5, args.repeat // 3))]
    connections = len(server.connections()) / len(turns)
    server.shutdown()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")
    print(f"median of {args.repeat} runs; ratio: median of {args.repeat} paired ratios\n")
    print(f"| {'what':<50} | {'ms':>7} | {'ratio':>6} | {'goal':>5} |")
    print(f"|{'-' * 52}|{'-' * 9}|{'-' * 8}|{'-' * 7}|")

    def row(name, ms, ratio=None, goal=None):
        r = f"{ratio:.2f}x" if ratio else ""
        g = f"{goal:g}x" if goal else ""
        print(f"| {name:<50} | {ms:7.1f} | {r:>6} | {g:>5} |")

    for r in rows:
        row(*r)
    first = statistics.median(t[0] for t in turns) * 1000
    second = statistics.median(t[1] for t in turns) * 1000
    row("byok chat, first turn, first token", first)
    row("byok chat, second turn, first token", second,
        statistics.median(t[1] / t[0] for t in turns), 1)
    print(f"\nbyok chat: {connections:g} connection(s) per chat of two turns "
          f"({len(turns)} chats)")
    for provider, bare_kib, ours_kib in memory:
        print(f"peak memory, byok run -p {provider}: {ours_kib / 1024:.1f} MiB at most "
              f"(goal: under 40); bare {provider} SDK script: {bare_kib / 1024:.1f} MiB")
    usage_home = tempfile.mkdtemp(prefix="byok-bench-usage-")
    fill_usage(Path(usage_home), 1_000_000)
    usage_env = {**env, "BYOK_HOME": usage_home}
    subprocess.run([str(BYOK), "budget", "set", "--per", "month", "1000"], env=usage_env,
                   check=True, capture_output=True)
    print()
    for usage_args in (["usage"], ["usage", "--since", "all"], ["usage", "--since", "90m"],
                       ["usage", "--since", "30d", "--json"], ["budget", "list"]):
        t = median_ms(lambda: wall([str(BYOK), *usage_args], usage_env), args.repeat)
        print(f"| {'byok ' + ' '.join(usage_args) + ' (10^6 requests)':<50} | {t:7.1f} |")


if __name__ == "__main__":
    main()
