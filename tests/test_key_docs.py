"""The examples in docs/other-tools.md of handing keys to other tools, run the way each
tool runs them.

mods splits `api-key-cmd` into words and runs it without a shell, taking its combined
stdout and stderr, trimmed (mods.go ensureKey); Claude Code runs `apiKeyHelper` with
/bin/sh; llm takes `--key`; aider reads the environment. The tools themselves are stand-ins
that record what they received; requests go only to the local fake server.
"""

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD

PAGE = (Path(__file__).resolve().parent.parent / "docs" / "other-tools.md").read_text()
SECTION = PAGE[PAGE.index("## Tool by tool"):
               PAGE.index("## Who took which key")]


def block(language: str, containing: str) -> str:
    for body in re.findall(rf"```{language}\n(.*?)```", SECTION, re.S):
        if containing in body:
            return body
    raise AssertionError(f"no {language} block with {containing!r} in docs/other-tools.md")


@pytest.fixture
def tools(byok_env, tmp_path):
    """byok on PATH, both keys stored, and stand-ins for llm and aider."""
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "received"
    for tool, body in {
        "llm": 'while [ $# -gt 0 ]; do [ "$1" = --key ] && printf %s "$2" > "$RECORD"; '
               "shift; done",
        "aider": 'printf "%s\\n%s" "$OPENAI_API_KEY" "$ANTHROPIC_API_KEY" > "$RECORD"',
    }.items():
        (bin_dir / tool).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / tool).chmod(0o755)
    byok_env.vars["PATH"] = f"{bin_dir}:{BYOK.parent}:/usr/local/bin:/usr/bin:/bin"
    byok_env.vars["RECORD"] = str(record)
    return byok_env, record


def test_mods_api_key_cmd(tools):
    env, _ = tools
    command = yaml.safe_load(block("yaml", "api-key-cmd"))["apis"]["openai"]["api-key-cmd"]
    out = subprocess.run(shlex.split(command), env=env.vars, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=60)
    assert out.returncode == 0 and out.stdout.decode().strip() == OPENAI_GOOD


def test_claude_code_api_key_helper(tools):
    env, _ = tools
    helper = json.loads(block("json", "apiKeyHelper"))["apiKeyHelper"]
    out = subprocess.run(["/bin/sh", "-c", helper], env=env.vars, capture_output=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.decode() == ANTHROPIC_GOOD + "\n"
    assert out.stderr == b""


def test_llm_key_option(tools):
    env, record = tools
    line = next(x for x in block("sh", "llm --key").splitlines() if x.startswith("llm"))
    subprocess.run(["bash", "-c", line], env=env.vars, check=True, timeout=60)
    assert record.read_text() == OPENAI_GOOD


def test_aider_through_byok_exec(tools):
    env, record = tools
    line = next(x for x in block("sh", "byok exec").splitlines() if x.startswith("byok"))
    subprocess.run(["bash", "-c", line], env=env.vars, check=True, timeout=60)
    assert record.read_text().splitlines() == [OPENAI_GOOD, ANTHROPIC_GOOD]


def test_curl_line_against_the_local_server(tools, fake):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (test_key_get has a urllib round trip)")
    env, _ = tools
    line = block("sh", "curl").strip().replace("https://api.openai.com", fake.url)
    assert "127.0.0.1" in line
    out = subprocess.run(["bash", "-c", line], env=env.vars, capture_output=True, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)["object"] == "list"
    assert [r["key"] for r in fake.requests] == [OPENAI_GOOD]
    handoffs = json.loads(env.run("usage", "--handoffs", "--json").stdout)
    assert [(r["parent"], r["provider"], r["count"]) for r in handoffs] == [("bash", "openai", 1)]
