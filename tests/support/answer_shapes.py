"""Answers as the APIs document them (OpenAI's finish_reason and `refusal` field in Chat
Completions, Anthropic's stop_reason, thinking and tool_use blocks in Messages), served by
tests/support/scripted.py, and the ways tests ask byok for them."""

from __future__ import annotations

import sqlite3

from conftest import ANTHROPIC_GOOD, OPENAI_GOOD


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


def cli_scripted(byok_env, scripted, answer, *args, provider="openai"):
    scripted.answer = answer
    env = {"OPENAI_BASE_URL": scripted.url + "/v1", "ANTHROPIC_BASE_URL": scripted.url}
    byok_env.set_key(provider, OPENAI_GOOD if provider == "openai" else ANTHROPIC_GOOD)
    return byok_env.run("run", "-p", provider, *args, "hi", env=env)


def usage_rows(byok_env):
    db = next(p for p in byok_env.files() if p.name.endswith(".db"))
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT code, stop_reason, output_tokens FROM usage "
                            "ORDER BY at").fetchall()


