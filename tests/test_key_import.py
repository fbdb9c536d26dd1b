"""`byok key import`: each tool's file as that tool writes it, through the installed command."""

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from byok_cli.errors import Code
from conftest import BYOK, assert_no_leak, openai_key

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "import"
INVALID, USAGE, NO_KEY = (Code.INVALID_FORMAT.exit_status, Code.USAGE.exit_status,
                          Code.NO_KEY.exit_status)

# source, fixture (file or directory), PATH argument within it, keys byok takes, unknown ones
CASES = {
    "llm": ("llm", "llm", ".", {"openai": "sk-proj-good-llm-A1b2C3d4E5f6G7h8I9j0",
                                "anthropic": "sk-ant-api03-good-llm-B1c2D3e4F5g6H7i8J9"},
            ["cohere"]),
    "aichat": ("aichat", "aichat", ".", {"openai": "sk-proj-good-aichat-C1d2E3f4G5h6I7j8K9",
                                         "anthropic": "sk-ant-api03-good-aichat-D1e2F3g4H5i6J7k8"},
               ["groq"]),
    "aichat-example": ("aichat", "aichat-example", "config.yaml",
                       {"openai": "sk-proj-good-aichatex-H1i2J3k4L5m6N7o8",
                        "anthropic": "sk-ant-api03-good-aichatex-J1k2L3m4N5o6"}, []),
    "mods": ("mods", "mods", "mods.yml", {"openai": "sk-proj-good-mods-E1f2G3h4I5j6K7l8M9",
                                          "anthropic": "sk-ant-api03-good-mods-F1g2H3i4J5k6L7m8"},
             ["groq"]),
    "sgpt": ("sgpt", "sgpt", ".sgptrc", {"openai": "sk-proj-good-sgpt-G1h2I3j4K5l6M7n8O9"}, []),
    "dotenv": ("dotenv", "dotenv", ".env",
               {"openai": "sk-proj-good-dotenv-K1l2M3n4O5p6Q7r8S9",
                "anthropic": "sk-ant-api03-good-dotenv-L1m2N3o4P5q6R7s8"}, ["cohere"]),
}


def copy_case(tmp_path: Path, name: str) -> tuple[str, Path, Path]:
    source, fixture, arg, _, _ = CASES[name]
    where = tmp_path / "src"
    shutil.copytree(FIXTURES / fixture, where)
    return source, where, (where / arg).resolve()


def snapshot(where: Path) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mode) for p in sorted(where.iterdir())}


def vault_rows(env) -> list:
    db = env.home / "byok.db"
    if not db.exists():
        return []
    return sqlite3.connect(db).execute(
        "SELECT provider, ciphertext, status, updated_at FROM api_keys ORDER BY provider"
    ).fetchall()


def get(env, provider: str) -> str:
    r = env.run("key", "get", provider)
    assert r.returncode == 0, r.stderr
    return r.stdout.rstrip("\n")


@pytest.mark.parametrize("name", CASES)
def test_import_validates_and_a_second_import_is_a_no_op(byok_env, fake, tmp_path, name):
    source, where, arg = copy_case(tmp_path, name)
    before = snapshot(where)
    keys, unknown = CASES[name][3], CASES[name][4]
    r = byok_env.run("key", "import", source, str(arg))
    assert r.returncode == 0, r.stderr
    for provider, key in keys.items():
        assert get(byok_env, provider) == key
        assert_no_leak(key, r.stdout, r.stderr)
    checked = {q["key"] for q in fake.requests}
    assert set(keys.values()) <= checked  # each key had its live check
    for tool in unknown:
        assert f"{tool} (unknown)" in r.stdout
    assert snapshot(where) == before

    rows, requests = vault_rows(byok_env), len(fake.requests)
    again = byok_env.run("key", "import", source, str(arg))
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already stored") == len(keys)
    assert vault_rows(byok_env) == rows and len(fake.requests) == requests
    assert snapshot(where) == before


