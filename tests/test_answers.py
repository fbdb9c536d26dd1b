"""Answers as they are (issue 22): `--base-url` with `-m` alone, each API's parameter ranges,
stop reasons and exit codes, gateways' own error shapes. Through the installed `byok` and the
Python API, against the fake provider's scripted answers."""

import json

import pytest

from byok_cli.errors import Code
from conftest import ANTHROPIC_GOOD, OPENAI_GOOD


def posts(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


# --- --base-url with -m and no -p ---------------------------------------------------------------

def test_base_url_with_a_model_and_no_provider(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    r = byok_env.run("run", "--json", "--base-url", fake.url + "/v1", "-m", "gpt-4o", "hi")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["provider"], out["base_url_source"]) == ("openai", "flag")
    # the model names the provider the URL is for: Anthropic's model, Anthropic's URL
    r = byok_env.run("run", "--json", "--base-url", fake.url, "-m", "claude-haiku-4-5", "hi")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["provider"] == "anthropic"
    # a model no provider is known for is the usual one-line error, never an internal one
    r = byok_env.run("run", "--base-url", fake.url + "/v1", "-m", "mystery-model", "hi")
    assert r.returncode != Code.INTERNAL.exit_status and "internal" not in r.stderr.lower()
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_python_api_ask_with_base_url_and_model(in_process, fake):
    import byok_cli

    b = byok_cli.Byok()
    b.keychain.set("openai", OPENAI_GOOD)
    b.store.set_setting("default", "preferred_provider", "openai")
    result = b.ask("hi", model="gpt-4o", base_url=fake.url + "/v1", log=False)
    assert result.outcome.text == "Echo[gpt-4o]: hi"
    assert b.plan(model="gpt-4o", base_url=fake.url + "/v1").endpoints["openai"].url \
        == fake.url + "/v1"


# --- parameter ranges per API -------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["-p", "anthropic", "-m", "claude-haiku-4-5", "--temperature", "1.5"],
    ["-p", "anthropic", "-m", "claude-brandnew-9", "--temperature", "1.01"],  # not catalogued
])
def test_anthropic_temperature_above_one_is_refused_before_sending(byok_env, fake, args):
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    for command in (["run", *args, "hi"], ["run", "--explain", *args]):
        r = byok_env.run(*command)
        assert r.returncode == Code.USAGE.exit_status, r.stderr
        assert "outside the anthropic API's range (0 to 1)" in r.stderr
        assert "nothing was sent" in r.stderr
    assert posts(fake) == []


def test_openai_takes_temperatures_up_to_two(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-m", "gpt-4o", "--temperature", "1.5", "hi")
    assert r.returncode == 0, r.stderr
    assert posts(fake)[-1]["body"]["temperature"] == 1.5
    r = byok_env.run("run", "-m", "gpt-4o", "--temperature", "2.5", "hi")
    assert r.returncode == Code.USAGE.exit_status
    assert len(posts(fake)) == 1


def test_a_fallback_whose_api_cannot_take_the_temperature_is_left_out(byok_env, fake):
    byok_env.set_key("openai", openai_down := "sk-proj-servererr-K1l2m3n4o5p6q7r8s9t0")
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    byok_env.run("config", "set", "fallback", "openai/gpt-4o, anthropic/claude-haiku-4-5")
    plan = json.loads(byok_env.run("run", "--explain", "--json", "--fallback", "-m", "gpt-4o",
                                   "--temperature", "1.5").stdout)
    assert [a["provider"] for a in plan["attempts"]] == ["openai"]
    assert any("anthropic API's range" in s for s in plan["skipped"]), plan
    assert openai_down


# --- stop reasons -------------------------------------------------------------------------------
# The answers below are the shapes the APIs document: OpenAI's finish_reason and `refusal`
# field (Chat Completions), Anthropic's stop_reason and tool_use blocks (Messages).

def openai_whole(finish, content="partial answer", **message):
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content, **message}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}


def openai_stream(finish, pieces=("partial ", "answer"), **delta):
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06"}
    events = [(None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant"},
                                          "finish_reason": None}]})]
    events += [(None, {**base, "choices": [{"index": 0, "delta": {"content": p},
                                           "finish_reason": None}]}) for p in pieces]
    if delta:
        events.append((None, {**base, "choices": [{"index": 0, "delta": delta,
                                                   "finish_reason": None}]}))
    events.append((None, {**base, "choices": [{"index": 0, "delta": {},
                                               "finish_reason": finish}]}))
    events.append((None, {**base, "choices": [], "usage": {"prompt_tokens": 5,
                                                           "completion_tokens": 7}}))
    return events + [(None, "[DONE]")]


