"""Bounded everything (issue 27, items 3, 4 and 6): what a hostile server on 127.0.0.1 sends
ends in a one-line error with its own exit status (23 past a size or depth limit, 10 past
the deadline), never exit 1, a MemoryError or a hang; plus the wire parsers on deep nesting
and wrong types, in process."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from byok_cli.errors import Code
from byok_cli.wire import limits, sse
from byok_cli.wire.client import Client
from byok_cli.wire.errors import body_error, classify
from byok_cli.wire.openai_chat import OpenAIChat
from byok_cli.wire.anthropic_messages import AnthropicMessages
from byok_cli.wire.types import ChatResult, Settings
from conftest import OPENAI_GOOD
from hostile import MODES, HostileServer

LIMIT = Code.LIMIT_EXCEEDED.exit_status
NET = Code.NETWORK_ERROR.exit_status

# What `run` ends in against each mode, before any of the answer was output.
RUN_EXPECTS = {"datalines": LIMIT, "longline": LIMIT, "drip_body": NET, "drip_headers": NET,
               "deep_json": LIMIT, "deep_error": LIMIT,
               "deep_event": LIMIT, "choices_number": NET, "choices_true": NET,
               "choices_text": NET, "wide_models": NET}
KNOWN = {0} | {c.exit_status for c in Code} - {Code.INTERNAL.exit_status}
ENV = {"BYOK_DEADLINE": "2", "BYOK_TIMEOUT": "5", "BYOK_MAX_RETRIES": "0"}


@pytest.fixture
def hostile():
    server = HostileServer().start()
    yield server
    server.stop()


def one_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error:"), r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    return lines[-1]


@pytest.mark.parametrize("mode", MODES)
def test_run_against_a_hostile_server_ends_in_its_own_code(byok_env, hostile, mode):
    hostile.mode = mode
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "--no-fallback", "-p", "openai", "-m", "gpt-4o", "hi",
                     env={**ENV, "OPENAI_BASE_URL": hostile.url + "/v1"})
    assert r.returncode == RUN_EXPECTS[mode], (mode, r.returncode, r.stderr)
    line = one_line(r)
    assert r.stdout == ""
    if mode.startswith("drip"):
        assert "did not finish in time" in line and "BYOK_DEADLINE" in line, line
    if RUN_EXPECTS[mode] == LIMIT:
        assert "MiB" in line or "levels deep" in line, line
        assert "will not read" in line and "check the base URL" in line, line


@pytest.mark.parametrize("mode", ["datalines", "longline", "deep_json", "deep_error",
                                  "deep_event"])
def test_an_answer_past_a_limit_ends_alike_streamed_or_not(byok_env, hostile, mode):
    """The same over-limit answer gives the same exit and message whichever way it was asked
    for: a server that streams a --no-stream request anyway is read as the stream it is."""
    hostile.mode = mode
    byok_env.set_key("openai", OPENAI_GOOD)
    said = []
    for stream in ((), ("--no-stream",)):
        r = byok_env.run("run", "--no-fallback", "-p", "openai", "-m", "gpt-4o", *stream, "hi",
                         env={**ENV, "OPENAI_BASE_URL": hostile.url + "/v1"})
        assert (r.returncode, r.stdout) == (LIMIT, ""), (mode, stream, r.stderr)
        said.append(one_line(r).replace(hostile.url, "URL"))
    assert said[0] == said[1], said
    assert "b'" not in said[1] and "try again" not in said[1], said


def test_a_deep_error_body_says_it_is_past_the_depth_limit(byok_env, hostile):
    hostile.mode = "deep_error"
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "--no-fallback", "-p", "openai", "-m", "gpt-4o", "hi",
                     env={**ENV, "OPENAI_BASE_URL": hostile.url + "/v1", "BYOK_MAX_RETRIES": "2"})
    assert r.returncode == LIMIT, r.stderr
    line = one_line(r)
    assert "400" in line and f"more than {limits.MAX_DEPTH} levels deep" in line, line
    assert "models show" not in line and "change what its message names" not in line, line
    assert hostile.hits == 1  # never retried: the same server would send the same


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("command", [("key", "validate", "openai"),
                                     ("models", "list", "--remote", "-p", "openai"),
                                     ("chat", "--no-fallback", "-p", "openai", "-m", "gpt-4o")])
def test_other_commands_against_a_hostile_server_never_exit_1(byok_env, hostile, mode, command):
    hostile.mode = mode
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run(*command, input="hi\n" if command[0] == "chat" else None,
                     env={**ENV, "OPENAI_BASE_URL": hostile.url + "/v1"})
    assert r.returncode in KNOWN, (mode, command, r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    if mode == "wide_models" and command[0] == "models":
        assert r.returncode == 0 and len(r.stdout.splitlines()) <= limits.MAX_MODELS + 5


def test_the_deadline_is_a_setting_with_a_usage_error(byok_env):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "-p", "openai", "hi", env={"BYOK_DEADLINE": "soon"})
    assert r.returncode == Code.USAGE.exit_status and "BYOK_DEADLINE" in one_line(r)


# --- in process: the parsers -------------------------------------------------------------------

def test_depth_check_counts_brackets_outside_strings_only():
    assert limits.depth_ok("[" * 128 + "]" * 128)
    assert not limits.depth_ok("[" * 129 + "]" * 129)
    assert limits.depth_ok(json.dumps({"text": "[" * 5000}))  # inside a string: no nesting
    assert limits.depth_ok(json.dumps({"a": '\\"[[[' * 100}))
    with pytest.raises(limits.LimitExceeded):
        limits.loads("{" * 3 + '"a":' + "[" * 200 + "]" * 200 + "}")


def test_an_event_without_end_is_refused_at_its_limit():
    lines = ("data: " + "x" * 1023 for _ in range(limits.MAX_EVENT // 1024 + 10))
    with pytest.raises(limits.LimitExceeded):
        for _ in sse.events(lines):
            pass


def test_a_deep_error_body_keeps_its_status():
    body = '{"detail": ' + "[" * 3000 + "]" * 3000 + "}"
    assert "levels deep" in body_error(body)[2]
    assert classify("openai", 400, body.encode()).code == Code.BAD_REQUEST
    assert classify("openai", 401, body.encode()).code == Code.UNAUTHORIZED


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["choices", "delta", "content", "type", "usage", "error", "message",
                         "detail", "data", "id", "text", "finish_reason", "stop_reason"]),
        inner, max_size=4), max_leaves=12)


def _client(kind) -> Client:
    return kind("openai" if kind is OpenAIChat else "anthropic", "sk-test-key-abcdefgh",
                "http://127.0.0.1:9", Settings())


@settings(max_examples=150, deadline=None)
@given(chunk=JSON_VALUES, depth=st.sampled_from([0, 1, 50, 127, 129, 1000, 5000]),
       kind=st.sampled_from([OpenAIChat, AnthropicMessages]))
def test_stream_parsers_on_wrong_types_and_deep_nesting(chunk, depth, kind):
    """Whatever an event holds, the parser yields text or raises what wire turns into an
    exit code (Malformed, LimitExceeded, ByokError); never TypeError, RecursionError."""
    from byok_cli.errors import ByokError
    from byok_cli.wire.errors import Malformed

    data = "[" * depth + json.dumps(chunk) + "]" * depth
    events = [sse.Event("", data), sse.Event("", "[DONE]"),
              sse.Event("", '{"type": "message_stop"}')]
    try:
        for piece in _client(kind).read_stream(iter(events), ChatResult()):
            assert isinstance(piece, str)
    except (Malformed, limits.LimitExceeded, ByokError):
        pass


@settings(max_examples=150, deadline=None)
@given(body=JSON_VALUES, depth=st.sampled_from([0, 2, 129, 3000]),
       status=st.sampled_from([None, 400, 401, 404, 429, 500]))
def test_error_bodies_of_any_shape_and_depth_classify(body, depth, status):
    text = "[" * depth + json.dumps(body) + "]" * depth
    err = classify("openai", status, text.encode())
    assert err.code != Code.INTERNAL and len(err.message) < 1000


class _Chunks:
    """A Response whose body is given chunks (for the line splitter alone)."""

    def __init__(self, chunks):
        from byok_cli.wire import transport

        self.where, self._chunks = "here", chunks
        self.lines = transport.Response.lines.__get__(self)

    def chunks(self):
        yield from self._chunks

    def close(self):
        pass


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="ab\r\n", max_size=40), cuts=st.lists(st.integers(0, 40)))
def test_lines_split_like_splitlines_wherever_the_chunks_break(text, cuts):
    data = text.encode()
    edges = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    chunks = [data[a:b] for a, b in zip(edges, edges[1:])]
    expected = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()  # a final line ending ends the last line, it starts none
    assert list(_Chunks(chunks).lines()) == [e.decode() for e in expected]