@pytest.mark.parametrize("name", CASES)
def test_dry_run_changes_nothing_and_shows_keys_masked(byok_env, fake, tmp_path, name):
    source, where, arg = copy_case(tmp_path, name)
    before = snapshot(where)
    r = byok_env.run("key", "import", source, str(arg), "--dry-run", "--scrub")
    assert r.returncode == 0, r.stderr
    keys = CASES[name][3]
    assert r.stdout.count("would import") == len(keys)
    for key in keys.values():
        assert "…" + key[-4:] in r.stdout
        assert_no_leak(key, r.stdout, r.stderr)
    assert "would remove" in r.stderr and "nothing was stored or changed" in r.stderr
    assert snapshot(where) == before and vault_rows(byok_env) == [] and fake.requests == []


@pytest.mark.parametrize("name", CASES)
def test_scrub_removes_only_the_key_lines(byok_env, fake, tmp_path, name):
    source, where, arg = copy_case(tmp_path, name)
    for p in where.iterdir():
        p.chmod(0o640)
    before = snapshot(where)
    keys = CASES[name][3]
    r = byok_env.run("key", "import", source, str(arg), "--scrub")
    assert r.returncode == 0, r.stderr
    after = snapshot(where)
    assert set(after) == set(before)  # no backup or temporary file left
    for file, (data, mode) in before.items():
        kept = b"".join(line for line in data.splitlines(keepends=True)
                        if not any(k.encode() in line for k in keys.values()))
        if file.endswith(".json"):  # JSON: the member before the last goes without its comma
            kept = re.sub(rb",(\n\}\n)$", rb"\1", kept)
        assert after[file] == (kept, mode), file
    for provider, key in keys.items():
        assert get(byok_env, provider) == key
    assert "removed" in r.stderr
    # the exact line for the tool's configuration
    expected = {"mods": "api-key-cmd: byok key get openai", "llm": "byok exec -- llm",
                "sgpt": "byok exec -- sgpt", "aichat": 'OPENAI_API_KEY="$(byok key get openai)"',
                "dotenv": '"apiKeyHelper": "byok key get anthropic"'}[source]
    assert expected in r.stderr

    rows = vault_rows(byok_env)
    again = byok_env.run("key", "import", source, str(arg), "--scrub")
    assert again.returncode in (0, NO_KEY), again.stderr
    assert snapshot(where) == after and vault_rows(byok_env) == rows


def test_default_locations_are_found_as_each_tool_finds_them(byok_env, tmp_path):
    layouts = {
        "llm": ({"LLM_USER_PATH": "u"}, "u/keys.json", "llm/keys.json"),
        "aichat": ({"AICHAT_CONFIG_DIR": "a"}, "a/config.yaml", "aichat/config.yaml"),
        "mods": ({"XDG_CONFIG_HOME": "x"}, "x/mods/mods.yml", "mods/mods.yml"),
        "sgpt": ({"HOME": "h"}, "h/.config/shell_gpt/.sgptrc", "sgpt/.sgptrc"),
    }
    for source, (env, place, fixture) in layouts.items():
        target = tmp_path / place
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / fixture, target)
        env = {k: str(tmp_path / v) for k, v in env.items()}
        r = byok_env.run("key", "import", source, "--dry-run", env=env)
        assert r.returncode == 0 and f"reading {target}" in r.stderr, (source, r.stderr)
    # llm's own default without LLM_USER_PATH, and aichat's .env beside its config
    xdg = tmp_path / "xdg"
    (xdg / "io.datasette.llm").mkdir(parents=True)
    shutil.copy(FIXTURES / "llm/keys.json", xdg / "io.datasette.llm" / "keys.json")
    shutil.copytree(FIXTURES / "aichat", xdg / "aichat")
    r = byok_env.run("key", "import", "llm", "--dry-run", env={"XDG_CONFIG_HOME": str(xdg)})
    assert f"reading {xdg}/io.datasette.llm/keys.json" in r.stderr
    r = byok_env.run("key", "import", "aichat", "--dry-run", env={"XDG_CONFIG_HOME": str(xdg)})
    assert f"reading {xdg}/aichat/.env" in r.stderr and "config.yaml" in r.stderr


