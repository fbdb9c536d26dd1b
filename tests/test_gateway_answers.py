"""What the gateway reads of a policed answer (issue 21, tester4 #1 and #7): a key an
upstream splits across a stream's events is masked in the text the client joins from their
deltas, as `byok run` masks it, with nothing but a key's possible start held back; and an
answer past byok's own size and depth limits is refused (whole) or ended (streamed) in the
API's error shape, with its usage row written."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ANTHROPIC_GOOD, OPENAI_GOOD, anthropic_key, openai_key
from hostile import HostileServer
from support.byok_gateway import RunningGateway, ScriptedStream
from test_gateway import bearer, token, usage_rows

ASK = [{"role": "user", "content": "hi"}]


def _event(data: dict, name: str | None = None) -> bytes:
    return (b"event: %s\n" % name.encode() if name else b"") + \
        b"data: " + json.dumps(data).encode() + b"\n\n"


def chat_events(parts: list[str]) -> list[bytes]:
    def chunk(delta: dict, finish=None) -> bytes:
        return _event({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                       "model": "gpt-4o", "choices": [{"index": 0, "delta": delta,
                                                       "finish_reason": finish}]})
    return ([chunk({"role": "assistant", "content": ""})]
            + [chunk({"content": p}) for p in parts] + [chunk({}, "stop")]
            + [_event({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                       "model": "gpt-4o", "choices": [],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 4}})]
            + [b"data: [DONE]\n\n"])


def assert_masked(text: str, key: str, before: str, after: str = "") -> None:
    """``text`` is ``before``, the key shown by its last four characters, ``after``; no
    8 characters of the key's secret part stand in it (its public prefix may)."""
    assert text.startswith(before) and text.endswith("…" + key[-4:] + after), text
    body = key[key.index("good"):]
    assert not any(body[i:i + 8] in text for i in range(len(body) - 7)), text


def joined_chat(body: bytes) -> str:
    text = ""
    for line in body.decode().split("\n"):
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices") or ():
                text += choice["delta"].get("content") or ""
    return text


@pytest.fixture
def openai_upstream(byok_env):
    upstream = ScriptedStream(lambda key: chat_events(["your key is ", key, " ok"])).start()
    byok_env.vars["OPENAI_BASE_URL"] = upstream.url + "/v1"
    byok_env.vars["ANTHROPIC_BASE_URL"] = upstream.url
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    assert byok_env.set_key("anthropic", ANTHROPIC_GOOD).returncode == 0
    yield upstream
    upstream.shutdown()


def _chat(gw: RunningGateway, t: str, stream: bool = True) -> tuple[int, bytes]:
    body = json.dumps({"model": "gpt-4o", "stream": stream, "messages": ASK}).encode()
    status, _, answer = gw.request("POST", "/openai/chat/completions", body, bearer(t))
    return status, answer


def chat_once(byok_env) -> tuple[int, bytes]:
    """One streamed chat request through a gateway started for it."""
    gw = RunningGateway(byok_env.vars)
    try:
        return _chat(gw, token(byok_env))
    finally:
        gw.stop()


def test_a_key_split_across_chat_deltas_is_masked_in_the_joined_text(byok_env,
                                                                      openai_upstream):
    gw = RunningGateway(byok_env.vars)
    try:
        t = token(byok_env)
        for at in (1, 2, 3, 5, 8, 13, 20, len(OPENAI_GOOD) - 4, len(OPENAI_GOOD) - 1):
            for whole in (False, True):  # streamed as it comes; sent with a Content-Length
                openai_upstream.length = whole
                openai_upstream.script = lambda key, at=at: chat_events(
                    ["your key is ", key[:at], key[at:], " ok"])
                status, body = _chat(gw, t)
                assert status == 200, body
                assert_masked(joined_chat(body), OPENAI_GOOD, "your key is ", " ok")
                assert OPENAI_GOOD.encode() not in body
        # the key as the stream's last text, held to the end: it goes out with the finish
        openai_upstream.length = False
        openai_upstream.script = lambda key: chat_events(["key: ", key[:9], key[9:]])
        status, body = _chat(gw, t)
        assert_masked(joined_chat(body), OPENAI_GOOD, "key: ")
        assert body.rstrip().endswith(b"data: [DONE]")
    finally:
        gw.stop()
    rows = usage_rows(byok_env)
    assert sum(r["requests"] for r in rows) == 19, rows


