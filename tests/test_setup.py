"""`byok setup TOOL`: each tool's file edited in place on real sample files (comments and
unrelated settings kept), a backup beside it, its mode kept, `--undo` byte for byte; the key
commands it writes run as each tool runs them; `--list`; the plaintext-key offer."""

import json
import shlex
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from byok_cli.errors import ByokError, Code
from byok_cli.setup import GATEWAY, HELPER, Credentials
from byok_cli.setup import files as setup_files
from byok_cli.setup.plan import plan, status
from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, assert_no_leak

USAGE = Code.USAGE.exit_status

CLAUDE = """{
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "model": "opus",
    "permissions": {"allow": ["Bash(npm run lint)"], "deny": []},
    "env": {"DISABLE_TELEMETRY": "1"}
}
"""
CODEX = """# Codex settings, kept by hand
model = "gpt-5.2-codex"  # the default one
approval_policy = "on-request"

[tui]
notifications = true  # ping me

[model_providers.local_ollama]
name = "Ollama"
base_url = "http://localhost:11434/v1"
"""
MODS = """# Default model (gpt-3.5-turbo, gpt-4, ggml-gpt4all-j...).
default-model: gpt-4o
# Text to append when using the -f flag.
format-text:
  markdown: 'Format the response as markdown without enclosing backticks.'
apis:
  openai:
    base-url: https://api.openai.com/v1
    api-key:
    api-key-env: OPENAI_API_KEY
    models: # https://platform.openai.com/docs/models
      gpt-4o:
        aliases: ["4o"]
        max-input-chars: 392000
  ollama:
    base-url: http://localhost:11434/api
    models: # https://ollama.com/library
      "llama3.2:3b":
        aliases: ["llama3.2"]
"""
AIDER = """# aider settings
model: gpt-4o  # the one I use
dark-mode: true
read:
  - CONVENTIONS.md
"""
LLM_MODELS = """# my local models
- model_id: orca-mini
  model_name: orca-mini-3b
  api_base: "http://localhost:8080/v1"
"""
SGPT = """CHAT_CACHE_LENGTH=100
DEFAULT_MODEL=gpt-4o
REQUEST_TIMEOUT=60
"""
GOOSE = ""  # Goose's custom provider file is byok's own

SAMPLES = {  # tool -> (file under HOME, sample text, comments/settings that must survive)
    "claude": (".claude/settings.json", CLAUDE, ['"permissions": {"allow": ["Bash(npm run '
                                                 'lint)"], "deny": []}', '"model": "opus"']),
    "codex": (".codex/config.toml", CODEX, ["# Codex settings, kept by hand",
                                            "# the default one", "# ping me",
                                            "[model_providers.local_ollama]"]),
    "mods": (".config/mods/mods.yml", MODS, ["# Text to append when using the -f flag.",
                                             "# https://ollama.com/library",
                                             'aliases: ["4o"]', '"llama3.2:3b"']),
    "aider": (".aider.conf.yml", AIDER, ["# the one I use", "- CONVENTIONS.md"]),
    "llm": (".config/io.datasette.llm/extra-openai-models.yaml", LLM_MODELS,
            ["# my local models", 'api_base: "http://localhost:8080/v1"']),
    "sgpt": (".config/shell_gpt/.sgptrc", SGPT, ["CHAT_CACHE_LENGTH=100", "REQUEST_TIMEOUT=60"]),
}
LOADERS = {"claude": json.loads, "codex": tomllib.loads, "mods": yaml.safe_load,
           "aider": yaml.safe_load, "llm": yaml.safe_load, "goose": json.loads}


@pytest.fixture
def tool_home(tmp_path, byok_env):
    home = tmp_path / "home"
    home.mkdir()
    byok_env.vars["HOME"] = str(home)
    for name in ("CODEX_HOME", "CLAUDE_CONFIG_DIR", "XDG_CONFIG_HOME", "LLM_USER_PATH"):
        byok_env.vars.pop(name, None)
    return home


def place(home: Path, tool: str, mode: int = 0o640) -> tuple[Path, bytes]:
    relative, text, _keep = SAMPLES[tool]
    path = home / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path, path.read_bytes()


def assert_undone(byok_env, tool: str, path: Path, original: bytes, mode: int) -> None:
    r = byok_env.run("setup", tool, "--undo")
    assert r.returncode == 0, r.stderr
    assert path.read_bytes() == original
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert not setup_files.backup_path(path).exists()