def test_env_source_imports_and_cannot_be_scrubbed(byok_env, fake):
    key = openai_key("good-env")
    env = {"OPENAI_API_KEY": key, "COHERE_API_KEY": "FAKEco0123456789abcdefgh"}
    assert byok_env.run("key", "import", "env", "--scrub", env=env).returncode == USAGE
    r = byok_env.run("key", "import", "env", "--json", env=env)
    assert r.returncode == 0, r.stderr
    rows = {row["entry"]: row for row in json.loads(r.stdout)}
    assert rows["OPENAI_API_KEY"]["result"] == "imported"
    assert rows["COHERE_API_KEY"]["result"] == "skipped"
    assert rows["COHERE_API_KEY"]["provider"] is None
    assert get(byok_env, "openai") == key
    assert_no_leak(key, r.stdout, r.stderr)
    assert byok_env.run("key", "import", "env", "somefile").returncode == USAGE


def test_conflicts_need_replace_and_no_validate_sends_nothing(byok_env, fake, tmp_path):
    source, where, arg = copy_case(tmp_path, "llm")
    byok_env.set_key("openai", openai_key("good-older"))
    r = byok_env.run("key", "import", source, str(arg), "--no-validate", "--scrub")
    assert r.returncode == 0, r.stderr
    assert "a different key (…" in r.stdout and "--replace" in r.stdout
    assert get(byok_env, "openai") == openai_key("good-older")
    doc = json.loads((where / "keys.json").read_text())
    assert "openai" in doc and "anthropic" not in doc  # only the imported key was removed
    assert fake.requests == []
    listing = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert listing[1]["stored_status"] == "unverified"
    r = byok_env.run("key", "import", source, str(arg), "--replace", "--no-validate")
    assert r.returncode == 0 and "replaced" in r.stdout
    assert get(byok_env, "openai") == CASES["llm"][3]["openai"]


def test_a_rejected_key_is_not_imported_nor_scrubbed(byok_env, fake, tmp_path):
    revoked = openai_key("revoked")
    good = "sk-ant-api03-good-rej-Z1y2X3w4V5u6T7s8"
    env_file = tmp_path / ".env"
    env_file.write_text(f"OPENAI_API_KEY={revoked}\nANTHROPIC_API_KEY={good}\n")
    r = byok_env.run("key", "import", "dotenv", str(env_file), "--scrub")
    assert r.returncode == Code.UNAUTHORIZED.exit_status
    assert "rejected" in r.stdout and "not imported" in r.stderr
    assert env_file.read_text() == f"OPENAI_API_KEY={revoked}\n"
    assert byok_env.run("key", "get", "openai").returncode == NO_KEY
    assert get(byok_env, "anthropic") == good
    assert_no_leak(revoked, r.stdout, r.stderr, home=byok_env.home)


BAD = {
    "bad JSON": ("llm", "keys.json", '{\n  "openai": "sk-proj-good-x-A1b2c3d4e5f6",\n',
                 "not valid JSON"),
    "JSON of the wrong type": ("llm", "keys.json", '{"openai": 12345678}\n', "not a string"),
    "JSON array": ("llm", "keys.json", '["sk-proj-good-x-A1b2c3d4e5f6"]\n', "not an object"),
    "bad YAML": ("aichat", "config.yaml", "clients:\n- type: openai\n  api_key: [sk-proj-good\n",
                 "not valid YAML"),
    "clients not a list": ("aichat", "config.yaml", "clients:\n  type: openai\n",
                           "'clients' is not a list"),
    "apis not a mapping": ("mods", "mods.yml", "apis:\n- openai\n", "'apis' is not a mapping"),
    "api-key not a string": ("mods", "mods.yml", "apis:\n  openai:\n    api-key: [1, 2]\n",
                             "not a string"),
    ".sgptrc line without =": ("sgpt", ".sgptrc", "DEFAULT_MODEL=x\nOPENAI_API_KEY\n",
                               "line 2: not NAME=VALUE"),
    ".env gibberish": ("dotenv", ".env", "A=1\nthis is not a setting\n", "line 2: not NAME=VALUE"),
    "not UTF-8": ("dotenv", ".env", b"OPENAI_API_KEY=\xff\xfe\n", "not UTF-8"),
}