def sse_events(body: bytes) -> list[str]:
    """The events' data as an SSE client reads them: lines end at \r\n, \r or \n, an
    event's data lines are joined with \n, and it ends at a blank line."""
    events, data = [], []
    for line in re.split(r"\r\n|\r|\n", body.decode()):
        if not line:
            if data:
                events.append("\n".join(data))
            data = []
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
    return events


@pytest.mark.parametrize("framing", ["cr", "crlf", "two data lines", "application/json",
                                     "text/plain"])
def test_a_key_split_across_deltas_is_masked_however_the_stream_is_framed(
        byok_env, openai_upstream, framing):
    """What SSE allows and clients read (tester5 #1, #2): lines ended by \r alone or \r\n,
    an event's JSON over two data lines, a stream labelled with another type (the openai
    SDK reads a stream by the request's flag). The joined text never holds the key."""
    def framed(key):
        events = chat_events(["your key is ", key[:7], key[7:15], key[15:], " ok"])
        if framing == "cr":
            return [e.replace(b"\n", b"\r") for e in events]
        if framing == "crlf":
            return [e.replace(b"\n", b"\r\n") for e in events]
        if framing == "two data lines":
            return [e.replace(b'"choices":', b'\ndata: "choices":', 1) for e in events]
        return events
    if "/" in framing:
        openai_upstream.content_type = framing
    openai_upstream.script = framed
    status, body = chat_once(byok_env)
    assert status == 200, body
    text = "".join(choice["delta"].get("content") or ""
                   for data in sse_events(body) if data.startswith("{")
                   for choice in json.loads(data).get("choices") or ())
    assert_masked(text, OPENAI_GOOD, "your key is ", " ok")


def test_only_a_keys_possible_start_is_held_and_each_event_goes_on_at_once(byok_env,
                                                                           openai_upstream):
    """The upstream sends its next event only once the client has seen the last one: a
    gateway that held whole events would wait here. Ordinary text passes at once, whole;
    the key's first part is held and goes out with the event where the key ends."""
    openai_upstream.gated = True
    openai_upstream.script = lambda key: chat_events(
        ["Hello there, ", "your key is ", key[:12], key[12:], " and that is all.\n"])
    gw = RunningGateway(byok_env.vars)
    try:
        conn = gw.connection()
        conn.request("POST", "/openai/chat/completions", headers=bearer(token(byok_env)),
                     body=json.dumps({"model": "gpt-4o", "stream": True,
                                      "messages": ASK}).encode())
        reply = conn.getresponse()
        assert reply.status == 200
        seen, texts = b"", []
        for n in range(len(chat_events(["1", "2", "3", "4", "5"]))):
            while seen.count(b"\n\n") <= n:  # this event reached the client
                piece = reply.read1(65536)
                assert piece, "the stream ended early"
                seen += piece
            texts.append(joined_chat(seen))
            openai_upstream.go.release()
        seen += reply.read()
        conn.close()
    finally:
        gw.stop()
    # ordinary text is shown as it comes; the key's start waits for the event where the
    # key-shaped run ends (the next text after it)
    assert texts[1] == "Hello there, " and texts[2] == "Hello there, your key is "
    assert texts[3] == texts[4] == texts[2]  # "sk-proj-good…" could still grow: held
    assert_masked(texts[5], OPENAI_GOOD, texts[2], " and that is all.\n")
    assert joined_chat(seen) == texts[5]
    assert OPENAI_GOOD[:12].encode() not in seen


def _chunk(delta: dict, finish=None, **choice) -> bytes:
    return _event({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                   "model": "gpt-4o", "choices": [{"index": 0, "delta": delta,
                                                   "finish_reason": finish, **choice}]})


def _every_field_split(key: str) -> list[bytes]:
    """The key, a few characters per delta, in each string field the openai SDK joins
    besides the content: a tool call's name, the audio's transcript, the log-probabilities'
    tokens, a field byok does not know (tester5 #3)."""
    pieces = [key[i:i + 3] for i in range(0, len(key), 3)]
    first = {"index": 0, "id": "call_1", "type": "function",
             "function": {"name": "", "arguments": ""}}
    return ([_chunk({"role": "assistant", "content": "", "tool_calls": [first]})]
            + [_chunk({"tool_calls": [{"index": 0, "function": {"name": p}}]})
               for p in pieces]
            + [_chunk({"audio": {"id": "audio_1", "transcript": p}}) for p in pieces]
            + [_chunk({"content": p}, logprobs={"content": [
                {"token": p, "logprob": -0.1, "bytes": list(p.encode()),
                 "top_logprobs": []}]}) for p in pieces]
            + [_chunk({"novel_field": p}) for p in pieces]
            + [_chunk({}, "tool_calls"), b"data: [DONE]\n\n"])


