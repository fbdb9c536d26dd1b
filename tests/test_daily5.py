"""Small findings outside testers left from daily use (notes/tester4.md, closing3.md): one key
is not stored twice through a key command either, removing a budget asks like removing a key,
the missing aliases, history's rows, hints that work as typed, handoffs' program names, typo
checks on fallback chains, and an explicit unpriced `-m` under a budget."""

from __future__ import annotations

import json
import subprocess
import sys

import pexpect
from typer.testing import CliRunner

from byok_cli.cli import app
from byok_cli.errors import Code
from conftest import BYOK, OPENAI_GOOD, openai_key
from test_key_commands import key_program


def _names(byok_env) -> list[str]:
    return [k["name"] for row in json.loads(byok_env.run("key", "list", "--json").stdout)
            if row["provider"] == "openai" for k in row["keys"]]


def test_a_key_command_printing_a_stored_key_is_refused_like_key_set(byok_env, fake, tmp_path):
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    prog, runs = key_program(tmp_path, OPENAI_GOOD)
    dup = byok_env.run("key", "set", "openai", "--name", "seventh", "--command", str(prog))
    assert dup.returncode == Code.USAGE.exit_status, dup.stderr
    assert f"this openai key (…{OPENAI_GOOD[-4:]}) is already stored as 'default'" in dup.stderr
    assert "--force" in dup.stderr and runs.read_text() == "x"
    assert "seventh" not in _names(byok_env)
    forced = byok_env.run("key", "set", "openai", "--name", "seventh", "--command", str(prog),
                          "--force")
    assert forced.returncode == 0, forced.stderr
    assert _names(byok_env).count("seventh") == 1
    # not run, not compared: said, and `key validate` (which runs it) names the pair
    unrun = byok_env.run("key", "set", "openai", "--name", "eighth", "--command", str(prog),
                         "--no-validate")
    assert unrun.returncode == 0 and "was not compared" in unrun.stderr
    checked = byok_env.run("key", "validate", "openai")
    assert "openai keys 'default' and 'seventh' are the same key" in checked.stderr
    assert "'default' and 'eighth' are the same key" in checked.stderr
    assert OPENAI_GOOD[:-4] not in checked.stderr + checked.stdout


def test_a_plain_key_after_a_key_command_says_what_was_not_compared(byok_env, fake, tmp_path):
    key = openai_key("good")
    prog, runs = key_program(tmp_path, key)
    assert byok_env.run("key", "set", "openai", "--name", "cmd2", "--command",
                        str(prog)).returncode == 0
    plain = byok_env.set_key("openai", key, "--name", "plain2")
    assert plain.returncode == 0, plain.stderr  # the command is not run to compare
    assert "not compared with the output of the key command 'cmd2'" in plain.stderr
    assert "`byok key validate openai`" in plain.stderr and runs.read_text() == "x"
    runner = CliRunner()
    checked = runner.invoke(app, ["key", "validate", "openai"], env=byok_env.vars)
    assert "openai keys 'cmd2' and 'plain2' are the same key" in checked.output


def _budgets(byok_env) -> list[dict]:
    return json.loads(byok_env.run("budget", "list", "--json").stdout)


