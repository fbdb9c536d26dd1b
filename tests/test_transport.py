"""byok's HTTP transport (byok_cli.wire.transport and .proxy): where a key may go, proxies
with CONNECT tunnels, TLS with the system CA store or SSL_CERT_FILE, kept-alive connections,
and reading answers as the network delivers them."""

import json
import socket
import threading
import time

import pytest

from byok_cli.errors import ByokError, Code
from byok_cli.wire import ChatRequest, ChatResult, Settings, connect, sse, transport
from byok_cli.wire.proxy import is_loopback, proxy_for
from conftest import OPENAI_GOOD
from fakeprovider import FakeProviderServer
from support.proxy import ForwardProxy
from support.tls import Authority

FAST = Settings(timeout=3, connect_timeout=1, max_retries=2, max_wait=3)


# --- where a key may go -------------------------------------------------------------------

def test_loopback_hosts():
    for host in ("localhost", "LOCALHOST", "127.0.0.1", "127.9.9.9", "::1", "[::1]",
                 "::ffff:127.0.0.1"):
        assert is_loopback(host), host
    # app.localhost needs DNS to resolve, which may answer anything: not loopback (issue 11)
    for host in ("127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.1", "::2",
                 "0.0.0.0", "", None, "example.com", "::ffff:10.0.0.1", "app.localhost",
                 "localhost."):
        assert not is_loopback(host), host


def test_a_key_never_goes_over_plain_http_beyond_loopback():
    for url in ("https://api.openai.com/v1", "http://127.0.0.1:8080/v1", "http://localhost/v1",
                "http://[::1]:9/v1"):
        transport.check_transport(url, env={})
    for url in ("http://api.example.test/v1", "http://10.0.0.5:4000"):
        with pytest.raises(ByokError) as err:
            transport.check_transport(url, env={})
        assert err.value.code == Code.USAGE and "unencrypted" in err.value.message
        assert "BYOK_ALLOW_INSECURE_HTTP" in err.value.hint
    for url in ("ftp://x/", "//x"):
        with pytest.raises(ByokError) as err:
            transport.check_transport(url, env={})
        assert err.value.code == Code.USAGE and "http(s)" in err.value.message
    transport.check_transport("http://10.0.0.5:4000", env={"BYOK_ALLOW_INSECURE_HTTP": "1"})
    with pytest.raises(ByokError):
        transport.check_transport("http://10.0.0.5", env={"BYOK_ALLOW_INSECURE_HTTP": "yes"})


# --- proxies ------------------------------------------------------------------------------

def test_proxy_variables():
    env = {"HTTPS_PROXY": "http://upper:3128", "https_proxy": "lower:8080",
           "HTTP_PROXY": "http://plain:80", "ALL_PROXY": "http://all:1"}
    assert proxy_for("https", "api.openai.com", 443, env)[:2] == ("lower", 8080)
    assert proxy_for("http", "gw.example", 80, env)[:2] == ("plain", 80)
    assert proxy_for("http", "gw.example", 80, {**env, "REQUEST_METHOD": "GET"})[:2] == ("all", 1)
    assert proxy_for("https", "127.0.0.1", 443, env) is None  # loopback never via a proxy
    assert proxy_for("https", "api.openai.com", 443, {}) is None
    auth = proxy_for("https", "x.example", 443, {"HTTPS_PROXY": "http://me:p%40ss@p:1"})
    assert auth.authorization == "Basic bWU6cEBzcw=="  # me:p@ss
    for bad in ("https://p:1", "socks5://p:1", "http://p:notaport"):
        with pytest.raises(ByokError) as err:
            proxy_for("https", "x.example", 443, {"HTTPS_PROXY": bad})
        assert err.value.code == Code.USAGE


@pytest.mark.parametrize("no_proxy, host, port, bypassed", [
    ("*", "api.openai.com", 443, True),
    ("openai.com", "api.openai.com", 443, True),
    (".openai.com", "api.openai.com", 443, True),
    ("*.openai.com", "api.openai.com", 443, True),
    ("openai.com", "notopenai.com", 443, False),
    ("api.openai.com:443", "api.openai.com", 443, True),
    ("api.openai.com:8443", "api.openai.com", 443, False),
    ("10.0.0.0/8", "10.1.2.3", 443, True),
    ("10.0.0.0/8", "11.1.2.3", 443, False),
    ("[fd00::1]:443", "fd00::1", 443, True),
    (" , other.example ,API.OPENAI.COM", "api.openai.com", 443, True),
    ("", "api.openai.com", 443, False),
])
def test_no_proxy(no_proxy, host, port, bypassed):
    env = {"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": no_proxy}
    assert (proxy_for("https", host, port, env) is None) is bypassed


@pytest.fixture
def tls_world(tmp_path):
    """A fake provider with TLS for api.example.test (its CA in ca.pem) behind a proxy that
    sends every CONNECT there, whatever host is asked for: no name is ever resolved."""
    ca = Authority(tmp_path)
    server = FakeProviderServer()
    server.socket = ca.server_context("api.example.test").wrap_socket(server.socket,
                                                                     server_side=True)
    server.start()
    proxy = ForwardProxy(server.server_address[1]).start()
    yield ca, server, proxy
    proxy.shutdown()
    server.shutdown()