def test_a_key_split_across_any_field_the_sdk_joins_is_masked(byok_env, openai_upstream):
    """The openai SDK joins every string of a delta (accumulate_delta), not only the
    content: each is masked in what it joins, for the SDK and for a raw client."""
    import openai

    openai_upstream.script = _every_field_split
    gw = RunningGateway(byok_env.vars)
    try:
        t = token(byok_env)
        client = openai.OpenAI(base_url=gw.url + "/openai", api_key=t, max_retries=0)
        with client.chat.completions.stream(model="gpt-4o", messages=ASK) as s:
            for _ in s:
                pass
            message = s.get_final_completion().choices[0].message
        status, body = _chat(gw, t)
    finally:
        gw.stop()
    joined = {"name": message.tool_calls[0].function.name,
              "transcript": message.audio.transcript,
              "novel_field": getattr(message, "novel_field", None) or
              message.model_extra.get("novel_field"),
              "content": message.content}
    for field, text in joined.items():
        assert text == "sk-proj-…" + OPENAI_GOOD[-4:], (field, text)
    assert status == 200 and OPENAI_GOOD.encode() not in body
    tokens = ""
    for data in sse_events(body):
        for choice in json.loads(data).get("choices") or () if data.startswith("{") else ():
            for item in (choice.get("logprobs") or {}).get("content") or ():
                tokens += item["token"]
                assert bytes(item["bytes"]).decode() == item["token"]  # no key in bytes
    assert_masked(tokens, OPENAI_GOOD, "")


def test_a_tool_name_that_ends_like_a_keys_start_passes_in_its_first_delta(
        byok_env, openai_upstream):
    """Some clients take a tool call's name whole from its first delta (the JS SDK,
    Vercel's AI SDK): a name is held back only where it could begin a key byok handled,
    never for ending as a key shape begins ("…sk", "…gs")."""
    names = ["get_task", "list_logs", "ask", "AI", "s", "tags"]
    openai_upstream.script = lambda key: [
        _chunk({"tool_calls": [{"index": n, "id": f"call_{n}", "type": "function",
                                "function": {"name": name, "arguments": ""}}]})
        for n, name in enumerate(names)] + [_chunk({}, "tool_calls"), b"data: [DONE]\n\n"]
    status, body = chat_once(byok_env)
    assert status == 200
    first = [json.loads(data)["choices"][0]["delta"]["tool_calls"][0]["function"]["name"]
             for data in sse_events(body)[:len(names)]]
    assert first == names


