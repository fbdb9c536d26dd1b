"""Answers as they are (issue 22): `--base-url` with `-m` alone, each API's parameter ranges,
stop reasons and exit codes. Through the installed `byok` and the
Python API, against the fake provider's scripted answers."""

import json

import pytest

from byok_cli.errors import Code
from conftest import ANTHROPIC_GOOD, OPENAI_GOOD
from support.answer_shapes import (anthropic_stream, anthropic_whole, ask_scripted,
                                   cli_scripted, openai_stream, openai_whole, usage_rows)


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


def test_a_tool_name_split_across_stream_deltas_is_one_name(byok_env, scripted):
    """A name that comes in pieces over several deltas of one tool call is joined, as the
    SDK joins it, into one name (tester5 #7: each piece was read as a tool of its own);
    one that is a key is masked whole. Another tool call's index is another name."""
    def split(names: list[str]) -> list:
        events = openai_stream("tool_calls", pieces=())
        calls = [(index, piece) for index, name in enumerate(names)
                 for piece in [name[:1], name[1:4], *name[4:]]]
        base = events[0][1]
        made = [(None, {**base, "choices": [{"index": 0, "finish_reason": None, "delta": {
            "tool_calls": [{"index": index, "function": {"name": piece, "arguments": ""}}]}}]})
            for index, piece in calls]
        return events[:1] + made + events[1:]

    r = cli_scripted(byok_env, scripted, (200, split(["get_weather", "look_up"])))
    assert r.returncode == Code.UNEXPECTED_TOOL_CALL.exit_status, r.stderr
    assert "the tools 'get_weather', 'look_up'" in r.stderr, r.stderr
    r = cli_scripted(byok_env, scripted, (200, split(["f_" + OPENAI_GOOD])))
    assert r.returncode == Code.UNEXPECTED_TOOL_CALL.exit_status, r.stderr
    assert "the tool 'f_sk-proj-…" + OPENAI_GOOD[-4:] + "'" in r.stderr, r.stderr
    assert OPENAI_GOOD[8:20] not in r.stderr


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
