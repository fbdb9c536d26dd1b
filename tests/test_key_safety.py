"""Keys kept to the one process that needs them (issue 11, items 2, 10, 16 and 17): `exec`
hands its child only what it asked for, no core dumps hold a secret, BYOK_MASTER_KEY is
parsed strictly, and the rotation fault hook cannot be reached from outside the tests."""

import base64
import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from byok_cli.errors import Code
from conftest import (ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, OPENAI_GOOD_ENV, assert_no_leak,
                      openai_key)

ANTHROPIC_ENV = "sk-ant-api03-goodenv-Qq1w2e3r4t5y6u7i8"


# --- item 2: exec gives the child only what it asked for ----------------------------------------

def child_env(byok_env, tmp_path, *exec_args: str, env: dict | None = None) -> dict:
    out = tmp_path / "child-env.json"
    r = byok_env.run("exec", *exec_args, "--", sys.executable, "-c",
                     f"import json, os; json.dump(dict(os.environ), open({str(out)!r}, 'w'))",
                     env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text())


def test_exec_child_never_gets_the_master_keys(byok_env, tmp_path):
    byok_env.set_key("openai", OPENAI_GOOD)
    seen = child_env(byok_env, tmp_path, env={"BYOK_NEW_MASTER_KEY": base64.urlsafe_b64encode(
        os.urandom(32)).decode()})
    assert "BYOK_MASTER_KEY" not in seen and "BYOK_NEW_MASTER_KEY" not in seen
    assert seen["OPENAI_API_KEY"] == OPENAI_GOOD and seen["BYOK_EXEC"] == "default"


def test_exec_child_gets_only_the_providers_it_asked_for(byok_env, tmp_path):
    byok_env.set_key("openai", OPENAI_GOOD)
    parent = {"ANTHROPIC_API_KEY": ANTHROPIC_ENV, "OPENAI_API_KEY": OPENAI_GOOD_ENV}
    only_openai = child_env(byok_env, tmp_path, "-p", "openai", env=parent)
    assert only_openai["OPENAI_API_KEY"] == OPENAI_GOOD
    assert "ANTHROPIC_API_KEY" not in only_openai
    only_anthropic = child_env(byok_env, tmp_path, "-p", "anthropic", env=parent)
    assert only_anthropic["ANTHROPIC_API_KEY"] == ANTHROPIC_ENV
    assert "OPENAI_API_KEY" not in only_anthropic
    both = child_env(byok_env, tmp_path, "-p", "anthropic", "-p", "openai", env=parent)
    assert both["OPENAI_API_KEY"] == OPENAI_GOOD and both["ANTHROPIC_API_KEY"] == ANTHROPIC_ENV


def test_exec_child_cannot_decrypt_the_vault(byok_env, tmp_path):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    out = tmp_path / "child.txt"
    # The child tries what any program could: byok itself, without the nesting guard.
    script = (f"env -u BYOK_EXEC {BYOK} key validate anthropic --json > {out} 2>&1; "
              f"echo \"exit=$?\" >> {out}")
    r = byok_env.run("exec", "-p", "openai", "--", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    seen = out.read_text()
    status = int(re.search(r"exit=(\d+)", seen).group(1))
    assert status in (Code.KEYRING_UNAVAILABLE.exit_status, Code.NO_KEY.exit_status,
                      Code.DECRYPT_FAILED.exit_status), seen
    assert "VALID" not in seen
    assert_no_leak(ANTHROPIC_GOOD, seen)


# --- item 10: no secrets in core dumps ---------------------------------------------------------

def allow_core_dumps():
    resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, resource.RLIM_INFINITY))


