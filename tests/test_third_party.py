"""byok's main flows through servers we did not write (tests/gateways.py).

Each flow runs the installed `byok` against LiteLLM's proxy, LLMock and fakellm, as a
user would point it at a gateway: key validate, `models list --remote`, run streamed and
not, `--json`, `-c` across a provider switch, and a piped `chat`. The answers expected
are the servers' own (their documented echo or rule behaviour), and where a server can
tell, the messages that reached it are checked too. LLMock then grades byok's handling of
the faults it injects. Skipped where a server is not installed; .ci/run installs them
all and sets BYOK_REQUIRE_SERVERS, which turns such a skip into a failure.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import Env, _clean_env
from gateways import (ANTHROPIC_KEY, ANTHROPIC_MODEL, OPENAI_KEY, OPENAI_MODEL, Gateway,
                      llmock_admin, llmock_verdict, start_fakellm, start_litellm,
                      start_llmock)
from serverproc import ROOT, is_loopback

pytestmark = pytest.mark.third_party

MODEL = {"openai": OPENAI_MODEL, "anthropic": ANTHROPIC_MODEL}
OTHER = {"openai": "anthropic", "anthropic": "openai"}
ALL, WITH_LISTS = ["litellm", "llmock", "fakellm"], ["litellm", "llmock"]
FIRST, SECOND = "first question, hello", "second question"


def _stop(gateway: Gateway) -> None:
    peers = gateway.process.remote_peers()
    gateway.process.stop()
    assert all(is_loopback(p) for p in peers), f"{gateway.name} talked to {peers}"


@pytest.fixture(scope="session")
def litellm_gateway(tmp_path_factory):
    gateway, upstream = start_litellm(tmp_path_factory.mktemp("litellm"))
    yield gateway
    _stop(gateway)
    upstream.shutdown()


@pytest.fixture(scope="session")
def llmock_gateway(tmp_path_factory):
    gateway = start_llmock(tmp_path_factory.mktemp("llmock"))
    yield gateway
    _stop(gateway)


@pytest.fixture(scope="session")
def fakellm_gateway(tmp_path_factory):
    gateway = start_fakellm(tmp_path_factory.mktemp("fakellm"))
    yield gateway
    _stop(gateway)


@pytest.fixture
def gateway(request) -> Gateway:
    return request.getfixturevalue(f"{request.param}_gateway")


@pytest.fixture
def env(tmp_path, master_key, gateway) -> Env:
    """A fresh byok home, both keys stored, both base URLs at the gateway."""
    env = _clean_env()
    env.update({"BYOK_HOME": str(tmp_path / "home"), "BYOK_MASTER_KEY": master_key,
                "OPENAI_BASE_URL": gateway.openai_url,
                "ANTHROPIC_BASE_URL": gateway.anthropic_url,
                "BYOK_TIMEOUT": "20", "BYOK_MAX_RETRY_WAIT": "5"})
    e = Env(tmp_path / "home", env)
    assert e.set_key("openai", OPENAI_KEY).returncode == 0
    assert e.set_key("anthropic", ANTHROPIC_KEY).returncode == 0
    return e


def run(env: Env, provider: str, *args: str, stdin: str | None = None):
    return env.run("run", "-p", provider, "-m", MODEL[provider], *args, input=stdin)


def quiet(result) -> str:
    """stderr, which must say nothing on success: no retry, no fallback, no warning."""
    assert result.stderr == "", result.stderr
    return result.stdout


def test_server_pins_are_exact_hashed_and_safe():
    """Every package of every server (and of llm, the client program tests/test_clients.py
    drives the gateway with) is pinned to one version and a sha256, and LiteLLM is never
    1.82.7 or 1.82.8 (they shipped a credential stealer)."""
    locks = sorted((ROOT / "tests" / "servers").glob("*.lock"))
    assert {p.stem for p in locks} == set(ALL) | {"specs", "llm", "shell-gpt"}
    for lock in locks:
        pins = [ln for ln in lock.read_text().splitlines() if ln and not ln.startswith("#")]
        assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^ =]+ --hash=sha256:[0-9a-f]{64}",
                                         ln) for ln in pins), lock
        assert not {"litellm==1.82.7", "litellm==1.82.8"} & {ln.split()[0] for ln in pins}


# --- keys and model lists -----------------------------------------------------------------

@pytest.mark.parametrize("gateway", WITH_LISTS, indirect=True)
def test_key_validate(env, gateway):
    r = env.run("key", "validate", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(x["provider"], x["source"], x["result"]) for x in rows] == [
        ("openai", "stored", "VALID"), ("anthropic", "stored", "VALID")]


@pytest.mark.parametrize("gateway", ["fakellm"], indirect=True)
def test_key_validate_on_a_gateway_without_models(env, gateway):
    """fakellm serves both chat APIs and no /models (404): byok cannot check a key there
    without a prompt, so it says so and fails nothing; prompts work."""
    r = env.run("key", "validate", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(x["provider"], x["result"]) for x in rows] == [
        ("openai", "NOT_CHECKED"), ("anthropic", "NOT_CHECKED")]
    assert all("prompts may still work" in x["message"] for x in rows)
    assert "PROVIDER_UNAVAILABLE" not in r.stdout + r.stderr
    for provider in ("openai", "anthropic"):
        assert "fakellm: hello" in run(env, provider, "--no-stream", "hello").stdout


@pytest.mark.parametrize("gateway", ["litellm"], indirect=True)
def test_key_the_gateway_refuses_is_reported_as_such(env, gateway):
    env.set_key("anthropic", "sk-ant-api03-notthisone-Aa1b2c3d4e5f")
    r = env.run("key", "validate", "anthropic", "--json")
    assert [x["result"] for x in json.loads(r.stdout)] == ["UNAUTHORIZED"], r.stderr
    assert r.returncode == 5
    answer = env.run("run", "-p", "anthropic", "--no-fallback", "hello")
    assert answer.returncode == 5 and answer.stdout == ""
    assert "rejected the key" in answer.stderr and "Traceback" not in answer.stderr


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", WITH_LISTS, indirect=True)
def test_models_list_remote(env, gateway, provider):
    r = env.run("models", "list", "--remote", "--refresh", "-p", provider, "--json")
    assert r.returncode == 0, r.stderr
    listed = {row["id"] for row in json.loads(r.stdout) if row["listed_by_provider"]}
    assert gateway.listed[provider] <= listed, listed


# --- answers --------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ALL, indirect=True)
def test_run(env, gateway, provider, stream):
    r = run(env, provider, *([] if stream else ["--no-stream"]), "hello there")
    assert r.returncode == 0, r.stderr
    assert quiet(r) == gateway.reply(MODEL[provider], ["hello there"]) + "\n"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ALL, indirect=True)
def test_run_json(env, gateway, provider, stream):
    r = run(env, provider, "--json", *([] if stream else ["--no-stream"]), "hello json")
    assert r.returncode == 0, r.stderr
    out = json.loads(quiet(r))
    assert (out["text"], out["provider"], out["model"], out["fallbacks"]) == (
        gateway.reply(MODEL[provider], ["hello json"]), provider, MODEL[provider], [])
    if provider == "openai" and stream and not gateway.openai_stream_usage:
        # fakellm's OpenAI streams carry no usage: unknown, not zero.
        assert (out["usage"]["input_tokens"], out["usage"]["output_tokens"]) == (None, None), out
    else:
        assert out["usage"]["input_tokens"] > 0 and out["usage"]["output_tokens"] > 0, out


@pytest.mark.parametrize("first", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ALL, indirect=True)
def test_continue_across_a_provider_switch(env, gateway, first):
    second = OTHER[first]
    one = run(env, first, FIRST)
    assert one.returncode == 0, one.stderr
    answer = gateway.reply(MODEL[first], [FIRST])
    assert quiet(one) == answer + "\n"
    two = run(env, second, "-c", SECOND)
    assert two.returncode == 0, two.stderr
    conversation = [FIRST, answer, SECOND]
    assert quiet(two) == gateway.reply(MODEL[second], conversation) + "\n"
    if gateway.received:
        assert gateway.received()[-1] == conversation
    history = json.loads(env.run("history", "show", "1", "--json").stdout)
    assert [m["provider"] for m in history["messages"] if m["role"] == "assistant"] == [
        first, second]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ALL, indirect=True)
def test_piped_chat(env, gateway, provider):
    r = env.run("chat", "-p", provider, "-m", MODEL[provider], input=f"{FIRST}\n{SECOND}\n")
    assert r.returncode == 0, r.stderr
    first = gateway.reply(MODEL[provider], [FIRST])
    second = gateway.reply(MODEL[provider], [FIRST, first, SECOND])
    assert first in r.stdout and second in r.stdout
    assert r.stdout.index(first) < r.stdout.rindex(second)
    if gateway.received:
        assert gateway.received()[-2:] == [[FIRST], [FIRST, first, SECOND]]


# --- LLMock: faults injected, byok's handling graded ----------------------------------------

def inject(gateway: Gateway, provider: str, behaviour: dict) -> None:
    llmock_admin(gateway, "reset")
    match = {"provider": provider, **behaviour.pop("match", {})}
    llmock_admin(gateway, "scenario", {"behaviors": [{**behaviour, "match": match}]})


def findings(gateway: Gateway) -> list[str]:
    return [f["code"] for f in llmock_verdict(gateway)["findings"]]


def attempts(gateway: Gateway) -> int:
    return llmock_verdict(gateway)["attempts"]


HELLO = "Hello! You said: hello"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ["llmock"], indirect=True)
def test_llmock_rate_limit_waits_for_retry_after(env, gateway, provider):
    inject(gateway, provider, {"type": "fail", "status": 429, "retry_after": 1})
    r = run(env, provider, "hello")
    assert (r.returncode, r.stdout) == (0, HELLO + "\n"), r.stderr
    assert (attempts(gateway), findings(gateway)) == (2, [])


@pytest.mark.parametrize("provider, status", [("openai", 503), ("anthropic", 503),
                                              ("anthropic", 529)])
@pytest.mark.parametrize("gateway", ["llmock"], indirect=True)
def test_llmock_unavailable_waits_for_retry_after(env, gateway, provider, status):
    inject(gateway, provider, {"type": "fail", "status": status, "retry_after": 1})
    r = run(env, provider, "hello")
    assert (r.returncode, r.stdout) == (0, HELLO + "\n"), r.stderr
    assert findings(gateway) == []


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ["llmock"], indirect=True)
def test_llmock_model_not_found_is_not_retried(env, gateway, provider):
    inject(gateway, provider, {"type": "fail", "status": 404})
    r = run(env, provider, "--no-fallback", "hello")
    assert (r.returncode, r.stdout) == (8, ""), r.stderr
    assert (attempts(gateway), findings(gateway)) == (1, [])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ["llmock"], indirect=True)
def test_llmock_models_not_found_is_not_retried(env, gateway, provider):
    inject(gateway, provider, {"type": "fail", "status": 404, "times": 5,
                               "match": {"path": "*models*"}})
    r = env.run("models", "list", "--remote", "--refresh", "-p", provider)
    assert r.returncode != 0 and "not found" in r.stderr
    assert "retried_non_retryable" not in findings(gateway)
    assert attempts(gateway) == 1


@pytest.mark.parametrize("kind", ["disconnect", "truncate", "malformed"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ["llmock"], indirect=True)
def test_llmock_stream_broken_mid_answer_is_reported_incomplete(env, gateway, provider, kind):
    """After text has been printed byok neither retries nor falls back (nothing is printed
    twice): it must say the answer is incomplete and exit 15. LLMock's verdict counts any
    truncated stream not retried as accepted, so byok's own output is judged here."""
    chunks = 5 if provider == "anthropic" else 3  # Anthropic's first 3 events carry no text
    inject(gateway, provider, {"type": "stream_fault", "kind": kind, "after_chunks": chunks})
    r = run(env, provider, "hello")
    assert r.returncode == 15, r.stderr
    partial = r.stdout[:-1] if r.stdout.endswith("\n") else r.stdout  # the line is ended
    assert partial and HELLO.startswith(partial) and partial != HELLO
    assert "incomplete" in r.stderr and attempts(gateway) == 1


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ["llmock"], indirect=True)
def test_llmock_stream_broken_before_any_text_is_retried(env, gateway, provider):
    inject(gateway, provider, {"type": "stream_fault", "kind": "truncate", "after_chunks": 1})
    r = run(env, provider, "hello")
    assert (r.returncode, r.stdout) == (0, HELLO + "\n"), r.stderr
    assert (attempts(gateway), findings(gateway)) == (2, [])


