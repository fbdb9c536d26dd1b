"""What `byok gateway` adds, against the same upstream reached directly and through the
LiteLLM proxy, in one run (issue 21).

    python benchmarks/gateway.py [--requests N] [--rounds R] [--no-litellm]
                                 [--pace-ms 50] [--pace-chunks 5] [--phases throughput,model]

Two phases, each for streamed and unstreamed requests:
- throughput: 1 and 50 clients that send without pause to an upstream that answers at
  once. At 50 clients this measures how many requests a second a path can serve; its added
  latency is mostly queueing behind the gateway's CPU, not what one request costs.
- model: 50 clients, each sending its next request when the last one ends, to an upstream
  that answers as a model does (the first chunk after --pace-ms, then --pace-chunks - 1
  more, --pace-ms apart; unstreamed, the whole answer after chunks * ms). The clients start
  at random moments within one answer's time, as independent programs would (started in
  the same millisecond, against a fixed pace, they would stay in step for ever, and each
  burst of 50 would queue behind 50 requests' CPU). The rate is whatever that pace gives
  (printed); nothing else is tuned.
Each round sends the same requests directly, through byok's gateway and through LiteLLM's
proxy, back to back in a rotating order; the added latency of a path is its percentile
(p50, p99) minus the direct one's in the same round, and the figure is the median over
rounds. Also: requests per second, CPU per request (the gateway process's user+system time
over a phase), the delay of the first body byte (p50, against direct), and the gateway's
RSS idle and with 1,000 open streams. The output is a Markdown table (docs/testing.md's),
headed by the machine, the date and the load average. LiteLLM is the pinned one
scripts/install_servers.sh installs (BYOK_SERVERS_DIR, default /work/servers); without
it, its rows are left out.

Goals (2 cores): added p50 <= 1 ms and p99 <= 5 ms at 50 clients; <= 0.25x LiteLLM's
added latency; first streamed byte delayed <= 1 ms; 1,000 idle streams in < 150 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
BYOK = Path(sys.executable).with_name("byok")
SERVERS = Path(os.environ.get("BYOK_SERVERS_DIR", "/work/servers"))
MASTER = "sk-" + "0123456789abcdef" * 4
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, what: str, seconds: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited while starting")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system time of a process and its children that were waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK


def tree_cpu(pid: int) -> float:
    total = cpu_seconds(pid)
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for c in child.read_text().split():
            try:
                total += tree_cpu(int(c))
            except OSError:
                pass
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Path_:
    def __init__(self, name: str, url: str, headers: dict, pid: int | None):
        self.name, self.url, self.headers, self.pid = name, url, headers, pid


def start_upstream() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "upstream.py"),
                             str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/", proc, "the upstream")
    return proc, url


def start_byok(upstream: str, home: Path) -> tuple[subprocess.Popen, Path_]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BYOK_"))}
    env.update(BYOK_HOME=str(home), OPENAI_BASE_URL=upstream + "/v1",
               BYOK_MASTER_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode())
    subprocess.run([str(BYOK), "key", "set", "openai", "--no-validate"], env=env, check=True,
                   input=b"sk-proj-bench-Oa1b2c3d4e5f6g7h8i9j0", capture_output=True)
    token = subprocess.run([str(BYOK), "token", "create", "bench"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    proc = subprocess.Popen([str(BYOK), "gateway", "--port", "0", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    url = json.loads(proc.stdout.readline())["url"]
    return proc, Path_("byok", url + "/openai", {"Authorization": f"Bearer {token}"},
                       proc.pid)


def start_litellm(upstream: str, work: Path) -> tuple[subprocess.Popen, Path_] | None:
    exe = SERVERS / "litellm" / "bin" / "litellm"
    if not exe.exists():
        return None
    config = work / "litellm.yaml"
    config.write_text(json.dumps({
        "model_list": [{"model_name": "gpt-4o", "litellm_params": {
            "model": "openai/gpt-4o", "api_base": upstream + "/v1", "api_key": "sk-upstream"}}],
        "litellm_settings": {"telemetry": False},
        "general_settings": {"master_key": MASTER}}))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False",
               NO_DOCS="True", DISABLE_ADMIN_UI="True")
    proc = subprocess.Popen([str(exe), "--config", str(config), "--host", "127.0.0.1",
                             "--port", str(port), "--num_workers", "1"], env=env, cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/health/liveliness", proc, "LiteLLM", 180)
    return proc, Path_("litellm", url + "/v1", {"Authorization": f"Bearer {MASTER}"}, proc.pid)


def body(stream: bool, model: str = "gpt-4o", pace: str | None = None) -> bytes:
    data = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    if pace:
        data["user"] = pace  # benchmarks/upstream.py answers at a model's pace
    if stream:
        data.update(stream=True, stream_options={"include_usage": True})
    return json.dumps(data).encode()


async def one(session, path: Path_, payload: bytes, stream: bool) -> tuple[float, float]:
    """(total seconds, seconds to the first body byte)."""
    start = time.perf_counter()
    async with session.post(path.url + "/chat/completions", data=payload,
                            headers={**path.headers, "Content-Type": "application/json"}) as r:
        first = None
        async for _ in r.content.iter_any():
            if first is None:
                first = time.perf_counter()
        if r.status != 200:
            raise SystemExit(f"{path.name} answered {r.status}")
    end = time.perf_counter()
    return end - start, (first or end) - start


async def phase(path: Path_, clients: int, requests: int, stream: bool,
                pace: str | None = None, spread: float = 0.0) -> dict:
    """``spread``: each client starts after a random wait up to this many seconds (50
    programs of one machine do not send in the same millisecond; clients that did would
    stay in step for ever against an upstream of fixed pace)."""
    payload = body(stream, pace=pace)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session, path, payload, stream) for _ in range(clients)))
        cpu0 = tree_cpu(path.pid) if path.pid else 0.0
        times: list[tuple[float, float]] = []
        per = requests // clients

        async def worker(wait: float):
            await asyncio.sleep(wait)
            for _ in range(per):
                times.append(await one(session, path, payload, stream))

        start = time.perf_counter()
        rng = random.Random(clients)
        await asyncio.gather(*(worker(rng.uniform(0, spread)) for _ in range(clients)))
        wall = time.perf_counter() - start
        cpu = (tree_cpu(path.pid) - cpu0) if path.pid else 0.0
    total = sorted(t for t, _ in times)
    first = sorted(f for _, f in times)
    return {"p50": pct(total, 50), "p99": pct(total, 99), "first_p50": pct(first, 50),
            "rps": len(times) / wall, "cpu_ms": 1000 * cpu / len(times)}


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def open_streams(path: Path_, n: int) -> float:
    """RSS of the gateway holding ``n`` streams open, each past its first chunk."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        responses = []

        async def hold():
            r = await session.post(path.url + "/chat/completions", data=body(True, "hold"),
                                   headers={**path.headers, "Content-Type": "application/json"})
            await r.content.readany()
            responses.append(r)

        await asyncio.gather(*(hold() for _ in range(n)))
        await asyncio.sleep(1.0)
        rss = rss_mib(path.pid)
        for r in responses:
            r.close()
    return rss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--pace-ms", type=int, default=50)
    parser.add_argument("--pace-chunks", type=int, default=5)
    parser.add_argument("--phases", default="throughput,model")
    args = parser.parse_args()
    args.phases = set(args.phases.split(","))
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        up, upstream = start_upstream()
        procs.append(up)
        try:
            gw, byok_path = start_byok(upstream, Path(tmp) / "home")
            procs.append(gw)
            paths = [Path_("direct", upstream + "/v1", {"Authorization": "Bearer x"}, None),
                     byok_path]
            lite = None if args.no_litellm else start_litellm(upstream, Path(tmp))
            if lite:
                procs.append(lite[0])
                paths.append(lite[1])
            idle = rss_mib(gw.pid)
            print(f"Started {machine()}; --requests {args.requests} --rounds {args.rounds}\n")
            report(paths, args)
            print(f"\nEnded {machine()}.")
            held = asyncio.run(open_streams(byok_path, 1000))
            print(f"\nbyok gateway RSS: {idle:.1f} MiB idle, {held:.1f} MiB with 1,000 open "
                  f"streams (goal: under 150 MiB)")
        finally:
            for p in procs:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()


