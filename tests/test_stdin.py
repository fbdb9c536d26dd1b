"""How `byok run` takes stdin: a pipe is read to its end however late its writer is; a
terminal never; an idle pipe inherited from the calling process is left unread, and what
arrives on it later stays for the next reader."""

import os
import subprocess
import time

import pexpect
import pytest

from conftest import BYOK, OPENAI_GOOD


def sent(fake) -> list[str]:
    return [r["messages"][-1]["content"] for r in fake.requests if r["method"] == "POST"]


def shell(byok_env, script: str, **kw) -> subprocess.CompletedProcess:
    env = {**byok_env.vars, "PATH": f"{BYOK.parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                          timeout=60, **kw)


@pytest.mark.parametrize("script", [
    '(sleep 1.2; echo "ERROR: disk full") | byok run "why"',
    'sleep 1.2; echo "ERROR: disk full" | byok run "why"',
    # a wrapper script in a pipeline: byok's stdin is its parent's, fed by a sibling
    '(sleep 1.2; echo "ERROR: disk full") | bash -c \'byok run "why"; true\'',
])
def test_a_pipe_that_starts_late_is_read(byok_env, fake, script):
    byok_env.set_key("openai", OPENAI_GOOD)
    proc = shell(byok_env, script, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert sent(fake) == ["ERROR: disk full\n\nwhy"]
    assert proc.stderr == ""


def test_a_pipe_given_by_a_program_is_waited_for(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    proc = subprocess.Popen([str(BYOK), "run", "why"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**byok_env.vars, "BYOK_STDIN_TIMEOUT": "0.2"})
    time.sleep(1.0)
    out, err = proc.communicate(b"late input", timeout=30)
    assert proc.returncode == 0, err
    assert sent(fake) == ["late input\n\nwhy"]


def _inherited(byok_env, script: str) -> subprocess.Popen:
    """`script` run by bash with a pipe for stdin that this test (an ancestor of byok)
    holds open: the pipe an IDE or job runner hands down."""
    env = {**byok_env.vars, "PATH": f"{BYOK.parent}:{os.environ['PATH']}",
           "BYOK_STDIN_TIMEOUT": "0.3"}
    return subprocess.Popen(["bash", "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_an_idle_inherited_pipe_is_left_for_the_next_reader(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    proc = _inherited(byok_env, 'byok run hi; read -r line; echo "next: $line"')
    first = proc.stdout.readline()
    assert first == b"Echo[gpt-6.1-sol]: hi\n"
    out, err = proc.communicate(b"typed later\n", timeout=30)  # after byok stopped waiting
    assert out == b"next: typed later\n"
    assert b"left unread" in err and b"--no-stdin" in err
    assert sent(fake) == ["hi"]


def test_input_on_an_inherited_pipe_is_read_to_its_end(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    proc = _inherited(byok_env, "byok run why; true")
    proc.stdin.write(b"first part, ")
    proc.stdin.flush()
    time.sleep(0.8)  # longer than BYOK_STDIN_TIMEOUT once input has started
    out, err = proc.communicate(b"second part", timeout=30)
    assert proc.returncode == 0, err
    assert sent(fake) == ["first part, second part\n\nwhy"]


def test_no_stdin_flag(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "--no-stdin", "just", "this", input="not this")
    assert r.returncode == 0, r.stderr
    assert sent(fake) == ["just this"]
    empty = byok_env.run("run", "--no-stdin", input="only stdin")
    assert empty.returncode == 2 and "no prompt given" in empty.stderr


def test_a_terminal_is_never_read(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    child = pexpect.spawn(str(BYOK), ["run", "hi"], env=byok_env.vars, timeout=20)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert b"Echo[gpt-6.1-sol]: hi" in child.before
    assert sent(fake) == ["hi"]