# --- a gateway's own errors (issue 22) ------------------------------------------------------

ATTACHED = ROOT / "tests" / "data" / "attachments"


PARTS = {"openai": {"image_url", "file", "text"}, "anthropic": {"image", "document", "text"}}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ALL, indirect=True)
def test_run_with_an_image_and_a_pdf(env, gateway, provider):
    """-a through servers that take content parts: each accepts the request and answers
    (fakellm with its default mock answer: its rules match text content only); where a
    server shows what arrived, the image and the document did, and again after -c."""
    attach = ("-a", str(ATTACHED / "small.png"), "-a", str(ATTACHED / "small.pdf"))
    r = run(env, provider, *attach, "what is in these?")
    assert r.returncode == 0, r.stderr
    answer = quiet(r)
    if gateway.name == "fakellm":
        assert answer.startswith(f"[mock response for {MODEL[provider]}"), answer
    else:
        assert answer.endswith("what is in these?\n"), answer
    if gateway.name == "llmock" and provider == "openai":  # LLMock's echo notes the image
        assert answer == "Hello! You said: [image input] what is in these?\n"
    r = run(env, provider, "--no-stream", "-c", "and again")
    assert r.returncode == 0, r.stderr
    if gateway.posted is None:
        return
    first, again = gateway.posted()[-2:]
    for messages in (first, again):
        kinds = {p.get("type") for p in messages[0]["content"] if isinstance(p, dict)}
        assert kinds == PARTS[provider], messages[0]["content"]


