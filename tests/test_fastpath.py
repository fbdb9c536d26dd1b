"""The fast path of `byok run` (cli/fast.py): it must read every argument list exactly as
Typer does, or leave it to Typer; and it must fail exactly as the Typer command fails."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from hypothesis import HealthCheck, example, given, settings, strategies as st
from typer.testing import CliRunner

from byok_cli.cli import fast
from byok_cli.cli.root import app
from byok_cli.cli.state import profile_name
from byok_cli.errors import Code
from conftest import OPENAI_GOOD, openai_key

ROOT = Path(__file__).resolve().parents[1]
GROUP = typer.main.get_command(app)


def typer_parse(argv: list[str], environ: dict[str, str]):
    """(root params, run params) as the Typer app parses `argv`, or None when it refuses
    it, shows help or the version, or runs another command. (The profile name is checked
    later, by the root callback; run_fast gives a bad one to Typer too.)"""
    import os

    saved = {k: os.environ.pop(k) for k in ("BYOK_PROFILE", "BYOK_DEBUG") if k in os.environ}
    os.environ.update(environ)
    try:
        root_ctx = GROUP.make_context("byok", list(argv))
        rest = [*getattr(root_ctx, "_protected_args", []), *root_ctx.args]
        name, command, rest = GROUP.resolve_command(root_ctx, rest)
        if name != "run":
            return None
        run_ctx = command.make_context(name, rest, parent=root_ctx)
    except (typer.Exit, typer.Abort, Exception):
        return None
    finally:
        for k in ("BYOK_PROFILE", "BYOK_DEBUG"):
            os.environ.pop(k, None)
        os.environ.update(saved)
    root = {k: v for k, v in root_ctx.params.items() if k in fast.spec.ROOT_DEFAULTS}
    for k in root:  # --profile and --debug after `run` win (see root.state)
        if run_ctx.meta.get(f"byok.{k}") is not None:
            root[k] = run_ctx.meta[f"byok.{k}"]
    return root, dict(run_ctx.params)


def same(a, b) -> bool:
    """Equality in which nan equals nan (neither parser may accept one, but if one did,
    the comparison should say so rather than fail obscurely)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


OPTION_NAMES = sorted(fast.spec.OPTIONS) + ["--profile", "--debug", "--profile=w",
                                            "-h", "--help", "--nope", "-x", "-cs", "-cm",
                                            "-sc", "-c-", "--json=1", "--model=", "-m=",
                                            "--temperature=0.5", "--max-tokens=3", "--"]
VALUES = ["hi", "", "-", "a b", "openai", "anthropic", "haiku", "5", "0", "-1", "1_0", " 7",
          "2.5", "1.0", "2", "nan", "inf", "1e0", "x" * 3, "--json", "-c", "run", "é"]
ROOT_TOKENS = [[], ["--debug"], ["--profile", "work"], ["--profile=work"], ["--profile", "b d"],
               ["--profile"], ["--version"], ["-h"], ["--debug", "--profile", "x.y"],
               ["--nope"], ["--profile", "run"]]
ENVIRONMENTS = [{}, {"BYOK_PROFILE": "env1"}, {"BYOK_PROFILE": ""},
                {"BYOK_PROFILE": "bad name"}, {"BYOK_DEBUG": "1"}, {"BYOK_DEBUG": "no"},
                {"BYOK_DEBUG": ""}, {"BYOK_DEBUG": "maybe"}, {"BYOK_DEBUG": "TRUE"}]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(root=st.sampled_from(ROOT_TOKENS),
       command=st.sampled_from(["run", "run", "run", "chat", "rum", "--", "key"]),
       words=st.lists(st.one_of(st.sampled_from(OPTION_NAMES), st.sampled_from(VALUES)),
                      max_size=8),
       environ=st.sampled_from(ENVIRONMENTS))
@example(root=[], command="run", words=["-mfoo", "--", "-x"], environ={})
@example(root=[], command="run", words=["-cs", "x", "hi", "--json", "-m", "a", "-m", "b"],
         environ={})
@example(root=["--profile=w"], command="run", words=["--temperature=0.5", "--cid", "3"],
         environ={"BYOK_DEBUG": "yes"})
@example(root=["--profile", "work"], command="run", words=["hi", "--profile", "home", "--debug"],
         environ={"BYOK_PROFILE": "env1"})
def test_fast_parser_agrees_with_typer(root, command, words, environ):
    argv = [*root, command, *words]
    ours, theirs = fast.parse(argv, environ), typer_parse(argv, environ)
    if ours is not None:
        assert theirs is not None, f"fast path took {argv} {environ}, which Typer refuses"
        assert same(ours, theirs), (argv, environ)
    elif theirs is not None:
        # Leaving a valid form to Typer is allowed only for what Typer must show itself.
        assert set(argv) & {"-h", "--help", "--version"}, (argv, environ, theirs)


