"""The spinner while the first token is awaited: on a terminal after ~0.5 s, gone before
the answer; never into a pipe or on a dumb terminal; and rich is loaded only to show it."""

import subprocess

import pexpect
import pytest

from conftest import BYOK, anthropic_key

SPINNER = "waiting for the answer"


@pytest.fixture
def slow(byok_env, fake):
    byok_env.set_key("anthropic", anthropic_key("slow"))
    fake.slow_seconds = 1.5
    byok_env.vars["BYOK_TIMEOUT"] = "20"
    return byok_env


def on_terminal(env: dict, *args: str) -> str:
    child = pexpect.spawn(str(BYOK), list(args), env=env, encoding="utf-8", timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return child.before


def test_a_spinner_while_waiting_then_the_answer(slow):
    seen = on_terminal(slow.vars, "run", "hi")
    assert SPINNER in seen
    answer = seen.index("Echo[claude-sonnet-5-5]: hi")
    assert seen.rindex(SPINNER) < answer  # cleared before the answer is written
    assert "\x1b[2K" in seen[seen.rindex(SPINNER):answer]  # the spinner's line erased


def test_no_spinner_before_half_a_second():
    import time

    from byok_cli.cli.progress import Waiting

    waiting = Waiting(enabled=True)
    waiting.start()
    time.sleep(0.2)
    waiting.text(lambda piece: None)("first token")
    time.sleep(0.6)
    assert waiting._live is None and waiting._timer is None
    waiting.start()  # text has come: never again
    assert waiting._timer is None


def test_no_spinner_into_a_pipe_or_on_a_dumb_terminal(slow):
    piped = subprocess.run([str(BYOK), "run", "hi"], env=slow.vars, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=30)
    assert piped.returncode == 0 and piped.stderr == ""
    assert SPINNER not in on_terminal({**slow.vars, "TERM": "dumb", "NO_COLOR": "1"},
                                      "run", "hi")


def test_the_spinner_in_chat(slow):
    child = pexpect.spawn(str(BYOK), ["chat"], env=slow.vars, encoding="utf-8", timeout=30)
    child.expect("› ")
    child.sendline("hello")
    child.expect(SPINNER)
    child.expect(r"Echo\[claude-sonnet-5-5\]: hello")
    child.expect("› ")
    child.sendeof()
    child.expect(pexpect.EOF)


def test_rich_is_loaded_only_to_show_a_spinner(slow, byok_env):
    code = ("import sys, pty, os\n"
            "from byok_cli.cli import main\n"
            "sys.argv = ['byok', 'run', 'hi']\n"
            "try:\n main()\nexcept SystemExit: pass\n"
            "sys.__stderr__.write('RICH=%s\\n' % ('rich' in sys.modules))\n")
    import sys

    piped = subprocess.run([sys.executable, "-c", code], env=slow.vars, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=30)
    assert "RICH=False" in piped.stderr
    child = pexpect.spawn(sys.executable, ["-c", code], env=slow.vars, encoding="utf-8",
                          timeout=30)
    child.expect(pexpect.EOF)
    assert "RICH=True" in child.before