def test_removing_a_budget_asks_like_removing_a_key(byok_env):
    assert byok_env.run("budget", "set", "--per", "month", "20").returncode == 0
    assert byok_env.run("budget", "set", "--per", "day", "2").returncode == 0
    piped = byok_env.run("budget", "rm", "--per", "month")
    key_piped = byok_env.run("key", "rm", "openai")  # what `key remove` does from a pipe
    assert piped.returncode == Code.USAGE.exit_status == 2, piped.stderr
    assert piped.stderr.strip() == \
        "error: refusing to remove a budget without confirmation — add --yes"
    assert key_piped.returncode == Code.NO_KEY.exit_status  # no key: said before asking
    assert len(_budgets(byok_env)) == 2
    for answer, status in (("n", Code.DECLINED.exit_status), ("y", 0)):
        child = pexpect.spawn(str(BYOK), ["budget", "rm", "--per", "month"],
                              env=byok_env.vars, timeout=20, encoding="utf-8")
        child.expect(r"Remove the budget \(\$20\.00 per month\) of profile 'default'\? "
                     r"\[y/N\]")
        child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == status, child.before
    assert [b["period"] for b in _budgets(byok_env)] == ["day"]
    gone = byok_env.run("budget", "remove", "--yes")
    assert gone.returncode == 0 and "removed 1 budget for profile ($2.00 per day)" in gone.stderr
    assert _budgets(byok_env) == []
    none = byok_env.run("budget", "rm", "--yes")  # nothing to remove: said before asking
    assert none.returncode == Code.USAGE.exit_status and "no such budget" in none.stderr
    runner = CliRunner()
    assert runner.invoke(app, ["budget", "set", "--per", "week", "5"],
                         env=byok_env.vars).exit_code == 0
    refused = runner.invoke(app, ["budget", "rm"], env=byok_env.vars)
    assert refused.exit_code == Code.USAGE.exit_status and "add --yes" in refused.output
    assert runner.invoke(app, ["budget", "rm", "-y"], env=byok_env.vars).exit_code == 0


def test_token_rm_and_config_ls_work_unlisted(byok_env):
    made = byok_env.run("token", "create", "t1")
    assert made.returncode == 0, made.stderr
    gone = byok_env.run("token", "rm", "t1")
    revoke = byok_env.run("token", "revoke", "-h").stdout
    assert gone.returncode == 0, gone.stderr
    assert "revoked" in gone.stderr.lower() + gone.stdout.lower()
    assert byok_env.run("token", "rm", "-h").stdout == revoke.replace("revoke", "rm", 1)
    shown = byok_env.run("config", "show")
    assert byok_env.run("config", "ls").stdout == shown.stdout and shown.stdout
    for group, hidden in (("token", " rm "), ("config", " ls ")):
        assert hidden not in byok_env.run(group, "--help").stdout
    runner = CliRunner()
    assert runner.invoke(app, ["config", "ls"], env=byok_env.vars).exit_code == 0


def test_history_list_keeps_a_prompt_with_newlines_on_one_row(byok_env, fake):
    from test_screens import fits, screen

    byok_env.set_key("openai", OPENAI_GOOD)
    prompt = "a very long prompt with\nnewlines and red and\ttabs and more words to wrap"
    assert byok_env.run("run", prompt).returncode == 0
    status, lines = screen(byok_env, "history", "list")
    assert status == 0 and len(lines) == 2, lines  # the header and one row
    fits(lines)
    assert lines[1].endswith("gpt-6.1-sol  a very long prompt with ⏎ newlines…"), lines
    status, wide = screen(byok_env, "history", "list", width=200)
    assert wide[1].endswith("a very long prompt with ⏎ newlines and red and tabs and mor…")
    piped = byok_env.run("history", "list").stdout.splitlines()
    assert piped[0].split("\t")[-1] == "first prompt" and len(piped) == 2
    assert piped[1].split("\t")[-1] == \
        "a very long prompt with newlines and red and tabs and more …"
    as_json = json.loads(byok_env.run("history", "list", "--json").stdout)
    assert as_json[0]["first_prompt"] == prompt[:len(as_json[0]["first_prompt"])]
    assert "⏎" not in json.dumps(as_json, ensure_ascii=False)