def anthropic_whole(stop, content=None):
    return {"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-haiku-4-5-20251001", "stop_reason": stop, "stop_sequence": None,
            "content": content if content is not None else [{"type": "text",
                                                             "text": "partial answer"}],
            "usage": {"input_tokens": 5, "output_tokens": 7}}


def anthropic_stream(stop, blocks=(("text", "partial answer"),)):
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
               "model": "claude-haiku-4-5-20251001", "stop_reason": None,
               "usage": {"input_tokens": 5, "output_tokens": 1}}
    events = [("message_start", {"type": "message_start", "message": message})]
    for i, (kind, value) in enumerate(blocks):
        if kind == "text":
            events += [("content_block_start", {"type": "content_block_start", "index": i,
                                                "content_block": {"type": "text", "text": ""}}),
                       ("content_block_delta", {"type": "content_block_delta", "index": i,
                                                "delta": {"type": "text_delta", "text": value}})]
        else:
            events += [("content_block_start", {"type": "content_block_start", "index": i,
                                                "content_block": {"type": "tool_use",
                                                                  "id": "toolu_1", "name": value,
                                                                  "input": {}}}),
                       ("content_block_delta", {"type": "content_block_delta", "index": i,
                                                "delta": {"type": "input_json_delta",
                                                          "partial_json": "{}"}})]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    return events + [("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 7}}),
        ("message_stop", {"type": "message_stop"})]


@pytest.fixture(scope="module")
def scripted():
    from support.scripted import Scripted

    with Scripted() as server:
        yield server


def ask_scripted(scripted, provider, answer, stream):
    from byok_cli.wire import ChatRequest, ChatResult, Settings, connect

    scripted.answer = answer
    url = scripted.url + ("/v1" if provider == "openai" else "")
    result = ChatResult()
    client = connect(provider, "sk-test-0000000000000000", url,
                     Settings(timeout=3, connect_timeout=1, max_retries=0, max_wait=1))
    request = ChatRequest("m", [{"role": "user", "content": "hi"}], stream=stream)
    text = "".join(client.chat(request, result))
    return text, result


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("provider, finish, extra, expected", [
    ("openai", "stop", {}, ("end", "stop", [], "")),
    ("openai", "length", {}, ("length", "length", [], "")),
    ("openai", "content_filter", {}, ("content_filter", "content_filter", [], "")),
    ("openai", "tool_calls", {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                              "function": {"name": "get_weather",
                                                           "arguments": "{}"}}]},
     ("tool_call", "tool_calls", ["get_weather"], "")),
    ("openai", "stop", {"refusal": "I can't help with that."},
     ("refusal", "stop", [], "I can't help with that.")),
    ("openai", "eos_token", {}, ("other", "eos_token", [], "")),
    ("anthropic", "end_turn", None, ("end", "end_turn", [], "")),
    ("anthropic", "stop_sequence", None, ("end", "stop_sequence", [], "")),
    ("anthropic", "max_tokens", None, ("length", "max_tokens", [], "")),
    ("anthropic", "refusal", None, ("refusal", "refusal", [], "")),
    ("anthropic", "tool_use", "lookup", ("tool_call", "tool_use", ["lookup"], "")),
    ("anthropic", "pause_turn", None, ("other", "pause_turn", [], "")),
])
def test_stop_reasons_are_read_and_normalised(scripted, provider, finish, extra, expected,
                                              stream):
    if provider == "openai":
        body = openai_stream(finish, **extra) if stream else openai_whole(finish, **extra)
        served = "gpt-4o-2024-08-06"
    else:
        tool = [("tool", extra)] if extra else []
        blocks = [("text", "partial answer")] + tool
        content = [{"type": "text", "text": "partial answer"}] + (
            [{"type": "tool_use", "id": "t", "name": extra, "input": {}}] if extra else [])
        body = anthropic_stream(finish, blocks) if stream else anthropic_whole(finish, content)
        served = "claude-haiku-4-5-20251001"
    text, result = ask_scripted(scripted, provider, (200, body), stream)
    assert text == "partial answer"
    assert (result.stop_reason, result.finish_reason, result.tool_calls, result.refusal) \
        == expected
    assert result.served_model == served