@pytest.mark.parametrize("begun", [False, True])
def test_a_key_split_across_anthropic_deltas_is_masked_for_the_sdk(byok_env,
                                                                   openai_upstream, begun):
    """The real Anthropic SDK joins the deltas (to the text the block starts with, which
    may begin the key: ``begun``); the key ends the block, so its held part goes out in a
    delta made before the block's stop."""
    import anthropic

    def script(key: str) -> list[bytes]:
        start = {"type": "message_start", "message": {
            "id": "m1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1}}}
        parts = ["the key is ", key[:7], key[7:20], key[20:]]
        first = "the key is " + key[:24] if begun else ""  # 11 of the key's own characters
        parts = [key[24:]] if begun else parts
        return ([_event(start, "message_start"),
                 _event({"type": "content_block_start", "index": 0,
                         "content_block": {"type": "text", "text": first}},
                        "content_block_start")]
                + [_event({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "text_delta", "text": p}},
                          "content_block_delta") for p in parts]
                + [_event({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                   _event({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                           "usage": {"output_tokens": 9}}, "message_delta"),
                   _event({"type": "message_stop"}, "message_stop")])

    openai_upstream.script = script
    gw = RunningGateway(byok_env.vars)
    try:
        claude = anthropic.Anthropic(base_url=gw.url + "/anthropic",
                                     api_key=token(byok_env), max_retries=0)
        with claude.messages.stream(model="claude-haiku-4-5", max_tokens=50,
                                    messages=ASK) as s:
            said = "".join(s.text_stream)
            final = s.get_final_message()
    finally:
        gw.stop()
    if begun:  # the block's first text, then the deltas
        said = final.content[0].text
    assert_masked(said, ANTHROPIC_GOOD, "the key is ")
    assert final.content[0].text == said and final.usage.output_tokens == 9


def test_a_key_split_across_responses_deltas_is_masked(byok_env, openai_upstream):
    def script(key: str) -> list[bytes]:
        where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
        parts = ["key ", key[:10], key[10:]]
        item = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
        return ([_event({"type": "response.output_item.added", "output_index": 0,
                         "item": item}, "response.output_item.added"),
                 _event({"type": "response.content_part.added", **where, "part": {
                     "type": "output_text", "text": "", "annotations": []}},
                     "response.content_part.added")]
                + [_event({"type": "response.output_text.delta", **where, "delta": p},
                        "response.output_text.delta") for p in parts]
                + [_event({"type": "response.output_text.done", **where, "text": "…"},
                          "response.output_text.done"),
                   _event({"type": "response.completed", "response": {
                       "model": "gpt-4o", "usage": {"input_tokens": 2, "output_tokens": 5}}},
                       "response.completed")])

    openai_upstream.script = script
    gw = RunningGateway(byok_env.vars)
    try:
        body = json.dumps({"model": "gpt-4o", "stream": True, "input": "hi"}).encode()
        status, _, answer = gw.request("POST", "/openai/responses", body,
                                       bearer(token(byok_env)))
    finally:
        gw.stop()
    assert status == 200
    events = [json.loads(line[6:]) for line in answer.decode().split("\n")
              if line.startswith("data: {")]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert_masked(text, OPENAI_GOOD, "key ")
    kinds = [e["type"] for e in events]
    assert kinds.index("response.output_text.done") > max(
        i for i, k in enumerate(kinds) if k == "response.output_text.delta")


# -- byok's limits on what it reads -------------------------------------------------------

@pytest.fixture
def hostile(byok_env):
    servers = []

    def start(mode: str) -> HostileServer:
        server = HostileServer(mode).start()
        servers.append(server)
        byok_env.vars["OPENAI_BASE_URL"] = server.url + "/v1"
        assert byok_env.set_key("openai", OPENAI_GOOD, "--no-validate").returncode == 0
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("mode,stream,limit", [
    ("huge_json", False, "MiB"), ("deep_json", False, "levels deep"),
])
def test_a_whole_policed_answer_past_byoks_limits_is_a_502_in_the_apis_shape(
        byok_env, hostile, mode, stream, limit):
    hostile(mode)
    gw = RunningGateway(byok_env.vars)
    try:
        status, body = _chat(gw, token(byok_env), stream=stream)
        rss = _rss_kib(gw.proc.pid)
    finally:
        gw.stop()
    said = json.loads(body)  # nothing of the answer: one error, in OpenAI's shape
    assert status == 502 and limit in said["error"]["message"], body
    assert len(body) < 1000
    assert rss < 200 * 1024  # never the 40 MiB and more of what it was sent, held twice
    (row,) = usage_rows(byok_env)
    assert row["requests"] == 1


@pytest.mark.parametrize("mode,limit", [("datalines", "an event"), ("longline", "a line"),
                                        ("deep_event", "levels deep")])
def test_a_streamed_event_past_byoks_limits_ends_the_stream_with_an_error_event(
        byok_env, hostile, mode, limit):
    hostile(mode)
    status, body = chat_once(byok_env)
    assert status == 200
    last = body.rstrip().split(b"\n")[-1]
    assert last.startswith(b"data: {") and limit in json.loads(last[6:])["error"]["message"]
    assert len(body) < 9 * 1024 * 1024  # the event was not passed on
    (row,) = usage_rows(byok_env)
    assert row["requests"] == 1


def test_a_lone_surrogate_in_a_masked_event_passes_escaped(byok_env, openai_upstream):
    """JSON may carry "\\ud800", which UTF-8 cannot: an event byok rewrites keeps it
    escaped, and the stream goes on to its end (tester5 #5: it was dropped)."""
    openai_upstream.script = lambda key: chat_events(["odd \ud800 " + key[:9], key[9:]])
    status, body = chat_once(byok_env)
    assert status == 200 and body.rstrip().endswith(b"data: [DONE]"), body[-200:]
    assert_masked(joined_chat(body), OPENAI_GOOD, "odd \ud800 ")


def test_the_events_before_one_past_a_limit_reach_the_client(byok_env, openai_upstream):
    """An event past byok's limits that arrives in the same read as good ones ends the
    stream after them, not instead of them (tester5 #4): as `byok run` prints the text."""
    deep = b"data: " + b"[" * 5000 + b"]" * 5000 + b"\n\n"
    # one chunk: the events come in one read
    openai_upstream.script = lambda key: [b"".join(chat_events(["hello "])[:2]) + deep]
    status, body = chat_once(byok_env)
    assert status == 200
    assert joined_chat(body) == "hello "
    last = body.rstrip().split(b"\n")[-1]
    assert "levels deep" in json.loads(last[6:])["error"]["message"]


def test_a_passed_through_path_stays_byte_faithful_past_the_limits(byok_env, hostile):
    """Paths byok does not police are not parsed: they pass as they come (documented)."""
    hostile("datalines")
    gw = RunningGateway(byok_env.vars)
    try:
        status, _, body = gw.request("POST", "/openai/embeddings", b"{}",
                                     bearer(token(byok_env)))
    finally:
        gw.stop()
    assert status == 200 and len(body) == 12 * 1024 * 1025 and b"error" not in body


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


@pytest.mark.parametrize("provider, marker, path", [
    ("openai", "keepalive", "/openai/chat/completions"),
    ("anthropic", "pingforever", "/anthropic/v1/messages")])
def test_a_policed_stream_of_only_keepalives_ends_after_the_idle_bound(
        byok_env, fake, provider, marker, path):
    """An upstream that keeps a policed stream open with keep-alive comments (or pings)
    alone is given BYOK_TIMEOUT, from the gateway's environment, as `run` gives it
    (tester5 #9: it was forwarded for ever, its budget hold in flight): then the stream
    ends with the API's error event, and the usage row is written."""
    key = openai_key(marker) if provider == "openai" else anthropic_key(marker)
    assert byok_env.set_key(provider, key).returncode == 0
    gw = RunningGateway({**byok_env.vars, "BYOK_TIMEOUT": "2"})
    try:
        body = {"model": "gpt-4o" if provider == "openai" else "claude-haiku-4-5",
                "stream": True, "max_tokens": 20, "messages": ASK}
        status, _, answer = gw.request("POST", path, json.dumps(body).encode(),
                                       bearer(token(byok_env)))
    finally:
        gw.stop()
    assert status == 200
    last = sse_events(answer)[-1]
    # the fake goes on for 20 s and then just ends: only the gateway's bound says this
    assert "made no progress in 2 s" in json.loads(last)["error"]["message"], answer
    (row,) = usage_rows(byok_env)
    assert row["requests"] == 1 and row["errors"] == 1, row


def test_base64_audio_passes_as_it_came(byok_env, openai_upstream):
    """Audio's base64 data is joined by clients, but it is no text: "AIza" and twenty more
    characters occur in random base64, and masking them as a key shape would corrupt the
    audio. It passes as it came (a key's bytes whole in it are still masked)."""
    data = "UklGRiQAAABXQVZFAIzaSyB1c2VsZXNzLWJ1dC12YWxpZC1iYXNlNjQ" * 3
    openai_upstream.script = lambda key: [
        _chunk({"audio": {"id": "audio_1", "data": data[:40]}}),
        _chunk({"audio": {"data": data[40:]}}), _chunk({}, "stop"), b"data: [DONE]\n\n"]
    status, body = chat_once(byok_env)
    joined = "".join(json.loads(d)["choices"][0]["delta"].get("audio", {}).get("data", "")
                     for d in sse_events(body)[:2])
    assert status == 200 and joined == data
    openai_upstream.script = lambda key: [
        _event({"type": "response.audio.delta", "delta": data}, "response.audio.delta"),
        _event({"type": "response.completed", "response": {"model": "gpt-4o"}},
               "response.completed")]
    gw = RunningGateway(byok_env.vars)
    try:
        status, _, answer = gw.request("POST", "/openai/responses", json.dumps(
            {"model": "gpt-4o", "stream": True, "input": "hi"}).encode(),
            bearer(token(byok_env, "audio")))
    finally:
        gw.stop()
    assert status == 200 and json.loads(sse_events(answer)[0])["delta"] == data
