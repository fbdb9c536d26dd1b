"""Indexes no honest upstream sends end a policed stream (issue 21, tester6 #1): a key
whose characters alternate between two choice, tool call, block or output indexes is
joined whole by clients (the SDKs read -1 as the last item; naive clients read
``choices[0]`` whatever its index; Responses clients join every output's text), so the
gateway ends such a stream with the API's error event, after the events before it. And
the start text of an added Responses output item or content part is masked as the first
piece of its text (tester6 #2). Driven by the real openai and anthropic SDKs."""

from __future__ import annotations

import pytest

from conftest import ANTHROPIC_GOOD, OPENAI_GOOD
from support.byok_gateway import RunningGateway
from test_gateway import token
from test_gateway_answers import ASK, _event, assert_masked, openai_upstream  # noqa: F401


def _secret_absent(text: str, key: str) -> None:
    body = key[key.index("good"):]
    assert not any(body[i:i + 6] in text for i in range(len(body) - 5)), text


def _chunk(delta: dict, index=0, finish=None) -> bytes:
    return _event({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                   "model": "gpt-4o", "choices": [{"index": index, "delta": delta,
                                                   "finish_reason": finish}]})


def _alternating(key: str, second: int, tool: bool = False) -> list[bytes]:
    """"hello ", then the key's characters alternately at index 0 and ``second``."""
    def piece(c: str, at: int) -> bytes:
        if tool:
            return _chunk({"tool_calls": [{"index": at, "function": {"arguments": c}}]})
        return _chunk({"content": c}, at)
    first = ([_chunk({"tool_calls": [{"index": 0, "id": "t1", "type": "function",
                                      "function": {"name": "f", "arguments": "hello "}}]})]
             if tool else [_chunk({"content": "hello "})])
    return (first + [piece(c, 0 if i % 2 == 0 else second) for i, c in enumerate(key)]
            + [_chunk({}, 0, "stop"), b"data: [DONE]\n\n"])


@pytest.fixture
def gateway(byok_env, openai_upstream):  # noqa: F811
    gw = RunningGateway(byok_env.vars)
    yield gw, token(byok_env)
    gw.stop()


def _openai(gateway):
    import openai
    gw, t = gateway
    return openai.OpenAI(base_url=gw.url + "/openai", api_key=t, max_retries=0)


@pytest.mark.parametrize("second", [-1, 1])
@pytest.mark.parametrize("tool", [False, True], ids=["content", "tool_call"])
def test_chat_indexes_that_alternate_end_the_stream(gateway, openai_upstream,  # noqa: F811
                                                    second, tool):
    import openai
    if tool and second == 1:  # (two tool calls are honest: index 1 is not refused there)
        second = -2
    openai_upstream.script = lambda key: _alternating(key, second, tool)
    said = ""
    with pytest.raises(openai.APIError, match="index"):
        for chunk in _openai(gateway).chat.completions.create(
                model="gpt-4o", messages=ASK, stream=True):
            for choice in chunk.choices:  # everything, however a client places it
                delta = choice.delta
                said += delta.content or ""
                said += "".join(c.function.arguments or "" for c in delta.tool_calls or ())
    assert said.startswith("hello ")  # what came before is passed on
    _secret_absent(said, OPENAI_GOOD)


def test_honest_interleaved_choices_of_n_2_still_pass(gateway, openai_upstream):  # noqa: F811
    def script(key: str) -> list[bytes]:
        out = []
        for a, b in zip(["one ", "two ", "three"], ["key ", key[:9], key[9:]]):
            out += [_chunk({"content": a}, 0), _chunk({"content": b}, 1)]
        return out + [_chunk({}, 0, "stop"), _chunk({}, 1, "stop"), b"data: [DONE]\n\n"]

    openai_upstream.script = script
    texts = {0: "", 1: ""}
    for chunk in _openai(gateway).chat.completions.create(model="gpt-4o", messages=ASK,
                                                          stream=True, n=2):
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts[0] == "one two three"
    assert_masked(texts[1], OPENAI_GOOD, "key ")
    # and a choice index past the request's n is refused: index 1 with n left at 1
    import openai
    with pytest.raises(openai.APIError, match="choice index"):
        list(_openai(gateway).chat.completions.create(model="gpt-4o", messages=ASK,
                                                      stream=True))