@pytest.mark.parametrize("tool", ["claude", "codex", "mods"])
def test_helper_mode_edits_in_place_and_undo_restores_byte_for_byte(byok_env, tool_home, tool):
    path, original = place(tool_home, tool, 0o640)
    r = byok_env.run("setup", tool, "--helper")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    text = path.read_text()
    for kept in SAMPLES[tool][2]:
        assert kept in text, kept
    doc = LOADERS[tool](text)
    before = LOADERS[tool](original.decode())
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert setup_files.backup_path(path).read_bytes() == original
    if tool == "claude":
        assert doc.pop("apiKeyHelper").endswith("key get anthropic")
    elif tool == "codex":
        assert doc.pop("model_provider") == "byok"
        entry = doc["model_providers"].pop("byok")
        assert entry["wire_api"] == "responses" and entry["base_url"] == \
            "https://api.openai.com/v1"
        assert entry["auth"]["args"] == ["key", "get", "openai"]
        assert entry["auth"]["refresh_interval_ms"] == 0 and entry["auth"]["timeout_ms"] > 0
    else:
        assert doc["apis"]["openai"].pop("api-key-cmd").endswith("key get openai")
    assert doc == before  # nothing else changed

    listed = json.loads(byok_env.run("setup", "--list", "--json").stdout)
    assert {r["tool"]: r["mode"] for r in listed}[tool] == HELPER

    again = byok_env.run("setup", tool, "--helper")  # a second run: nothing to change
    assert again.returncode == 0 and "already set up" in again.stderr
    assert_undone(byok_env, tool, path, original, 0o640)
    listed = json.loads(byok_env.run("setup", "--list", "--json").stdout)
    assert {r["tool"]: r["mode"] for r in listed}[tool] is None


def test_a_file_setup_created_is_removed_by_undo(byok_env, tool_home):
    r = byok_env.run("setup", "codex", "--helper")
    assert r.returncode == 0, r.stderr
    path = tool_home / ".codex" / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text())["model_provider"] == "byok"
    r = byok_env.run("setup", "codex", "--undo")
    assert r.returncode == 0, r.stderr
    assert not path.exists() and list(path.parent.iterdir()) == []


def test_a_second_setup_keeps_the_first_backup(byok_env, tool_home):
    path, original = place(tool_home, "mods")
    assert byok_env.run("setup", "mods", "--helper").returncode == 0
    assert byok_env.run("setup", "mods", "--helper", "-p", "anthropic").returncode == 0
    doc = yaml.safe_load(path.read_text())
    assert doc["apis"]["anthropic"]["api-key-cmd"].endswith("key get anthropic")
    assert_undone(byok_env, "mods", path, original, 0o640)


def test_dry_run_prints_a_diff_and_writes_nothing(byok_env, tool_home):
    path, original = place(tool_home, "claude")
    r = byok_env.run("setup", "claude", "--helper", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"--- {path}\n+++ {path}\n")
    assert '+    "apiKeyHelper": ' in r.stdout and "nothing was written" in r.stderr
    assert path.read_bytes() == original and not setup_files.has_backup(path)


def test_profile_goes_into_the_key_command(byok_env, tool_home):
    path, _ = place(tool_home, "claude")
    r = byok_env.run("setup", "claude", "--helper", "--profile", "work")
    assert r.returncode == 0, r.stderr
    assert json.loads(path.read_text())["apiKeyHelper"].endswith(
        "key get anthropic --profile work")


def test_refusals_are_one_line_and_change_nothing(byok_env, tool_home):
    cases = [(["setup", "goose", "--helper"], "no key command"),
             (["setup", "aider", "--helper"], "no key command"),
             (["setup", "vim"], "cannot set up"),
             (["setup"], "which tool"),
             (["setup", "claude", "--gateway", "--helper"], "exclude"),
             (["setup", "claude", "-p", "openai"], "not 'openai'"),
             (["setup", "claude", "--helper", "--llm-key"], "--llm-key is for"),
             (["setup", "mods", "--helper"], "no such file"),  # mods writes its own first
             (["setup", "claude", "--undo"], "has not changed it")]
    for args, words in cases:
        r = byok_env.run(*args)
        assert r.returncode == USAGE, (args, r.stderr)
        assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr
    assert list(tool_home.rglob("*")) == []


