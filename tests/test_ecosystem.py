"""Shell completions, the Python API, and packaging metadata."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from byok_cli.errors import ByokError, Code
from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD

ROOT = Path(__file__).resolve().parents[1]


def test_generated_files_are_fresh():
    """The fast path's option tables (byok_cli/cli/run_options.py)."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def bash_complete(byok_env, words: list[str]) -> list[str]:
    """What the packaged bash completion offers, in a real bash, for `words` + TAB."""
    script = (f'source "{ROOT / "byok_cli" / "data" / "completions" / "byok.bash"}"\n'
              f'COMP_WORDS=({" ".join(repr(w) for w in words)}); '
              f'COMP_CWORD={len(words) - 1}\n'
              '_byok_completion byok\nprintf "%s\\n" "${COMPREPLY[@]}"\n')
    env = {**byok_env.vars, "PATH": f"{BYOK.parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True,
                          env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [x for x in proc.stdout.splitlines() if x]


@pytest.mark.skipif(not shutil.which("bash"), reason="no bash")
def test_bash_completion_offers_providers_models_and_commands(byok_env):
    providers = bash_complete(byok_env, ["byok", "key", "set", ""])
    assert providers[:2] == ["openai", "anthropic"] and {"openrouter", "ollama"} <= set(providers)
    byok_env.run("provider", "add", "gw", "--api", "openai", "--base-url", "https://gw.test/v1")
    assert bash_complete(byok_env, ["byok", "run", "-p", "g"]) == ["groq", "gemini", "gw"]
    assert bash_complete(byok_env, ["byok", "--profile", "other", "run", "-p", "g"]) == [
        "groq", "gemini"]  # the profile's own providers
    models = bash_complete(byok_env, ["byok", "run", "-m", ""])
    assert {"gpt-6.2-sol", "claude-sonnet-5-5", "sonnet", "haiku", "mini"} <= set(models)
    assert {"openrouter/", "gw/"} <= set(models)  # provider/ prefixes
    assert "gw.model" in bash_complete(byok_env, ["byok", "config", "set", "gw."])
    assert bash_complete(byok_env, ["byok", "run", "-m", "claude-h"]) == [
        "claude-haiku-5-5", "claude-haiku-4-5"]
    assert {"run", "chat", "key", "models", "vault"} <= set(
        bash_complete(byok_env, ["byok", ""]))
    assert "--no-fallback" in bash_complete(byok_env, ["byok", "run", "--"])
    assert "preferred-provider" in bash_complete(byok_env, ["byok", "config", "set", ""])


def test_completion_imports_no_sdk(byok_env):
    env = {**byok_env.vars, "_BYOK_COMPLETE": "complete_bash", "COMP_WORDS": "byok run -m ",
           "COMP_CWORD": "3"}
    code = ("import sys; from byok_cli.cli import main\ntry:\n main()\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip().endswith("[]")


# --- the Python API ----------------------------------------------------------------------------

def test_python_api_plan_client_and_ask(in_process, fake):
    import byok_cli

    b = byok_cli.Byok()
    b.keychain.set("openai", OPENAI_GOOD)
    b.keychain.set("anthropic", ANTHROPIC_GOOD)
    b.store.set_setting("default", "preferred_provider", "openai")
    plan = b.plan(model="haiku")
    assert (plan.attempts[0].provider, plan.attempts[0].model) == ("anthropic",
                                                                   "claude-haiku-5-5")
    client = b.client("openai")
    assert type(client).__module__.startswith("openai")
    assert client.api_key == OPENAI_GOOD and str(client.base_url).startswith(fake.url)
    assert [m.id for m in client.models.list()][:1] == ["gpt-6.2-astra"]
    claude = b.client("anthropic")  # the SDK client the scripts get, as before the wire client
    assert type(claude).__module__.startswith("anthropic") and claude.api_key == ANTHROPIC_GOOD
    assert str(claude.base_url).rstrip("/") == fake.url
    assert [m.id for m in claude.models.list(limit=100)][:1] == ["claude-opus-5-5"]
    pieces = []
    result = b.ask("from python", on_text=pieces.append)
    assert result.outcome.text == "Echo[gpt-6.1-sol]: from python" == "".join(pieces)
    again = b.ask("and again", continue_latest=True, provider="anthropic")
    assert again.conversation_id == result.conversation_id
    assert fake.requests[-1]["messages"][0] == {"role": "user", "content": "from python"}
    with pytest.raises(ByokError) as err:
        b.ask("x", provider="nope")
    assert err.value.code == Code.USAGE


def test_package_is_typed_and_versioned():
    import byok_cli

    assert (Path(byok_cli.__file__).parent / "py.typed").exists()
    proc = subprocess.run([str(BYOK), "--version"], capture_output=True, text=True)
    assert proc.stdout.strip() == f"byok {byok_cli.__version__}"


def test_import_byok_cli_is_light():
    code = ("import sys, byok_cli; print(sorted(m for m in ('openai', 'anthropic', 'typer', "
            "'keyring', 'cryptography', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
