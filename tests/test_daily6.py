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

