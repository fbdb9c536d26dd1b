"""The gateway's limits (issue 21): every request head and body has a deadline on every
connection (slowloris), a header block past the limit is 431, a body past it 413, JSON
nested past wire's depth limit 400; each in the API's error shape. No test here times
anything: each waits for the gateway's answer, with a generous bound."""

from __future__ import annotations

import json
import select
import socket

import pytest

from conftest import OPENAI_GOOD
from support.byok_gateway import RunningGateway
from test_gateway import bearer, token


# -- limits -----------------------------------------------------------------------------

@pytest.fixture
def strict(byok_env):
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    gw = RunningGateway({**byok_env.vars, "BYOK_GATEWAY_MAX_BODY": "4096",
                         "BYOK_GATEWAY_HEAD_TIMEOUT": "0.5", "BYOK_GATEWAY_BODY_TIMEOUT": "0.5"})
    yield gw, token(byok_env)
    code, err = gw.stop()
    assert code == 0 and "Traceback" not in err


def test_a_body_over_the_limit_gets_413(strict, fake):
    gw, t = strict
    status, _, body = gw.request("POST", "/openai/chat/completions", b"x" * 5000, bearer(t))
    assert status == 413 and "limit" in json.loads(body)["error"]["message"]
    assert fake.requests == []


def test_a_request_nested_past_wires_depth_limit_is_refused_not_passed_unpoliced(strict, fake):
    gw, t = strict  # unread, it could not be held against a budget: it is not sent
    deep = b'{"model": "gpt-4o", "messages": ' + b"[" * 200 + b"]" * 200 + b"}"
    status, _, body = gw.request("POST", "/openai/chat/completions", deep, bearer(t))
    assert status == 400 and "levels deep" in json.loads(body)["error"]["message"]
    assert fake.requests == []


def _answer(sock: socket.socket) -> tuple[int, bytes, bytes]:
    """Status, head and body of the one answer on ``sock``, read until the gateway closes."""
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


@pytest.mark.parametrize("path, api", [("/openai/models", "openai"),
                                       ("/anthropic/v1/models", "anthropic")])
def test_a_header_block_over_the_limit_gets_431_in_the_apis_shape(strict, path, api):
    gw, t = strict
    for extra in ({"X-Big": "y" * 10000},                          # one line too long
                  {f"X-Many-{i}": "y" for i in range(200)}):        # too many lines
        status, _, body = gw.request("GET", path, None, {**bearer(t), **extra})
        assert status == 431
        said = json.loads(body)
        if api == "anthropic":
            assert said["type"] == "error" and said["error"]["type"] == "request_too_large"
        else:
            assert said["error"]["code"] == "request_too_large"
        assert "limit" in said["error"]["message"] and t not in body.decode()
    assert gw.request("GET", "/openai/models", None, bearer(t))[0] == 200  # still serving


def test_a_malformed_head_gets_400_in_the_apis_shape_without_echoing_it(strict):
    gw, t = strict
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as bad:
        bad.sendall(f"GET /anthropic/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {t}\r\nBad Header: x\r\n\r\n".encode())
        status, head, body = _answer(bad)
    assert status == 400 and json.loads(body)["type"] == "error"
    assert t.encode() not in head + body


def test_a_connection_that_sends_nothing_is_closed(strict):
    gw, _ = strict
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as idle:
        assert idle.recv(100) == b""  # closed by the gateway, not by our timeout


def test_a_request_head_that_never_ends_gets_408_on_every_request_of_a_connection(strict):
    gw, t = strict
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as slow:
        slow.sendall(b"GET /anthropic/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        status, head, body = _answer(slow)  # the head never ends; the gateway ends it
    assert status == 408 and b"connection: close" in head.lower()
    assert json.loads(body)["error"]["type"] == "timeout_error"  # anthropic's shape
    # The same on a kept-alive connection after a whole request: its second head is bound
    # as its first was (not only by the keep-alive idle limit).
    conn = gw.connection()
    conn.request("GET", "/openai/models", headers=bearer(t))
    first = conn.getresponse()
    assert first.status == 200 and first.read()
    conn.sock.sendall(b"GET /openai/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    status, head, body = _answer(conn.sock)
    conn.close()
    assert status == 408 and b'"code": "timeout"' in body


def test_a_head_sent_a_byte_at_a_time_is_cut_off(strict):
    import time

    gw, t = strict
    head = (f"GET /openai/models HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\n"
            f"Authorization: Bearer {t}\r\nX-Pad: {'p' * 2000}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as slow:
        for i, byte in enumerate(head):  # each byte well within any idle limit
            try:
                slow.sendall(bytes([byte]))
            except OSError:  # the gateway closed the connection
                break
            ready, _, _ = select.select([slow], [], [], 0.02)
            if ready:
                break
        assert i < len(head) - 1, "the whole head went through"
        status, _, _ = _answer(slow)
    assert status == 408


def test_a_body_that_never_ends_gets_408(strict):
    gw, t = strict
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as slow:
        head = (f"POST /openai/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\n"
                f"Authorization: Bearer {t}\r\nContent-Length: 100\r\n\r\n{{").encode()
        slow.sendall(head)  # and the rest of the body never comes
        status, _, body = _answer(slow)  # then the connection is closed
        assert status == 408 and "in time" in json.loads(body)["error"]["message"]
    assert gw.request("GET", "/openai/models", None, bearer(t))[0] == 200