def cli_scripted(byok_env, scripted, answer, *args, provider="openai"):
    scripted.answer = answer
    env = {"OPENAI_BASE_URL": scripted.url + "/v1", "ANTHROPIC_BASE_URL": scripted.url}
    byok_env.set_key(provider, OPENAI_GOOD if provider == "openai" else ANTHROPIC_GOOD)
    return byok_env.run("run", "-p", provider, *args, "hi", env=env)


def usage_rows(byok_env):
    import sqlite3

    db = next(p for p in byok_env.files() if p.name.endswith(".db"))
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT code, stop_reason, output_tokens FROM usage "
                            "ORDER BY at").fetchall()


def test_a_cut_off_answer_warns_and_strict_makes_it_an_error(byok_env, scripted):
    r = cli_scripted(byok_env, scripted, (200, openai_stream("length")))
    assert (r.returncode, r.stdout) == (0, "partial answer\n"), r.stderr
    assert "cut off at the token limit" in r.stderr and "--strict" in r.stderr
    r = cli_scripted(byok_env, scripted, (200, openai_whole("length")), "--json")
    out = json.loads(r.stdout)
    assert (out["stop_reason"], out["provider_stop_reason"], out["served_model"]) == (
        "length", "length", "gpt-4o-2024-08-06")
    r = cli_scripted(byok_env, scripted, (200, anthropic_stream("max_tokens")), "--strict",
                     provider="anthropic")
    assert r.returncode == Code.TRUNCATED.exit_status == 20
    assert r.stdout == "partial answer\n" and "cut off" in r.stderr
    assert [row[:2] for row in usage_rows(byok_env)] == [("OK", "length")] * 3
    # the cut-off answer is in the history all the same
    listed = json.loads(byok_env.run("history", "list", "--json").stdout)
    assert len(listed) == 3
    assert "partial answer" in byok_env.run("history", "show", str(listed[0]["id"])).stdout


@pytest.mark.parametrize("answer, words", [
    (openai_whole("stop", content=None, refusal="I can't help with that."),
     "refused to answer: I can't help with that."),
    (openai_stream("stop", pieces=(), refusal="I can't help with that."),
     "refused to answer: I can't help with that."),
    (openai_stream("content_filter"), "content filter stopped the answer part-way"),
])
def test_a_refusal_or_content_filter_is_a_distinct_exit(byok_env, scripted, answer, words):
    r = cli_scripted(byok_env, scripted, (200, answer), "--json")
    assert r.returncode == Code.REFUSED.exit_status == 19, r.stderr
    assert words in r.stderr and r.stderr.count("\n") == 1
    assert json.loads(r.stdout)["error"]["code"] == "REFUSED"  # --json: the error as JSON
    stop = "content_filter" if "filter" in words else "refusal"
    assert usage_rows(byok_env) == [("REFUSED", stop, 7)]
    assert byok_env.run("history", "list", "--json").stdout.strip() in ("[]", "")


def test_anthropic_refusal_exits_refused(byok_env, scripted):
    r = cli_scripted(byok_env, scripted, (200, anthropic_whole("refusal", [])), "--no-stream",
                     provider="anthropic")
    assert r.returncode == Code.REFUSED.exit_status
    assert "anthropic claude-haiku-4-5-20251001 refused to answer" in r.stderr


@pytest.mark.parametrize("provider, answer", [
    ("openai", openai_whole("tool_calls", content=None, tool_calls=[
        {"id": "call_1", "type": "function", "function": {"name": "get_weather",
                                                          "arguments": "{}"}}])),
    ("anthropic", anthropic_stream("tool_use", [("tool", "get_weather")])),
])
def test_an_answer_that_is_only_a_tool_call_is_an_error_naming_it(byok_env, scripted,
                                                                   provider, answer):
    r = cli_scripted(byok_env, scripted, (200, answer), provider=provider)
    assert r.returncode == Code.UNEXPECTED_TOOL_CALL.exit_status == 21, r.stderr
    assert "'get_weather'" in r.stderr and r.stdout == ""
    assert usage_rows(byok_env)[0][:2] == ("UNEXPECTED_TOOL_CALL", "tool_call")


