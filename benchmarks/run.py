"""byok's figures: startup of offline commands and `byok run`'s time to first token.

    python benchmarks/run.py [--repeat N]

(a) wall time of `byok --version`, `byok key list`, `byok models list`, `byok config show`
    against `python -c "import typer"` (goal: at most 2x);
(b) `byok run` time to first token (process start to first byte on stdout) against a
    minimal script making the same streamed call with the same SDK (goal: at most 1.1x),
    both against the fake provider server on 127.0.0.1;
(c) `byok usage` (with costs and totals) and `byok budget list` over a usage log of
    1,000,000 requests (goal: well under a second);
(d) what budgets add to `byok run`'s first token (a profile budget against none), and what
    reading the price data costs a process (import and parse, after the answer).

Prints a table of medians; each ratio is the median of the ratios of back-to-back pairs
(see paired_ms). The README quotes the latest table.
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


def first_byte(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    proc.stdout.read(1)
    elapsed = time.perf_counter() - started
    proc.stdout.read()
    proc.wait()
    if proc.returncode:
        raise SystemExit(f"{cmd} failed with {proc.returncode}")
    return elapsed


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
                     "user", "" if i % 40 else "key_rejected", 50, 400, ttft,
                     ttft + rng.randint(50, 8000), "OK" if ok else "RATE_LIMITED", cost))
    with store.transaction() as conn:
        conn.executemany("INSERT INTO usage (at, profile, provider, model, key_source, fallbacks, "
                         "input_tokens, output_tokens, ttft_ms, latency_ms, code, cost_micros) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    store.rebuild_usage_rollups()
    store.close()


def budget_rows(env: dict, server, repeat: int) -> list[tuple]:
    """`byok run` to the first token with a profile budget (a hold before sending, its
    settlement after) against the same run without one; and the price data's load time."""
    budget_home = tempfile.mkdtemp(prefix="byok-bench-budget-")
    with_budget = {**env, "BYOK_HOME": budget_home}
    subprocess.run([str(BYOK), "key", "set", "openai", "--no-validate"],
                   input=OPENAI_KEY.encode(), env=with_budget, check=True, capture_output=True)
    subprocess.run([str(BYOK), "budget", "set", "--per", "month", "1000"], env=with_budget,
                   check=True, capture_output=True)
    cmd = [str(BYOK), "run", "-p", "openai", "-m", "gpt-6-luna", "hi"]
    plain, budgeted, ratio = paired_ms(lambda: first_byte(cmd, env),
                                       lambda: first_byte(cmd, with_budget), repeat)
    load = [sys.executable, "-c", "import time; t = time.perf_counter(); "
            "from byok_cli import prices; prices.load(None).info('openai', 'gpt-6-luna'); "
            "print((time.perf_counter() - t) * 1000)"]
    loads = [float(subprocess.run(load, capture_output=True, check=True, text=True).stdout)
             for _ in range(repeat)]
    return [("byok run -m gpt-6-luna, first token", plain, None, None),
            ("  the same under a profile budget", budgeted, ratio, None),
            ("price data: import and parse, in a process", statistics.median(loads), None, None)]


def median_ms(fn, repeat: int) -> float:
    fn()  # warm the OS file cache
    return statistics.median(fn() for _ in range(repeat)) * 1000


def paired_ms(base_fn, ours_fn, repeat: int) -> tuple[float, float, float]:
    """Medians of the two and the median of their ratios, measured in back-to-back pairs.

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
    ratio = statistics.median(o / b for o, b in zip(ours, base))
    return statistics.median(base) * 1000, statistics.median(ours) * 1000, ratio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--only", choices=("startup", "run", "usage"), action="append",
                        help="measure only these parts (default: all)")
    args = parser.parse_args()
    parts = set(args.only or ("startup", "run", "usage"))
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
        if "startup" not in parts:
            break
        base, t, ratio = paired_ms(lambda: wall(typer_only, env),
                                   lambda: wall([str(BYOK), *cmd], env), args.repeat)
        if not rows:
            rows.append(("python -c 'import typer'", base, None, None))
        rows.append((f"byok {' '.join(cmd)}", t, ratio, 2.0))

    for provider, key in (("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY)):
        if "run" not in parts:
            break
        bare_env = {**env, "K": key, "U": server.url}
        bare, ours, ratio = paired_ms(
            lambda: first_byte([sys.executable, "-c", BARE[provider]], bare_env),
            lambda: first_byte([str(BYOK), "run", "-p", provider, "hi"], env), args.repeat)
        rows.append((f"bare {provider} SDK streamed call, first token", bare, None, None))
        rows.append((f"byok run -p {provider}, first token", ours, ratio, 1.1))
    if "run" in parts:
        rows += budget_rows(env, server, args.repeat)
    server.shutdown()

    if "usage" in parts:
        usage_home = tempfile.mkdtemp(prefix="byok-bench-usage-")
        fill_usage(Path(usage_home), 1_000_000)
        usage_env = {**env, "BYOK_HOME": usage_home}
        subprocess.run([str(BYOK), "budget", "set", "--per", "month", "1000"], env=usage_env,
                       check=True, capture_output=True)
        for usage_args in (["usage"], ["usage", "--since", "all"], ["usage", "--since", "90m"],
                           ["usage", "--since", "30d", "--json"], ["budget", "list"]):
            t = median_ms(lambda: wall([str(BYOK), *usage_args], usage_env), args.repeat)
            rows.append((f"byok {' '.join(usage_args)} (10^6 requests)", t, None, None))

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")
    print(f"median of {args.repeat} runs; ratio: median of {args.repeat} paired ratios\n")
    print(f"| {'what':<46} | {'ms':>7} | {'ratio':>6} | {'goal':>5} |")
    print(f"|{'-' * 48}|{'-' * 9}|{'-' * 8}|{'-' * 7}|")
    for name, ms, ratio, goal in rows:
        r = f"{ratio:.2f}x" if ratio else ""
        g = f"{goal:g}x" if goal else ""
        print(f"| {name:<46} | {ms:7.1f} | {r:>6} | {g:>5} |")


if __name__ == "__main__":
    main()