@pytest.mark.parametrize("gateway", ["litellm"], indirect=True)
def test_litellm_over_budget_key_is_quota_and_the_next_key_is_tried(env, gateway):
    """LiteLLM's answer for a virtual key whose budget is spent (type budget_exceeded) is
    QUOTA_EXCEEDED: not a rate limit to wait out, and the next stored key is tried."""
    env.run("key", "remove", "openai", "--yes")
    assert env.set_key("openai", "sk-proj-overbudget-Oa1b2c3d4e5f6g7h8", "--name",
                       "spent").returncode == 0
    alone = env.run("run", "-p", "openai", "-m", OPENAI_MODEL, "--no-fallback", "hello")
    assert alone.returncode == 6, alone.stderr
    assert "budget is spent" in alone.stderr and "rate" not in alone.stderr
    assert env.set_key("openai", OPENAI_KEY, "--name", "backup").returncode == 0
    r = run(env, "openai", "--json", "hello")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["key_name"] == "backup" and out["text"] == f"Echo[{OPENAI_MODEL}]: hello"
    assert [f["code"] for f in out["fallbacks"]] == ["QUOTA_EXCEEDED"]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ["litellm"], indirect=True)
def test_litellm_invalid_model_name_is_model_not_found(env, gateway, provider):
    """LiteLLM answers a model it does not route with 400 "Invalid model name": that is
    MODEL_NOT_FOUND (exit 8), so the model fallback and the chain apply, as to a 404."""
    r = env.run("run", "-p", provider, "-m", "no-such-model-here", "--no-fallback", "hello")
    assert r.returncode == 8, r.stderr
    assert "does not know the model 'no-such-model-here'" in r.stderr
    # the model fallback applies: the provider's default model, which the gateway routes
    env.run("config", "set", f"{provider}.model", MODEL[provider])
    r = env.run("run", "-p", provider, "-m", "no-such-model-here", "--json", "hello")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["text"] == f"Echo[{MODEL[provider]}]: hello"
    assert [f["kind"] for f in out["fallbacks"]] == ["model_not_found"]
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("gateway", ALL, indirect=True)
def test_byok_gateway_in_front_of_it_with_the_official_sdks(env, gateway, provider, stream):
    """A program with the official SDK reaches the server through `byok gateway` with a
    client token (issue 21): the server's own answer comes back, and the usage is byok's."""
    import anthropic
    import openai

    from support.byok_gateway import RunningGateway

    made = env.run("token", "create", "sdk")
    assert made.returncode == 0, made.stderr
    front = RunningGateway(env.vars)
    ask = [{"role": "user", "content": "hello gateway"}]
    try:
        if provider == "openai":
            client = openai.OpenAI(base_url=front.url + "/openai", api_key=made.stdout.strip(),
                                   max_retries=0)
            if stream:
                text = "".join(c.choices[0].delta.content or "" for c in
                               client.chat.completions.create(
                                   model=MODEL[provider], messages=ask, stream=True,
                                   stream_options={"include_usage": True}) if c.choices)
            else:
                text = client.chat.completions.create(model=MODEL[provider], messages=ask
                                                      ).choices[0].message.content
        else:
            client = anthropic.Anthropic(base_url=front.url + "/anthropic",
                                         api_key=made.stdout.strip(), max_retries=0)
            if stream:
                with client.messages.stream(model=MODEL[provider], max_tokens=100,
                                            messages=ask) as s:
                    text = "".join(s.text_stream)
            else:
                text = client.messages.create(model=MODEL[provider], max_tokens=100,
                                              messages=ask).content[0].text
    finally:
        code, err = front.stop()
    assert code == 0 and "Traceback" not in err, err
    assert text == gateway.reply(MODEL[provider], ["hello gateway"])
    (row,) = json.loads(env.run("usage", "--by", "token", "--json").stdout)["rows"]
    assert (row["provider"], row["token"], row["requests"], row["errors"]) == (
        provider, "sdk", 1, 0)
    if not (provider == "openai" and stream and not gateway.openai_stream_usage):
        assert row["input_tokens"] > 0 and row["output_tokens"] > 0, row
