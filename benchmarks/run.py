"""byok's figures against their floors: plain Python doing the same work.

    python benchmarks/run.py [--repeat N] [--only offline|run]

Floors:
- offline floor: `python -c` opening the same SQLite file and reading one row;
- run floor: a Python script doing what `byok run` does with the same libraries: it reads
  the key's row from SQLite, opens it with `cryptography`'s AES-GCM, sends the request with
  `http.client` and parses the answer (the SSE stream, or the JSON) to stdout.

Goals: `--version`, `key list`, `models list`, `config show`, `usage` and a completion (one
TAB) at most 2.0x the offline floor, `--help` at most 2.5x; `byok run`, streamed and not,
both APIs, at most 1.3x the run floor, whole process and to the first byte on stdout, with
peak memory (the child's ru_maxrss) under 30 MiB. Also: `byok chat`'s second turn against
its first (the connection reused), and what a profile budget adds to `byok run`. All
against the fake provider on 127.0.0.1. And `byok run --schema` against the same plain run,
whole process, and `byok run -a small.png` likewise. How the reading commands grow with
the database: benchmarks/scale.py.

Each ratio is the median of the ratios of back-to-back pairs, in alternating order (see
paired): this shared VM's speed drifts by tens of percent within a minute, which a ratio of
two medians does not cancel. It prints the table docs/testing.md quotes, with the machine
and the date.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from fakeprovider import FakeProviderServer  # noqa: E402

BYOK = Path(sys.executable).with_name("byok")
OPENAI_KEY = "sk-proj-good-benchmark0000000001"
ANTHROPIC_KEY = "sk-ant-api03-good-benchmark000001"

OFFLINE_FLOOR = """
import os, sqlite3
db = sqlite3.connect(os.path.join(os.environ["BYOK_HOME"], "byok.db"))
db.execute("SELECT name FROM profiles LIMIT 1").fetchone()
"""

# The run floor: byok's envelope (version, master key id, nonce, AES-GCM) opened by hand.
RUN_FLOOR = """
import base64, http.client, json, os, sqlite3, sys
from urllib.parse import urlsplit
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
P, STREAM = sys.argv[1], sys.argv[2] == "stream"
db = sqlite3.connect(os.path.join(os.environ["BYOK_HOME"], "byok.db"))
blob, hint = db.execute("SELECT ciphertext, hint FROM api_keys WHERE profile = 'default' "
                        "AND provider = ? ORDER BY position LIMIT 1", (P,)).fetchone()
master = base64.urlsafe_b64decode(os.environ["BYOK_MASTER_KEY"])
head = 1 + %(id_len)d + %(nonce_len)d
key = AESGCM(master).decrypt(blob[1 + %(id_len)d:head], blob[head:],
                             f"byok/v%(version)d\\0default\\0{P}\\0{hint}".encode()).decode()
url = urlsplit(os.environ["U"])
conn = http.client.HTTPConnection(url.hostname, url.port)
if P == "openai":
    body = {"model": "%(openai_model)s", "messages": [{"role": "user", "content": "hi"}]}
    if STREAM:
        body.update(stream=True, stream_options={"include_usage": True})
    conn.request("POST", "/v1/chat/completions", json.dumps(body),
                 {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
else:
    body = {"model": "%(anthropic_model)s", "max_tokens": 1024, "stream": STREAM,
            "messages": [{"role": "user", "content": "hi"}]}
    conn.request("POST", "/v1/messages", json.dumps(body),
                 {"x-api-key": key, "anthropic-version": "2023-06-01",
                  "Content-Type": "application/json"})
resp = conn.getresponse()
out = sys.stdout
if not STREAM:
    data = json.loads(resp.read())
    out.write(data["choices"][0]["message"]["content"] if P == "openai"
              else "".join(b.get("text", "") for b in data["content"]))
else:
    for line in resp:
        if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
            continue
        event = json.loads(line[6:])
        if P == "openai":
            text = event["choices"][0]["delta"].get("content") if event.get("choices") else None
        else:
            text = (event.get("delta") or {}).get("text")
        if text:
            out.write(text)
            out.flush()
out.write("\\n")
"""


def run_floor() -> str:
    """The floor sends what `byok run` sends: the catalogue's default models (they change
    with the catalogue) and byok's envelope layout."""
    from byok_cli.catalog import curated
    from byok_cli.secrets import vault

    catalog = curated.load()
    return RUN_FLOOR % {"id_len": vault._ID_LEN, "nonce_len": vault._NONCE_LEN,
                        "version": vault.ENVELOPE_VERSION,
                        "openai_model": catalog.default("openai"),
                        "anthropic_model": catalog.default("anthropic")}


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
            "from byok_cli.catalog import prices; prices.load(None).info('openai', 'gpt-6-luna'); "
            "print((time.perf_counter() - t) * 1000)"]
    # cwd: the installation's modules (and their bytecode), never a checkout's at cwd
    loads = [float(subprocess.run(load, capture_output=True, check=True, text=True,
                                  cwd=tempfile.gettempdir()).stdout) for _ in range(repeat)]
    return [("byok run -m gpt-6-luna, whole process", median_of(base, "whole") * 1000),
            ("  the same under a profile budget", median_of(ours, "whole") * 1000,
             ratio_of(ours, base, "whole")),
            ("  its first token", median_of(ours, "first") * 1000,
             ratio_of(ours, base, "first")),
            ("  price data: import and parse, after run's modules", statistics.median(loads))]


def schema_rows(env: dict, repeat: int) -> list[tuple]:
    """`byok run --schema` (schema parsed, sent, the answer parsed and checked) against the
    same plain run, whole process, in back-to-back pairs."""
    plain = [str(BYOK), "run", "-p", "openai", "hi"]
    shaped = [*plain[:-1], "--schema", "name, age int, tags", "hi"]
    base, ours = paired(lambda: run_once(plain, env), lambda: run_once(shaped, env), repeat)
    return [("byok run -p openai --schema 'name, age int, tags'",
             median_of(ours, "whole") * 1000, ratio_of(ours, base, "whole"))]


