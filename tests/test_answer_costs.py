"""What answers cost and carry besides their text (issue 22): gateways' own error shapes,
prompt-cache and reasoning tokens priced and counted, the reasoning shown on stderr."""

import json

import pytest

from byok_cli.errors import Code
from conftest import OPENAI_GOOD
from support.answer_shapes import (anthropic_stream, anthropic_whole, cli_scripted,
                                   openai_stream, openai_whole)


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
