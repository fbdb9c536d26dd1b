"""Shell completions, the Python API, and packaging metadata."""

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
    assert result.outcome.text == "Echo[gpt-6.2-sol]: from python" == "".join(pieces)
    again = b.ask("and again", continue_latest=True, provider="anthropic")
    assert again.conversation_id == result.conversation_id
    assert fake.requests[-1]["messages"][0] == {"role": "user", "content": "from python"}
    with pytest.raises(ByokError) as err:
        b.ask("x", provider="mistral")
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
