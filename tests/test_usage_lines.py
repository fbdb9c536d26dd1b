"""Usage errors as a person meets them in a terminal: a group without a command shows its
help on its lines; every other usage error is byok's one line, `error: … — see 'byok … -h'`,
with exit status 2 (docs/exit-codes.md)."""

import json

import pexpect
import pytest

from byok_cli.errors import Code
from conftest import BYOK, OPENAI_GOOD


@pytest.mark.parametrize("args", [[], ["key"], ["models"]], ids=lambda a: " ".join(a) or "byok")
def test_a_group_without_a_command_shows_its_help_on_its_lines(byok_env, args):
    r = byok_env.run(*args)
    assert r.returncode == Code.USAGE.exit_status == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"Usage: byok {' '.join(args)}".rstrip() + " [OPTIONS] COMMAND")
    assert len(lines) > 8 and "Commands:" in lines
    assert any(line.strip().startswith("list") for line in lines if args) or not args
    # the same text as -h gives on stdout
    assert r.stderr == byok_env.run(*args, "-h").stdout


def test_help_without_a_command_on_a_terminal(byok_env):
    child = pexpect.spawn(str(BYOK), [], env=byok_env.vars, timeout=30, dimensions=(60, 80),
                          encoding="utf-8")
    child.expect(pexpect.EOF)
    child.close()
    lines = child.before.replace("\r\n", "\n").split("\n")
    assert child.exitstatus == 2
    assert len(lines) > 20 and all(len(line) <= 80 for line in lines)
    assert "Usage: byok [OPTIONS] COMMAND [ARGS]..." in lines


@pytest.mark.parametrize("args, words", [
    (["run", "--max-tokens", "abc", "hi"],
     "error: invalid value for '--max-tokens': 'abc' is not a whole number — see 'byok run -h'"),
    (["run", "--max-tokens", "0", "hi"],
     "'--max-tokens': 0 is out of range: it must be at least 1"),
    (["history", "rm", "abc"], "'abc' is not a whole number — see 'byok history rm -h'"),
    (["exec"], "error: missing argument '-- COMMAND [ARGS]...' — see 'byok exec -h'"),
    (["kye"], "error: no such command 'kye'; did you mean 'key'? — see 'byok -h'"),
    (["key", "lst"], "did you mean 'list'"),
    (["run", "--bogus", "hi"], "error: no such option: --bogus"),
])
def test_usage_errors_are_one_line(byok_env, args, words):
    r = byok_env.run(*args)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error: "), r.stderr
    assert words in r.stderr
    assert "Usage:" not in r.stderr and "Try '" not in r.stderr and r.stdout == ""


def test_a_usage_error_is_json_too_with_json(byok_env):
    r = byok_env.run("history", "rm", "abc", "--json")
    assert r.returncode == 2
    assert json.loads(r.stdout)["error"]["code"] == "USAGE"


def test_a_key_typed_where_a_command_belongs_is_masked(byok_env):
    r = byok_env.run(OPENAI_GOOD)
    assert r.returncode == 2 and OPENAI_GOOD not in r.stderr and OPENAI_GOOD[-4:] in r.stderr


def test_an_id_option_is_described_in_words(byok_env):
    for command in ("run", "chat"):
        text = byok_env.run(command, "-h").stdout
        line = next(x for x in text.splitlines() if "--cid" in x)
        assert line.split() == ["--cid", "ID", "Continue", "conversation", "ID."], line
        assert "9223372036854775807" not in text


@pytest.mark.parametrize("command", [["run", "-c", "--cid", "9", "x"], ["chat", "-c", "--cid", "3"],
                                     ["run", "--cid", "1", "--continue", "x"]])
def test_continue_and_cid_together_are_a_usage_error(byok_env, fake, command):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.run("run", "first")
    r = byok_env.run(*command, input="")
    assert r.returncode == 2, r.stderr
    assert "-c/--continue and --cid cannot be used together" in r.stderr
    assert len(r.stderr.splitlines()) == 1