def test_byok_run_holds_no_core_dump_limit_once_it_has_a_key(byok_env, fake):
    byok_env.set_key("openai", openai_key("good-trickle"))
    proc = subprocess.Popen([str(BYOK), "run", "lines:30"], env=byok_env.vars,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, preexec_fn=allow_core_dumps)
    try:
        assert proc.stdout.readline() == b"line 1\n"  # the key has been decrypted and sent
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
    finally:
        proc.kill()
        proc.communicate()
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4] == "0", core


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_python_api_process_is_not_dumpable_after_decrypting(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    script = ("import ctypes, resource\n"
              "from byok_cli import Byok\n"
              "libc = ctypes.CDLL(None)\n"
              "before = libc.prctl(3, 0, 0, 0, 0)\n"
              "assert Byok().keychain.get('openai').endswith('i9j0')\n"
              "print(before, libc.prctl(3, 0, 0, 0, 0),\n"
              "      resource.getrlimit(resource.RLIMIT_CORE)[0])")
    r = subprocess.run([sys.executable, "-c", script], env=byok_env.vars, capture_output=True,
                       text=True, timeout=60, preexec_fn=allow_core_dumps)
    assert r.stdout.split() == ["1", "0", "0"], r.stderr


def test_exec_child_keeps_its_own_core_limit(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    show = "import resource; print(resource.getrlimit(resource.RLIMIT_CORE)[0])"
    r = subprocess.run([str(BYOK), "exec", "--", sys.executable, "-c", show],
                       env=byok_env.vars, capture_output=True, text=True, timeout=60,
                       preexec_fn=allow_core_dumps)
    assert r.returncode == 0 and r.stdout.strip() == str(1 << 20), r.stdout


# --- item 16: BYOK_MASTER_KEY parsed strictly -------------------------------------------------

def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


GOOD_RAW = bytes(range(1, 33))
BAD_MASTER_KEYS = {
    "junk after": _b64(GOOD_RAW) + "!!",
    "junk inside": _b64(GOOD_RAW)[:20] + "*" + _b64(GOOD_RAW)[20:],
    "space inside": _b64(GOOD_RAW)[:20] + " " + _b64(GOOD_RAW)[20:],
    "standard alphabet": base64.b64encode(b"\xfb" * 32).decode(),
    "31 bytes": _b64(GOOD_RAW[:31]),
    "33 bytes": _b64(GOOD_RAW + b"!"),
    "all zero": _b64(bytes(32)),
    "stray bits": _b64(GOOD_RAW)[:42] + "B=",
    "hex": GOOD_RAW.hex(),
}


@pytest.mark.parametrize("what", BAD_MASTER_KEYS)
def test_a_malformed_master_key_is_refused(byok_env, what):
    value = BAD_MASTER_KEYS[what]
    r = byok_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                     env={"BYOK_MASTER_KEY": value})
    assert r.returncode == Code.KEYRING_UNAVAILABLE.exit_status, (what, r.stderr)
    assert "BYOK_MASTER_KEY" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert value.strip() not in r.stderr
    rotate = byok_env.run("vault", "rotate", env={"BYOK_NEW_MASTER_KEY": value})
    assert rotate.returncode == Code.KEYRING_UNAVAILABLE.exit_status
    assert "BYOK_NEW_MASTER_KEY" in rotate.stderr


def test_a_well_formed_master_key_is_accepted_with_or_without_padding(byok_env):
    for value in (_b64(GOOD_RAW), _b64(GOOD_RAW).rstrip("="), _b64(GOOD_RAW) + "\n"):
        r = byok_env.run("key", "set", "openai", "--no-validate", input=OPENAI_GOOD,
                         env={"BYOK_MASTER_KEY": value})
        assert r.returncode == 0, r.stderr


# --- item 17: the rotation fault hook ------------------------------------------------------------

def test_the_fault_hook_cannot_be_triggered_from_the_environment(keyring_env):
    keyring_env.set_key("openai", OPENAI_GOOD)
    for step in ("after-new-key-saved", "before-commit", "after-commit"):
        r = keyring_env.run("vault", "rotate", env={"BYOK_FAULT": step, "BYOK_TEST_FAULT": step})
        assert r.returncode == 0, (step, r.returncode, r.stderr)
    import byok_cli

    shipped = "".join(p.read_text() for p in Path(byok_cli.__file__).parent.rglob("*.py"))
    assert "BYOK_FAULT" not in shipped and "environ.get(\"BYOK_TEST" not in shipped
    assert keyring_env.run("key", "validate", "openai").returncode == 0
