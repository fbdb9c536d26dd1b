"""A TAB answered without Typer (cli/fast_complete.py, from the table scripts/generate.py
writes from the Typer app): whatever it answers is exactly what Typer's completion answers,
in bash, zsh and fish; what it is not sure of, it leaves to Typer. (The shells themselves
at TAB: test_completion.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings, strategies as st

from byok_cli.cli import complete, fast_complete
from byok_cli.cli.root import app
from conftest import OPENAI_GOOD

GROUP = typer.main.get_command(app)
SHELLS = ["bash", "zsh", "fish"]
WORDS = ["run", "chat", "key", "list", "set", "get", "config", "models", "show", "default",
         "history", "rm", "usage", "exec", "token", "create", "budget", "completion",
         "provider", "import", "logging", "openai.model", "openai", "work", "gpt-6-luna", "1",
         "-m", "--model", "-p", "--provider", "--profile", "--json", "--no-header", "--effort",
         "--by", "--since", "-n", "--limit", "--all", "-c", "-cs", "--help", "-h", "--version",
         "--", "-", "--model=gpt", "--json=1", "--nope", "--debug", "x y"]
INCOMPLETE = ["", "-", "--", "--p", "--pro", "--model=", "--model=gpt", "=", "k", "l", "o",
              "gpt", "op", "log", "s", "1", "-m", "c", "w"]
ENVIRONMENTS = [{}, {"BYOK_PROFILE": "work"}, {"BYOK_PROFILE": "bad name"},
                {"BYOK_DEBUG": "1"}]


def shell_environ(shell: str, args: list[str], incomplete: str) -> dict:
    """What each shell's script in data/completions passes for `byok ARGS INCOMPLETE<TAB>`."""
    words = ["byok", *args]
    if shell == "bash":
        return {"_BYOK_COMPLETE": "complete_bash", "COMP_WORDS": " ".join([*words, incomplete]),
                "COMP_CWORD": str(len(words))}
    line = " ".join(words) + " " + incomplete
    return {"_BYOK_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": line}


def typer_answer(shell: str) -> str | None:
    """Typer's own answer for the completion request in os.environ."""
    from typer._click.shell_completion import get_completion_class

    complete.init()
    try:
        return get_completion_class(shell)(GROUP, {}, "byok", "_BYOK_COMPLETE").complete()
    except Exception:
        return None


def canonical(text: str) -> list[str]:
    """The candidates in order, but for -h and --help, which click keeps in a set (so in
    no fixed order between processes)."""
    lines = text.split("\n")
    helps = sorted(x for x in lines if x.split(":")[0].split("\t")[0] in ("-h", "--help"))
    return [x for x in lines if x not in helps] + helps


@pytest.fixture
def used(byok_env, in_process, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    assert byok_env.run("run", "-p", "openai", "what's a closure").returncode == 0
    assert byok_env.run("--profile", "work", "config", "set", "logging", "on").returncode == 0
    return byok_env


@settings(max_examples=600, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(shell=st.sampled_from(SHELLS), args=st.lists(st.sampled_from(WORDS), max_size=5),
       incomplete=st.sampled_from(INCOMPLETE), environ=st.sampled_from(ENVIRONMENTS))
def test_fast_completion_answers_what_typer_answers(used, shell, args, incomplete, environ):
    request = {**shell_environ(shell, args, incomplete), **environ}
    saved = dict(os.environ)
    os.environ.update(request)
    try:
        ours = fast_complete.answer(os.environ)
        theirs = typer_answer(shell)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if ours is not None:
        assert theirs is not None and canonical(ours) == canonical(theirs), (args, incomplete)


COMMON = [([], ""), ([], "k"), (["key"], "l"), (["run"], "--m"), (["run", "-m"], "gpt"),
          (["run", "-p"], ""), (["--profile"], ""), (["config", "set"], "lo"),
          (["config", "set", "logging"], ""), (["history", "show"], ""), (["usage"], "--"),
          (["models", "show"], "gpt-6"), (["key", "set"], "o"), (["run", "--effort"], ""),
          (["exec", "-p", "openai"], "--"), (["completion"], "")]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_usual_tabs_are_answered_without_typer(used, shell):
    for args, incomplete in COMMON:
        request = shell_environ(shell, args, incomplete)
        saved = dict(os.environ)
        os.environ.update(request)
        try:
            ours = fast_complete.answer(os.environ)
            theirs = typer_answer(shell)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        assert ours is not None, (args, incomplete)
        assert canonical(ours) == canonical(theirs), (args, incomplete)


@pytest.mark.parametrize("shell", SHELLS)
def test_a_tab_loads_no_typer(used, shell):
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.__stderr__.write('TYPER=%s\\n' % ('typer' in "
            "sys.modules)))\nsys.argv = ['byok']\nfrom byok_cli.cli import main\nmain()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**used.vars, **shell_environ(shell, ["key"], "l")}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "TYPER=False" in proc.stderr
    assert proc.stdout.split("\n")[0].split(":")[0].split("\t")[0] == "list"


def test_a_form_it_is_unsure_of_is_left_to_typer(used):
    for args in (["run", "--"], ["run", "-cs"], ["key", "--help"], ["nope"]):
        request = shell_environ("bash", args, "")
        assert fast_complete.answer({**os.environ, **request}) is None, args