def test_gateway_mode_is_the_default_and_a_dry_run_makes_no_token(byok_env, tool_home):
    # The gateway is part of byok: a tool is pointed at it with a token of its own, never a
    # key; a dry run shows the change (the gateway's loopback URL) and makes no token.
    r = byok_env.run("setup", "claude", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "http://127.0.0.1:8787/anthropic" in r.stdout and "Traceback" not in r.stderr
    assert "`byok gateway`, which must be running" in r.stderr  # what the change relies on
    llm = byok_env.run("setup", "llm", "--dry-run")
    assert llm.returncode == 0 and "token setup printed" not in llm.stderr, llm.stderr
    listed = byok_env.run("token", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    assert list(tool_home.rglob("*")) == []


def test_a_broken_file_is_refused_untouched(byok_env, tool_home):
    path = tool_home / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text('{"model": "opus",\n')
    r = byok_env.run("setup", "claude", "--helper")
    assert r.returncode == Code.INVALID_FORMAT.exit_status
    assert "not valid JSON" in r.stderr and path.read_text() == '{"model": "opus",\n'
    assert not setup_files.has_backup(path)


# ---- the key commands, run as each tool runs them ----------------------------------------

def test_key_commands_give_the_key_as_each_tool_reads_it(byok_env, tool_home):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    place(tool_home, "mods")
    for tool in ("claude", "codex", "mods"):
        assert byok_env.run("setup", tool, "--helper").returncode == 0
    env = byok_env.vars
    claude = json.loads((tool_home / ".claude/settings.json").read_text())["apiKeyHelper"]
    out = subprocess.run(["/bin/sh", "-c", claude], capture_output=True, env=env, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and out.stdout.decode().strip() == ANTHROPIC_GOOD
    auth = tomllib.loads((tool_home / ".codex/config.toml").read_text())[
        "model_providers"]["byok"]["auth"]
    out = subprocess.run([auth["command"], *auth["args"]], capture_output=True, env=env,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and out.stdout.decode().strip() == OPENAI_GOOD
    # mods splits api-key-cmd like a shell, runs it without one, and reads stdout and
    # stderr together: anything on stderr would become part of the key
    command = yaml.safe_load((tool_home / ".config/mods/mods.yml").read_text())[
        "apis"]["openai"]["api-key-cmd"]
    out = subprocess.run(shlex.split(command), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and out.stdout.decode() == OPENAI_GOOD + "\n"


def test_key_get_prints_nothing_on_stderr_when_it_succeeds(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    for args in (["key", "get", "openai"], ["--debug", "key", "get", "openai"]):
        r = byok_env.run(*args)
        assert r.returncode == 0 and r.stdout == OPENAI_GOOD + "\n"
        if "--debug" not in args:
            assert r.stderr == ""
    # an environment key too: the same one line, and no warning
    r = byok_env.run("key", "get", "anthropic", env={"ANTHROPIC_API_KEY": ANTHROPIC_GOOD})
    assert r.returncode == 0 and r.stdout == ANTHROPIC_GOOD + "\n" and r.stderr == ""


# ---- the plaintext-key offer -------------------------------------------------------------

MODS_KEY = "sk-proj-good-modsplain-Q1w2E3r4T5y6U7i8"


def test_a_plaintext_key_is_never_removed_unasked(byok_env, tool_home, fake):
    path, _ = place(tool_home, "mods")
    path.write_text(MODS.replace("    api-key:\n", f"    api-key: {MODS_KEY}\n"))
    r = byok_env.run("setup", "mods", "--helper")
    assert r.returncode == 0, r.stderr
    assert MODS_KEY in path.read_text()  # still there, and said so
    assert "byok key import mods --scrub" in r.stderr
    assert "api-key still holds a key" in r.stderr
    assert_no_leak(MODS_KEY, r.stderr, r.stdout)
    assert byok_env.run("key", "get", "openai").returncode == Code.NO_KEY.exit_status


def test_import_keys_moves_the_plaintext_key_into_byok(byok_env, tool_home, fake):
    path, _ = place(tool_home, "mods")
    path.write_text(MODS.replace("    api-key:\n", f"    api-key: {MODS_KEY}\n"))
    r = byok_env.run("setup", "mods", "--helper", "--import-keys")
    assert r.returncode == 0, r.stderr
    text = path.read_text()
    assert MODS_KEY not in text and "api-key-cmd:" in text
    assert_no_leak(MODS_KEY, r.stderr, r.stdout)
    got = byok_env.run("key", "get", "openai")
    assert got.stdout == MODS_KEY + "\n"
    # undo brings back the file as it was before setup: the person's own, key and all
    assert byok_env.run("setup", "mods", "--undo").returncode == 0
    assert MODS_KEY not in path.read_text()  # the scrub was the person's choice, kept


# ---- gateway mode, through the seam (the core, with the gateway's answers given) ---------

GATEWAY_CREDS = Credentials(GATEWAY, "openai", gateway_urls={
    "openai": "http://127.0.0.1:8765/openai/v1", "anthropic": "http://127.0.0.1:8765/anthropic"},
    token="byok-gw-test-token")


@pytest.mark.parametrize("tool", ["claude", "codex", "mods", "aider", "llm", "sgpt", "goose"])
def test_gateway_mode_round_trip(tmp_path, tool):
    env = {"HOME": str(tmp_path)}
    creds = GATEWAY_CREDS
    if tool == "claude":
        creds = Credentials(GATEWAY, "anthropic", gateway_urls=GATEWAY_CREDS.gateway_urls,
                            token=GATEWAY_CREDS.token)
    if tool in SAMPLES:
        path, original = place(tmp_path, tool, 0o604)
    else:
        path, original = None, None
    change = plan(tool, creds, env)
    setup_files.write(change.edit)
    path = change.edit.path
    text = path.read_text()
    if tool == "goose":  # Goose takes the path apart from the host, as base_path
        doc = json.loads(text)
        assert f"{doc['base_url']}/{doc['base_path']}" == creds.gateway_url() + \
            "/chat/completions"
        assert doc["headers"] == {"Authorization": f"Bearer {creds.token}"}
    else:
        assert creds.gateway_url() in text
    assert (creds.token in text) is (tool != "llm")  # llm's keys.json only when asked
    for kept in SAMPLES.get(tool, ("", "", []))[2]:
        assert kept in text
    if tool in LOADERS:
        LOADERS[tool](text)
    assert status(tool, env)["mode"] == GATEWAY
    assert plan(tool, creds, env).edit.changes is False  # idempotent
    setup_files.undo(path)
    if original is None:
        assert not path.exists()
    else:
        assert path.read_bytes() == original and stat.S_IMODE(path.stat().st_mode) == 0o604


def test_sgpt_gateway_never_overwrites_a_plaintext_key(tmp_path):
    path, original = place(tmp_path, "sgpt")
    path.write_text(SGPT + "OPENAI_API_KEY=sk-proj-good-sgptplain-A1s2D3f4G5h6\n")
    with pytest.raises(Exception, match="has not imported"):
        plan("sgpt", GATEWAY_CREDS, {"HOME": str(tmp_path)})


def test_setup_and_offline_commands_load_no_round_trip_library(byok_env):
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.__stderr__.write('LOADED=%s\\n' % sorted("
            "m for m in sys.modules if m.startswith(('tomlkit', 'ruamel')))))\n"
            "sys.argv = ['byok', 'key', 'list']\n"
            "from byok_cli.cli import main\nmain()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=byok_env.vars, timeout=60, stdin=subprocess.DEVNULL)
    assert "LOADED=[]" in proc.stderr, proc.stderr


# ---- the two new importers ---------------------------------------------------------------

FABRIC_OPENAI = "sk-proj-good-fabric-Z1x2C3v4B5n6M7q8"
CODEX_OPENAI = "sk-proj-good-codexauth-P1o2I3u4Y5t6R7e8"


def test_fabric_env_is_imported_and_scrubbed(byok_env, tool_home):
    path = tool_home / ".config" / "fabric" / ".env"
    path.parent.mkdir(parents=True)
    path.write_text(f"DEFAULT_VENDOR=OpenAI\nDEFAULT_MODEL=gpt-4o\nOPENAI_API_KEY={FABRIC_OPENAI}\n"
                    "OPENAI_API_BASE_URL=https://api.openai.com/v1\n"
                    "GROQ_API_KEY=gsk_notbyoks0123456789\n")
    r = byok_env.run("key", "import", "fabric", "--no-validate", "--scrub", "--json")
    assert r.returncode == 0, r.stderr
    outcomes = {row["entry"]: row["result"] for row in json.loads(r.stdout)}
    assert outcomes["OPENAI_API_KEY"] == "imported"
    assert byok_env.run("key", "get", "openai").stdout == FABRIC_OPENAI + "\n"
    text = path.read_text()
    assert FABRIC_OPENAI not in text and "DEFAULT_MODEL=gpt-4o" in text
    assert_no_leak(FABRIC_OPENAI, r.stderr, r.stdout)


def test_fabric_key_for_another_base_url_is_not_taken_as_openais(byok_env, tool_home):
    path = tool_home / ".config" / "fabric" / ".env"
    path.parent.mkdir(parents=True)
    path.write_text(f"OPENAI_API_KEY={FABRIC_OPENAI}\n"
                    "OPENAI_API_BASE_URL=https://my-proxy.example/v1\n")
    r = byok_env.run("key", "import", "fabric", "--no-validate", "--json")
    rows = json.loads(r.stdout)
    assert rows[0]["result"] == "skipped" and "API_BASE_URL" in rows[0]["detail"]


def test_codex_auth_json_is_imported_and_scrubbed(byok_env, tool_home):
    path = tool_home / ".codex" / "auth.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"OPENAI_API_KEY": CODEX_OPENAI, "tokens": None,
                                "last_refresh": None}, indent=2))
    path.chmod(0o600)
    r = byok_env.run("key", "import", "codex", "--no-validate", "--scrub")
    assert r.returncode == 0, r.stderr
    assert byok_env.run("key", "get", "openai").stdout == CODEX_OPENAI + "\n"
    assert json.loads(path.read_text()) == {"tokens": None, "last_refresh": None}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "byok setup codex --helper" in r.stderr
    # signed in with ChatGPT: the key is null, and there is nothing to import
    path.write_text('{"OPENAI_API_KEY": null, "tokens": {"id_token": "x"}}')
    r = byok_env.run("key", "import", "codex", "--no-validate")
    assert r.returncode == Code.NO_KEY.exit_status and "no API keys found" in r.stderr


@pytest.mark.parametrize("tool,text,words", [
    ("claude", '{"env": "oops"}\n', "'env' is not an object"),
    ("claude", "[1, 2]\n", "not an object"),
    ("codex", "model_providers = 3\n", "model_providers is not a table"),
    ("codex", "model = \n", "not valid TOML"),
    ("mods", "- a\n- b\n", "top level is not a mapping"),
    ("mods", "apis: [1]\n", "'apis' is not a mapping"),
    ("mods", "apis:\n  openai: 3\n", "apis.openai is not a mapping"),
    ("mods", "a: [\n", "not valid YAML"),
])
def test_a_file_of_the_wrong_shape_is_one_line_and_untouched(byok_env, tool_home, tool, text,
                                                              words):
    path = tool_home / SAMPLES[tool][0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    r = byok_env.run("setup", tool, "--helper")
    assert r.returncode == Code.INVALID_FORMAT.exit_status, r.stderr
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert path.read_text() == text and not setup_files.has_backup(path)


@pytest.mark.parametrize("tool,text", [("aider", "- a\n"), ("llm", "a: 1\n")])
def test_gateway_tools_refuse_a_file_of_the_wrong_shape(tmp_path, tool, text):
    path = tmp_path / SAMPLES[tool][0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    with pytest.raises(ByokError, match="top level is not a"):
        plan(tool, GATEWAY_CREDS, {"HOME": str(tmp_path)})


def test_a_symlinked_settings_file_is_refused_with_its_target(byok_env, tool_home):
    real = tool_home / "dotfiles" / "settings.json"
    real.parent.mkdir()
    real.write_text(CLAUDE)
    (tool_home / ".claude").mkdir()
    (tool_home / ".claude" / "settings.json").symlink_to(real)
    r = byok_env.run("setup", "claude", "--helper")
    assert r.returncode == Code.INVALID_FORMAT.exit_status
    assert "is a symlink" in r.stderr and str(real) in r.stderr
    assert real.read_text() == CLAUDE


def test_the_offer_on_a_terminal_imports_and_scrubs_when_told_yes(byok_env, tool_home, fake):
    pexpect = pytest.importorskip("pexpect")
    path, _ = place(tool_home, "mods")
    path.write_text(MODS.replace("    api-key:\n", f"    api-key: {MODS_KEY}\n"))
    child = pexpect.spawn(str(BYOK), ["setup", "mods", "--helper"], env=byok_env.vars,
                          timeout=60, encoding="utf-8")
    child.expect(r"Import into byok and remove there\?")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert MODS_KEY not in child.before
    text = path.read_text()
    assert MODS_KEY not in text and "api-key-cmd:" in text
    assert byok_env.run("key", "get", "openai").stdout == MODS_KEY + "\n"
