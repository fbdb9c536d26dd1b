"""`byok chat` and answers as they are (issue 22): a refused, filtered, cut-off or tool-call-only
turn says so on stderr and the chat goes on; `--strict` makes a cut-off turn an error;
`--show-reasoning` and `/reasoning on|off` show the model's reasoning on stderr, never stdout.
The installed `byok chat`, its lines piped in, against a server that answers each turn as the
test scripts it (support/scripted.py)."""

from __future__ import annotations

import pytest

from byok_cli.errors import Code
from conftest import ANTHROPIC_GOOD, OPENAI_GOOD
from support.answer_shapes import anthropic_stream, openai_stream, openai_whole
from test_answer_costs import anthropic_thinking_stream, openai_reasoning_stream

REFUSAL = openai_whole("stop", content=None, refusal="I can't help with that.")
TOOL_ONLY = openai_whole("tool_calls", content=None, tool_calls=[
    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}])


def chat(byok_env, scripted, answers, lines, *args, provider="openai"):
    scripted.bodies.clear()
    scripted.queue = [(200, a) for a in answers]
    byok_env.set_key(provider, OPENAI_GOOD if provider == "openai" else ANTHROPIC_GOOD)
    env = {"OPENAI_BASE_URL": scripted.url + "/v1", "ANTHROPIC_BASE_URL": scripted.url}
    return byok_env.run("chat", "-p", provider, *args, input="\n".join(lines) + "\n", env=env)


def sent_turns(scripted) -> list[list[str]]:
    """Each request's messages, as `role: text`."""
    return [[f"{m['role']}: {m['content']}" for m in body["messages"]]
            for body in scripted.bodies]


def test_a_refused_filtered_or_tool_call_turn_says_so_and_the_chat_goes_on(byok_env,
                                                                            scripted):
    r = chat(byok_env, scripted,
             [REFUSAL, openai_stream("content_filter"), TOOL_ONLY, openai_stream("stop")],
             ["first", "second", "third", "fourth"])
    assert r.returncode == 0, r.stderr  # not every turn failed
    assert r.stdout.count("partial answer") == 2  # the filtered part and the last answer
    assert "refused to answer: I can't help with that." in r.stderr
    assert "content filter stopped the answer part-way" in r.stderr
    assert "only by asking to call the tool 'get_weather'" in r.stderr
    assert "Traceback" not in r.stderr
    # none of the three failed turns became part of the conversation
    assert sent_turns(scripted)[-1] == ["user: fourth"]


def test_a_cut_off_turn_warns_is_kept_and_strict_makes_it_an_error(byok_env, scripted):
    r = chat(byok_env, scripted, [openai_stream("length"), openai_stream("stop")],
             ["first", "second"])
    assert r.returncode == 0 and r.stdout.count("partial answer") == 2, r.stderr
    assert "cut off at the token limit" in r.stderr and "--strict" in r.stderr
    assert sent_turns(scripted)[-1] == ["user: first", "assistant: partial answer",
                                        "user: second"]

    r = chat(byok_env, scripted, [anthropic_stream("max_tokens"), anthropic_stream("end_turn")],
             ["first", "second"], "--strict", provider="anthropic")
    assert r.returncode == 0, r.stderr  # the second turn answered
    assert "cut off at the token limit" in r.stderr and "raise /max-tokens N" in r.stderr
    # the cut-off answer is kept in the conversation, so the next turn can ask for the rest
    assert sent_turns(scripted)[-1] == ["user: first", "assistant: partial answer",
                                        "user: second"]

    r = chat(byok_env, scripted, [openai_whole("length")], ["only"], "--strict")
    assert r.returncode == Code.TRUNCATED.exit_status == 20  # every turn failed, as a cut-off
    assert r.stdout == "partial answer\n"


@pytest.mark.parametrize("provider, answer", [
    ("openai", openai_reasoning_stream()),
    ("anthropic", anthropic_thinking_stream()),
])
def test_show_reasoning_and_the_reasoning_toggle(byok_env, scripted, provider, answer):
    r = chat(byok_env, scripted, [answer] * 3,
             ["first", "/reasoning", "/reasoning off", "second", "/reasoning on", "third"],
             "--show-reasoning", provider=provider)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "partial answer\n" * 3  # reasoning never reaches stdout
    shown = "First, think.\nThen answer.\n"  # no escape sequence reaches the terminal
    assert r.stderr == (shown + "reasoning: shown, dimmed, on stderr\n"
                        "reasoning: not shown (/reasoning on shows it)\n"
                        "reasoning: shown, dimmed, on stderr\n" + shown)

    r = chat(byok_env, scripted, [answer], ["/reasoning", "/reasoning maybe", "hi"],
             provider=provider)
    assert r.returncode == 0 and r.stdout == "partial answer\n"
    assert r.stderr == ("reasoning: not shown (/reasoning on shows it)\n"
                        "error: /reasoning takes on or off, not 'maybe'\n")