def test_an_unknown_models_hint_is_a_command_that_works_as_typed(byok_env, fake):
    """`run -p loc -m lama3.2` (a provider of one's own, no catalogue): the provider's 404
    names `models list -p loc --remote`, which runs as typed."""
    added = byok_env.run("provider", "add", "loc", "--api", "openai", "--no-key",
                         "--base-url", fake.url + "/local/v1")
    assert added.returncode == 0, added.stderr
    r = byok_env.run("run", "-p", "loc", "-m", "lama3.2", "hi")
    assert r.returncode == Code.MODEL_NOT_FOUND.exit_status, r.stderr
    hint = r.stderr.strip().rsplit("see `", 1)[1]
    assert hint.startswith("byok models list -p loc --remote`"), r.stderr
    listed = byok_env.run(*hint.split("`")[0].split()[1:])
    assert listed.returncode == 0, listed.stderr
    as_json = json.loads(byok_env.run("run", "--json", "-p", "loc", "-m", "lama3.2",
                                      "hi").stdout)
    assert as_json["error"]["hint"] == "see `byok models list -p loc --remote`"


def test_a_script_fed_on_a_file_descriptor_names_the_program_that_fed_it(byok_env):
    """`bash /dev/fd/3` (a job runner's script, or `bash <(…)`): the script has no name of
    its own, so the program that wrote it is named, not "3"."""
    byok_env.set_key("openai", OPENAI_GOOD)
    runner = (f"import os, subprocess\nr, w = os.pipe()\n"
              f"os.write(w, b'{BYOK} key get openai >/dev/null\\n')\nos.close(w)\n"
              f"os.dup2(r, 3)\nsubprocess.run(['bash', '/dev/fd/3'], pass_fds=(3,), "
              f"check=True)\n")
    subprocess.run([sys.executable, "-c", runner], env=byok_env.vars, check=True, timeout=60)
    rows = json.loads(byok_env.run("usage", "--handoffs", "--since", "all", "--json").stdout)
    assert [(r["parent"], r["caller"][:6]) for r in rows] == [("bash", "python")], rows
    table = byok_env.run("usage", "--handoffs").stdout
    assert "\tpython" not in table and f"{rows[0]['caller']} via bash\topenai" in table


def test_an_explicit_unpriced_model_under_a_budget_is_refused_not_replaced(byok_env, fake):
    """`run -m gpt-6.2-sol` (a catalogue model with no price) under a budget: the person asked
    for that model, so the run is refused (exit 16, nothing sent) with the ways on; a plain
    run still gives way to a priced model (test_budget::test_unpriced_models_under_a_budget),
    and --fallback asks for that."""
    byok_env.set_key("openai", OPENAI_GOOD)
    assert byok_env.run("budget", "set", "--per", "month", "5").returncode == 0
    r = byok_env.run("run", "-m", "gpt-6.2-sol", "hello")
    assert r.returncode == Code.BUDGET_EXCEEDED.exit_status == 16, r.stderr
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
    assert "no price is known for openai/gpt-6.2-sol" in r.stderr and "trying" not in r.stderr
    for way in ("byok models sync", "--allow-unpriced", "allow-unpriced on",
                "-m a priced model", "--fallback lets another model answer"):
        assert way in r.stderr, way
    assert not [q for q in fake.requests if q["method"] == "POST"]  # nothing was sent
    as_json = json.loads(byok_env.run("run", "--json", "-m", "gpt-6.2-sol", "hi").stdout)
    assert as_json["error"]["code"] == "BUDGET_EXCEEDED" and "--fallback" in \
        as_json["error"]["hint"]
    asked = byok_env.run("run", "--fallback", "-m", "gpt-6.2-sol", "hello")
    assert asked.returncode == 0 and asked.stdout == "Echo[gpt-6.1-sol]: hello\n", asked.stderr
    assert "nothing was sent; trying openai gpt-6.1-sol" in asked.stderr
    priced = byok_env.run("run", "-m", "gpt-6.1-sol", "hello")
    assert priced.returncode == 0, priced.stderr
    allowed = byok_env.run("run", "--allow-unpriced", "-m", "gpt-6.2-sol", "hello")
    assert allowed.returncode == 0 and allowed.stdout == "Echo[gpt-6.2-sol]: hello\n"
    runner = CliRunner()
    typer_run = runner.invoke(app, ["run", "-m", "gpt-6.2-sol", "hello"], env=byok_env.vars)
    assert typer_run.exit_code == Code.BUDGET_EXCEEDED.exit_status
