"""Small findings from daily use and review (notes/tester5.md #8, daily5.md, closing4.md):
advice a gateway client can follow, `run --explain` on a model a budget refuses, `history rm`
asking first, `doctor` on stored fallback chains, the gateway fixture's start-up error, and
--no-stream's reading of a streamed answer."""

from __future__ import annotations

import json

from byok_cli.errors import Code
from conftest import OPENAI_GOOD
from support.byok_gateway import RunningGateway


def _token(env, name: str = "app") -> str:
    made = env.run("token", "create", name)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_the_gateways_refusal_of_an_unpriced_model_gives_advice_its_client_can_follow(
        byok_env, fake):
    """A gateway client cannot pass `--allow-unpriced` or `-m`: the 402 names the setting,
    a priced model in the request and `byok models list` instead (tester5 #8)."""
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    assert byok_env.run("budget", "set", "--per", "day", "5").returncode == 0
    t = _token(byok_env)
    gw = RunningGateway(byok_env.vars)
    try:
        body = json.dumps({"model": "gpt-6.2-sol",
                           "messages": [{"role": "user", "content": "hi"}]}).encode()
        status, _, answer = gw.request("POST", "/openai/chat/completions", body,
                                       {"Authorization": f"Bearer {t}",
                                        "Content-Type": "application/json"})
    finally:
        gw.stop()
    said = json.loads(answer)["error"]["message"]
    assert status == 402 and "no price is known for openai/gpt-6.2-sol" in said, said
    for way in ("`byok config set allow-unpriced on`", "`byok models list`",
                "a priced model", "byok models sync"):
        assert way in said, way
    assert "--allow-unpriced" not in said and "-m " not in said, said
    assert not [q for q in fake.requests if q["method"] == "POST"]  # nothing was sent
    # `run` keeps its own advice, from the same place
    ran = byok_env.run("run", "-m", "gpt-6.2-sol", "hi")
    assert ran.returncode == Code.BUDGET_EXCEEDED.exit_status
    assert "--allow-unpriced (or `byok config set allow-unpriced on`)" in ran.stderr
    assert "-m a priced model (`byok models list`)" in ran.stderr


def test_explain_says_what_a_budget_makes_of_a_model_without_a_price(byok_env, fake):
    """`run --explain` under a budget: an unpriced -m is where the run would be refused,
    an unpriced default model is passed over for the next attempt, and --allow-unpriced
    sends it uncounted, each in the words the run itself uses (daily5, closing4)."""
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    assert byok_env.run("budget", "set", "--per", "month", "5").returncode == 0
    plain = byok_env.run("run", "--explain", "-m", "gpt-6.1-sol")
    assert plain.returncode == 0 and "price" not in plain.stderr, plain.stderr
    pinned = byok_env.run("run", "--explain", "-m", "gpt-6.2-sol")
    ran = byok_env.run("run", "-m", "gpt-6.2-sol", "hi")
    assert pinned.returncode == 0 and ran.returncode == Code.BUDGET_EXCEEDED.exit_status
    said = ran.stderr.strip().removeprefix("error: ")
    assert f"the run would be refused (exit 16): {said}\n" in pinned.stderr, pinned.stderr
    as_json = json.loads(byok_env.run("run", "--explain", "--json", "-m", "gpt-6.2-sol").stdout)
    refused = as_json["budget"]["refused"]
    assert refused["code"] == "BUDGET_EXCEEDED" and "--fallback" in refused["hint"]
    # byok's choice of model gives way, as the run says when it does it
    assert byok_env.run("models", "default", "gpt-6.2-sol").returncode == 0
    given = byok_env.run("run", "--explain")
    warned = byok_env.run("run", "hi")
    assert warned.returncode == 0 and warned.stdout == "Echo[gpt-6.1-sol]: hi\n", warned.stderr
    (step,) = [line for line in warned.stderr.splitlines() if "trying" in line]
    assert step in given.stderr.splitlines() and "would be refused" not in given.stderr
    assert step.endswith("trying openai gpt-6.1-sol with the stored key (…i9j0)"), step
    listed = json.loads(byok_env.run("run", "--explain", "--json").stdout)["budget"]
    assert listed == {"warnings": [step.removeprefix("warning: ")], "refused": None}
    uncounted = byok_env.run("run", "--explain", "--allow-unpriced", "-m", "gpt-6.2-sol")
    assert "the profile month budget cannot count this request" in uncounted.stderr
    assert "would be refused" not in uncounted.stderr
    assert len([q for q in fake.requests if q["method"] == "POST"]) == 1  # `run hi`


