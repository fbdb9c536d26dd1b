"""The gateway against a hostile upstream that echoes the key (attack2, issue 21): in
response headers, in compressed answers it was not asked for, in JSON \\u escapes, whole
and streamed; and paths spelled to slip past policy."""

from __future__ import annotations

import gzip
import json

import pytest

from conftest import OPENAI_GOOD
from support.byok_gateway import RunningGateway
from support.echoing_upstream import EchoingUpstream
from test_gateway import CHAT, bearer, token
from test_masking import assert_masked

SHOWN = "…" + OPENAI_GOOD[-4:]
STREAM = json.dumps({"model": "gpt-4o", "stream": True,
                     "messages": [{"role": "user", "content": "hi"}]}).encode()


@pytest.fixture
def echoing(byok_env):
    upstream = EchoingUpstream().start()
    byok_env.vars["OPENAI_BASE_URL"] = upstream.url + "/v1"
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    gw = RunningGateway(byok_env.vars)
    yield upstream, gw, token(byok_env)
    gw.stop()
    upstream.shutdown()


def test_a_key_echoed_in_response_headers_is_masked(echoing):
    upstream, gw, t = echoing
    upstream.mode = "header"
    status, headers, body = gw.request("POST", "/openai/chat/completions", CHAT, bearer(t))
    assert status == 200
    # http.client reads header values as latin-1: the mask's "…" arrives as its UTF-8 bytes
    shown = {k: v.encode("latin-1").decode("utf-8") for k, v in headers.items()}
    assert shown["x-echo-key"].endswith(SHOWN)  # byok's mask: a public prefix, the last 4
    assert shown["www-authenticate"].startswith('Bearer realm="')
    assert shown["www-authenticate"].endswith(f'{SHOWN}"')
    assert_masked(OPENAI_GOOD, *shown.values(), body.decode())


@pytest.mark.parametrize("path", ["/openai/chat/completions", "/openai/models"])
def test_the_gateway_asks_every_upstream_for_an_uncompressed_answer(echoing, path):
    upstream, gw, t = echoing
    status, _, _ = gw.request("POST" if "chat" in path else "GET", path,
                              CHAT if "chat" in path else None,
                              {**bearer(t), "Accept-Encoding": "gzip, br"})
    assert status == 200
    (seen,) = upstream.requests
    encodings = [v for k, v in seen["headers"].items() if k.lower() == "accept-encoding"]
    assert encodings == ["identity"]


@pytest.mark.parametrize("mode", ["gzip", "gzip400", "deflate", "jsonesc", "jsonesc400"])
def test_a_key_in_a_compressed_or_escaped_answer_is_masked(echoing, mode):
    upstream, gw, t = echoing
    upstream.mode = mode
    status, headers, body = gw.request("POST", "/openai/chat/completions", CHAT,
                                       {**bearer(t), "Accept-Encoding": "gzip"})
    assert status == (400 if mode.endswith("400") else 200)
    assert "content-encoding" not in headers  # inflated by the gateway, sent plain
    answer = json.loads(body)
    said = (answer["error"]["message"] if status == 400
            else answer["choices"][0]["message"]["content"])
    assert said.endswith(SHOWN)
    assert_masked(OPENAI_GOOD, said, body.decode(), json.dumps(answer, ensure_ascii=False))


def test_an_answer_in_an_encoding_the_gateway_cannot_read_is_refused(echoing):
    upstream, gw, t = echoing
    upstream.mode = "br"
    status, headers, body = gw.request("POST", "/openai/chat/completions", CHAT, bearer(t))
    assert status == 502 and "content-encoding" not in headers
    assert "encoding" in json.loads(body)["error"]["message"]
    assert_masked(OPENAI_GOOD, body.decode())


@pytest.mark.parametrize("mode", ["jsonescstream", "gzipstream"])
def test_a_key_escaped_or_compressed_in_a_stream_split_across_chunks_is_masked(
        echoing, mode):
    upstream, gw, t = echoing
    upstream.mode = mode
    conn = gw.connection()
    conn.request("POST", "/openai/chat/completions", body=STREAM,
                 headers={**bearer(t), "Accept-Encoding": "gzip"})
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    assert reply.status == 200 and reply.getheader("content-encoding") is None
    events = [json.loads(line[6:]) for line in data.decode().split("\n\n")
              if line.startswith("data: {")]
    said = events[0]["choices"][0]["delta"]["content"]
    # a policed stream's text is masked as `byok run` masks it (its public prefix stays)
    assert said == f"the key: sk-proj-{SHOWN} end"
    assert data.rstrip().endswith(b"[DONE]")
    assert_masked(OPENAI_GOOD, data.decode(), said)


