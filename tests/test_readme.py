"""Every command in the README and on every page of docs/, run as shown, on a fresh home:
their code blocks (each as one shell script, as a person would type the lines), the commands
tables' examples, and the commands quoted in their prose. Only the commands the docs hand
to other tools, tool by tool, are run elsewhere (tests/test_key_docs.py), and the install
and test lines by CI (.ci/run). Nothing leaves this machine: the providers, the
example gateway and a local Ollama are the fake server on loopback."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, TESTS, _clean_env, openai_key
from support.pricedata import MapServer, litellm_map

ROOT = TESTS.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md"] + sorted(DOCS.glob("*.md"))
ALL = "\n".join(page.read_text() for page in PAGES)
# Run by tests/test_key_docs.py, the way each tool runs them.
OTHER_TOOLS = ALL[ALL.index("## Tool by tool"):ALL.index("## Who took which key")]
OWN = ALL.replace(OTHER_TOOLS, "")
# Mentions of a command in the prose, not examples to run (they need their arguments).
MENTIONS = {"byok key set", "byok config set", "byok exec --", "byok key get", "byok run",
            "byok exec", "byok provider show", "byok key remove", "byok key validate",
            "byok key list", "byok vault rotate", "byok history list", "byok usage",
            "byok key import", "byok models list", "byok models show", "byok models sync",
            "byok budget set", "byok profile list", "byok vault status", "byok chat",
            "byok doctor", "byok key", "byok setup",
            # a passphrase vault's commands (a new vault, a passphrase typed): the README's
            # keyless lines are run by tests/test_keyless.py, on a home without a keyring
            "byok unlock", "byok vault init --passphrase"}
# The docs' example gateway; tests never leave this machine, so a loopback stand-in
# (the fake server's /gw) takes its place.
GATEWAY = "https://llm.example.com/v1"
GW_KEY = "sk-gw-good-1234567890"
# Run by CI (.ci/run), not from inside the test suite.
BY_CI = {"pip install -e '.[test]' && python -m pytest"}


def blocks() -> list[str]:
    return [body for body in re.findall(r"```sh\n(.*?)```", OWN, re.S) if body.strip() not in BY_CI]


def table_examples() -> list[str]:
    """The example column of every commands table (a table headed command | what it does |
    example)."""
    found, in_commands = [], False
    for row in OWN.splitlines():
        if not row.startswith("|"):
            in_commands = False
        elif row.startswith("| command | what it does | example |"):
            in_commands = True
        elif in_commands and row.startswith("| `byok"):
            cells = re.split(r"(?<!\\)\|", row)
            found.append(cells[3].strip().strip("`").replace("\\|", "|"))
    return found


def quoted() -> list[str]:
    prose = "\n".join(line for line in re.sub(r"```.*?```", "", OWN, flags=re.S).splitlines()
                      if not line.startswith("|"))
    spans = re.findall(r"`((?:[^`\n]*\| )?byok [^`\n]*)`", prose)
    placeholder = re.compile(r"…|\[|\]|(?<![$\w])[A-Z]{2,}\b|\w\|\w")  # not "$KEY"
    return sorted({s for s in spans if s not in MENTIONS and not placeholder.search(s)})


@pytest.fixture(scope="module")
def price_map():
    """LiteLLM's map, served on loopback for `byok models sync` (BYOK_CATALOG_URL)."""
    server = MapServer()
    yield server.serve("/model_prices_and_context_window.json", litellm_map())
    server.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory, fake_server, price_map):
    """A home where byok was set up as the README's reader would have it: both keys stored
    (in a keyring) and checked, three conversations, a git repository with a change, a
    failing Makefile, an agent script, llm's key file and a stand-in `llm`."""
    root = tmp_path_factory.mktemp("readme")
    home, work, bin_dir = root / "home", root / "home" / "work", root / "bin"
    work.mkdir(parents=True)
    bin_dir.mkdir()
    env = environment(root, fake_server.url, price_map)
    for provider, key in (("openai", OPENAI_GOOD), ("anthropic", ANTHROPIC_GOOD)):
        run(env, work, f"byok key set {provider}", key)
    for name in ("work", "personal"):  # the README's named keys
        run(env, work, f"byok key set openai --name {name}", openai_key(f"good{name}"))
    # A local Ollama and LM Studio, stood in by the fake server on loopback.
    for local in ("ollama", "lmstudio"):
        run(env, work, f"byok config set {local}.base_url {fake_server.url}/local/v1")
    for prompt in ("one", "two", "three"):
        run(env, work, f"byok run {prompt}")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(git + ["init", "-q"], cwd=work, check=True)
    (work / "notes.txt").write_text("first\n")
    subprocess.run(git + ["add", "notes.txt"], cwd=work, check=True)
    subprocess.run(git + ["commit", "-qm", "first"], cwd=work, check=True)
    (work / "notes.txt").write_text("first\nsecond\n")
    (work / "Makefile").write_text("all:\n\t@echo 'ERROR: disk full' >&2; exit 2\n")
    (work / "agent.py").write_text("import os\nprint('agent sees', 'OPENAI_API_KEY' in "
                                   "os.environ and 'ANTHROPIC_API_KEY' in os.environ)\n")
    llm_keys = home / ".config" / "io.datasette.llm" / "keys.json"
    llm_keys.parent.mkdir(parents=True)
    llm_keys.write_text(json.dumps({"openai": OPENAI_GOOD}, indent=2) + "\n")
    llm_keys.chmod(0o600)
    mods = home / ".config" / "mods" / "mods.yml"
    mods.parent.mkdir(parents=True)
    mods.write_text(f"default-model: gpt-4o\napis:\n  openai:\n    api-key: {OPENAI_GOOD}\n")
    mods.chmod(0o600)
    (work / ".env").write_text(f"ANTHROPIC_API_KEY={ANTHROPIC_GOOD}\n")
    (work / ".env").chmod(0o600)
    (bin_dir / "llm").write_text('#!/bin/sh\necho "llm got a key of ${#2} characters"\n')
    (bin_dir / "llm").chmod(0o755)
    return root


