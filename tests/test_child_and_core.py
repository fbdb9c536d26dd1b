"""What reaches a child of `byok exec`, and when byok gives up core dumps (issue 11, items 2
and 10): no AI provider key the child did not ask for, whatever name it goes by; no core
dump of any process that reads a key, stored or not."""

import json
import subprocess
import sys
import time
from pathlib import Path

from conftest import BYOK, OPENAI_GOOD, openai_key
from test_key_safety import allow_core_dumps, child_env

OTHERS = {"GW9_API_KEY": "gw9-token-Tq8Wm3Xr6Zp1Lv5Nb9",            # another profile's provider
          "CLAUDE_API_KEY": "sk-ant-api03-claude-Qq1w2e3r4t5y6u7i8",  # aichat's name
          "OPENAI_ADMIN_KEY": "sk-admin-Aa1b2c3d4e5f6g7h8i9j0",
          "ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-Bb1c2d3e4f5g6h7i8j9",
          "GROQ_API_KEY": "gsk_" + "Wq3Rt5Yu7Io9Pa2Sd4Fg6Hj8Kl1Zx3Cv5Bn7Mm9Qw2Er4Ty6Ui8Op",
          "ANTHROPIC_AUTH_TOKEN": "sk-ant-oat01-Cc1d2e3f4g5h6i7j8k9",  # the SDK's bearer token
          "GOOGLE_API_KEY": "AIzaSy" + "Gq3Rt5Yu7Io9Pa2Sd4Fg6Hj8Kl1Zx3Cv",  # the Gemini SDK's
          "GITHUB_TOKEN": "ghp_not-an-ai-key-0123456789"}


def test_exec_child_gets_no_provider_key_it_did_not_ask_for(byok_env, tmp_path, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("--profile", "lab", "provider", "add", "gw9", "--api", "openai",
                     "--base-url", fake.url + "/v1", "--key-env", "GW9_API_KEY")
    assert r.returncode == 0, r.stderr
    seen = child_env(byok_env, tmp_path, "-p", "openai", env=OTHERS)
    assert seen["OPENAI_API_KEY"] == OPENAI_GOOD
    for name in ("GW9_API_KEY", "CLAUDE_API_KEY", "OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY",
                 "GROQ_API_KEY", "ANTHROPIC_AUTH_TOKEN", "GOOGLE_API_KEY"):
        assert name not in seen, name
    assert seen["GITHUB_TOKEN"] == OTHERS["GITHUB_TOKEN"]  # not byok's: it is no sandbox
    asked = child_env(byok_env, tmp_path, "-p", "groq", env=OTHERS)
    assert asked["GROQ_API_KEY"] == OTHERS["GROQ_API_KEY"] and "OPENAI_API_KEY" not in asked


def _core_limit_while(byok_env, fake, *argv: str, env: dict) -> str:
    """The core size limit of `byok ARGV` once it is waiting on the fake server (which
    holds a request with a "slow" key for 5 s)."""
    proc = subprocess.Popen([str(BYOK), *argv], env={**byok_env.vars, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, preexec_fn=allow_core_dumps)
    try:
        deadline = time.monotonic() + 20
        while not fake.requests and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert fake.requests, proc.communicate()
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
    finally:
        proc.kill()
        proc.communicate()
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    return core.split()[4]


def test_key_import_gives_up_core_dumps_before_it_reads_a_key(byok_env, fake):
    # No stored key has to be opened: the plaintext key read from the environment is
    # checked live first (held 5 s by the fake server), while the process holds it.
    slow = openai_key("slow")
    assert _core_limit_while(byok_env, fake, "key", "import", "env",
                             env={"OPENAI_API_KEY": slow}) == "0"


def test_sealing_with_the_environments_master_key_gives_up_core_dumps(byok_env):
    # `key import --no-validate` stores without opening any key: BYOK_MASTER_KEY is parsed
    # to seal it, and that alone must make the process non-dumpable.
    script = ("import ctypes, os, resource\n"
              "from byok_cli import Byok\n"
              "b = Byok()\n"
              "b.keychain.set('openai', os.environ['K'], check_shape=False)\n"
              "print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0),"
              " resource.getrlimit(resource.RLIMIT_CORE)[0])")
    r = subprocess.run([sys.executable, "-c", script], env={**byok_env.vars, "K": OPENAI_GOOD},
                       capture_output=True, text=True, timeout=60, preexec_fn=allow_core_dumps)
    assert r.stdout.split() == ["0", "0"], r.stderr
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is True