@pytest.mark.parametrize("case", BAD)
def test_malformed_files_are_refused_and_left_alone(byok_env, tmp_path, case):
    source, name, content, message = BAD[case]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    r = byok_env.run("key", "import", source, str(path), "--scrub")
    assert r.returncode == INVALID, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) <= 2
    assert "Traceback" not in r.stderr and "nothing was changed" in r.stderr
    assert path.read_bytes() == (content if isinstance(content, bytes) else content.encode())
    assert vault_rows(byok_env) == []
    assert_no_leak("sk-proj-good-x-A1b2c3d4e5f6", r.stderr)


def test_symlinks_and_other_peoples_files_are_refused(byok_env, tmp_path):
    real = tmp_path / "real.env"
    real.write_text("OPENAI_API_KEY=" + openai_key("good-link") + "\n")
    link = tmp_path / "link.env"
    link.symlink_to(real)
    r = byok_env.run("key", "import", "dotenv", str(link), "--scrub", "--no-validate")
    assert r.returncode == INVALID and "is a symlink" in r.stderr and str(real) in r.stderr
    if os.geteuid() == 0:
        os.chown(real, 4242, 4242)
        r = byok_env.run("key", "import", "dotenv", str(real), "--scrub", "--no-validate")
        assert r.returncode == INVALID and "belongs to another user (uid 4242)" in r.stderr
    assert real.read_text().startswith("OPENAI_API_KEY=") and vault_rows(byok_env) == []


def test_missing_files_unknown_sources_and_empty_files(byok_env, tmp_path):
    r = byok_env.run("key", "import", "llm", str(tmp_path / "nope.json"))
    assert r.returncode == USAGE and "no such file" in r.stderr
    assert byok_env.run("key", "import", "fabric", str(tmp_path)).returncode == USAGE
    assert byok_env.run("key", "import", "dotenv").returncode == USAGE
    empty = tmp_path / "keys.json"
    empty.write_text('{\n  "// Note": "This file stores secret API credentials."\n}\n')
    r = byok_env.run("key", "import", "llm", str(empty))
    assert r.returncode == NO_KEY and "no API keys found" in r.stderr


def _spawn(env, *args):
    pexpect = pytest.importorskip("pexpect")
    return pexpect, pexpect.spawn(str(BYOK), list(args), env=env.vars, timeout=30)


def test_scrub_is_offered_on_a_terminal(byok_env, tmp_path):
    source, where, arg = copy_case(tmp_path, "sgpt")
    pexpect, child = _spawn(byok_env, "key", "import", source, str(arg), "--no-validate")
    child.expect(r"Remove 1 key from .*\.sgptrc now that byok keeps them\? \[y/N\]")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "OPENAI_API_KEY" not in (where / ".sgptrc").read_text()
    assert "DEFAULT_MODEL=gpt-5.4-mini" in (where / ".sgptrc").read_text()


def test_a_file_changed_between_read_and_scrub_is_left_alone(byok_env, tmp_path):
    source, where, arg = copy_case(tmp_path, "dotenv")
    pexpect, child = _spawn(byok_env, "key", "import", source, str(arg), "--no-validate")
    child.expect(r"\[y/N\]")
    changed = arg.read_text() + "AIDER_DARK_MODE=true\n"
    arg.write_text(changed)  # the person (or the tool) edits the file meanwhile
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == INVALID
    assert "changed since it was read" in child.before.decode()
    assert arg.read_text() == changed
    assert [p.name for p in where.iterdir()] == [".env"]


@pytest.mark.parametrize("name", ["llm", "dotenv"])
def test_a_file_with_hard_links_is_not_scrubbed(byok_env, tmp_path, name):
    source, where, arg = copy_case(tmp_path, name)
    target = arg if arg.is_file() else next(p for p in where.iterdir() if p.is_file())
    other = tmp_path / "elsewhere"
    os.link(target, other)  # the same file under a second name, which a rewrite cannot reach
    before = snapshot(where)
    r = byok_env.run("key", "import", source, str(arg), "--scrub", "--no-validate")
    assert r.returncode == INVALID, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "has 2 hard links" in errors[0]
    assert "nothing was imported or changed" in errors[0] and "find / -xdev -samefile" in errors[0]
    assert snapshot(where) == before and other.read_bytes() == target.read_bytes()
    assert vault_rows(byok_env) == []
    # Without --scrub the import itself is harmless.
    assert byok_env.run("key", "import", source, str(arg), "--no-validate").returncode == 0