def _conversations(env) -> list[int]:
    return [c["id"] for c in json.loads(env.run("history", "list", "--json").stdout)]


def test_removing_a_conversation_asks_like_removing_a_budget(byok_env, fake):
    """`history rm` asks at a terminal (the conversation named by its first prompt), needs
    --yes from a pipe (exit 2), and a "no" is exit 17 as `budget remove`'s is (closing4)."""
    import pexpect
    from typer.testing import CliRunner

    from byok_cli.cli import app
    from conftest import BYOK

    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    pasted = "sk-proj-" + "Zq7" * 12 + "wxyz"  # a key kept in a prompt is not shown
    for prompt in ("first one", "second\none", f"why is {pasted} rejected?"):
        assert byok_env.run("run", prompt).returncode == 0
    one, two, three = sorted(_conversations(byok_env))
    piped = byok_env.run("history", "rm", str(one))
    assert piped.returncode == Code.USAGE.exit_status == 2, piped.stderr
    assert piped.stderr.strip() == \
        "error: refusing to delete a conversation without confirmation — add --yes"
    assert len(_conversations(byok_env)) == 3
    missing = byok_env.run("history", "rm", "999")  # said before asking
    assert missing.returncode == 2 and "there is no conversation 999" in missing.stderr
    assert byok_env.run("budget", "set", "--per", "day", "2").returncode == 0
    for argv, question in (
            (["history", "rm", str(two)],
             rf"Delete conversation {two} \('second one', 2 messages\) of profile "
             r"'default'\? \[y/N\]"),
            (["budget", "rm"], r"Remove the budget .*\? \[y/N\]")):
        child = pexpect.spawn(str(BYOK), argv, env=byok_env.vars, timeout=20, encoding="utf-8")
        child.expect(question)
        child.sendline("n")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == Code.DECLINED.exit_status == 17, child.before
    assert len(_conversations(byok_env)) == 3
    child = pexpect.spawn(str(BYOK), ["history", "rm", str(three)], env=byok_env.vars,
                          timeout=20, encoding="utf-8")
    child.expect(r"\[y/N\]")
    asked = child.before
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert f"Delete conversation {three} ('why is " in asked and pasted[:-4] not in asked
    assert "Zq7" not in asked, asked
    child = pexpect.spawn(str(BYOK), ["history", "rm", str(two)], env=byok_env.vars,
                          timeout=20, encoding="utf-8")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and f"deleted conversation {two}" in child.before
    assert sorted(_conversations(byok_env)) == [one, three]
    gone = byok_env.run("history", "rm", "--yes", str(one))
    assert gone.returncode == 0 and gone.stderr == f"deleted conversation {one}\n"
    runner = CliRunner()
    refused = runner.invoke(app, ["history", "rm", str(three)], env=byok_env.vars)
    assert refused.exit_code == 2 and "add --yes" in refused.output
    assert runner.invoke(app, ["history", "rm", "-y", str(three)],
                         env=byok_env.vars).exit_code == 0
    assert _conversations(byok_env) == []


def _chain_rows(env) -> list[dict]:
    doctor = json.loads(env.run("doctor", "--json").stdout)
    return [c for c in doctor if c["check"] == "fallback chain"]


