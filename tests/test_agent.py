"""The passphrase-sealed master key and its unlock agent (issue 23): `vault init --passphrase`,
`byok unlock [--ttl]`, `byok lock`; the agent's socket (0600, SO_PEERCRED), its TTL, a stale
socket, SIGTERM, a foreign uid, a race of unlock with runs, and no key on disk or in swap.

Every wait here is a poll with a generous deadline, never a timing assertion."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from byok_cli.errors import Code
from conftest import OPENAI_GOOD, Env, assert_no_leak

PASSPHRASE = "correct horse battery staple"
LOCKED = Code.KEYRING_UNAVAILABLE.exit_status


def status(env) -> dict:
    r = env.run("vault", "status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wait_for(condition, what: str, deadline: float = 60.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"still waiting for {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture
def sealed_env(byok_env, tmp_path):
    """A vault whose master key is sealed with a passphrase; no keyring, no variable."""
    byok_env.vars.pop("BYOK_MASTER_KEY")
    byok_env.vars["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    byok_env.vars["XDG_RUNTIME_DIR"] = str(run_dir)
    byok_env.run_dir = run_dir
    r = byok_env.run("vault", "init", "--passphrase", input=PASSPHRASE + "\n")
    assert r.returncode == 0, r.stderr
    yield byok_env
    byok_env.run("lock")  # never leave an agent behind
    for sock in list(run_dir.glob("*.sock")) + list(byok_env.home.glob("*.sock")):
        sock.unlink(missing_ok=True)


def unlock(env, *args: str, passphrase: str = PASSPHRASE, extra: dict | None = None):
    return env.run("unlock", *args, input=passphrase + "\n", env=extra, timeout=120)


def test_sealed_file_holds_age_scrypt_parameters_and_no_key(sealed_env):
    sealed = sealed_env.home / "master.sealed"
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    doc = json.loads(sealed.read_text())
    assert (doc["kdf"], doc["log_n"], doc["r"], doc["p"]) == ("scrypt", 18, 8, 1)
    # a file asking for a cheaper KDF is refused before any passphrase is tried
    doc["log_n"] = 10
    sealed.write_text(json.dumps(doc))
    r = unlock(sealed_env)
    assert r.returncode == Code.DECRYPT_FAILED.exit_status and "log2 N=10" in r.stderr


@pytest.mark.parametrize("runtime_dir", [True, False])
def test_unlock_use_lock(sealed_env, fake, runtime_dir):
    extra = {} if runtime_dir else {"XDG_RUNTIME_DIR": ""}
    env = sealed_env
    r = env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD, env=extra)
    assert r.returncode == LOCKED and "byok unlock" in r.stderr
    r = unlock(env, passphrase="wrong", extra=extra)
    assert r.returncode == Code.DECRYPT_FAILED.exit_status and "wrong passphrase" in r.stderr
    assert not list(env.run_dir.iterdir()) and not list(env.home.glob("*.sock"))
    r = unlock(env, "--ttl", "10m", extra=extra)
    assert r.returncode == 0, r.stderr
    socks = list(env.run_dir.glob("byok-*.sock")) if runtime_dir else [env.home / "agent.sock"]
    assert len(socks) == 1 and socks[0].is_socket()
    assert stat.S_IMODE(socks[0].stat().st_mode) == 0o600
    assert env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                   env=extra).returncode == 0
    r = env.run("run", "hello", env=extra)
    assert r.returncode == 0 and r.stdout == "Echo[gpt-6.1-sol]: hello\n", r.stderr
    info = json.loads(env.run("vault", "status", "--json", env=extra).stdout)
    assert info["master_key_source"] == "agent (the unlock agent)"
    assert info["agent_socket"] == str(socks[0]) and info["agent_expires_at"]
    rows = json.loads(env.run("doctor", "--json", env=extra).stdout)
    assert "unlocked until" in next(r for r in rows if r["check"] == "master key")["detail"]
    pid = info["agent_pid"]
    r = env.run("lock", env=extra)
    assert r.returncode == 0 and "locked" in r.stderr
    wait_for(lambda: not alive(pid), "the agent to end")
    assert not socks[0].exists()
    r = env.run("key", "get", "openai", env=extra)
    assert r.returncode == LOCKED and "byok unlock" in r.stderr
    assert env.run("lock", env=extra).returncode == 0  # already locked: nothing to do


def test_a_wrong_passphrase_of_words_leaves_byoks_message_whole(sealed_env):
    """A passphrase is masked whole; its words ("passphrase") are not masked in prose."""
    r = unlock(sealed_env, passphrase="a good long passphrase")
    assert r.returncode == Code.DECRYPT_FAILED.exit_status
    assert "wrong passphrase" in r.stderr, r.stderr


def test_a_passphrase_is_masked_whole_and_a_one_word_one_like_a_key():
    from byok_cli.errors import redact, remember_phrase

    remember_phrase("tangerine sextant 42 volcano")
    assert redact("said: tangerine sextant 42 volcano.") == "said: ….", redact("x")
    assert redact("a tangerine and a sextant") == "a tangerine and a sextant"
    remember_phrase("Zq8vT3pLmN5xR2wK")
    assert "Zq8vT3pLmN5xR2wK" not in redact("echo Zq8vT3pLmN5xR2wK back")


def test_ttl_expires(sealed_env):
    env = sealed_env
    assert unlock(env, "--ttl", "2s").returncode == 0
    pid = status(env)["agent_pid"]
    wait_for(lambda: not alive(pid), "the agent to end at its TTL")
    assert not list(env.run_dir.glob("*.sock"))
    r = env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD)
    assert r.returncode == LOCKED and "byok unlock" in r.stderr
    for bad in ("0", "8x", "-1h", "99999d", ""):
        r = env.run("unlock", "--ttl", bad, input=PASSPHRASE + "\n")
        assert r.returncode == Code.USAGE.exit_status, (bad, r.stderr)


def test_stale_socket_sigterm_and_a_second_unlock(sealed_env):
    env = sealed_env
    assert unlock(env).returncode == 0
    info = status(env)
    path, pid = Path(info["agent_socket"]), info["agent_pid"]
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not alive(pid), "the agent to end on SIGTERM")
    assert not path.exists()  # it removed its socket
    # a stale socket: bound once, nobody listening
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    r = env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD)
    assert r.returncode == LOCKED and "byok unlock" in r.stderr
    assert status(env)["master_key_source"].endswith("locked (run `byok unlock`)")
    assert unlock(env).returncode == 0
    first = status(env)["agent_pid"]
    assert unlock(env).returncode == 0  # a second unlock takes over; the first agent ends
    second = status(env)["agent_pid"]
    assert second != first
    wait_for(lambda: not alive(first), "the replaced agent to end")
    assert alive(second)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a process of another uid")
def test_another_users_process_gets_no_answer(sealed_env):
    env = sealed_env
    assert unlock(env).returncode == 0
    path = Path(status(env)["agent_socket"])
    # uid 65534 cannot pass the private directories above the socket: a hard link to it
    # in a directory it may enter, and a mode that lets it connect, leave only SO_PEERCRED
    import tempfile

    shared = Path(tempfile.mkdtemp(dir=path.parent.anchor + "tmp"))
    shared.chmod(0o711)
    link = shared / "agent.sock"
    try:
        os.link(path, link)
    except OSError as exc:
        pytest.skip(f"cannot link the socket where another user can reach it: {exc}")
    path.chmod(0o666)
    try:
        probe = ("import socket, sys\n"
                 "s = socket.socket(socket.AF_UNIX)\n"
                 "s.settimeout(20)\n"
                 f"s.connect({str(link)!r})\n"
                 "try:\n"
                 "    s.sendall(b'get\\n')\n"
                 "    data = s.recv(4096)\n"
                 "except (BrokenPipeError, ConnectionResetError):\n"
                 "    data = b''\n"
                 "sys.stdout.write(repr(data))\n")
        python = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3")
                       if os.access(p, os.X_OK)), None)
        if python is None:
            pytest.skip("no system python3 that another user may run")
        r = subprocess.run([python, "-c", probe], user=65534, group=65534, cwd="/",
                           capture_output=True, text=True, timeout=60)
    finally:
        path.chmod(0o600)
        link.unlink(missing_ok=True)
        shared.rmdir()
    assert r.returncode == 0, r.stderr
    assert r.stdout == "b''"  # connected, and told nothing
    assert env.run("key", "list").returncode == 0
    assert "master_key_id" in status(env) and status(env)["master_key_id"]


def test_agent_keeps_the_key_off_disk_and_out_of_swap_and_core(sealed_env, fake, tmp_path):
    from byok_cli.secrets.sealed import unseal

    env = sealed_env
    assert unlock(env).returncode == 0
    assert env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD).returncode == 0
    assert env.run("run", "hi").returncode == 0
    pid = status(env)["agent_pid"]
    master = unseal(env.home / "master.sealed", PASSPHRASE).key
    forms = [master, base64.urlsafe_b64encode(master), base64.b64encode(master),
             master.hex().encode()]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(f in data for f in forms), path
    proc = Path(f"/proc/{pid}/status").read_text()
    assert "VmSwap:\t       0 kB" in proc
    limits = Path(f"/proc/{pid}/limits").read_text()
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4] == "0"
    if os.geteuid() == 0:  # root may lock memory: the agent did
        locked_kb = int(next(line for line in proc.splitlines()
                             if line.startswith("VmLck:")).split()[1])
        assert locked_kb > 0
    assert_no_leak(base64.urlsafe_b64encode(master).decode(), proc, home=env.home)


def test_exec_child_gets_neither_the_master_key_nor_the_agents_descriptor(sealed_env):
    env = sealed_env
    assert unlock(env).returncode == 0
    assert env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD).returncode == 0
    r = env.run("exec", "--", sys.executable, "-c",
                "import os; print(sorted(os.listdir('/proc/self/fd')))")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.replace("'", '"')) == ["0", "1", "2", "3"]  # 3: listdir's own


def test_unlock_races_with_ten_runs(sealed_env, fake):
    """10 runs start while `byok unlock` starts the agent: each either works or says to
    unlock (never hangs, never crashes); then, while 10 more run, a second unlock replaces
    the agent: the socket is renamed into place, so every one of those finds an agent."""
    env = sealed_env
    assert unlock(env).returncode == 0
    assert env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD).returncode == 0
    assert env.run("lock").returncode == 0
    with ThreadPoolExecutor(11) as pool:
        unlocking = pool.submit(unlock, env)
        runs = [pool.submit(env.run, "run", f"q{i}", timeout=120) for i in range(10)]
        assert unlocking.result().returncode == 0
        results = [f.result() for f in runs]
    for r in results:
        assert r.returncode in (0, LOCKED), r.stderr
        assert r.returncode == 0 or "byok unlock" in r.stderr
    with ThreadPoolExecutor(11) as pool:
        runs = [pool.submit(env.run, "run", f"again {i}", timeout=120) for i in range(10)]
        relock = pool.submit(unlock, env)
        results = [f.result() for f in runs]
        assert relock.result().returncode == 0
    for r in results:
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("Echo[")


def test_vault_status_says_when_a_sealed_or_file_master_key_was_made(sealed_env, tmp_path):
    """user2's finding 15: under the agent and file sources `vault status` showed no date."""
    assert sealed_env.run("unlock", input=PASSPHRASE + "\n").returncode == 0
    info = status(sealed_env)
    assert info["master_key_source"].startswith("agent")
    made = info["master_key_created_at"]
    assert made and made.endswith("+00:00") and info["master_key_age_days"] == 0
    assert sealed_env.run("lock").returncode == 0
    key_file = tmp_path / "master.key"
    on_file = Env(tmp_path / "other-home", {**sealed_env.vars,
                                             "BYOK_HOME": str(tmp_path / "other-home")})
    assert on_file.run("vault", "init", "--file", str(key_file)).returncode == 0
    on_file.vars["BYOK_MASTER_KEY_FILE"] = str(key_file)
    info = status(on_file)
    assert info["master_key_source"].startswith("file")
    assert info["master_key_created_at"] and info["master_key_age_days"] == 0
    table = on_file.run("vault", "status").stdout
    assert "master_key_created_at\t20" in table
