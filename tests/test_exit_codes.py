"""Exit statuses a script can tell apart: a declined confirmation, a missing or
unrunnable command under `byok exec`, and `doctor` finding something."""

import json

import pexpect

from byok_cli.errors import Code
from conftest import BYOK, OPENAI_GOOD


def test_declining_a_confirmation_has_its_own_status(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    for args in (["key", "remove", "openai"], ["history", "clear"]):
        child = pexpect.spawn(str(BYOK), args, env=byok_env.vars, timeout=20)
        child.expect(r"\[y/N\]")
        child.sendline("n")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == Code.DECLINED.exit_status == 17, args
        assert b"declined" in child.before
    child = pexpect.spawn(str(BYOK), ["key", "remove", "openai"], env=byok_env.vars, timeout=20)
    child.expect(r"\[y/N\]")
    child.sendeof()  # Ctrl-D at the question: a "no", not an interruption (130)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == Code.DECLINED.exit_status, child.before
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is True


def test_exec_of_a_missing_or_unrunnable_command(byok_env, tmp_path):
    byok_env.set_key("openai", OPENAI_GOOD)
    plain = tmp_path / "not-executable.sh"
    plain.write_text("#!/bin/sh\necho hi\n")
    plain.chmod(0o644)
    for command, status, words in ((["no-such-command-here"], 127, "command not found"),
                                   ([str(tmp_path / "absent")], 127, "command not found"),
                                   ([str(plain)], 126, "not executable"),
                                   ([str(tmp_path)], 126, "is a directory")):
        r = byok_env.run("exec", "--", *command)
        assert r.returncode == status and words in r.stderr, (command, r.stderr)
    on_path = byok_env.run("exec", "--", "not-executable.sh",
                           env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert on_path.returncode == 126 and "chmod +x" in on_path.stderr


def test_doctor_is_nonzero_when_it_finds_something(byok_env, fake):
    assert byok_env.run("doctor").returncode == 0  # nothing stored, nothing wrong
    byok_env.set_key("openai", OPENAI_GOOD)
    warned = byok_env.run("doctor")
    assert warned.returncode == Code.NEEDS_ATTENTION.exit_status  # never checked
    byok_env.run("key", "validate")
    assert byok_env.run("doctor").returncode == 0
    byok_env.home.chmod(0o755)
    assert byok_env.run("doctor").returncode == Code.NEEDS_ATTENTION.exit_status