def _anthropic_events(key: str, second: int, started: int) -> list[bytes]:
    start = {"type": "message_start", "message": {
        "id": "m1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1}}}

    def delta(text: str, at: int) -> bytes:
        return _event({"type": "content_block_delta", "index": at,
                       "delta": {"type": "text_delta", "text": text}}, "content_block_delta")
    return ([_event(start, "message_start")]
            + [_event({"type": "content_block_start", "index": n,
                       "content_block": {"type": "text", "text": ""}}, "content_block_start")
               for n in range(started)]
            + [delta("hello ", 0)]
            + [delta(c, 0 if i % 2 == 0 else second) for i, c in enumerate(key)]
            + [_event({"type": "content_block_stop", "index": 0}, "content_block_stop"),
               _event({"type": "message_stop"}, "message_stop")])


@pytest.mark.parametrize("second,started", [(-1, 1), (1, 1), (-2, 2)])
def test_anthropic_block_indexes_that_alternate_end_the_stream(
        gateway, openai_upstream, second, started):  # noqa: F811
    import anthropic
    openai_upstream.script = lambda key: _anthropic_events(key, second, started)
    gw, t = gateway
    claude = anthropic.Anthropic(base_url=gw.url + "/anthropic", api_key=t, max_retries=0)
    said = ""
    with pytest.raises(anthropic.APIError, match="block index"):
        with claude.messages.stream(model="claude-haiku-4-5", max_tokens=50,
                                    messages=ASK) as s:
            for text in s.text_stream:
                said += text
    assert said.startswith("hello ")
    _secret_absent(said, ANTHROPIC_GOOD)


def _responses_events(key: str, second: int, outputs: int) -> list[bytes]:
    def added(n: int) -> list[bytes]:
        where = {"item_id": f"msg_{n}", "output_index": n, "content_index": 0}
        return [_event({"type": "response.output_item.added", "output_index": n, "item": {
                    "id": f"msg_{n}", "type": "message", "role": "assistant",
                    "status": "in_progress", "content": []}}, "response.output_item.added"),
                _event({"type": "response.content_part.added", **where, "part": {
                    "type": "output_text", "text": "", "annotations": []}},
                    "response.content_part.added")]

    def delta(text: str, at: int) -> bytes:
        return _event({"type": "response.output_text.delta", "item_id": f"msg_{abs(at)}",
                       "output_index": at, "content_index": 0, "delta": text},
                      "response.output_text.delta")
    first = [b for n in range(outputs) for b in added(n)]
    return (first + [delta("hello ", outputs - 1)]
            + [delta(c, outputs - 1 if i % 2 == 0 else second) for i, c in enumerate(key)]
            + [_event({"type": "response.completed", "response": {"model": "gpt-4o"}},
                      "response.completed")])


@pytest.mark.parametrize("second,outputs", [(-1, 1), (0, 2)])
def test_responses_output_indexes_that_alternate_end_the_stream(
        gateway, openai_upstream, second, outputs):  # noqa: F811
    import openai
    openai_upstream.script = lambda key: _responses_events(key, second, outputs)
    said = ""
    with pytest.raises(openai.APIError, match="output index"):
        for event in _openai(gateway).responses.create(model="gpt-4o", input="hi",
                                                       stream=True):
            if event.type == "response.output_text.delta":
                said += event.delta
    assert said.startswith("hello ")
    _secret_absent(said, OPENAI_GOOD)


@pytest.mark.parametrize("where", ["item", "part", "function_call"])
def test_responses_start_texts_are_masked_as_their_texts_first_piece(
        gateway, openai_upstream, where):  # noqa: F811
    """An added item's or part's text (a function call's arguments) begins the text its
    deltas continue: half the key there and half in a delta is masked in the text the
    SDK builds from them."""
    def script(key: str) -> list[bytes]:
        ids = {"item_id": "o1", "output_index": 0}
        if where == "function_call":
            item = {"id": "o1", "type": "function_call", "call_id": "c1", "name": "f",
                    "arguments": "key " + key[:21], "status": "in_progress"}
            rest = [{"type": "response.function_call_arguments.delta", **ids,
                     "delta": key[21:]}]
        else:
            part = {"type": "output_text", "text": "key " + key[:21], "annotations": []}
            item = {"id": "o1", "type": "message", "role": "assistant",
                    "status": "in_progress", "content": [part] if where == "item" else []}
            rest = ([] if where == "item" else
                    [{"type": "response.content_part.added", **ids, "content_index": 0,
                      "part": part}])
            rest.append({"type": "response.output_text.delta", **ids, "content_index": 0,
                         "delta": key[21:]})
        events = [{"type": "response.output_item.added", "output_index": 0, "item": item},
                  *rest, {"type": "response.completed", "response": {"model": "gpt-4o"}}]
        return [_event(e, e["type"]) for e in events]

    openai_upstream.script = script
    text = ""  # the start text and its deltas, as the SDK's stream state joins them
    for event in _openai(gateway).responses.create(model="gpt-4o", input="hi",
                                                   stream=True):
        data = event.model_dump()
        if event.type == "response.output_item.added":
            item = data["item"]
            text += item.get("arguments") or "".join(p["text"] for p in item.get("content")
                                                     or ())
        elif event.type == "response.content_part.added":
            text += data["part"]["text"]
        elif event.type.endswith(".delta"):
            text += event.delta
    assert_masked(text, OPENAI_GOOD, "key ")


def test_a_text_reopened_after_its_end_or_a_tool_call_out_of_turn_ends_the_stream(
        gateway, openai_upstream):  # noqa: F811
    """The masker ends a text at its choice's finish (a Responses text at its .done) and
    follows a tool call by its index; an SDK or a naive client joins a later delta to the
    same text (a new tool call's index past the next is appended as the next by the
    SDK), so the key's second half there is refused, not passed on."""
    import openai

    def chat(key: str, reopened: bool) -> list[bytes]:
        if reopened:
            return [_chunk({"content": key[:12]}, 0, "stop"), _chunk({"content": key[12:]}),
                    b"data: [DONE]\n\n"]
        tool = {"id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}
        return [_chunk({"tool_calls": [{"index": 3, **tool}]}), b"data: [DONE]\n\n"]

    for reopened, said in ((True, "choice index"), (False, "tool call index 3")):
        openai_upstream.script = lambda key, r=reopened: chat(key, r)
        with pytest.raises(openai.APIError, match=said):
            list(_openai(gateway).chat.completions.create(model="gpt-4o", messages=ASK,
                                                          stream=True))

    def responses(key: str) -> list[bytes]:
        events = _responses_events("", 0, 1)[:-1]  # item and part added, "hello "
        where = {"item_id": "msg_0", "output_index": 0, "content_index": 0}
        return events + [_event({"type": kind, **where, **extra}, kind) for kind, extra in (
            ("response.output_text.delta", {"delta": key[:12]}),
            ("response.output_text.done", {"text": "hello " + key[:12]}),
            ("response.output_text.delta", {"delta": key[12:]}))]

    openai_upstream.script = responses
    text = ""
    with pytest.raises(openai.APIError, match="a text ended"):
        for event in _openai(gateway).responses.create(model="gpt-4o", input="hi",
                                                       stream=True):
            text += getattr(event, "delta", "") or ""
    _secret_absent(text, OPENAI_GOOD)


@pytest.mark.parametrize("kind", [None, 5, ["response.output_text.delta"]])
def test_a_responses_event_without_a_string_type_is_passed_on_not_a_crash(kind):
    """An event naming the open output but no string type: not a text byok follows, and
    nothing the index rules can read as a kind; it passes as it came."""
    from byok_cli.gateway.deltas import DeltaMasker
    masker = DeltaMasker("responses")
    added = _event({"type": "response.output_item.added", "output_index": 0,
                    "item": {"id": "m1", "type": "message", "content": []}})
    odd = _event({"output_index": 0, "delta": "hi"} | ({} if kind is None else {"type": kind}))
    assert masker.feed(added + odd) == added + odd


def test_a_closing_usage_chunk_that_repeats_the_role_after_the_finish_passes():
    """OpenRouter ends a stream with a usage chunk whose delta repeats the role (and an
    empty content) after the finish: no text a client joins, so not refused."""
    from byok_cli.gateway.deltas import DeltaMasker
    from byok_cli.wire.limits import LimitExceeded
    masker = DeltaMasker("chat")
    # (texts end in "!", which no key holds: none that another test in this process
    # remembered can hold them back, which would re-write their events)
    events = (_chunk({"role": "assistant", "content": "hi!"}) + _chunk({}, 0, "stop")
              + _event({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                        "model": "gpt-4o", "usage": {"prompt_tokens": 1},
                        "choices": [{"index": 0, "delta": {"role": "assistant",
                                                           "content": ""},
                                     "finish_reason": None}]}))
    assert masker.feed(events) == events
    with pytest.raises(LimitExceeded, match="finished choice"):
        masker.feed(_chunk({"content": "sk"}))


def test_a_part_an_added_item_already_holds_may_be_announced_again():
    """An item added with its (empty) part in it, then that part announced: the same
    place, so the deltas that follow it pass; a part two back is still refused."""
    from byok_cli.gateway.deltas import DeltaMasker
    from byok_cli.wire.limits import LimitExceeded
    masker = DeltaMasker("responses")
    where = {"item_id": "m1", "output_index": 0, "content_index": 0}
    events = (_event({"type": "response.output_item.added", "output_index": 0,
                      "item": {"id": "m1", "type": "message",
                               "content": [{"type": "output_text", "text": ""}]}})
              + _event({"type": "response.content_part.added", **where,
                        "part": {"type": "output_text", "text": ""}})
              + _event({"type": "response.output_text.delta", **where, "delta": "hi!"}))
    assert masker.feed(events) == events  # ("!": see the test above)
    masker.feed(_event({"type": "response.content_part.added", **where, "content_index": 1,
                        "part": {"type": "output_text", "text": ""}}))
    with pytest.raises(LimitExceeded, match="content part added"):
        masker.feed(_event({"type": "response.content_part.added", **where,
                            "part": {"type": "output_text", "text": ""}}))