def test_a_hard_linked_file_offered_for_scrubbing_on_a_terminal_is_left_alone(byok_env, tmp_path):
    source, where, arg = copy_case(tmp_path, "sgpt")
    os.link(arg, tmp_path / "elsewhere")
    pexpect, child = _spawn(byok_env, "key", "import", source, str(arg), "--no-validate")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == INVALID and "has 2 hard links" in child.before.decode()
    assert "OPENAI_API_KEY" in arg.read_text()  # imported, but the file is as it was


def test_dotenv_values_are_interpolated_as_python_dotenv_does(byok_env, tmp_path):
    key = "sk-proj-good-interp-A1b2C3d4E5f6G7h8I9j0"
    ant = "sk-ant-api03-good-interp-B1c2D3e4F5g6H7i8"
    path = tmp_path / ".env"
    path.write_text(f"BASE={key}\nOPENAI_API_KEY=${{BASE}}\n"
                    "ANTHROPIC_API_KEY='${MY_ANTHROPIC_KEY:-none}'\n")
    r = byok_env.run("key", "import", "dotenv", str(path), "--no-validate", "--scrub",
                     env={"MY_ANTHROPIC_KEY": ant})
    assert r.returncode == 0, r.stderr
    assert get(byok_env, "openai") == key and get(byok_env, "anthropic") == ant
    assert "${BASE}" not in r.stdout + r.stderr  # never imported as the literal text
    # The line that named the key is gone; the key itself is on BASE's line, which is not a
    # key variable, so byok says to remove it by hand.
    assert path.read_text() == f"BASE={key}\n"
    assert "still appears elsewhere" in r.stderr


def test_presets_variables_are_imported_as_their_providers(byok_env, tmp_path):
    groq, mistral = "gsk_FAKE0123456789abcdefghijklmnop", "FAKEmistral0123456789abcdef"
    env = {"GROQ_API_KEY": groq}
    # (--no-validate: a live check would go to the presets' real hosts)
    r = byok_env.run("key", "import", "env", "--no-validate", "--json", env=env)
    assert r.returncode == 0, r.stderr
    rows = {row["entry"]: row for row in json.loads(r.stdout)}
    assert (rows["GROQ_API_KEY"]["provider"], rows["GROQ_API_KEY"]["result"]) == ("groq",
                                                                                "imported")
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"MISTRAL_API_KEY={mistral}\n")
    assert byok_env.run("key", "import", "dotenv", str(dotenv), "--no-validate").returncode == 0
    assert get(byok_env, "groq") == groq and get(byok_env, "mistral") == mistral
    assert_no_leak(groq, r.stdout, r.stderr)


def test_llm_plugins_key_names_are_imported_as_the_presets(byok_env, tmp_path):
    # llm-mistral stores its key as "mistral", llm-groq as "groq" (their needs_key)
    groq, mistral = "gsk_FAKE0123456789abcdefghijklmnop", "FAKEmistral0123456789abcdef"
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"// Note": "This file stores secret API credentials. Do not "
                                "share!", "mistral": mistral, "groq": groq,
                                "cohere": "FAKEcohere0123456789abcdef"}, indent=2) + "\n")
    r = byok_env.run("key", "import", "llm", str(keys), "--no-validate", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["entry"]: row for row in json.loads(r.stdout)}
    assert (rows["mistral"]["provider"], rows["mistral"]["result"]) == ("mistral", "imported")
    assert (rows["groq"]["provider"], rows["groq"]["result"]) == ("groq", "imported")
    assert rows["cohere"]["result"] != "imported"  # still a provider byok does not know
    assert get(byok_env, "groq") == groq and get(byok_env, "mistral") == mistral
    assert_no_leak(mistral, r.stdout, r.stderr)
