"""The read-only commands the fast path runs without Typer (cli/readers.py: key list,
config show, usage, history list; cli/model_listing.py: models list): it must read their arguments exactly as Typer does or
leave them to Typer, and print what the Typer command prints; and `byok --help`, whose text
is generated from the Typer app."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from byok_cli.cli import fast, root
from byok_cli.cli.root import app
from conftest import FORGET_STARTUP_PATHLIB, OPENAI_GOOD
from test_fastpath import ENVIRONMENTS, ROOT_TOKENS, _loaded, same

GROUP = typer.main.get_command(app)
READERS = [c for c in fast.COMMANDS if c is not fast.RUN]
WORDS = sorted({name for c in READERS for name in c.options}) + [
    "--profile", "--debug", "--profile=w", "-h", "--help", "--nope", "-x", "--json=1",
    "--since=all", "-p=openai", "--by", "key", "model", "7d", "all", "openai", "", "-",
    "list", "show", "--", "1"]


def typer_parse(argv: list[str], environ: dict[str, str]):
    """(root params, the leaf's params) as Typer parses `argv`, or None when it refuses it,
    shows help or the version; with the leaf's words."""
    saved = {k: os.environ.pop(k) for k in ("BYOK_PROFILE", "BYOK_DEBUG") if k in os.environ}
    os.environ.update(environ)
    try:
        ctx = root_ctx = GROUP.make_context("byok", list(argv))
        command, words = GROUP, [*getattr(root_ctx, "_protected_args", []), *root_ctx.args]
        path = []
        while hasattr(command, "resolve_command"):
            name, command, rest = command.resolve_command(ctx, words)
            path.append(name)
            ctx = command.make_context(name, rest, parent=ctx)
            words = [*getattr(ctx, "_protected_args", []), *ctx.args]
    except (typer.Exit, typer.Abort, Exception):
        return None
    finally:
        for k in ("BYOK_PROFILE", "BYOK_DEBUG"):
            os.environ.pop(k, None)
        os.environ.update(saved)
    root = {k: v for k, v in root_ctx.params.items() if k in fast.spec.ROOT_DEFAULTS}
    for k in root:  # --profile and --debug after the command win (see root.state)
        if ctx.meta.get(f"byok.{k}") is not None:
            root[k] = ctx.meta[f"byok.{k}"]
    return tuple(path), root, dict(ctx.params)


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(root=st.sampled_from(ROOT_TOKENS),
       command=st.sampled_from([c.path for c in READERS] + [("key",), ("config", "get"),
                                                             ("usage", "list")]),
       words=st.lists(st.sampled_from(WORDS), max_size=6),
       environ=st.sampled_from(ENVIRONMENTS))
def test_fast_parser_agrees_with_typer_on_every_reader(root, command, words, environ):
    argv = [*root, *command, *words]
    theirs = typer_parse(argv, environ)
    for reader in READERS:
        ours = fast.parse(argv, environ, reader)
        if ours is not None:
            assert theirs is not None, f"fast path took {argv} {environ}, which Typer refuses"
            assert theirs[0] == reader.path and same(ours, theirs[1:]), (argv, environ)
        elif theirs is not None and theirs[0] == reader.path:
            # Leaving a valid form to Typer is allowed only for what Typer must show itself.
            assert set(argv) & {"-h", "--help", "--version"}, (argv, environ, theirs)


def test_every_reader_takes_every_option_its_help_shows():
    for reader in READERS:
        shown = CliRunner().invoke(app, [*reader.path, "--help"]).stdout
        for name in reader.options:
            assert name in shown, (reader.path, name)
        assert fast.parse([*reader.path], {}, reader) is not None


@pytest.mark.parametrize("args", [
    ["key", "list"], ["key", "list", "--json"], ["config", "show", "--no-header"],
    ["--profile", "work", "config", "show", "--json"], ["usage", "--since", "all"],
    ["usage", "--by", "key", "--json", "--since", "all"], ["usage", "-p", "openai"],
    ["usage", "--by", "nothing"], ["usage", "--since", "yesterday"], ["history", "list"],
    ["history", "list", "-n", "1", "--json"], ["history", "list", "--limit=0"],
    ["models", "list"], ["models", "list", "--json"], ["models", "list", "--all", "--wide"],
    ["models", "list", "-p", "anthropic", "--no-header"], ["models", "list", "-p", "nope"],
    ["models", "list", "-p", "openai", "--remote", "--json"], ["models", "list", "--remote"],
])
def test_a_reader_without_typer_prints_what_typer_prints(byok_env, fake, args):
    byok_env.set_key("openai", OPENAI_GOOD)
    assert byok_env.run("run", "-p", "openai", "hi").returncode == 0
    typer_loaded, proc = _loaded(byok_env, *args)
    assert typer_loaded == ("--limit=0" in args), proc.stderr  # out of range: Typer says so
    saved = dict(os.environ)
    os.environ.update(byok_env.vars)
    try:
        theirs = CliRunner().invoke(app, args)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert (proc.returncode, proc.stdout) == (theirs.exit_code, theirs.stdout), proc.stderr
    assert proc.stdout.strip() or proc.returncode


def _typer_help(env: dict, columns: str) -> str:
    code = "from byok_cli.cli.root import app\napp(prog_name='byok', args=['--help'])\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**env, "COLUMNS": columns}, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("columns", ["80", "200"])
def test_help_without_typer_is_typers_help(byok_env, columns):
    byok_env.vars["COLUMNS"] = columns
    for name in ("--help", "-h"):
        typer_loaded, proc = _loaded(byok_env, name)
        assert proc.returncode == 0 and not typer_loaded
        assert proc.stdout == _typer_help(byok_env.vars, columns)
    # every command is listed: one more, and the generated text is stale (generate --check)
    assert all(f"\n  {c} " in proc.stdout for c in root.COMMANDS)


def test_help_on_a_narrow_terminal_is_left_to_typer(byok_env):
    byok_env.vars["COLUMNS"] = "60"
    typer_loaded, proc = _loaded(byok_env, "--help")
    assert proc.returncode == 0 and typer_loaded
    assert proc.stdout == _typer_help(byok_env.vars, "60") != fast.spec.ROOT_HELP




@pytest.mark.parametrize("args", [["key", "list"], ["config", "show"], ["usage"],
                                  ["models", "list"], ["history", "list"]])
def test_a_reader_opens_no_key_and_loads_no_sealing_code(byok_env, args):
    """Reading commands need the keys' rows, never a key: with a key stored and the master
    key in the environment, they load neither the vault, the master keys, the keyring nor
    cryptography (nor the runner, nor dataclasses' inspect, nor typing: their records are
    `records.tuple_record`s; nor pathlib: the store's and the data files' paths are strings;
    nor json: the registry, the catalogue and the bundled prices are generated Python, only
    --json and a synced price file need the module)."""
    byok_env.set_key("openai", OPENAI_GOOD)
    heavy = ("byok_cli.secrets.vault", "byok_cli.secrets.master_keys", "byok_cli.secrets.keychain",
             "byok_cli.routing.runner", "cryptography", "keyring", "hashlib", "inspect", "typer",
             "typing", "pathlib", "json")
    code = ("import atexit, sys\n"
            f"{FORGET_STARTUP_PATHLIB}"
            "atexit.register(lambda: sys.__stderr__.write('LOADED=%s\\n' % ' '.join(sorted("
            f"m for m in sys.modules if m.startswith({heavy!r})))))\n"
            f"sys.argv = ['byok'] + {args!r}\n"
            "from byok_cli.cli import main\nmain()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=byok_env.vars, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED=\n" in proc.stderr, proc.stderr