def test_python_api_raises_with_the_answer(in_process, scripted, monkeypatch):
    import byok_cli
    from byok_cli.errors import ByokError

    monkeypatch.setenv("OPENAI_BASE_URL", scripted.url + "/v1")
    b = byok_cli.Byok()
    b.keychain.set("openai", OPENAI_GOOD)
    b.store.set_setting("default", "preferred_provider", "openai")
    scripted.answer = (200, openai_whole("content_filter"))
    with pytest.raises(ByokError) as caught:
        b.ask("hi", provider="openai", log=False)
    assert caught.value.code == Code.REFUSED
    assert caught.value.outcome.stop_reason == "content_filter"
    scripted.answer = (200, openai_whole("length"))
    assert b.ask("hi", provider="openai", log=False).outcome.stop_reason == "length"
    with pytest.raises(ByokError) as caught:
        b.ask("hi", provider="openai", log=False, strict=True)
    assert caught.value.code == Code.TRUNCATED


# --- gateways' own error shapes -------------------------------------------------------------------
# As LiteLLM (proxy/_types.py ProxyException, auth_exception_handler.py), OpenRouter, vLLM and
# Ollama send them. The real LiteLLM proxy is in tests/test_third_party.py too.

LITELLM_BUDGET = {"error": {"message": "Budget has been exceeded! Current cost: 1.5, Max "
                                       "budget: 1.0", "type": "budget_exceeded", "param": None,
                            "code": "400"}}


@pytest.mark.parametrize("status, body, code", [
    (400, LITELLM_BUDGET, Code.QUOTA_EXCEEDED),
    (422, LITELLM_BUDGET, Code.QUOTA_EXCEEDED),
    (429, LITELLM_BUDGET, Code.QUOTA_EXCEEDED),
    (429, {"error": {"message": "Authentication Error, Max budget limit reached.",
                     "type": "auth_error", "param": "None", "code": "429"}}, Code.QUOTA_EXCEEDED),
    (402, {"error": {"message": "Insufficient credits. Add more using https://openrouter.ai/"
                                "settings/credits", "code": 402}}, Code.QUOTA_EXCEEDED),
    (400, {"error": {"message": "/chat/completions: Invalid model name passed in model=x. Call "
                                "`/v1/models` to view available models for your key.",
                     "type": "invalid_request_error", "param": "model", "code": "400"}},
     Code.MODEL_NOT_FOUND),
    (400, {"error": {"message": "x is not a valid model ID", "code": 400}}, Code.MODEL_NOT_FOUND),
    (400, {"object": "error", "message": "The model `x` does not exist.",
           "type": "NotFoundError", "code": 404}, Code.MODEL_NOT_FOUND),
    (400, {"error": {"message": "m", "code": "model_not_found"}}, Code.MODEL_NOT_FOUND),
    (404, {"error": "model \"x\" not found, try pulling it first"}, Code.MODEL_NOT_FOUND),
    # what is not one of those stays what it was
    (400, {"error": {"message": "temperature: must be at most 1", "type":
                     "invalid_request_error"}}, Code.BAD_REQUEST),
    (400, {"error": {"message": "max_tokens: the model supports at most 8192",
                     "type": "invalid_request_error"}}, Code.BAD_REQUEST),
    (429, {"error": {"message": "Rate limit reached for requests", "type": "requests"}},
     Code.RATE_LIMITED),
])
def test_gateway_error_shapes(status, body, code):
    from byok_cli.wire.errors import classify

    err = classify("openai", status, json.dumps(body), model="x")
    assert err.code == code, err.message
    assert "lower your request rate" not in (err.hint or "") or code == Code.RATE_LIMITED


def test_an_over_budget_answer_exits_quota(byok_env, scripted):
    """Exit 6, with the gateway's words, not 11 or a rate limit (the next key being tried is
    shown against the real LiteLLM in test_third_party)."""
    scripted.answer = (400, LITELLM_BUDGET)
    env = {"OPENAI_BASE_URL": scripted.url + "/v1"}
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-p", "openai", "--no-fallback", "hi", env=env)
    assert r.returncode == Code.QUOTA_EXCEEDED.exit_status == 6
    assert "budget is spent (400): Budget has been exceeded!" in r.stderr


# --- prompt-cache and reasoning tokens ------------------------------------------------------------

