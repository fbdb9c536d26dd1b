"""`byok key import --name`: a tool's key beside a different stored one, and `--scrub`
removing exactly the keys now in the vault, saying what it kept and why. Real files as
llm, aichat and a .env hold them, through the installed command."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from byok_cli.errors import Code
from conftest import assert_no_leak, openai_key

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "import"
LLM_OPENAI = "sk-proj-good-llm-A1b2C3d4E5f6G7h8I9j0"
LLM_ANTHROPIC = "sk-ant-api03-good-llm-B1c2D3e4F5g6H7i8J9"
AICHAT_OPENAI = "sk-proj-good-aichat-C1d2E3f4G5h6I7j8K9"
AICHAT_ANTHROPIC = "sk-ant-api03-good-aichat-D1e2F3g4H5i6J7k8"
STORED = openai_key("good-stored")


def copied(tmp_path: Path, fixture: str) -> Path:
    shutil.copytree(FIXTURES / fixture, tmp_path / fixture)
    return tmp_path / fixture


def keys(env) -> list[tuple[str, str]]:
    db = env.home / "byok.db"
    return sqlite3.connect(db).execute(
        "SELECT provider, name FROM api_keys ORDER BY provider, name").fetchall()


def get(env, provider: str, name: str) -> str:
    r = env.run("key", "get", provider, "--name", name)
    assert r.returncode == 0, r.stderr
    return r.stdout.rstrip("\n")


def test_llm_keys_go_in_under_another_name_beside_the_stored_one(byok_env, fake, tmp_path):
    where = copied(tmp_path, "llm")
    byok_env.set_key("openai", STORED)
    without = byok_env.run("key", "import", "llm", str(where), "--no-validate", "--dry-run",
                           "--scrub")
    assert "--replace overwrites it, --name NAME keeps both" in without.stdout
    assert "would keep openai (openai …I9j0) in keys.json: a different key" in without.stderr

    r = byok_env.run("key", "import", "llm", str(where), "--name", "llm", "--scrub",
                     "--no-validate")
    assert r.returncode == 0, r.stderr
    assert keys(byok_env) == [("anthropic", "llm"), ("openai", "default"), ("openai", "llm")]
    assert get(byok_env, "openai", "default") == STORED  # left as it was
    assert get(byok_env, "openai", "llm") == LLM_OPENAI
    assert get(byok_env, "anthropic", "llm") == LLM_ANTHROPIC
    doc = json.loads((where / "keys.json").read_text())
    assert set(doc) == {"// Note", "cohere"}  # both imported keys removed, cohere kept
    assert "kept cohere (cohere (unknown) …klmn) in keys.json: a provider byok does not know" \
        in r.stderr
    # the tool is told to ask for the key by its name, and how exec would choose it
    assert 'llm --key "$(byok key get openai --name llm)"' in r.stderr
    assert "byok key order openai llm" in r.stderr
    assert_no_leak(LLM_OPENAI, r.stdout, r.stderr, home=byok_env.home)

    # imported again without --name: the key is found under its name, not stored twice
    (where / "keys.json").write_text(json.dumps({"openai": LLM_OPENAI}))
    again = byok_env.run("key", "import", "llm", str(where), "--json", "--no-validate")
    assert again.returncode == 0, again.stderr
    [row] = json.loads(again.stdout)
    assert (row["result"], row["name"], row["detail"]) == (
        "already stored", "llm", "this key is stored already as 'llm'")
    assert len(keys(byok_env)) == 3


def test_provider_equals_name_names_one_providers_key(byok_env, fake, tmp_path):
    where = copied(tmp_path, "aichat")
    byok_env.set_key("openai", STORED)
    r = byok_env.run("key", "import", "aichat", str(where), "--name", "openai=aichat",
                     "--json")
    assert r.returncode == 0, r.stderr
    rows = {}  # the first entry of each provider (aichat's .env gives the claude key again)
    for row in json.loads(r.stdout):
        rows.setdefault(row["provider"], row)
    assert (rows["openai"]["result"], rows["openai"]["name"]) == ("imported", "aichat")
    assert (rows["anthropic"]["result"], rows["anthropic"]["name"]) == ("imported", "default")
    assert {AICHAT_OPENAI, AICHAT_ANTHROPIC} <= {q["key"] for q in fake.requests}  # checked
    assert get(byok_env, "openai", "aichat") == AICHAT_OPENAI
    assert get(byok_env, "openai", "default") == STORED
    assert get(byok_env, "anthropic", "default") == AICHAT_ANTHROPIC


@pytest.mark.parametrize("names, message", [
    (["--name", "a", "--name", "b"], "one NAME for every provider"),
    (["--name", "nobody=x"], "unknown provider 'nobody'"),
    (["--name", "openai=x", "--name", "openai=y"], "names the openai key twice"),
    (["--name", "Work!"], "not a valid key name"),
    (["--name", "openai="], "--name 'openai=' gives no name"),  # attack2 F9: not "default"
    (["--name", " "], "gives no name"),
])
def test_bad_names_are_refused_before_anything_is_stored(byok_env, tmp_path, names, message):
    where = copied(tmp_path, "llm")
    before = (where / "keys.json").read_bytes()
    r = byok_env.run("key", "import", "llm", str(where), *names, "--scrub", "--no-validate")
    assert r.returncode == Code.USAGE.exit_status and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert (where / "keys.json").read_bytes() == before
    assert not (byok_env.home / "byok.db").exists() or keys(byok_env) == []


def test_scrub_removes_only_keys_now_in_the_vault_and_says_what_it_kept(byok_env, fake,
                                                                       tmp_path):
    """A .env with a key that conflicts, one of a provider byok does not know, one of the
    wrong shape, one new and one already stored: --scrub removes the new and the stored one,
    and names each other line it kept, with its reason; then one the provider rejects."""
    revoked = openai_key("revoked")
    byok_env.set_key("openai", STORED)
    byok_env.set_key("anthropic", LLM_ANTHROPIC)
    lines = {"OPENAI_API_KEY": openai_key("good-other"),  # differs from the stored default
             "ANTHROPIC_API_KEY": LLM_ANTHROPIC,          # stored already
             "COHERE_API_KEY": "FAKEcohere-0123456789abcdefghijklmn",
             "OPENROUTER_API_KEY": "sk-or-v1-with a space-in it",  # not a key's shape
             "GROQ_API_KEY": "gsk_FAKEdotenv0123456789abcdef"}            # new
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in lines.items()) + "DEBUG=1\n")
    r = byok_env.run("key", "import", "dotenv", str(env_file), "--scrub")
    assert r.returncode == 0, r.stderr
    left = env_file.read_text().splitlines()
    removed = ("ANTHROPIC_API_KEY", "GROQ_API_KEY")
    assert "removed 2 keys from" in r.stderr
    assert "DEBUG=1" in left and not any(x.startswith(removed) for x in left)
    kept = [line for line in r.stderr.splitlines() if line.startswith("kept ")]
    for name in lines:
        if name not in removed:
            assert f"{name}={lines[name]}" in left
            assert any(line.startswith(f"kept {name} (") for line in kept), (name, kept)
    assert len(kept) == len(left) - 1  # every key line left is accounted for
    assert any("a different key (…" in line and "--name NAME keeps both" in line
               for line in kept)
    assert any("contains whitespace" in line for line in kept)

    # a key the provider rejects: kept, and said so
    env_file.write_text(f"OPENAI_API_KEY={revoked}\n")
    r = byok_env.run("key", "import", "dotenv", str(env_file), "--scrub", "--name", "old")
    assert r.returncode == Code.UNAUTHORIZED.exit_status
    assert f"kept OPENAI_API_KEY (openai …{revoked[-4:]}) in .env: the provider rejected it" \
        in r.stderr
    assert env_file.read_text() == f"OPENAI_API_KEY={revoked}\n"
    assert_no_leak(revoked, r.stdout, r.stderr, home=byok_env.home)
