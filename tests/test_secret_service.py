"""The vault against a real Secret Service (gnome-keyring), each scenario in its own
throw-away D-Bus session and HOME. Skipped where gnome-keyring is not installed; `.ci/run`
installs it and runs these (`pytest -m secret_service`)."""

import json
import shutil
import subprocess
import sys
import time

import pytest

from byok_cli.errors import Code
from conftest import BYOK, OPENAI_GOOD, assert_no_leak

pytestmark = [
    pytest.mark.secret_service,
    pytest.mark.skipif(not (shutil.which("dbus-run-session")
                            and shutil.which("gnome-keyring-daemon")
                            and shutil.which("secret-tool")),
                       reason="no Secret Service here (needs gnome-keyring, dbus, "
                              "libsecret-tools)"),
]

PRELUDE = """
set -u
export HOME="$1"; mkdir -p "$HOME/run"; chmod 700 "$HOME/run"
export XDG_RUNTIME_DIR="$HOME/run" BYOK_HOME="$HOME/byok" BYOK_KEYRING_TIMEOUT=3
unset BYOK_MASTER_KEY PYTHON_KEYRING_BACKEND
{daemon} > "$HOME/daemon.env" 2>/dev/null
. "$HOME/daemon.env"; export GNOME_KEYRING_CONTROL
sleep 0.3
"""
UNLOCKED = 'printf pass | gnome-keyring-daemon --unlock --components=secrets'
NOT_UNLOCKED = 'gnome-keyring-daemon --start --components=secrets < /dev/null'


def session(tmp_path, script: str, unlock: bool = True, timeout: float = 90):
    """Run a bash script in a fresh D-Bus session with its own gnome-keyring daemon.
    The script sees $B (the byok command), $PY (this Python, which has secretstorage) and
    $KEY; it writes JSON lines to $OUT."""
    out = tmp_path / "out.jsonl"
    full = PRELUDE.format(daemon=UNLOCKED if unlock else NOT_UNLOCKED) + script
    proc = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", full, "bash", str(tmp_path / "home")],
        capture_output=True, text=True, timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "B": str(BYOK), "KEY": OPENAI_GOOD, "OUT": str(out),
             "PY": sys.executable})
    lines = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    return proc, lines


RECORD = """
record() {{  # record NAME CMD...: exit code, stdout, stderr and seconds as one JSON line
  local name="$1"; shift
  local t0=$(date +%s.%N)
  "$@" > "$HOME/o" 2> "$HOME/e"; local rc=$?
  local t1=$(date +%s.%N)
  python3 -c 'import json,sys; print(json.dumps({{"name": sys.argv[1], "rc": int(sys.argv[2]),
    "out": open(sys.argv[3]).read(), "err": open(sys.argv[4]).read(),
    "seconds": float(sys.argv[6]) - float(sys.argv[5])}}))' \
    "$name" "$rc" "$HOME/o" "$HOME/e" "$t0" "$t1" >> "$OUT"
}}
"""


def by_name(lines):
    return {x["name"]: x for x in lines}


def test_master_key_lives_in_the_secret_service(tmp_path):
    proc, lines = session(tmp_path, RECORD.format() + """
printf %s "$KEY" > "$HOME/key"
record set "$B" --profile p key set openai --no-validate < "$HOME/key"
record status "$B" vault status --json
record search secret-tool search --all service byok
record decrypt "$B" --profile p exec -- true
record rotate "$B" vault rotate
record status2 "$B" vault status --json
record search2 secret-tool search --all service byok
record decrypt2 "$B" --profile p exec -- true
record files find "$HOME/byok" -type f
""")
    r = by_name(lines)
    assert r["set"]["rc"] == 0, (r["set"]["err"], proc.stderr)
    status = json.loads(r["status"]["out"])
    assert status["keyring_backend"] == "keyring.backends.SecretService.Keyring"
    mk_id = status["master_key_id"]
    assert f"master-key:{mk_id}" in r["search"]["out"] + r["search"]["err"]
    assert r["decrypt"]["rc"] == 0, r["decrypt"]["err"]  # `exec` decrypts the key
    # rotation works against the real keyring: new id stored, old id removed
    assert r["rotate"]["rc"] == 0, r["rotate"]["err"]
    new_id = json.loads(r["status2"]["out"])["master_key_id"]
    found = r["search2"]["out"] + r["search2"]["err"]
    assert new_id != mk_id and f"master-key:{new_id}" in found and mk_id not in found
    assert r["decrypt2"]["rc"] == 0, r["decrypt2"]["err"]
    # nothing keyring-related on disk under byok's data dir: the database alone
    files = sorted(p.rsplit("/", 1)[1] for p in r["files"]["out"].split())
    assert files and all(f.startswith("byok.db") for f in files), files
    secret = [ln.split("=", 1)[1].strip() for ln in found.splitlines()
              if ln.startswith("secret")]
    for path in (tmp_path / "home" / "byok").iterdir():
        for s in secret:
            assert s.encode() not in path.read_bytes()
    assert_no_leak(OPENAI_GOOD, *(x["out"] + x["err"] for x in lines),
                   home=tmp_path / "home" / "byok")


def test_locked_collection_is_reported_fast(tmp_path):
    _, lines = session(tmp_path, RECORD.format() + """
printf %s "$KEY" > "$HOME/key"
record set "$B" key set openai --no-validate < "$HOME/key"
record lock "$PY" -c "import secretstorage as s; s.get_default_collection(s.dbus_init()).lock()"
record validate "$B" exec -- true
""")
    r = by_name(lines)
    assert r["set"]["rc"] == 0, r["set"]["err"]
    assert r["lock"]["rc"] == 0, r["lock"]["err"]
    v = r["validate"]
    assert v["rc"] == Code.KEYRING_UNAVAILABLE.exit_status, v
    assert "locked" in v["err"] and "BYOK_MASTER_KEY" in v["err"]
    assert v["seconds"] < 10


def test_daemon_without_unlock_is_reported_fast(tmp_path):
    _, lines = session(tmp_path, RECORD.format() + """
printf %s "$KEY" > "$HOME/key"
record set "$B" key set openai --no-validate < "$HOME/key"
record files find "$HOME" -path "$HOME/run" -prune -o -type f -newer "$HOME/key" -print
""", unlock=False)
    r = by_name(lines)["set"]
    assert r["rc"] == Code.KEYRING_UNAVAILABLE.exit_status, r
    assert ("could not open or create its collection" in r["err"] or "locked" in r["err"]
            or "did not answer" in r["err"])
    assert r["seconds"] < 10
    # the key was stored nowhere else instead
    written = by_name(lines)["files"]["out"].split()
    assert all("byok.db" in f or "/daemon.env" in f or f.endswith(("/o", "/e")) for f in written)


def test_no_secret_service_at_all(tmp_path, byok_env):
    """Outside any D-Bus session: a clear message, quickly, nothing stored."""
    env = {k: v for k, v in byok_env.vars.items() if k not in ("BYOK_MASTER_KEY",)}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    env["BYOK_KEYRING_TIMEOUT"] = "3"
    started = time.monotonic()
    proc = subprocess.run([str(BYOK), "key", "set", "openai", "--no-validate"],
                          input=OPENAI_GOOD.encode(), capture_output=True, env=env, timeout=60)
    assert time.monotonic() - started < 15
    assert proc.returncode == Code.KEYRING_UNAVAILABLE.exit_status, proc.stderr
    assert b"Traceback" not in proc.stderr and b"BYOK_MASTER_KEY" in proc.stderr