def environment(root: Path, url: str, price_map: str) -> dict:
    env = {k: v for k, v in _clean_env().items() if not k.startswith("XDG_")}
    env.update(HOME=str(root / "home"), PATH=f"{root / 'bin'}:{BYOK.parent}:{os.environ['PATH']}",
               PYTHONPATH=str(TESTS), PYTHON_KEYRING_BACKEND="support.fake_keyrings.FileKeyring",
               BYOK_ALLOW_INSECURE_KEYRING="1",  # the test keyring is no OS keyring
               BYOK_TEST_KEYRING=str(root / "home" / "keyring.json"), BYOK_TIMEOUT="20",
               OPENAI_BASE_URL=url + "/v1", ANTHROPIC_BASE_URL=url,
               KEY=OPENAI_GOOD, K=openai_key("goodk"), OPENAI_KEY=OPENAI_GOOD,
               ANTHROPIC_KEY=ANTHROPIC_GOOD, BYOK_CATALOG_URL=price_map, GW_KEY=GW_KEY,
               WORK=openai_key("goodwork"))
    return env


def as_shown(env: dict, work: Path, command: str, url: str) -> str:
    """The command with the example gateway on loopback, after adding the gateway when the
    command uses one it does not add itself."""
    if re.search(r"\bgw\b", command) and "provider add gw" not in command:
        run(env, work, f"byok provider add gw --api openai --base-url {url}/gw/v1 "
                       "--key-env GW_API_KEY && printf %s \"$GW_KEY\" | byok key set gw")
    return command.replace(GATEWAY, f"{url}/gw/v1")