# -- paths spelled to slip past policy (F5) ----------------------------------------------

def _usage_requests(env) -> int:
    out = env.run("usage", "--by", "token", "--json")
    assert out.returncode == 0, out.stderr
    return sum(r["requests"] for r in json.loads(out.stdout)["rows"])


@pytest.mark.parametrize("path", ["/openai/chat/./completions",
                                  "/openai/chat/x/../completions",
                                  "/openai/./chat/completions/."])
def test_a_path_with_dot_segments_is_policed_as_the_upstream_receives_it(
        byok_env, echoing, path):
    upstream, gw, t = echoing
    status, _, _ = gw.request("POST", path, CHAT, bearer(t))
    gw.stop()  # its usage rows are written
    assert status == 200
    (seen,) = upstream.requests
    assert seen["path"].rstrip("/") == "/v1/chat/completions"
    assert _usage_requests(byok_env) == 1  # a usage row: the budget was held and settled


@pytest.mark.parametrize("path", ["/openai/chat/completions%3F", "/openai/chat/completions%23",
                                  "/openai/chat%2Fcompletions", "/openai/chat/%2E/completions",
                                  "/openai/chat/%2e%2e/x/completions", "/openai/../anthropic/v1/models",
                                  "/openai/chat/../../models", "/openai/models%5C..%5Cx"])
def test_an_encoded_separator_or_a_path_above_the_base_is_refused(byok_env, echoing, path):
    upstream, gw, t = echoing
    status, _, body = gw.request("POST", path, CHAT, bearer(t))
    assert status == 400 and "error" in json.loads(body)
    assert upstream.requests == []  # nothing went upstream


# -- smaller items (F9) ---------------------------------------------------------------------

def test_a_token_in_the_query_is_not_forwarded(echoing):
    upstream, gw, t = echoing
    status, _, _ = gw.request("GET", f"/openai/models?api_key={t}&limit=2&key=x{t}",
                              headers=bearer(t))
    assert status == 200
    (seen,) = upstream.requests
    assert seen["path"] == "/v1/models?limit=2" and "byok-gw-" not in json.dumps(seen)


def test_two_origin_headers_are_refused(echoing):
    upstream, gw, t = echoing
    conn = gw.connection()
    conn.putrequest("POST", "/openai/chat/completions")
    for k, v in bearer(t).items():
        conn.putheader(k, v)
    conn.putheader("Origin", gw.url)
    conn.putheader("Origin", "http://evil.example")
    conn.putheader("Content-Length", str(len(CHAT)))
    conn.endheaders(CHAT)
    reply = conn.getresponse()
    reply.read()
    conn.close()
    assert reply.status == 403 and upstream.requests == []


def test_the_request_log_never_holds_a_token_put_in_the_path(byok_env, tmp_path):
    upstream = EchoingUpstream().start()
    byok_env.vars["OPENAI_BASE_URL"] = upstream.url + "/v1"
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    t = token(byok_env)
    log = tmp_path / "requests.log"
    gw = RunningGateway(byok_env.vars, "--log", str(log))
    try:
        gw.request("GET", f"/openai/v1/{t}/models", headers=bearer(t))
        gw.request("GET", f"/openai/v1/{t[:20]}%2D{t[21:]}/x", headers=bearer(t))
    finally:
        gw.stop()
        upstream.shutdown()
    text = log.read_text()
    assert text.count("\n") == 2 and t[8:20] not in text and t[-12:] not in text


def test_a_compression_bomb_against_our_ask_is_refused_not_inflated_whole(byok_env, fake):
    from conftest import openai_key

    byok_env.set_key("openai", openai_key("gzipbomb"))
    gw = RunningGateway(byok_env.vars)
    try:
        status, headers, body = gw.request("POST", "/openai/chat/completions", CHAT,
                                           bearer(token(byok_env)))
        assert gw.proc.poll() is None  # still serving
    finally:
        gw.stop()
    assert status == 502 and "content-encoding" not in headers
    assert "limit" in json.loads(body)["error"]["message"]
