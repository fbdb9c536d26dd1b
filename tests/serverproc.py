"""Start and stop the third-party test servers: free ports, 127.0.0.1 only, no network.

The servers live in virtualenvs of their own, installed by scripts/install_servers.sh
under $BYOK_SERVERS_DIR (default: .servers in the checkout). A server that is not there
skips its tests, unless BYOK_REQUIRE_SERVERS is set (as .ci/run does), where that fails.
A server that does not answer its health check in time fails its tests with the tail of
its log; none is left running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVERS_DIR = Path(os.environ.get("BYOK_SERVERS_DIR") or ROOT / ".servers")
STARTUP_TIMEOUT = float(os.environ.get("BYOK_SERVER_STARTUP_TIMEOUT", 90))
# Any client in a server that honours the proxy variables goes nowhere but loopback.
DEAD_PROXY = "http://127.0.0.1:9"


def installed(name: str, executable: str) -> Path:
    """The server's executable, or skip (fail where BYOK_REQUIRE_SERVERS is set)."""
    path = SERVERS_DIR / name / "bin" / executable
    if not path.exists():
        message = (f"{name} is not installed in {SERVERS_DIR} "
                   "(run scripts/install_servers.sh)")
        if os.environ.get("BYOK_REQUIRE_SERVERS"):
            pytest.fail(message + "; BYOK_REQUIRE_SERVERS is set")
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def offline_env(**extra: str) -> dict:
    """The environment of a server: no keys or proxies of ours, outbound HTTP to nowhere."""
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("OPENAI_", "ANTHROPIC_", "BYOK_", "HTTP_", "HTTPS_",
                                        "ALL_PROXY", "NO_PROXY", "LITELLM_", "LLMOCK_"))}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = DEAD_PROXY
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


class ServerProcess:
    """One server, in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list, health_url: str, log: Path,
                 env: dict | None = None, cwd: Path | None = None):
        self.name, self.argv, self.health_url, self.log = name, argv, health_url, log
        self.env, self.cwd = env or offline_env(), cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([str(a) for a in self.argv], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=self.env, cwd=self.cwd, start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fail(f"exited with status {self.proc.returncode} while starting")
            if self.healthy():
                return self
            time.sleep(0.25)
        self.fail(f"did not answer {self.health_url} within {STARTUP_TIMEOUT:g} s")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as reply:
                return reply.status < 500
        except OSError:
            return False

    def fail(self, why: str):
        self.stop()
        tail = self.log.read_text(errors="replace")[-3000:]
        pytest.fail(f"{self.name} {why}; its log ends:\n{tail}", pytrace=False)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def remote_peers(self) -> set[str]:
        """Addresses of the TCP peers the server's processes are connected to now."""
        inodes = set()
        for pid in _process_group(self.proc.pid):
            try:
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
            except OSError:
                continue
        peers = set()
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                cols = line.split()
                if cols[9] in inodes and cols[3] == "01":  # ESTABLISHED
                    peers.add(_address(cols[2]))
        return peers


def _process_group(pgid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def _address(hex_addr: str) -> str:
    """/proc/net/tcp's little-endian hex address, as text, without the port."""
    host = hex_addr.split(":")[0]
    if len(host) == 8:
        return socket.inet_ntop(socket.AF_INET, bytes.fromhex(host)[::-1])
    raw = b"".join(bytes.fromhex(host[i:i + 8])[::-1] for i in range(0, 32, 8))
    return socket.inet_ntop(socket.AF_INET6, raw)


def is_loopback(address: str) -> bool:
    return (address.startswith("127.") or address == "::1"
            or address.startswith("::ffff:127."))
