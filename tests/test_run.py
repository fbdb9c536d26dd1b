"""`byok run` end to end: the installed command, the fake server, every fallback."""

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from byok_cli.cli import app
from byok_cli.errors import Code
from byok_cli.store import DB_NAME
from conftest import (ANTHROPIC_GOOD, BYOK, FORGET_STARTUP_PATHLIB, OPENAI_GOOD,
                      OPENAI_GOOD_ENV, anthropic_key, assert_no_leak, openai_key)


def chats(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


def seen(fake):
    return [(r["key"], r["model"]) for r in chats(fake)]


@pytest.mark.parametrize("stream", [True, False])
def test_run_with_stored_key(byok_env, fake, stream):
    byok_env.set_key("openai", OPENAI_GOOD)
    args = ["run", "hello", "world"] + ([] if stream else ["--no-stream"])
    r = byok_env.run(*args)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Echo[gpt-6.1-sol]: hello world\n"
    assert r.stderr == ""
    assert seen(fake) == [(OPENAI_GOOD, "gpt-6.1-sol")]
    assert chats(fake)[0]["stream"] is stream


def test_stdin_then_arguments(byok_env, fake):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("run", "summarise", input="some text\n")
    assert r.returncode == 0, r.stderr
    assert chats(fake)[0]["messages"] == [{"role": "user", "content": "some text\n\nsummarise"}]
    only = byok_env.run("run", input="just stdin")
    assert only.stdout.strip().endswith("just stdin")


def test_stdin_from_file(byok_env, fake, tmp_path):
    byok_env.set_key("openai", OPENAI_GOOD)
    f = tmp_path / "in.txt"
    f.write_text("from a file")
    with open(f, "rb") as fh:
        proc = subprocess.run([str(BYOK), "run", "and", "args"], stdin=fh, capture_output=True,
                              env=byok_env.vars, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert chats(fake)[0]["messages"][0]["content"] == "from a file\n\nand args"


@pytest.mark.parametrize("data, code, words", [
    (b"", Code.USAGE, "no prompt"),
    (b"\xff\xfe not text", Code.INVALID_FORMAT, "not UTF-8"),
    (b"x" * (10 * 1024 * 1024 + 10), Code.INVALID_FORMAT, "MiB"),
])
def test_bad_prompts(byok_env, fake, data, code, words):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", input=data)
    assert r.returncode == code.exit_status and words in r.stderr
    assert "Traceback" not in r.stderr and chats(fake) == []


def test_json_output(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "--json", "hi")
    obj = json.loads(r.stdout)
    assert obj["text"] == "Echo[gpt-6.1-sol]: hi" and obj["provider"] == "openai"
    assert obj["model"] == "gpt-6.1-sol" and obj["key_source"] == "stored"
    assert obj["fallbacks"] == [] and obj["usage"]["input_tokens"] == 11
    assert obj["latency_ms"] >= obj["ttft_ms"] >= 0


def test_explain_sends_nothing(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "--explain", "--json", env={"ANTHROPIC_API_KEY": ANTHROPIC_GOOD})
    plan = json.loads(r.stdout)
    assert [(a["provider"], a["key_source"], a["role"]) for a in plan["attempts"]] == [
        ("openai", "stored", "primary"), ("anthropic", "environment", "provider_fallback")]
    assert plan["attempts"][0]["key"] == f"stored key (…{OPENAI_GOOD[-4:]})"
    text = byok_env.run("run", "--explain", env={"ANTHROPIC_API_KEY": ANTHROPIC_GOOD})
    assert "ANTHROPIC_API_KEY (…" in text.stdout
    assert fake.requests == []
    assert_no_leak(OPENAI_GOOD, r.stdout, text.stdout)
    assert_no_leak(ANTHROPIC_GOOD, r.stdout, text.stdout)


def test_fallback_1_rejected_user_key_uses_environment_key(byok_env, fake):
    bad = openai_key("revoked")
    byok_env.set_key("openai", bad)
    r = byok_env.run("run", "--json", "hi", env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["key_source"] == "environment" and obj["fallbacks"][0]["kind"] == "key_rejected"
    assert seen(fake) == [(bad, "gpt-6.1-sol"), (OPENAI_GOOD_ENV, "gpt-6.1-sol")]
    assert "rejected" in r.stderr and "OPENAI_API_KEY" in r.stderr
    listing = json.loads(byok_env.run("key", "list", "--json").stdout)
    assert listing[0]["stored_status"] == "failed: UNAUTHORIZED"
    assert_no_leak(bad, r.stdout, r.stderr)
    assert_no_leak(OPENAI_GOOD_ENV, r.stdout, r.stderr, home=byok_env.home)


def test_fallback_2_environment_key_fails_too(byok_env, fake):
    byok_env.set_key("openai", openai_key("revoked"))
    r = byok_env.run("run", "hi", env={"OPENAI_API_KEY": openai_key("revoked2")})
    assert r.returncode == Code.UNAUTHORIZED.exit_status
    assert "openai rejected every key tried: stored key and OPENAI_API_KEY" in r.stderr
    assert r.stdout == "" and len(chats(fake)) == 2


def test_fallback_3_missing_model_uses_default(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-m", "gpt-6.9-imaginary", "hi")
    assert r.returncode == 0, r.stderr
    assert seen(fake) == [(OPENAI_GOOD, "gpt-6.9-imaginary"), (OPENAI_GOOD, "gpt-6.1-sol")]
    assert "gpt-6.9-imaginary" in r.stderr and r.stdout.startswith("Echo[gpt-6.1-sol]")
    fake.reset()
    r = byok_env.run("run", "-m", "gpt-6.9-imaginary", "--no-fallback", "hi")
    assert r.returncode == Code.MODEL_NOT_FOUND.exit_status
    assert len(chats(fake)) == 1


def test_fallback_3_retired_model_is_never_sent(byok_env, fake):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("run", "--json", "-m", "claude-opus-4-20250514", "hi")
    assert r.returncode == 0, r.stderr
    assert seen(fake) == [(ANTHROPIC_GOOD, "claude-sonnet-5-5")]
    assert json.loads(r.stdout)["fallbacks"][0]["kind"] == "model_retired"
    assert "end of life" in r.stderr


@pytest.mark.parametrize("marker", ["servererr", "overloaded"])
def test_fallback_4_provider_down_uses_other_provider(byok_env, fake, marker):
    byok_env.set_key("openai", openai_key(marker))
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("run", "--json", "hi", env={"BYOK_MAX_RETRIES": "1"})
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["provider"] == "anthropic" and obj["fallbacks"][0]["kind"] == "provider_unavailable"
    assert seen(fake)[-1] == (ANTHROPIC_GOOD, "claude-sonnet-5-5")
    assert len(chats(fake)) == 3  # the first try, one retry, then the other provider
    fake.reset()
    r = byok_env.run("run", "--no-fallback", "hi", env={"BYOK_MAX_RETRIES": "0"})
    assert r.returncode == Code.PROVIDER_UNAVAILABLE.exit_status and r.stdout == ""


def test_fallback_4_no_key_for_preferred_provider(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.run("config", "set", "preferred-provider", "anthropic")
    r = byok_env.run("run", "hi")
    assert r.returncode == 0 and "no anthropic key" in r.stderr
    assert seen(fake) == [(OPENAI_GOOD, "gpt-6.1-sol")]


def test_no_key_at_all(byok_env, fake):
    r = byok_env.run("run", "hi")
    assert r.returncode == Code.NO_KEY.exit_status
    assert "byok key set openai" in r.stderr and chats(fake) == []


@pytest.mark.parametrize("marker, code", [("quota", Code.QUOTA_EXCEEDED),
                                          ("limitforever9", Code.RATE_LIMITED),
                                          ("forbidden", Code.UNAUTHORIZED)])
def test_exit_codes(byok_env, fake, marker, code):
    byok_env.set_key("anthropic", anthropic_key(marker))
    r = byok_env.run("run", "hi")
    assert r.returncode == code.exit_status, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("provider, key", [("openai", openai_key("drop")),
                                           ("anthropic", anthropic_key("drop"))])
def test_connection_dropped_mid_stream(byok_env, fake, provider, key):
    byok_env.set_key(provider, key)
    byok_env.set_key("openai" if provider == "anthropic" else "anthropic",
                     OPENAI_GOOD if provider == "anthropic" else ANTHROPIC_GOOD)
    byok_env.run("config", "set", "preferred-provider", provider)
    r = byok_env.run("run", "a long enough prompt")
    # docs/exit-codes.md: 15, the answer broke off after output had started
    assert r.returncode == Code.INCOMPLETE_OUTPUT.exit_status == 15
    assert r.stdout.startswith("Echo") and r.stdout.endswith("\n")
    assert "incomplete" in r.stderr and "broke" in r.stderr  # and what broke it
    assert len(chats(fake)) == 1  # no fallback once output has started
    as_json = byok_env.run("run", "--json", "-p", provider, "lines:10")
    assert as_json.returncode == 15
    assert json.loads(as_json.stdout)["error"]["code"] == "INCOMPLETE_OUTPUT"
    logged = sqlite3.connect(byok_env.home / DB_NAME).execute(
        "SELECT DISTINCT code FROM usage").fetchall()
    assert logged == [("INCOMPLETE_OUTPUT",)]


def test_closed_stdout_pipe_exits_quietly(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    script = f'"{BYOK}" run "lines:20000" | head -1; echo "status=${{PIPESTATUS[0]}}" >&2'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, env=byok_env.vars,
                          timeout=30)
    assert proc.stdout.decode() == "line 1\n"
    err = proc.stderr.decode()
    assert "status=0" in err and "Traceback" not in err and "Broken pipe" not in err


def test_ctrl_c_exits_130(byok_env, fake):
    byok_env.set_key("openai", openai_key("slow"))
    fake.slow_seconds = 10
    proc = subprocess.Popen([str(BYOK), "run", "hi"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**byok_env.vars, "BYOK_TIMEOUT": "30"})
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert b"interrupted" in err and b"Traceback" not in err


def test_debug_traceback_masks_keys(byok_env, fake):
    key = openai_key("revoked")
    byok_env.set_key("openai", key)
    r = byok_env.run("--debug", "run", "hi")
    assert r.returncode == Code.UNAUTHORIZED.exit_status
    assert "Traceback" in r.stderr
    assert_no_leak(key, r.stdout, r.stderr, home=byok_env.home)


def _modules_after(byok_env, *args, env=None):
    code = ("import atexit, json, sys\n"
            + FORGET_STARTUP_PATHLIB +  # an editable install's finder loads it at start
            "atexit.register(lambda: sys.__stderr__.write('MODULES=' + json.dumps("
            "sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'anthropic', 'rich',"
            " 'keyring', 'cryptography', 'httpx', 'httpx2', 'aiohttp', 'uvloop', 'dataclasses',"
            " 'inspect',"
            " 'hashlib', 'pathlib', 'signal', 'zlib') or m.startswith('byok_cli.')))"
            " + '\\n'))\n"
            f"sys.argv = ['byok'] + {list(args)!r}\n"
            "from byok_cli.cli import main\nmain()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          env=env or byok_env.vars, timeout=30, stdin=subprocess.DEVNULL)
    line = [x for x in proc.stderr.decode().splitlines() if x.startswith("MODULES=")][-1]
    # third-party and stdlib packages by their top-level name; byok's own modules in full
    return {m if m.startswith("byok_cli.") else m.split(".")[0] for m in json.loads(line[8:])}


# byok's own modules that `byok run` has no use for when the key has no command, no proxy
# is set and nothing is retried: each costs run's start-up time and memory (issue 25)
OFF_RUN_PATH = {
    "byok_cli.cli.output",  # tables and questions; run prints through cli.streams
    "byok_cli.store.handoffs",  # key get's hand-off log: Store finds its queries on first use
    "byok_cli.store.tokens",  # the gateway's client tokens: likewise
    "byok_cli.wire.proxy",  # only when a *_proxy variable is set
    "byok_cli.catalog.model_lists",  # the synced lists: only a name that looks like a typo
}


def test_offline_commands_import_no_sdk(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    for args in (["--version"], ["--help"], ["key", "list"], ["models", "list"],
                 ["config", "show"], ["run", "--explain"], ["token", "list"],
                 ["usage", "--by", "token"], ["budget", "list"]):
        loaded = _modules_after(byok_env, *args)
        assert not loaded & {"openai", "anthropic", "aiohttp", "uvloop"}, (args, loaded)
    assert "keyring" not in _modules_after(byok_env, "key", "list")


def test_models_list_checks_routes_only_for_an_environment_key(byok_env, fake):
    """`models list` shows which key each provider would use; whether an environment key
    may go to the profile's base URL is asked only when there is one (issue 25: the route
    checks, urls and the endpoints are ~1 ms of a listing that has none)."""
    byok_env.set_key("openai", OPENAI_GOOD)
    route_checks = {"byok_cli.routing.routes", "byok_cli.urls", "byok_cli.wire.endpoint"}
    env = {k: v for k, v in byok_env.vars.items() if not k.endswith("_API_KEY")}
    loaded = _modules_after(byok_env, "models", "list", env=env)
    assert "byok_cli.routing.keys" in loaded and not loaded & route_checks, sorted(loaded)
    assert "byok_cli.routing.addressing" not in loaded  # the default model is the catalogue's
    loaded = _modules_after(byok_env, "models", "list",
                            env={**env, "ANTHROPIC_API_KEY": ANTHROPIC_GOOD})
    assert route_checks <= loaded, sorted(loaded)


def test_run_and_chat_import_no_sdk(byok_env, fake):
    """The hot path speaks HTTP itself (byok_cli.wire): neither SDK, nor httpx, nor the
    gateway's server library is loaded."""
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    # run as most people run it: no *_proxy variable (the fake is on loopback, which no
    # proxy is used for anyway); the tests' recording proxy stays for the other commands
    no_proxy = {k: v for k, v in byok_env.vars.items() if not k.lower().endswith("_proxy")}
    for args in (["run", "hi"], ["run", "-m", "haiku", "hi"], ["run", "--no-stream", "hi"],
                 ["key", "validate"], ["models", "list", "--remote", "--refresh"]):
        loaded = _modules_after(byok_env, *args, env=no_proxy if args[0] == "run" else None)
        assert not loaded & {"openai", "anthropic", "httpx", "httpx2", "aiohttp",
                                "uvloop"}, (args, loaded)
        if args[0] == "run":  # byok's records are plain classes: no dataclasses, no inspect;
            # the master key's id is hashed with cryptography (loaded anyway), not hashlib;
            # the store's, the prices' and the master key sources' paths are strings;
            # SIGTERM/SIGHUP are caught through _signal, without signal's enum classes;
            # zlib only for a compressed answer
            assert not loaded & {"dataclasses", "inspect", "hashlib", "pathlib", "signal",
                                 "zlib"}, (
                args, loaded)
            assert "byok_cli.cli.streams" in loaded and not loaded & OFF_RUN_PATH, (
                args, sorted(loaded & OFF_RUN_PATH))
    assert len(chats(fake)) == 3
    # chat, through Typer, over a pipe
    code = ("import sys; sys.argv = ['byok', 'chat']\n"
            "from byok_cli.cli import main\n"
            "try:\n    main()\nfinally:\n"
            "    bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('openai', 'anthropic', 'httpx', 'httpx2', 'aiohttp', 'uvloop'))\n"
            "    sys.__stderr__.write('SDKS=' + ','.join(bad) + '\\n')\n")
    proc = subprocess.run([sys.executable, "-c", code], input=b"hello\nagain\n",
                          capture_output=True, env=byok_env.vars, timeout=30)
    assert proc.stdout.decode().count("Echo[") == 2, proc.stderr
    assert "SDKS=\n" in proc.stderr.decode()


def test_typer_runner_run(in_process, fake):
    runner = CliRunner()
    runner.invoke(app, ["key", "set", "openai", "--no-validate"], input=OPENAI_GOOD)
    r = runner.invoke(app, ["run", "--json", "typer", "runner"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["text"] == "Echo[gpt-6.1-sol]: typer runner"
    r = runner.invoke(app, ["run", "-p", "nope", "x"])
    assert r.exit_code == Code.USAGE.exit_status


def test_no_color_and_plain_output(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-m", "gpt-4o", "hi", env={"NO_COLOR": "1"})
    assert "\x1b[" not in r.stdout + r.stderr and "deprecated" in r.stderr


def test_connection_refused_and_malformed_stream(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    refused = byok_env.run("run", "--no-fallback", "hi",
                           env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
                                "BYOK_MAX_RETRIES": "0"})
    assert refused.returncode == Code.NETWORK_ERROR.exit_status
    assert "could not reach OpenAI" in refused.stderr and refused.stdout == ""
    byok_env.set_key("openai", openai_key("malformed"))
    bad = byok_env.run("run", "a prompt long enough")
    assert bad.returncode == Code.INCOMPLETE_OUTPUT.exit_status  # after "Echo…" was printed
    # ("malformed" itself is part of this test key, so masking hides the word)
    assert "sent a" in bad.stderr and "response" in bad.stderr and "incomplete" in bad.stderr
    assert bad.stdout.startswith("Echo")


def test_the_final_error_tells_rejected_keys_from_keys_that_could_not_be_opened():
    from byok_cli.errors import ByokError
    from byok_cli.routing.resolve import Attempt
    from byok_cli.routing.policy import final_error as _final_error

    def attempt(name, source="stored"):
        return Attempt("openai", "m", source, "abcd", "", key_name=name)

    unopened = ByokError(Code.DECRYPT_FAILED, "the stored openai key 'b' is sealed with "
                         "master key 1234", hint="set BYOK_MASTER_KEY")
    rejected = ByokError(Code.UNAUTHORIZED, "openai rejected the key")
    both = _final_error([(attempt("a"), rejected), (attempt("b"), unopened)])
    assert both.code == Code.DECRYPT_FAILED and both.hint == "set BYOK_MASTER_KEY"
    assert both.message.startswith("openai rejected stored key 'a'; and the stored openai key")
    assert _final_error([(attempt("a"), unopened), (attempt("b"), unopened)]) is unopened
    every = _final_error([(attempt("a"), rejected), (attempt("OPENAI_API_KEY", "environment"),
                                                     rejected)])
    assert every.message == "openai rejected every key tried: stored key 'a' and OPENAI_API_KEY"