def attach_rows(env: dict, repeat: int) -> list[tuple]:
    """`byok run -a small.png` (the attachment code loaded, the file read, typed, checked
    and sent as a content part, and kept in the history) against the same plain run, whole
    process, in back-to-back pairs."""
    picture = ROOT / "tests" / "data" / "attachments" / "small.png"
    plain = [str(BYOK), "run", "-p", "openai", "hi"]
    attached = [*plain[:-1], "-a", str(picture), "hi"]
    base, ours = paired(lambda: run_once(plain, env), lambda: run_once(attached, env), repeat)
    return [("byok run -p openai -a small.png", median_of(ours, "whole") * 1000,
             ratio_of(ours, base, "whole"))]


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


OFFLINE = [(["--version"], 2.0), (["key", "list"], 2.0), (["models", "list"], 2.0),
           (["config", "show"], 2.0), (["usage"], 2.0), (["--help"], 2.5)]
COMPLETION = {"_BYOK_COMPLETE": "complete_bash", "COMP_WORDS": "byok key l", "COMP_CWORD": "2"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--only", choices=("offline", "run"),
                        help="only the offline commands (against the offline floor), or only "
                             "byok run and what follows it (against the run floor)")
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
    # The floors read a copy: on Python 3.12+ byok leaves its WAL for SQLite to copy into the
    # file later (store.db), and a floor's closing its connection would otherwise do it for byok.
    floor_home = tempfile.mkdtemp(prefix="byok-bench-floor-")
    shutil.copytree(home, floor_home, dirs_exist_ok=True)
    floor_env = {**env, "BYOK_HOME": floor_home}

    rows = []
    floor = [sys.executable, "-c", OFFLINE_FLOOR]
    for cmd, goal in OFFLINE + [(None, 2.0)] if args.only != "run" else []:
        ours = [str(BYOK), *(cmd or [])]
        ours_env = env if cmd else {**env, **COMPLETION}
        base, t, ratio = paired_ms(lambda: wall(floor, floor_env), lambda: wall(ours, ours_env),
                                   args.repeat)
        if not rows:
            rows.append(("offline floor: python -c, SQLite, one row", base, None, None))
        name = f"byok {' '.join(cmd)}" if cmd else "completion: one TAB (byok key l)"
        rows.append((name, t, ratio, goal))

    memory, turns = [], []
    script = run_floor()
    for provider in ("openai", "anthropic") if args.only != "offline" else ():
        for stream in (True, False):
            run_floor_env = {**floor_env, "U": server.url}
            floor_cmd = [sys.executable, "-c", script, provider,
                         "stream" if stream else "whole"]
            ours = [str(BYOK), "run", "-p", provider, *([] if stream else ["--no-stream"]), "hi"]
            said = [subprocess.run(c, env=e, capture_output=True, check=True).stdout
                    for c, e in ((floor_cmd, run_floor_env), (ours, env))]
            if said[0] != said[1]:  # the floor must do the same work
                raise SystemExit(f"the run floor printed {said[0]!r}, byok {said[1]!r}")
            base, mine = paired(lambda: run_once(floor_cmd, run_floor_env),
                                lambda: run_once(ours, env), args.repeat)
            how = "streamed" if stream else "--no-stream"
            rows.append((f"run floor: {provider}, {how}, whole process",
                         median_of(base, "whole") * 1000, None, None))
            rows.append((f"byok run -p {provider} ({how}), whole process",
                         median_of(mine, "whole") * 1000, ratio_of(mine, base, "whole"), 1.3))
            rows.append((f"byok run -p {provider} ({how}), first byte",
                         median_of(mine, "first") * 1000, ratio_of(mine, base, "first"), 1.3))
            memory.append((f"{provider}, {how}", median_of(base, "rss_kib"),
                           max(x.rss_kib for x in mine)))

    if args.only != "offline":
        rows += budget_rows(env, args.repeat)
        rows += schema_rows(env, args.repeat)
        rows += attach_rows(env, args.repeat)
        server.reset()
        turns = [chat_turns(env, "openai") for _ in range(max(5, args.repeat // 3))]
        connections = len(server.connections()) / len(turns)
        first = statistics.median(t[0] for t in turns) * 1000
        second = statistics.median(t[1] for t in turns) * 1000
        rows.append(("byok chat, first turn, first byte", first, None, None))
        rows.append(("byok chat, second turn, first byte", second,
                     statistics.median(t[1] / t[0] for t in turns), 1))
    server.shutdown()

    load = os.getloadavg()[0]
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; {dt.date.today()}; load average "
          f"{load:.1f}; {args.repeat} pairs per ratio (the median of the paired ratios)\n")
    print("| what | ms | ratio | goal |")
    print("|---|---:|---:|---:|")
    for name, ms, *rest in rows:
        ratio, goal = (rest + [None, None])[:2]
        r = f"{ratio:.2f}x" if ratio else ""
        g = (f"≤ {goal:g}x" if goal != 1 else "< 1x") if goal else ""
        print(f"| {name} | {ms:.1f} | {r} | {g} |")
    print()
    for what, floor_kib, ours_kib in memory:
        print(f"peak memory, byok run -p {what}: {ours_kib / 1024:.1f} MiB at most (goal: "
              f"under 30); the run floor: {floor_kib / 1024:.1f} MiB")
    if turns:
        print(f"byok chat: {connections:g} connection(s) per chat of two turns "
              f"({len(turns)} chats)")


if __name__ == "__main__":
    main()