def report(paths: list[Path_], args) -> None:
    print("| phase | clients | stream | path | added p50 | added p99 | first byte + | rps "
          "| CPU/request |")
    print("|---|---:|---|---|---:|---:|---:|---:|---:|")
    pace = f"pace:{args.pace_ms}:{args.pace_chunks}"
    runs = [("throughput", c, s, None) for c in (1, 50) for s in (False, True)
            if "throughput" in args.phases]
    runs += [("model", 50, s, pace) for s in (False, True) if "model" in args.phases]
    for name, clients, stream, paced in runs:
        n = args.requests if clients == 50 else max(200, args.requests // 5)
        if paced:  # a request takes chunks * ms: keep a phase to about 10 s a path
            n = min(n, max(clients, int(10 * clients * 1000 / (args.pace_ms * args.pace_chunks))))
        rounds: dict[str, list[dict]] = {p.name: [] for p in paths}
        for r in range(args.rounds):
            order = paths[r % len(paths):] + paths[:r % len(paths)]
            for p in order:
                rounds[p.name].append(asyncio.run(phase(
                    p, clients, n, stream, paced,
                    args.pace_ms * args.pace_chunks / 1000 if paced else 0.0)))
        direct = rounds["direct"]
        label = name if not paced else f"model ({args.pace_ms} ms x {args.pace_chunks})"
        for p in paths:
            got = rounds[p.name]

            def added(key: str) -> float:
                return 1000 * statistics.median(g[key] - d[key] for g, d in zip(got, direct))

            def median(key: str) -> float:
                return 1000 * statistics.median(g[key] for g in got)

            rps = statistics.median(g["rps"] for g in got)
            cpu = statistics.median(g["cpu_ms"] for g in got)
            shown = {"direct": "direct", "byok": "byok", "litellm": "LiteLLM"}[p.name]
            if p.name == "direct":
                cells = [f"(p50 {median('p50'):.2f} ms)", f"(p99 {median('p99'):.2f} ms)",
                         f"({median('first_p50'):.2f} ms)", f"{rps:.0f}", ""]
            else:
                cells = [f"{added('p50'):.2f} ms", f"{added('p99'):.2f} ms",
                         f"{added('first_p50'):.2f} ms", f"{rps:.0f}", f"{cpu:.2f} ms"]
            print(f"| {label} | {clients} | {'yes' if stream else 'no'} | {shown} | "
                  + " | ".join(cells) + " |")
        sys.stdout.flush()


def machine() -> str:
    import platform

    load = os.getloadavg()
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average {load[0]:.2f} "
            f"{load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
