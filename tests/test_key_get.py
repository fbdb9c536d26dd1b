"""`byok key get`: the key on stdout only, never onto a terminal unasked, every hand-off logged."""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from byok_cli.cli import app
from byok_cli.errors import Code, redact, remember_secret
from byok_cli.handoff import SHELLS, process_info, requesting_programs, shell_runs
from conftest import (ANTHROPIC_GOOD, BYOK, OPENAI_GOOD, OPENAI_GOOD_ENV, assert_no_leak,
                      openai_key)

USAGE, NO_KEY = Code.USAGE.exit_status, Code.NO_KEY.exit_status


def handoffs(env) -> list[dict]:
    r = env.run("usage", "--handoffs", "--since", "all", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_through_a_pipe_only_the_key_and_a_newline(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("key", "get", "openai")
    assert r.returncode == 0, r.stderr
    assert r.stdout == OPENAI_GOOD + "\n"
    assert_no_leak(OPENAI_GOOD, r.stderr, home=byok_env.home)


def test_debug_and_masking_do_not_touch_stdout_and_nothing_else_prints_it(byok_env):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("--debug", "key", "get", "anthropic", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert {k: got[k] for k in ("provider", "name", "source", "key")} == {
        "provider": "anthropic", "name": "default", "source": "stored", "key": ANTHROPIC_GOOD}
    assert_no_leak(ANTHROPIC_GOOD, r.stderr)
    # the masking every message goes through would have hidden it: key get bypasses it
    remember_secret(ANTHROPIC_GOOD)
    assert ANTHROPIC_GOOD not in redact(r.stdout)


def test_through_a_pty_it_is_refused_unless_reveal(byok_env):
    pexpect = pytest.importorskip("pexpect")
    byok_env.set_key("openai", OPENAI_GOOD)
    child = pexpect.spawn(str(BYOK), ["key", "get", "openai"], env=byok_env.vars, timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == USAGE
    screen = child.before.decode()
    assert "refusing to print a key to a terminal" in screen and "--reveal" in screen
    assert_no_leak(OPENAI_GOOD, screen)
    assert handoffs(byok_env) == []  # nothing was handed over

    child = pexpect.spawn(str(BYOK), ["key", "get", "openai", "--reveal"], env=byok_env.vars,
                          timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert child.before.decode().strip() == OPENAI_GOOD


def test_pty_on_stdout_only_counts_a_pipe_elsewhere_does_not_matter(byok_env):
    """Refused because stdout is a terminal, whatever stdin and stderr are."""
    pexpect = pytest.importorskip("pexpect")
    byok_env.set_key("openai", OPENAI_GOOD)
    child = pexpect.spawn("/bin/sh", ["-c", f"{BYOK} key get openai 2>/dev/null </dev/null"],
                          env=byok_env.vars, timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == USAGE and OPENAI_GOOD not in child.before.decode()


def test_environment_key_when_none_is_stored_and_no_key_at_all(byok_env):
    r = byok_env.run("key", "get", "openai", "--json", env={"OPENAI_API_KEY": OPENAI_GOOD_ENV})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["source"] == "environment"
    assert json.loads(r.stdout)["key"] == OPENAI_GOOD_ENV

    none = byok_env.run("key", "get", "anthropic")
    assert none.returncode == NO_KEY and none.stdout == ""
    assert "no anthropic key" in none.stderr and "byok key set anthropic" in none.stderr


def test_stored_key_wins_and_system_preference_uses_the_environment(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    env = {"OPENAI_API_KEY": OPENAI_GOOD_ENV}
    assert byok_env.run("key", "get", "openai", env=env).stdout == OPENAI_GOOD + "\n"
    byok_env.run("config", "set", "preferred-provider", "system")
    assert byok_env.run("key", "get", "openai", env=env).stdout == OPENAI_GOOD_ENV + "\n"
    only_stored = byok_env.run("key", "get", "openai")
    assert only_stored.returncode == NO_KEY and "environment keys only" in only_stored.stderr


def test_a_key_marked_failed_is_given_with_a_warning(byok_env, fake):
    revoked = openai_key("revoked")
    byok_env.set_key("openai", revoked)
    assert byok_env.run("key", "validate", "openai").returncode == Code.UNAUTHORIZED.exit_status
    r = byok_env.run("key", "get", "openai")
    assert r.returncode == 0 and r.stdout == revoked + "\n"
    assert "marked failed: UNAUTHORIZED" in r.stderr and "byok key validate openai" in r.stderr
    assert_no_leak(revoked, r.stderr)


def test_names_profiles_and_bad_input(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    other = openai_key("good-work")
    byok_env.run("--profile", "work", "key", "set", "openai", "--no-validate", input=other)
    assert byok_env.run("key", "get", "openai", "--profile", "work").stdout == other + "\n"
    assert byok_env.run("--profile", "work", "key", "get", "openai").stdout == other + "\n"
    assert byok_env.run("key", "get", "openai", "--name", "default").stdout == OPENAI_GOOD + "\n"
    named = byok_env.run("key", "get", "openai", "--name", "ci")
    assert named.returncode == USAGE and "no openai key named 'ci'" in named.stderr
    assert byok_env.run("key", "get", "nope").returncode == USAGE
    assert byok_env.run("key", "get", "openai", "--profile", "../x").returncode == USAGE


def test_the_hand_off_log_names_program_and_key_never_the_key(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    # `$(…)` in a shell: the parent is that shell, and the shell's parent is this test
    script = f'k="$({BYOK} key get openai)"; test -n "$k"'
    assert subprocess.run(["bash", "-c", script], env=byok_env.vars).returncode == 0
    # a tool that runs the command itself (mods' api-key-cmd): the parent is the tool
    subprocess.run([str(BYOK), "key", "get", "openai"], env=byok_env.vars, capture_output=True,
                   check=True)
    rows = handoffs(byok_env)
    me = process_info(os.getpid())[0]
    assert {(r["parent"], r["caller"]) for r in rows} == {("bash", me), (me, None)}
    assert all(r["provider"] == "openai" and r["key_name"] == "default" and
               r["source"] == "stored" and r["count"] == 1 for r in rows)
    table = byok_env.run("usage", "--handoffs")
    assert f"{me} via bash\topenai\tdefault\tstored\t1\t" in table.stdout
    assert_no_leak(OPENAI_GOOD, table.stdout, home=byok_env.home)
    # anthropic hand-offs are filtered out by --provider; none exist
    filtered = byok_env.run("usage", "--handoffs", "-p", "anthropic", "--json")
    assert json.loads(filtered.stdout) == []


def test_concurrent_helpers_all_get_the_key_and_are_all_logged(byok_env):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    with ThreadPoolExecutor(6) as pool:
        outs = list(pool.map(lambda _: byok_env.run("key", "get", "anthropic"), range(12)))
    assert all(o.returncode == 0 and o.stdout == ANTHROPIC_GOOD + "\n" for o in outs)
    assert sum(r["count"] for r in handoffs(byok_env)) == 12


def test_a_log_that_cannot_be_written_does_not_stop_the_hand_off(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    import sqlite3

    db = byok_env.home / "byok.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TRIGGER no_log BEFORE INSERT ON handoffs "
                 "BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
    conn.commit()
    conn.close()
    r = byok_env.run("key", "get", "openai")
    assert r.returncode == 0 and r.stdout == OPENAI_GOOD + "\n"
    assert "this hand-off was not logged" in r.stderr


def test_curl_round_trip_through_command_substitution(byok_env, fake):
    """The key goes from the vault to a real HTTP client through `$(…)` and nowhere else."""
    byok_env.set_key("openai", OPENAI_GOOD)
    url = fake.url + "/v1/models"
    if shutil.which("curl"):
        script = (f'curl -sS --fail "{url}" '
                  f'-H "Authorization: Bearer $({BYOK} key get openai)"')
    else:
        script = (f'KEY="$({BYOK} key get openai)" {sys.executable} -c "import os,urllib.request'
                  f' as u; r=u.Request(\'{url}\', headers={{\'Authorization\': \'Bearer \''
                  f'+os.environ[\'KEY\']}}); print(u.urlopen(r).read().decode())"')
    done = subprocess.run(["bash", "-c", script], env=byok_env.vars, capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["object"] == "list"
    assert [r["key"] for r in fake.requests if r["path"] == "/v1/models"] == [OPENAI_GOOD]


def test_typer_runner_gets_the_key_too(in_process):
    in_process.set_key("openai", OPENAI_GOOD)
    r = CliRunner().invoke(app, ["key", "get", "openai"])
    assert r.exit_code == 0 and r.stdout == OPENAI_GOOD + "\n"


TREE = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl names a process")
NAMED = [sys.executable, str(Path(__file__).parent / "support" / "named_parent.py"),
         "tmux: server"]


@TREE
def test_a_command_typed_in_a_shell_inside_tmux_names_no_caller(byok_env, tmp_path):
    """`llm --key "$(byok key get openai)"` typed at a bash prompt inside tmux: byok's parent
    is that bash, whose parent is tmux; llm, which gets the key, is not started yet and no
    ancestor. The log names bash, and not tmux, as the caller."""
    byok_env.set_key("openai", OPENAI_GOOD)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "llm").write_text('#!/bin/sh\necho "llm got ${#2} characters"\n')
    (bin_dir / "llm").chmod(0o755)
    env = {**byok_env.vars, "PATH": f"{bin_dir}:{BYOK.parent}:{os.environ['PATH']}",
           "HOME": str(tmp_path), "PS1": "READY> "}
    sh = pexpect.spawn(NAMED[0], [*NAMED[1:], "bash", "--norc", "--noprofile", "-i"],
                       env=env, encoding="utf-8", timeout=30)
    sh.sendline("PS1='READY> '")
    sh.expect("READY> ")
    sh.sendline('llm --key "$(byok key get openai)" hi')
    sh.expect(f"llm got {len(OPENAI_GOOD)} characters")
    sh.sendline("exit")
    sh.expect(pexpect.EOF)
    assert [(r["parent"], r["caller"]) for r in handoffs(byok_env)] == [("bash", None)]
    table = byok_env.run("usage", "--handoffs")
    assert "\nbash\topenai\tdefault\tstored\t1\t" in table.stdout
    assert "tmux" not in table.stdout


@TREE
def test_a_script_or_a_command_string_names_who_runs_it(byok_env, tmp_path):
    """Under the same tmux-named process: `bash deploy.sh` names the script; `sh -c …`
    (tmux's run-shell, Claude Code's apiKeyHelper) runs for its parent, which is named."""
    byok_env.set_key("openai", OPENAI_GOOD)
    script = tmp_path / "deploy.sh"
    script.write_text(f'k="$({BYOK} key get openai)"\ntest -n "$k"\n')
    subprocess.run([*NAMED, "bash", str(script)], env=byok_env.vars, check=True, timeout=60)
    subprocess.run([*NAMED, "sh", "-c", f'k="$({BYOK} key get openai)"; test -n "$k"'],
                   env=byok_env.vars, check=True, timeout=60)
    subprocess.run([*NAMED, "bash", "-ec", f'bash -c \'{BYOK} key get openai\' >/dev/null'],
                   env=byok_env.vars, check=True, timeout=60)  # a shell within a shell
    assert {(r["parent"], r["caller"], r["count"]) for r in handoffs(byok_env)} == {
        ("bash", "deploy.sh", 1), ("sh", "tmux: server", 1), ("bash", "tmux: server", 1)}


@pytest.mark.parametrize("args, runs", [
    (["bash"], ("prompt", None)),
    (["-bash"], ("prompt", None)),
    (["/usr/bin/zsh", "-l", "-i"], ("prompt", None)),
    (["bash", "-c", "llm --key \"$(byok key get openai)\""], ("command", None)),
    (["/bin/sh", "-ec", "byok key get anthropic"], ("command", None)),
    (["fish", "--command", "x"], ("command", None)),
    (["pwsh", "-NoProfile", "-Command", "x"], ("command", None)),
    (["bash", "-o", "errexit", "/home/me/deploy.sh", "arg"], ("script", "deploy.sh")),
    (["bash", "--", "run.sh"], ("script", "run.sh")),
    (["bash", "-s", "x"], ("prompt", None)),
    (["sh", "-"], ("prompt", None)),
    (["bash", "/dev/fd/3"], ("command", None)),  # a job runner's; `bash <(…)`
    (["bash", "-e", "/proc/self/fd/63", "x"], ("command", None)),
    (["sh", "/dev/stdin"], ("command", None)),
    (["bash", "/home/me/fd/3"], ("script", "3")),  # a file that is called 3
    (None, ("prompt", None)),
])
def test_what_a_shells_command_line_runs(args, runs):
    assert shell_runs(args) == runs


def test_requesting_programs_reads_the_process_tree():
    name, caller = requesting_programs(os.getpid())
    assert name == process_info(os.getpid())[0] and name not in SHELLS and caller is None
    assert process_info(10 ** 9) == ("unknown", None)  # no such process


def test_the_log_keeps_a_row_per_program_key_and_day_not_per_call(tmp_path):
    from byok_cli.store import DAY, Handoff, Store

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    store = Store(home)
    monday = 20_000 * DAY  # a UTC midnight
    calls = [monday + i * 60 for i in range(500)] + [monday + DAY + 5, monday + DAY + 7]
    for at in calls:
        store.record_handoff(Handoff(at, "default", "openai", "default", "stored", "mods", None))
    store.record_handoff(Handoff(monday + 9, "default", "openai", "default", "stored", "llm",
                                 "bash"))
    assert store.conn.execute("SELECT COUNT(*) FROM handoffs").fetchone()[0] == 3
    rows = {r.parent: r for r in store.handoffs("default")}
    assert rows["mods"].count == 502 and rows["llm"].count == 1
    assert (rows["mods"].first_at, rows["mods"].last_at) == (monday, monday + DAY + 7)
    later = store.handoffs("default", since=monday + DAY)  # only the second day's row
    assert [(r.parent, r.count) for r in later] == [("mods", 2)]


# --- the key with its base URL (issue 22) ---------------------------------------------------

def test_json_gives_the_base_url_and_the_variables(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("key", "get", "openai", "--json")
    assert r.returncode == 0 and r.stderr == "", r.stderr  # the URL from the environment
    assert json.loads(r.stdout) == {
        "provider": "openai", "name": "default", "source": "stored", "key": OPENAI_GOOD,
        "base_url": fake.url + "/v1", "base_url_source": "environment",
        "official_base_url": False, "key_env": "OPENAI_API_KEY",
        "base_url_env": "OPENAI_BASE_URL"}
    official = byok_env.run("key", "get", "openai", "--json", env={"OPENAI_BASE_URL": ""})
    got = json.loads(official.stdout)
    assert (got["base_url"], got["base_url_source"], got["official_base_url"]) == (
        "https://api.openai.com/v1", "default", True)
    assert official.stderr == ""


def test_a_profile_base_url_is_warned_about_and_exported(byok_env, fake):
    """The README's `llm --key "$(byok key get openai)"` with openai.base_url at a gateway
    would send the gateway's key to api.openai.com: say so, and --env gives both."""
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.run("config", "set", "openai.base_url", "https://gw.example.test/v1")
    plain = byok_env.run("key", "get", "openai", env={"OPENAI_BASE_URL": ""})
    assert plain.stdout == OPENAI_GOOD + "\n"
    assert "https://gw.example.test/v1" in plain.stderr and "not openai's own" in plain.stderr
    r = byok_env.run("key", "get", "openai", "--env", env={"OPENAI_BASE_URL": ""})
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"export OPENAI_API_KEY={OPENAI_GOOD}\n"
                        "export OPENAI_BASE_URL=https://gw.example.test/v1\n")
    # and a shell reads them back as they were
    shown = subprocess.run(["/bin/sh", "-c", r.stdout + 'printf "%s|%s" "$OPENAI_API_KEY" '
                            '"$OPENAI_BASE_URL"'], capture_output=True, text=True)
    assert shown.stdout == f"{OPENAI_GOOD}|https://gw.example.test/v1"
    assert_no_leak(OPENAI_GOOD, plain.stderr, r.stderr)


def test_env_for_a_loopback_base_url_adds_it_to_no_proxy(byok_env, fake):
    """A program given a key for a server on this machine must not send it through a proxy."""
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("key", "get", "anthropic", "--env",
                     env={"NO_PROXY": "corp.example", "no_proxy": ""})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == [f"export ANTHROPIC_API_KEY={ANTHROPIC_GOOD}",
                         f"export ANTHROPIC_BASE_URL={fake.url}"]
    assert "export NO_PROXY=corp.example,127.0.0.1,localhost,::1" in lines
    assert "export no_proxy=127.0.0.1,localhost,::1" in lines
    both = byok_env.run("key", "get", "anthropic", "--env", "--json")
    assert both.returncode == USAGE and ANTHROPIC_GOOD not in both.stdout + both.stderr


def test_env_quotes_what_a_shell_would_read_otherwise(byok_env):
    """A custom provider's URL with shell characters stays one word."""
    byok_env.set_key("openai", OPENAI_GOOD)
    url = "https://gw.example.test/v1?team=a&x=$(touch /tmp/pwned-byok)"
    r = byok_env.run("key", "get", "openai", "--env", env={"OPENAI_BASE_URL": url})
    if r.returncode != 0:  # a URL byok refuses is refused here too: nothing printed
        assert r.stdout == ""
        return
    out = subprocess.run(["/bin/sh", "-c", r.stdout + 'printf %s "$OPENAI_BASE_URL"'],
                         capture_output=True, text=True).stdout
    assert out.startswith("https://gw.example.test/v1") and not os.path.exists(
        "/tmp/pwned-byok")