def run(env: dict, cwd: Path, script: str, stdin: str = "") -> subprocess.CompletedProcess:
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)
    if script.startswith("byok doctor") and proc.returncode == 18:
        # The test keyring is let in by BYOK_ALLOW_INSECURE_KEYRING=1, which doctor rightly
        # warns about; a person's OS keyring would not be. Nothing else may be wrong.
        warned = [line.split("\t")[0] for line in proc.stdout.splitlines()
                  if line.split("\t")[1:2] != ["ok"] and not line.startswith("check\t")]
        assert warned == ["keyring"], (script, proc.stdout)
    else:
        assert proc.returncode == 0, (script, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "error:" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture
def home(template, tmp_path, fake_server, price_map):
    root = tmp_path / "copy"
    shutil.copytree(template, root, symlinks=True)
    return environment(root, fake_server.url, price_map), root / "home" / "work", fake_server.url


def test_the_readme_has_commands_to_run():
    assert len(blocks()) >= 5 and len(table_examples()) >= 15 and len(quoted()) >= 5


@pytest.mark.parametrize("block", blocks(), ids=lambda b: b.strip().splitlines()[0][:40])
def test_code_block(home, block, fake):
    env, work, url = home
    script = as_shown(env, work, block.replace("pip install . && ", ""), url)  # CI installs
    asked = re.search(r"(?:^|&& )byok key set (\w+)", script, re.M)  # typed at its prompt
    typed = {"openai": OPENAI_GOOD, "anthropic": ANTHROPIC_GOOD}[asked.group(1)] if asked else ""
    out = run(env, work, script, stdin=typed)
    if "byok run" in script:
        assert "Echo[" in out.stdout
    if "git diff |" in script:
        sent = [r["messages"][-1]["content"] for r in fake.requests if r["method"] == "POST"]
        assert any("+second" in s and s.endswith("write a commit message") for s in sent)
    if "byok completion" in script:
        for path in (".local/share/bash-completion/completions/byok", ".zfunc/_byok",
                     ".config/fish/completions/byok.fish"):
            assert "_BYOK_COMPLETE" in (work.parent / path).read_text()
        # the .bashrc line, in a bash with no bash-completion package: byok is completed
        shown = subprocess.run(["bash", "--noprofile", "-i", "-c", "complete -p byok"],
                               env=env, capture_output=True, text=True, timeout=30)
        assert shown.stdout.strip() == "complete -o default -F _byok_completion byok", shown


@pytest.mark.parametrize("command", table_examples())
def test_table_example(home, command, fake):
    env, work, url = home
    command = as_shown(env, work, command, url)
    if command == "byok chat -m sonnet":  # interactive: one message, then Ctrl-D
        child = pexpect.spawn("bash", ["-c", command], cwd=str(work), env=env,
                              encoding="utf-8", timeout=60)
        child.expect("claude-sonnet-5-5")
        child.expect("› ")
        child.sendline("hi")
        child.expect(r"Echo\[claude-sonnet-5-5\]: hi")
        child.expect("› ")
        child.sendeof()
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        return
    out = run(env, work, command)
    checks = {
        "byok key list --json": lambda: json.loads(out.stdout)[0]["stored"] is True,
        "byok run --json -m luna \"hi\"": lambda: json.loads(out.stdout)["model"] == "gpt-6-luna",
        "byok history show 3": lambda: "three" in out.stdout,
        "byok exec -- python agent.py": lambda: out.stdout == "agent sees True\n",
        "byok vault rotate": lambda: "rotated the master key" in out.stderr,
        "byok completion zsh": lambda: out.stdout.startswith("#compdef byok"),
        "byok models default sonnet": lambda: "claude-sonnet-5-5" in out.stderr,
        "llm --key \"$(byok key get openai)\" hi":
            lambda: out.stdout == f"llm got a key of {len(OPENAI_GOOD)} characters\n",
    }
    assert checks.get(command, lambda: True)(), (command, out.stdout, out.stderr)


@pytest.mark.parametrize("command", quoted())
def test_quoted_command(home, command, fake):
    env, work, url = home
    command = as_shown(env, work, command, url)
    out = run(env, work, command, stdin="")
    if "byok run" in command and "--explain" not in command:  # --explain sends nothing
        assert "Echo[" in out.stdout
    if command.startswith("make "):
        sent = [r["messages"][-1]["content"] for r in fake.requests if r["method"] == "POST"]
        assert sent[-1].startswith("ERROR: disk full") and "why did it fail" in sent[-1]


def test_python_api_example(home, fake):
    env, work, _ = home
    code = re.search(r"```python\n(.*?)```", OWN, re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"anthropic claude-sonnet-5-5 stored key (…{ANTHROPIC_GOOD[-4:]})"
    assert lines[1] == "Echo[gpt-6.1-sol]: 2+2?"  # the answer, streamed, on one line
    assert lines[2] == "openai gpt-6.1-sol []" and len(lines) == 3