def test_doctor_names_a_typo_in_a_chain_stored_before_it_was_checked(byok_env, fake):
    """A chain stored before `config set fallback` applied -m's typo rule (daily5): doctor
    warns of each near miss, says run sends it as written, and gives one command that fixes
    the chain, which works as printed; a far id and a left-out entry are as before."""
    import shlex
    import sqlite3

    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    assert byok_env.run("config", "set", "fallback", "anthropic").returncode == 0
    assert _chain_rows(byok_env) == []
    db = next(p for p in byok_env.files() if p.name.endswith(".db"))
    with sqlite3.connect(db) as conn:  # as stored before the check
        conn.execute("UPDATE profiles SET fallback = 'openai/gpt-6.1-sl, anthropic/sonet, "
                     "openai/gpt-7-preview-fake, gw/x'")
    rows = _chain_rows(byok_env)
    assert [r["status"] for r in rows] == ["warn"] * 3, rows
    gone, sol, sonnet = rows
    assert "provider 'gw', which no longer exists" in gone["detail"]
    assert sol["detail"] == ("fallback entry 'openai/gpt-6.1-sl': unknown model 'gpt-6.1-sl'; "
                             "did you mean 'gpt-6.1-sol'? (run sends it as written)")
    assert "did you mean 'sonnet'?" in sonnet["detail"]
    fix = ('`byok config set fallback "openai/gpt-6.1-sol, anthropic/sonnet, '
           'openai/gpt-7-preview-fake"`')
    assert all(r["fix"].startswith("fix it with " + fix) for r in rows), rows
    assert "`byok models list -p openai --remote` syncs its list" in sol["fix"]
    text = byok_env.run("doctor")
    assert text.returncode == Code.NEEDS_ATTENTION.exit_status and "gpt-6.1-sl" in text.stdout
    command = shlex.split(fix.strip("`"))
    fixed = byok_env.run(*command[1:])  # the fix, as printed
    assert fixed.returncode == 0, fixed.stderr
    assert _chain_rows(byok_env) == []


def test_doctors_fix_puts_a_misspelt_provider_right_instead_of_dropping_it(byok_env, fake):
    """A stored chain's misspelt providers (which a run leaves out) get a "did you mean",
    and the fix keeps their entries, put right, instead of shortening the chain
    (tester6 #5); a provider like none is still left out of it."""
    import shlex
    import sqlite3

    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    assert byok_env.run("config", "set", "fallback", "anthropic").returncode == 0
    db = next(p for p in byok_env.files() if p.name.endswith(".db"))
    with sqlite3.connect(db) as conn:  # as stored before the check
        conn.execute("UPDATE profiles SET fallback = 'opnai/gpt-6.1-sl, anthropc, zzz/x'")
    rows = _chain_rows(byok_env)
    assert [r["status"] for r in rows] == ["warn"] * 3, rows
    assert "did you mean 'openai'?" in rows[0]["detail"]
    assert "did you mean 'anthropic'?" in rows[1]["detail"]
    assert "did you mean" not in rows[2]["detail"]
    fix = '`byok config set fallback "openai/gpt-6.1-sol, anthropic"`'
    assert all(r["fix"] == "fix it with " + fix for r in rows), rows
    fixed = byok_env.run(*shlex.split(fix.strip("`"))[1:])  # the fix, as printed
    assert fixed.returncode == 0, fixed.stderr
    assert _chain_rows(byok_env) == []


def test_a_gateway_that_does_not_start_fails_its_test_with_what_it_said(byok_env):
    """The fixture's failure is the gateway's own one-line error, not a JSON parse error of
    the first line of its --json error object (closing4)."""
    import pytest

    with pytest.raises(AssertionError) as failed:
        RunningGateway(byok_env.vars, "--host", "0.0.0.0")
    said = str(failed.value)
    assert said.startswith("the gateway did not start (exit 2): error: ") and \
        "loopback" in said, said
    assert "{" not in said and "\n" not in said, said


def test_history_list_masks_a_key_cut_by_the_first_prompts_column(byok_env, fake):
    """A key in a first prompt is masked before the column cuts it: cut first, the masker
    saw only a part of it and showed some of the key's characters."""
    from test_screens import screen

    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    pasted = "sk-proj-" + "Zq7" * 12 + "wxyz"
    for pad in (40, 45, 50, 55):
        assert byok_env.run("run", "x" * pad + " " + pasted).returncode == 0
    piped = byok_env.run("history", "list")
    status, lines = screen(byok_env, "history", "list", width=200)
    as_json = byok_env.run("history", "list", "--json").stdout
    assert piped.returncode == status == 0 and len(lines) == 5
    for shown in (piped.stdout, "\n".join(lines), as_json):
        assert "Zq7" not in shown and "q7Z" not in shown and "7Zq" not in shown, shown
    assert piped.stdout.count("x" * 40) == 4
