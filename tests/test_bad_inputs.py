"""No bad input ends in "internal error" (issue 11, item 15, the parts outside the
database): out-of-range integers, text that is not UTF-8, closed or full standard streams,
malformed numbers in the environment, an unexpandable BYOK_HOME, SIGTERM/SIGHUP mid-answer,
a piped chat whose every turn failed. Each gets its own exit status and one line."""

import json
import os
import signal
import subprocess
import sys

import pytest

from byok_cli.errors import Code
from conftest import BYOK, OPENAI_GOOD, openai_key

HUGE = "9" * 25  # beyond SQLite's 64-bit integers


def one_line(r) -> str:
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    lines = [x for x in r.stderr.strip().splitlines() if x.startswith(("error:", "Error:"))]
    assert len(lines) == 1, r.stderr
    return lines[0]


def shell(byok_env, script: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a shell line with `byok` on PATH (for redirections a list of argv cannot say)."""
    env = {**byok_env.vars, "PATH": f"{BYOK.parent}:{byok_env.vars.get('PATH', '')}"}
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# --- integers out of range -------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["run", "--cid", HUGE, "hi"], ["run", f"--cid={HUGE}", "hi"], ["chat", "--cid", HUGE],
    ["history", "show", HUGE], ["history", "rm", HUGE], ["history", "list", "-n", HUGE],
    ["history", "show", "-5"], ["usage", "--since", HUGE + "d"],
    ["usage", "--since", "1e400d"], ["usage", "--since", HUGE + "w"],
])
def test_integers_out_of_range_are_usage_errors(byok_env, args):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run(*args)
    assert r.returncode == Code.USAGE.exit_status, r.stderr
    one_line(r)


def test_extreme_dates_for_usage_since_are_not_a_crash(byok_env):
    for since in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01"):
        r = byok_env.run("usage", "--since", since)
        assert r.returncode in (0, Code.USAGE.exit_status) and "Traceback" not in r.stderr


# --- text that is not UTF-8 --------------------------------------------------------------------

def test_a_model_id_that_is_not_utf8_is_a_usage_error(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    for args in (["run", "-m", b"gpt-\xff".decode("utf-8", "surrogateescape"), "hi"],
                 ["config", "set", "openai.model", b"gpt-\xfe".decode("utf-8", "surrogateescape")],
                 ["models", "default", b"claude-\xc3".decode("utf-8", "surrogateescape")]):
        r = byok_env.run(*args)
        assert r.returncode == Code.USAGE.exit_status and "UTF-8" in one_line(r)
    assert fake.requests == []


def test_a_prompt_that_is_not_utf8_is_refused_before_anything_is_sent(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    bad = b"caf\xe9 au lait".decode("utf-8", "surrogateescape")
    for args in (["run", bad], ["run", "-s", bad, "hi"]):
        r = byok_env.run(*args)
        assert r.returncode == Code.USAGE.exit_status, r.stderr
        assert "not valid UTF-8" in one_line(r) and "nothing was sent" in r.stderr
    piped = byok_env.run("run", input=b"caf\xe9\n")
    assert piped.returncode == Code.INVALID_FORMAT.exit_status  # stdin: as `key set` reads it
    chat = byok_env.run("chat", input=b"caf\xe9\nhello\n")
    assert chat.returncode == 0 and "not valid UTF-8" in chat.stderr and "hello" in chat.stdout
    assert fake.requests and all("\udce9" not in json.dumps(x["messages"]) for x in fake.requests)
    usage = json.loads(byok_env.run("usage", "--json").stdout)["rows"]
    assert sum(u["errors"] for u in usage) == 0  # not logged as a network error


# --- closed and full standard streams -------------------------------------------------------------

@pytest.mark.parametrize("redirect,args,code", [
    (">&-", "run hi", Code.INCOMPLETE_OUTPUT),
    (">&-", "key list", Code.INCOMPLETE_OUTPUT),
    (">/dev/full", "run hi", Code.INCOMPLETE_OUTPUT),
    (">/dev/full", "run --json hi", Code.INCOMPLETE_OUTPUT),
    (">/dev/full", "key list --json", Code.INCOMPLETE_OUTPUT),
    (">/dev/full", "models list", Code.INCOMPLETE_OUTPUT),
    (">/dev/full", "history list", Code.INCOMPLETE_OUTPUT),
    (">/dev/full", "key get openai", Code.INCOMPLETE_OUTPUT),
    (">&-", "key get openai", Code.INCOMPLETE_OUTPUT),
    ("<&-", "chat", Code.USAGE),
    ("<&-", "run", Code.USAGE),
    ("<&-", "key set openai", Code.INVALID_FORMAT),
    (">/dev/full", "--help", Code.INCOMPLETE_OUTPUT),
    (">&-", "--version", Code.INCOMPLETE_OUTPUT),
])
def test_closed_or_full_standard_streams(byok_env, fake, redirect, args, code):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.run("run", "one conversation for history list")
    r = shell(byok_env, f"byok {args} {redirect}")
    assert r.returncode == code.exit_status, (args, redirect, r.stderr)
    line = one_line(r)
    if code == Code.INCOMPLETE_OUTPUT:
        assert "cannot write to stdout" in line


@pytest.mark.parametrize("args,code", [("key list", Code.INCOMPLETE_OUTPUT),
                                       ("run hi", Code.INCOMPLETE_OUTPUT),
                                       ("--help", Code.INCOMPLETE_OUTPUT),
                                       ("nosuchcommand", Code.USAGE)])
def test_a_full_stderr_changes_no_exit_status(byok_env, fake, args, code):
    """Nowhere to say what failed: the exit status still says it, and is never 1."""
    byok_env.set_key("openai", OPENAI_GOOD)
    r = shell(byok_env, f"byok {args} >/dev/full 2>/dev/full")
    assert r.returncode == code.exit_status, (args, r.returncode)


def test_a_closed_stdout_sends_nothing_and_never_lands_in_the_database(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    before = len(fake.requests)
    r = shell(byok_env, "byok run 'lines:50' >&-")
    assert r.returncode == Code.INCOMPLETE_OUTPUT.exit_status and len(fake.requests) == before
    closed_all = shell(byok_env, "byok key list <&- >&- 2>&-")
    assert closed_all.returncode == Code.INCOMPLETE_OUTPUT.exit_status
    check = byok_env.run("doctor", "--json")
    assert json.loads(check.stdout)[0]["status"] == "ok"  # database integrity intact
    stdin_closed = shell(byok_env, "byok run 'lines:3' <&-")
    assert stdin_closed.returncode == 0 and stdin_closed.stdout.count("line") == 3


# --- malformed numbers in the environment ----------------------------------------------------

NUMBER_VARIABLES = {
    "BYOK_TIMEOUT": ["run", "hi"],
    "BYOK_MAX_RETRIES": ["run", "hi"],
    "BYOK_MAX_RETRY_WAIT": ["run", "hi"],
    "BYOK_STDIN_TIMEOUT": ["run", "hi"],   # with a pipe inherited from the caller (below)
    "BYOK_MODELS_TTL": ["models", "list", "--remote", "-p", "openai"],
    "BYOK_KEYRING_TIMEOUT": ["key", "set", "anthropic", "--no-validate"],
}


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-1", "1e309", "-inf", "0x10", "1,5",
                                   "9" * 400, "1_000", "\uff11\uff12"])
@pytest.mark.parametrize("variable", NUMBER_VARIABLES)
def test_malformed_numbers_in_the_environment_name_the_variable(byok_env, variable, value):
    byok_env.set_key("openai", OPENAI_GOOD)
    env = {variable: value}
    command = [str(BYOK), *NUMBER_VARIABLES[variable]]
    stdin = "sk-ant-api03-good-Aa1b2c3d4e5f6g7h8i9"
    if variable == "BYOK_KEYRING_TIMEOUT":  # a new home, so that the keyring is asked
        env.update(BYOK_MASTER_KEY="", BYOK_HOME=str(byok_env.home.parent / "other-home"),
                   PYTHON_KEYRING_BACKEND="support.fake_keyrings.FileKeyring",
                   BYOK_TEST_KEYRING=str(byok_env.home.parent / "kr.json"))
    if variable == "BYOK_STDIN_TIMEOUT":  # the caller's own stdin: byok waits on it
        command, stdin = ["sh", "-c", f"{BYOK} run hi; exit $?"], None
    proc = subprocess.Popen(command, env={**byok_env.vars, **env}, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    if stdin is None:  # keep the pipe open while byok decides whether to wait on it
        proc.wait(timeout=60)
    out, err = proc.communicate(stdin, timeout=60)
    proc = subprocess.CompletedProcess(command, proc.returncode, out, err)
    assert proc.returncode == Code.USAGE.exit_status, (variable, value, proc.stderr)
    line = one_line(proc)
    assert variable in line


def test_byok_home_with_an_unknown_user_is_a_usage_error(byok_env):
    r = byok_env.run("key", "list", env={"BYOK_HOME": "~nosuchuser-byok/x"})
    assert r.returncode == Code.USAGE.exit_status and "BYOK_HOME" in one_line(r)


@pytest.mark.parametrize("home", ["", "  "])
def test_an_empty_byok_home_is_a_usage_error_not_the_default_data_dir(byok_env, tmp_path, home):
    """An unset script variable (BYOK_HOME=$DIR) must not open the user's real vault."""
    default = tmp_path / "xdg-data"
    r = byok_env.run("key", "list", env={"BYOK_HOME": home, "XDG_DATA_HOME": str(default)})
    assert r.returncode == Code.USAGE.exit_status and "BYOK_HOME" in one_line(r)
    assert not default.exists()


# --- signals and chats ----------------------------------------------------------------------------

@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_mid_answer_writes_the_usage_row_and_exits_128_plus_n(byok_env, fake, sig,
                                                                       status):
    byok_env.set_key("openai", openai_key("good-trickle"))
    proc = subprocess.Popen([str(BYOK), "run", "lines:40"], env=byok_env.vars,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout.readline() == b"line 1\n"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == status, err
    assert b"Traceback" not in err and b"terminated" in err
    usage = json.loads(byok_env.run("usage", "--json").stdout)["rows"]
    assert usage and usage[0]["requests"] == 1 and usage[0]["errors"] == 1


def test_a_piped_chat_whose_every_turn_failed_exits_non_zero(byok_env, fake):
    byok_env.set_key("openai", openai_key("revoked"))
    failed = byok_env.run("chat", "--no-fallback", input="hi\nagain\n")
    assert failed.returncode == Code.UNAUTHORIZED.exit_status
    byok_env.set_key("openai", OPENAI_GOOD)
    mixed = byok_env.run("chat", "-m", "no-such-model-anywhere", "-p", "openai",
                         "--no-fallback", input="hi\n/model luna\nhi again\n")
    assert mixed.returncode == 0, mixed.stderr  # one turn answered
    empty = byok_env.run("chat", input="")
    assert empty.returncode == 0


def test_the_fast_path_stays_free_of_heavy_imports():
    code = ("import sys; sys.argv = ['byok', 'run', '--explain']\n"
            "import byok_cli.cli.fast, byok_cli.inputs, byok_cli.cli.failures, "
            "byok_cli.cli.output\n"
            "heavy = [m for m in ('typer', 'ctypes', 'openai', 'anthropic', 'rich', "
            "'cryptography') if m in sys.modules]\n"
            "print(heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": ""})
    assert r.stdout.strip() == "[]", r.stdout + r.stderr


@pytest.mark.parametrize("key", ["sk-caf\u00e9-K1l2m3n4o5p6q7r8s9t0", "sk-ab\x1bcd-efgh-ijkl",
                                 "sk-proj-line\r\nX-Injected: 1"])
def test_an_environment_key_no_header_can_carry_is_refused_before_sending(byok_env, fake, key):
    env = {"OPENAI_API_KEY": key}
    for args in (["run", "-p", "openai", "hi"], ["models", "list", "--remote", "-p", "openai"]):
        r = byok_env.run(*args, env=env)
        assert r.returncode == Code.USAGE.exit_status, r.stderr
        assert "nothing was sent" in one_line(r)
    assert fake.requests == []


@pytest.mark.parametrize("variable", ["OPENAI_ORG_ID", "OPENAI_PROJECT_ID"])
def test_an_openai_header_variable_with_control_characters_is_a_usage_error(byok_env, fake,
                                                                             variable):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "--no-fallback", "hi", env={variable: "org\r\nX-Injected: 1"})
    assert r.returncode == Code.USAGE.exit_status and variable in one_line(r)
    assert fake.requests == []


def test_models_sync_with_a_bad_timeout_or_url_is_a_usage_error(byok_env):
    for env in ({"BYOK_TIMEOUT": "abc", "BYOK_CATALOG_URL": "http://127.0.0.1:9/x"},
                {"BYOK_CATALOG_URL": "http://[::1"}):
        r = byok_env.run("models", "sync", env=env)
        assert r.returncode == Code.USAGE.exit_status, r.stderr
        one_line(r)


@pytest.mark.parametrize("variable,value", [("BYOK_MODELS_TTL", "abc"),
                                            ("OPENAI_BASE_URL", "http://evil.example/v1")])
def test_a_bad_variable_fails_models_list_remote_across_all_providers(byok_env, fake, variable,
                                                                      value):
    """Without -p a provider whose live list fails is left out with a warning; a bad
    variable of the person's own is not such a failure: it fails the command."""
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("models", "list", "--remote", env={variable: value})
    assert r.returncode == Code.USAGE.exit_status, r.stderr
    assert variable in one_line(r) and r.stdout == ""
