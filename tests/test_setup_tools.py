"""The real tools read what `byok setup` writes: llm and shell-gpt, installed from the
registries at pinned versions (scripts/install_servers.sh, tests/servers/*.lock), run against
the fake provider after setup's core wrote their settings, and seen to answer. The fake
provider stands where the gateway will: setup is given its URL as the gateway's and a key as
the tool's token. Skipped where a tool is not installed; failing under BYOK_REQUIRE_SERVERS."""

import subprocess

import pytest

from byok_cli.setup import GATEWAY, Credentials
from byok_cli.setup import files as setup_files
from byok_cli.setup.plan import plan
from conftest import OPENAI_GOOD, _clean_env
from serverproc import installed

pytestmark = pytest.mark.third_party


def tool_env(home, **extra) -> dict:
    env = {k: v for k, v in _clean_env().items() if not k.startswith(("XDG_", "LLM_"))}
    env.update(HOME=str(home), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               **extra)
    return env


def creds_for(fake) -> Credentials:
    return Credentials(GATEWAY, "openai", gateway_urls={"openai": fake.url + "/v1"},
                       token=OPENAI_GOOD)


def test_llm_answers_through_the_model_setup_added(tmp_path, fake):
    llm = installed("llm", "llm")
    user_dir = tmp_path / "llm"
    env = tool_env(tmp_path, LLM_USER_PATH=str(user_dir))
    user_dir.mkdir()
    (user_dir / "extra-openai-models.yaml").write_text(
        "# mine\n- model_id: orca\n  model_name: orca-mini\n  api_base: http://127.0.0.1:9/v1\n")
    change = plan("llm", creds_for(fake), env)
    setup_files.write(change.edit)
    listed = subprocess.run([str(llm), "models", "list"], capture_output=True, text=True,
                            env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert listed.returncode == 0, listed.stderr
    assert "byok-openai" in listed.stdout and "orca" in listed.stdout
    out = subprocess.run([str(llm), "-m", "byok-openai", "--key", OPENAI_GOOD, "--no-stream",
                          "--no-log", "hello from llm"], capture_output=True, text=True,
                         env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Echo[gpt-6.1-sol]: hello from llm"
    sent = [r for r in fake.requests if r["method"] == "POST"]
    assert sent and sent[-1]["key"] == OPENAI_GOOD
    setup_files.undo(change.edit.path)
    assert "byok-openai" not in (user_dir / "extra-openai-models.yaml").read_text()


def test_shell_gpt_answers_through_the_settings_setup_wrote(tmp_path, fake):
    sgpt = installed("shell-gpt", "sgpt")
    env = tool_env(tmp_path)
    rc = tmp_path / ".config" / "shell_gpt" / ".sgptrc"
    rc.parent.mkdir(parents=True)
    rc.write_text("DEFAULT_MODEL=gpt-4o\nREQUEST_TIMEOUT=30\nPRETTIFY_MARKDOWN=false\n")
    original = rc.read_bytes()
    change = plan("sgpt", creds_for(fake), env)
    setup_files.write(change.edit)
    out = subprocess.run([str(sgpt), "--no-interaction", "--no-md", "--no-cache",
                          "hello from sgpt"], capture_output=True, text=True, env=env, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "Echo[gpt-4o]: hello from sgpt" in out.stdout
    sent = [r for r in fake.requests if r["method"] == "POST"]
    assert sent and sent[-1]["key"] == OPENAI_GOOD
    setup_files.undo(rc)
    # sgpt added its defaults to the file while it ran; undo restores it as it was
    assert rc.read_bytes() == original


# ---- through the gateway ------------------------------------------------------------------

@pytest.fixture
def gateway(byok_env, fake):
    import json

    from conftest import BYOK

    proc = subprocess.Popen([str(BYOK), "gateway", "--port", "0", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=byok_env.vars)
    text = b""
    for _ in range(200):  # the start-up JSON, on one line or several
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(proc.stderr.read().decode(errors="replace"))
        text += line
        try:
            url = json.loads(text)["url"]
            break
        except ValueError:
            continue
    else:
        raise AssertionError(f"no start-up line from the gateway: {text[:500]!r}")
    yield int(url.rsplit(":", 1)[1])
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_llm_answers_through_the_gateway_and_never_holds_the_key(byok_env, tmp_path, fake,
                                                                  gateway):
    llm = installed("llm", "llm")
    byok_env.set_key("openai", OPENAI_GOOD)
    user_dir = tmp_path / "llm"
    byok_env.vars["LLM_USER_PATH"] = str(user_dir)
    r = byok_env.run("setup", "llm", "--gateway", "--port", str(gateway), "--llm-key")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # with --llm-key the token went into llm's keys.json, not stdout
    keys = (user_dir / "keys.json").read_text()
    assert "byok-gw-" in keys and OPENAI_GOOD not in keys
    env = tool_env(tmp_path, LLM_USER_PATH=str(user_dir))
    ask = [str(llm), "-m", "byok-openai", "--no-stream", "--no-log", "hello through byok"]
    out = subprocess.run(ask, capture_output=True, text=True, env=env, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Echo[gpt-6.1-sol]: hello through byok"
    upstream = [q for q in fake.requests if q["method"] == "POST"]
    assert upstream[-1]["key"] == OPENAI_GOOD  # byok put the key in; llm sent its token
    tokens = byok_env.run("token", "list").stdout
    assert "llm" in tokens and "live" in tokens

    r = byok_env.run("setup", "llm", "--undo")
    assert r.returncode == 0 and "revoked" in r.stderr, r.stderr
    assert not (user_dir / "keys.json").exists()
    assert not (user_dir / "extra-openai-models.yaml").exists()


def test_shell_gpt_answers_through_the_gateway(byok_env, tmp_path, fake, gateway):
    sgpt = installed("shell-gpt", "sgpt")
    byok_env.set_key("openai", OPENAI_GOOD)
    home = tmp_path / "home"
    rc = home / ".config" / "shell_gpt" / ".sgptrc"
    rc.parent.mkdir(parents=True)
    rc.write_text("DEFAULT_MODEL=gpt-4o\nPRETTIFY_MARKDOWN=false\n")
    byok_env.vars["HOME"] = str(home)
    r = byok_env.run("setup", "sgpt", "--gateway", "--port", str(gateway))
    assert r.returncode == 0, r.stderr
    assert OPENAI_GOOD not in rc.read_text() and "byok-gw-" in rc.read_text()
    out = subprocess.run([str(sgpt), "--no-interaction", "--no-md", "--no-cache", "hello sgpt"],
                         capture_output=True, text=True, env=tool_env(home), timeout=120,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "Echo[gpt-4o]: hello sgpt" in out.stdout
    assert [q for q in fake.requests if q["method"] == "POST"][-1]["key"] == OPENAI_GOOD