def test_anthropic_cache_tokens_are_counted_and_priced(byok_env, scripted):
    """claude-haiku-4-5: $1 in, $5 out, $0.10 cache read per million; no cache-write price in
    the data, so 1.25 x input (Anthropic's 5-minute rate). 10 plain + 1000 read + 2000 written
    input tokens, 100 output: 10 + 100 + 2500 + 500 micro-dollars (without the cache: 510)."""
    usage = {"input_tokens": 10, "cache_read_input_tokens": 1000,
             "cache_creation_input_tokens": 2000, "output_tokens": 100}
    events = anthropic_stream("end_turn")
    events[0][1]["message"]["usage"] = {**usage, "output_tokens": 1}
    events[-2][1]["usage"] = usage  # message_delta: cumulative, as the API sends it
    for answer in ((200, events), (200, {**anthropic_whole("end_turn"), "usage": usage})):
        r = cli_scripted(byok_env, scripted, answer, "-m", "claude-haiku-4-5", "--json",
                         provider="anthropic")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["usage"] == {"input_tokens": 3010, "output_tokens": 100,
                                "cached_input_tokens": 1000, "cache_write_tokens": 2000,
                                "reasoning_tokens": None}
        assert out["cost_usd"] == 0.00311
    summary = byok_env.run("usage", "--json").stdout
    assert '"cost_micro_usd": 6220' in summary.replace("\n", " ").replace("  ", " "), summary


def test_openai_cached_and_reasoning_tokens(byok_env, scripted):
    """gpt-4o: $2.50 in, $10 out, $1.25 cached per million: 1000 prompt tokens of which 800
    cached, 50 completion tokens of which 30 reasoning: 500 + 1000 + 500 micro-dollars."""
    body = openai_whole("stop")
    body["usage"] = {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050,
                     "prompt_tokens_details": {"cached_tokens": 800},
                     "completion_tokens_details": {"reasoning_tokens": 30}}
    r = cli_scripted(byok_env, scripted, (200, body), "-m", "gpt-4o", "--json")
    out = json.loads(r.stdout)
    assert out["usage"] == {"input_tokens": 1000, "output_tokens": 50,
                            "cached_input_tokens": 800, "cache_write_tokens": None,
                            "reasoning_tokens": 30}
    assert out["cost_usd"] == 0.002


def test_cache_write_price_from_the_data_when_it_has_one():
    from byok_cli.catalog.prices import Price
    from byok_cli.catalog.source import _entry

    entry = _entry({"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
                    "cache_read_input_token_cost": 3e-07,
                    "cache_creation_input_token_cost": 3.75e-06})
    assert entry == {"input": 3, "output": 15, "cached": 0.3, "cache_write": 3.75}
    price = Price(3_000_000, 15_000_000, 300_000, (), 4_000_000)  # a made-up write price
    assert price.cost_micros(1_000_000, 0, 0, 1_000_000) == 4_000_000
    assert Price(3_000_000, 15_000_000).cost_micros(1_000_000, 0, 0, 1_000_000) == 3_750_000


# --- reasoning ------------------------------------------------------------------------------------

def openai_reasoning_stream(word="reasoning_content"):
    base = {"id": "c", "object": "chat.completion.chunk", "model": "deepseek-reasoner"}
    events = [(None, {**base, "choices": [{"index": 0, "delta": {word: piece},
                                          "finish_reason": None}]})
              for piece in ("First, think.", "\nThen \x1b[31manswer.")]
    return events + openai_stream("stop")[1:]


def anthropic_thinking_stream():
    events = anthropic_stream("end_turn")
    thinking = [("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": {"type": "thinking", "thinking": ""}}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
                    "type": "thinking_delta", "thinking": "First, think."}}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
                    "type": "thinking_delta", "thinking": "\nThen \x1b[31manswer."}}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
                    "type": "signature_delta", "signature": "c2lnbmF0dXJl"}}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0})]
    return events[:1] + thinking + events[1:]


@pytest.mark.parametrize("provider, answer", [
    ("openai", openai_reasoning_stream()),
    ("openai", openai_reasoning_stream("reasoning")),
    ("anthropic", anthropic_thinking_stream()),
    ("anthropic", anthropic_whole("end_turn", [
        {"type": "thinking", "thinking": "First, think.\nThen \x1b[31manswer.",
         "signature": "c2ln"}, {"type": "text", "text": "partial answer"}])),
])
def test_show_reasoning_goes_to_stderr_only(byok_env, scripted, provider, answer):
    plain = cli_scripted(byok_env, scripted, (200, answer), provider=provider)
    assert (plain.returncode, plain.stdout, plain.stderr) == (0, "partial answer\n", "")
    r = cli_scripted(byok_env, scripted, (200, answer), "--show-reasoning", provider=provider)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "partial answer\n"
    assert r.stderr == "First, think.\nThen answer.\n"  # no escape sequence reaches it
    out = json.loads(cli_scripted(byok_env, scripted, (200, answer), "--json",
                                  provider=provider).stdout)
    assert out["reasoning"] == "First, think.\nThen \x1b[31manswer." and out["text"] == \
        "partial answer"