def test_https_through_a_proxy_tunnel(byok_env, tls_world):
    ca, server, proxy = tls_world
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "--json", "tunnelled", env={
        "OPENAI_BASE_URL": "https://api.example.test/v1", "HTTPS_PROXY": proxy.url,
        "SSL_CERT_FILE": str(ca.pem)})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["text"] == "Echo[gpt-6.1-sol]: tunnelled"
    assert (out["base_url"], out["base_url_source"]) == ("https://api.example.test/v1",
                                                         "environment")
    assert proxy.heads[0].startswith("CONNECT api.example.test:443 HTTP/1.")
    assert server.requests[0]["key"] == OPENAI_GOOD
    assert OPENAI_GOOD[-12:].encode() not in proxy.relayed and b"tunnelled" not in proxy.relayed


def test_proxy_credentials_and_refusal(byok_env, tls_world):
    ca, server, proxy = tls_world
    proxy.credentials = "me:p@ss"
    byok_env.set_key("openai", OPENAI_GOOD)
    env = {"OPENAI_BASE_URL": "https://api.example.test/v1", "SSL_CERT_FILE": str(ca.pem),
           "HTTPS_PROXY": proxy.url}
    refused = byok_env.run("run", "hi", env=env)
    assert refused.returncode == Code.NETWORK_ERROR.exit_status
    assert "407" in refused.stderr and "HTTPS_PROXY" in refused.stderr
    assert len(proxy.heads) == 1  # not retried: the proxy's answer will not change
    ok = byok_env.run("run", "hi", env={**env, "HTTPS_PROXY": proxy.url.replace(
        "http://", "http://me:p%40ss@")})
    assert ok.returncode == 0, ok.stderr


def test_tls_is_verified_against_the_ca_store(byok_env, tls_world, tmp_path):
    ca, server, proxy = tls_world
    other = Authority(tmp_path, "someone else")
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "hi", env={"OPENAI_BASE_URL": "https://api.example.test/v1",
                                       "HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": str(other.pem)})
    assert r.returncode == Code.NETWORK_ERROR.exit_status
    assert "securely" in r.stderr and "SSL_CERT_FILE" in r.stderr
    assert server.requests == [] and len(proxy.heads) == 1  # not retried


def test_plain_http_through_a_proxy_only_when_allowed(byok_env, fake):
    proxy = ForwardProxy(fake.server_address[1], credentials="u:pw").start()
    byok_env.set_key("openai", OPENAI_GOOD)
    env = {"OPENAI_BASE_URL": "http://api.example.test/v1",
           "HTTP_PROXY": proxy.url.replace("http://", "http://u:pw@")}
    refused = byok_env.run("run", "hi", env=env)
    assert refused.returncode == Code.USAGE.exit_status and "unencrypted" in refused.stderr
    assert proxy.heads == [] and fake.requests == []
    allowed = byok_env.run("run", "hi", env={**env, "BYOK_ALLOW_INSECURE_HTTP": "1"})
    assert allowed.returncode == 0, allowed.stderr
    assert proxy.heads[0].startswith("POST http://api.example.test/v1/chat/completions HTTP/1.1")
    assert fake.requests[0]["path"] == "/v1/chat/completions"
    proxy.shutdown()


# --- connections and answers, against a server that says exactly what a test scripts ------

class RawServer:
    """Answers each request on a connection with the next scripted list of byte pieces
    (sent with a pause between them); closes a connection after `per_connection` answers."""

    def __init__(self, answers: list[list[bytes]], per_connection: int = 99):
        self.answers, self.per_connection = list(answers), per_connection
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        reader = conn.makefile("rb")
        for _ in range(self.per_connection):
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    return conn.close()
                head += line
            length = [int(x.split(b":")[1]) for x in head.split(b"\r\n")
                      if x.lower().startswith(b"content-length:")]
            reader.read(length[0] if length else 0)
            for piece in self.answers.pop(0):
                conn.sendall(piece)
                time.sleep(0.02)
        time.sleep(0.1)
        conn.close()


def _chunked(*pieces: bytes) -> list[bytes]:
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    return [head] + [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]


def _stream(url: str) -> tuple[list[str], ChatResult]:
    result = ChatResult()
    c = connect("openai", OPENAI_GOOD, url + "/v1", FAST)
    return list(c.chat(ChatRequest("gpt-4o", [{"role": "user", "content": "x"}]), result)), result


def _delta(text: str, finish=None) -> bytes:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": text},
                                    "finish_reason": finish}]}).encode()


def test_event_lines_split_anywhere_in_cr_lf_and_crlf():
    one, two = _delta("one "), _delta("two", "stop")
    server = RawServer([_chunked(b"data: " + one[:9], one[9:] + b"\r", b"\n\r\n: comment\r",
                                 b"data: " + two + b"\r\r", b"data: [DONE]")])
    pieces, result = _stream(server.url)
    assert pieces == ["one ", "two"] and result.finish_reason == "stop"


def test_a_closed_idle_connection_is_reopened_once():
    whole = json.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]})
    answer = [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
              + str(len(whole)).encode() + b"\r\n\r\n" + whole.encode()]
    server = RawServer([answer, answer, answer], per_connection=1)  # closes after each answer
    c = connect("openai", OPENAI_GOOD, server.url + "/v1", FAST)
    for _ in range(3):
        time.sleep(0.2)  # the server has closed the kept-alive connection meanwhile
        req = ChatRequest("gpt-4o", [{"role": "user", "content": "x"}], stream=False)
        assert list(c.chat(req, ChatResult())) == ["hi"]
    assert server.connections == 3


def test_sse_parser():
    lines = ["event: a", "data: 1", "data:2", "", ": comment", "id: 7", "retry: 5", "data",
             "", "", "event: b", "data: {\"x\": 1}"]
    assert list(sse.events(lines)) == [sse.Event("a", "1\n2"), sse.Event("", ""),
                                       sse.Event("b", "{\"x\": 1}")]
