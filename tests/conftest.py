"""Shared fixtures: an isolated byok home, the fake provider server, and CLI runners.

No test touches the real user's keyring or data dir: every byok run gets its own
BYOK_HOME and either BYOK_MASTER_KEY or a test keyring backend.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from fakeprovider import FakeProviderServer  # noqa: E402
from support.recording_proxy import RecordingProxy  # noqa: E402

BYOK = Path(sys.executable).with_name("byok")

# Keys the fake server understands (see fakeprovider.py). Shapes are valid.
OPENAI_GOOD = "sk-proj-good-Oa1b2c3d4e5f6g7h8i9j0"
OPENAI_GOOD_ENV = "sk-proj-goodenv-Zz9y8x7w6v5u4t3s2r1"
ANTHROPIC_GOOD = "sk-ant-api03-good-Aa1b2c3d4e5f6g7h8i9"
ANTHROPIC_GOOD_ENV = "sk-ant-api03-goodenv-Qq1w2e3r4t5y6u7i8"


def openai_key(marker: str) -> str:
    return f"sk-proj-{marker}-K1l2m3n4o5p6q7r8s9t0"


def anthropic_key(marker: str) -> str:
    return f"sk-ant-api03-{marker}-M1n2b3v4c5x6z7l8k9"


@pytest.fixture(scope="session")
def fake_server():
    server = FakeProviderServer().start()
    yield server
    server.shutdown()


@pytest.fixture(scope="session")
def proxy_server():
    """Where any request to a host other than this machine goes instead of the network."""
    server = RecordingProxy().start()
    yield server
    server.shutdown()


@pytest.fixture
def proxy(proxy_server):
    proxy_server.seen.clear()
    return proxy_server


@pytest.fixture(scope="module")
def scripted():
    """A server that answers every POST as the test scripts it (support/scripted.py)."""
    from support.scripted import Scripted

    with Scripted() as server:
        yield server


@pytest.fixture
def fake(fake_server):
    fake_server.reset()
    fake_server.slow_seconds = 5.0
    return fake_server


def _clean_env(proxy: RecordingProxy | None = None) -> dict:
    # No proxy of the machine's either: every test talks to 127.0.0.1, or to a proxy it runs
    # (by default the recording proxy, which forwards nothing).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "ANTHROPIC_", "BYOK_", "PYTHON_KEYRING"))
           and not k.lower().endswith("_proxy")}
    env.pop("NO_COLOR", None)
    if proxy is not None:
        env.update(proxy.env())  # nothing byok sends can leave this machine
    return env


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout


@dataclass
class Env:
    """One isolated byok installation: its home, its environment, and ways to run it."""

    home: Path
    vars: dict = field(default_factory=dict)

    def run(self, *args: str, input: str | bytes | None = None, timeout: float = 60,
            env: dict | None = None) -> Result:
        """Run the installed `byok` command as a subprocess."""
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run([str(BYOK), *args], input=data, capture_output=True,
                              env={**self.vars, **(env or {})}, timeout=timeout,
                              stdin=None if data is not None else subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                      proc.stderr.decode("utf-8", "replace"))

    def set_key(self, provider: str, key: str, *extra: str, own: bool = True) -> Result:
        """Store a key; with ``own`` (the default), for the base URL this environment sends
        the provider's requests to (the fake's), as someone who uses a gateway stores keys
        for it: that endpoint is then the key's own (issue 27)."""
        from byok_cli.registry import builtin

        record = builtin().get(provider)
        variable = record.base_url_env if record else None
        if own and "--base-url" not in extra and variable and self.vars.get(variable):
            extra = (*extra, "--base-url", self.vars[variable])
        return self.run("key", "set", provider, "--no-validate", *extra, input=key)

    def files(self) -> list[Path]:
        return [p for p in self.home.rglob("*") if p.is_file()]


@pytest.fixture
def master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
def byok_env(tmp_path, master_key, fake_server, proxy_server) -> Env:
    home = tmp_path / "byok-home"
    env = _clean_env(proxy_server)
    env.update({"BYOK_HOME": str(home), "BYOK_MASTER_KEY": master_key,
                "OPENAI_BASE_URL": fake_server.url + "/v1",
                "ANTHROPIC_BASE_URL": fake_server.url, "BYOK_TIMEOUT": "3",
                "BYOK_MAX_RETRY_WAIT": "3", "PYTHONPATH": str(TESTS)})
    return Env(home, env)


@pytest.fixture
def keyring_env(tmp_path, fake_server, proxy_server) -> Env:
    """byok with a file-backed test keyring instead of BYOK_MASTER_KEY. byok accepts only
    OS keyrings; the test keyring is let in with the documented opt-in, explicitly."""
    home = tmp_path / "byok-home"
    env = _clean_env(proxy_server)
    env.update({"BYOK_HOME": str(home), "PYTHON_KEYRING_BACKEND":
                "support.fake_keyrings.FileKeyring", "BYOK_ALLOW_INSECURE_KEYRING": "1",
                "BYOK_TEST_KEYRING": str(tmp_path / "test-keyring.json"),
                "PYTHONPATH": str(TESTS), "BYOK_KEYRING_TIMEOUT": "2",
                "OPENAI_BASE_URL": fake_server.url + "/v1",
                "ANTHROPIC_BASE_URL": fake_server.url, "BYOK_TIMEOUT": "3"})
    return Env(home, env)


@pytest.fixture
def in_process(byok_env, monkeypatch):
    """The same isolated environment applied to this process, for Typer's CliRunner and
    direct calls into the core."""
    for k in list(os.environ):
        if k.startswith(("OPENAI_", "ANTHROPIC_", "BYOK_")):
            monkeypatch.delenv(k)
    for k, v in byok_env.vars.items():
        if k.startswith(("OPENAI_", "ANTHROPIC_", "BYOK_")):
            monkeypatch.setenv(k, v)
    return byok_env


@contextlib.contextmanager
def small_tmpfs(mount: Path, size: str):
    """A tmpfs of `size` at `mount`, where the platform lets us mount one (root on Linux)."""
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here: " + made.stderr.decode()[:100])
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 512 KiB tmpfs: room for a new database, its WAL and the wipe after a `key set`
    (about 190 KiB each at schema 16), and little more; tests fill the rest themselves."""
    with small_tmpfs(tmp_path / "tiny", "512k") as mount:
        yield mount


def fill_disk(directory: Path) -> Path:
    """Write zeros to directory/filler until the disk is full; return the filler's path."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def assert_no_leak(secret: str, *texts: str, home: Path | None = None) -> None:
    """Neither the whole key nor any 12-character slice of it appears in the texts or in
    any file under home (database, WAL, journal, caches)."""
    slices = {secret[i:i + 12] for i in range(0, max(1, len(secret) - 11))}
    for text in texts:
        for s in slices:
            assert s not in text, f"key material {s!r} leaked into output"
    if home is not None:
        for path in home.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for s in slices:
                    assert s.encode() not in data, f"key material leaked into {path.name}"


# An editable install's finder (setuptools') imports pathlib when the interpreter starts:
# forget it (on 3.13 a package: pathlib._abc, pathlib._local too), so that only an import
# by byok itself is seen.
FORGET_STARTUP_PATHLIB = ("[sys.modules.pop(m) for m in list(sys.modules) "
                          "if m.split('.')[0] == 'pathlib']\n")
