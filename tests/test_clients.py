"""The gateway driven by a real client program from the registry (issue 21): `llm`, at the
version tests/servers/llm.lock pins, installed by scripts/install_servers.sh into a venv of
its own. Skipped where it is not installed; BYOK_REQUIRE_SERVERS makes that a failure."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import OPENAI_GOOD
from serverproc import installed
from support.byok_gateway import RunningGateway


@pytest.fixture
def llm(byok_env, tmp_path):
    exe = installed("llm", "llm")
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    byok_env.vars["LLM_USER_PATH"] = str(tmp_path / "llm")  # none of the user's llm config
    return exe


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_llm_under_exec_gateway(byok_env, fake, llm, stream):
    done = byok_env.run("exec", "--gateway", "-p", "openai", "--", str(llm), "-m", "gpt-4o",
                        *([] if stream else ["--no-stream"]), "hello from llm", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Echo[gpt-4o]: hello from llm\n"
    (sent,) = [r for r in fake.requests if r["method"] == "POST"]
    assert sent["key"] == OPENAI_GOOD and sent["body"]["stream"] is stream
    (row,) = json.loads(byok_env.run("usage", "--by", "token", "--json").stdout)["rows"]
    assert row["token"].startswith("exec-") and row["requests"] == 1
    assert row["output_tokens"] > 0


def test_llm_against_a_standalone_gateway_and_a_revoked_token(byok_env, fake, llm):
    made = byok_env.run("token", "create", "llm")
    gw = RunningGateway(byok_env.vars)
    env = {**byok_env.vars, "OPENAI_BASE_URL": gw.url + "/openai",
           "OPENAI_API_KEY": made.stdout.strip()}
    try:
        said = subprocess.run([str(llm), "-m", "gpt-4o", "hi there"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert said.returncode == 0, said.stderr
        assert said.stdout == "Echo[gpt-4o]: hi there\n"
        assert byok_env.run("token", "revoke", "llm").returncode == 0
        refused = subprocess.run([str(llm), "-m", "gpt-4o", "again"], env=env,
                                 capture_output=True, text=True, timeout=120)
    finally:
        gw.stop()
    assert refused.returncode != 0 and "revoked" in refused.stderr
    assert len([r for r in fake.requests if r["method"] == "POST"]) == 1