def test_the_usual_forms_take_the_fast_path():
    for argv in (["run", "hi"], ["run", "-p", "anthropic", "-m", "haiku", "a", "b"],
                 ["--profile", "work", "run", "--json", "--no-stream", "hi"],
                 ["run", "hi", "--profile", "work"], ["run", "--debug", "-c", "hi"],
                 ["run", "-c", "--", "--not-an-option"], ["run", "--explain"]):
        assert fast.parse(argv, {}) is not None, argv
    for argv in (["run", "--help"], ["--version"], ["key", "list"], ["run", "--max-tokens", "0"],
                 ["run", "--temperature", "nan"], ["run", "--bogus"], [], ["run", "-m"]):
        assert fast.parse(argv, {}) is None, argv


def test_a_bad_profile_name_is_left_to_typer():
    assert profile_name(" work ") == "work" and profile_name(None) == "default"
    for name in ("b d", " ", "x" * 65, "a/b"):
        assert profile_name(name) is None
        assert fast.run_fast(["--profile", name, "run", "hi"]) is None


def test_numbers_are_finite_and_in_range():
    assert fast.number(int, " 7", 1, None) == 7
    assert fast.number(float, "2", 0.0, 2.0) == 2.0
    for text in ("nan", "inf", "-inf", "2.01", "x", ""):
        with pytest.raises(ValueError):
            fast.number(float, text, 0.0, 2.0)
    with pytest.raises(ValueError, match="range"):
        fast.number(int, "0", 1, None)


def _loaded(byok_env, *args) -> tuple[set[str], subprocess.CompletedProcess]:
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.__stderr__.write('TYPER=%s\\n' % ('typer' in "
            "sys.modules)))\n"
            f"sys.argv = ['byok'] + {list(args)!r}\n"
            "from byok_cli.cli import main\nmain()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=byok_env.vars, timeout=60, stdin=subprocess.DEVNULL)
    return "TYPER=True" in proc.stderr, proc


def test_run_answers_without_importing_typer(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    typer_loaded, proc = _loaded(byok_env, "run", "-p", "openai", "hi")
    assert proc.returncode == 0 and proc.stdout == "Echo[gpt-6.1-sol]: hi\n"
    assert not typer_loaded
    typer_loaded, proc = _loaded(byok_env, "run", "--help")
    assert proc.returncode == 0 and "--max-tokens" in proc.stdout
    assert typer_loaded


@pytest.mark.parametrize("args, key, code", [
    (["run", "hi"], None, Code.NO_KEY),
    (["run", "hi"], openai_key("revoked"), Code.UNAUTHORIZED),
    (["run", "-m", "no-such-model", "hi"], OPENAI_GOOD, Code.MODEL_NOT_FOUND),
    (["run", "-p", "nope", "hi"], OPENAI_GOOD, Code.USAGE),
    (["run"], OPENAI_GOOD, Code.USAGE),
    (["--debug", "run", "hi"], openai_key("servererr"), Code.PROVIDER_UNAVAILABLE),
])
def test_fast_path_fails_exactly_like_the_typer_command(byok_env, in_process, fake, args,
                                                        key, code):
    if key:
        byok_env.set_key("openai", key)
    fast_run = byok_env.run(*args, "--no-fallback", input="")
    typer_run = CliRunner().invoke(app, [*args, "--no-fallback"], input="")
    assert fast_run.returncode == typer_run.exit_code == code.exit_status
    assert fast_run.stdout == typer_run.stdout == ""
    def errors(text: str) -> list[str]:
        return [x for x in text.splitlines() if x.startswith("error")]

    assert errors(fast_run.stderr) == errors(typer_run.stderr) != []
    assert ("Traceback" in fast_run.stderr) == ("--debug" in args)


def test_version_answers_without_typer_exactly_as_typer_does(byok_env):
    typer_loaded, proc = _loaded(byok_env, "--version")
    assert proc.returncode == 0 and not typer_loaded
    assert proc.stdout == CliRunner().invoke(app, ["--version"]).stdout == "byok 0.1.0\n"
    # the names are the root's eager option's (generated): Typer's help shows each of them
    shown = CliRunner().invoke(app, ["--help"]).stdout
    assert fast.spec.VERSION_OPTIONS == ["--version"]
    assert all(name in shown for name in fast.spec.VERSION_OPTIONS)
    typer_loaded, proc = _loaded(byok_env, "--version", "--debug")  # any other form: Typer
    assert proc.returncode == 0 and proc.stdout == "byok 0.1.0\n" and typer_loaded
