"""`byok gateway` and `byok token` (issue 21), driven by the official SDKs and raw HTTP,
against the fake provider and an upstream whose stream the test holds."""

from __future__ import annotations

import json
import signal
import socket
import time

import pytest

from conftest import (ANTHROPIC_GOOD, OPENAI_GOOD, OPENAI_GOOD_ENV, Env, assert_no_leak,
                      anthropic_key, openai_key)
from support.byok_gateway import RunningGateway
from support.proxy import ForwardProxy
from test_transport import tls_world  # noqa: F401 (a fixture)
from test_masking import assert_masked

CHAT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
MESSAGES = json.dumps({"model": "claude-haiku-4-5", "max_tokens": 20,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()


def token(env: Env, name: str = "app", *args: str) -> str:
    made = env.run("token", "create", name, *args)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture
def keys(byok_env) -> Env:
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    assert byok_env.set_key("anthropic", ANTHROPIC_GOOD).returncode == 0
    return byok_env


@pytest.fixture
def gateway(keys):
    gw = RunningGateway(keys.vars)
    yield gw
    gw.stop()


def bearer(t: str) -> dict:
    return {"Authorization": f"Bearer {t}", "Content-Type": "application/json"}


def usage_rows(env: Env) -> list[dict]:
    out = env.run("usage", "--by", "token", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["rows"]


# -- real clients -------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_the_official_sdks_work_through_the_gateway_with_a_token(keys, gateway, fake, stream):
    import anthropic
    import openai

    t = token(keys)
    client = openai.OpenAI(base_url=gateway.url + "/openai", api_key=t, max_retries=0)
    claude = anthropic.Anthropic(base_url=gateway.url + "/anthropic", api_key=t,
                                 max_retries=0)
    ask = [{"role": "user", "content": "lines:3"}]
    if stream:
        pieces = client.chat.completions.create(model="gpt-4o", messages=ask, stream=True,
                                                stream_options={"include_usage": True})
        text = "".join(c.choices[0].delta.content or "" for c in pieces if c.choices)
        with claude.messages.stream(model="claude-haiku-4-5", max_tokens=50,
                                    messages=ask) as s:
            said = "".join(s.text_stream)
    else:
        text = client.chat.completions.create(model="gpt-4o", messages=ask
                                              ).choices[0].message.content
        said = claude.messages.create(model="claude-haiku-4-5", max_tokens=50,
                                      messages=ask).content[0].text
    assert text == said == "line 1\nline 2\nline 3"
    # upstream saw the real keys, never the token
    sent = [r for r in fake.requests if r["method"] == "POST"]
    assert {r["key"] for r in sent} == {OPENAI_GOOD, ANTHROPIC_GOOD}
    assert t not in json.dumps(fake.requests, default=str)
    rows = {(r["provider"], r["token"]): r for r in usage_rows(keys)}
    assert rows[("openai", "app")]["requests"] == 1
    assert rows[("anthropic", "app")]["requests"] == 1
    assert rows[("openai", "app")]["output_tokens"] > 0
    assert rows[("anthropic", "app")]["input_tokens"] > 0


def test_the_start_up_lines_name_each_provider_url_and_variables(keys):
    import subprocess

    from support.byok_gateway import BYOK

    proc = subprocess.Popen([str(BYOK), "gateway", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=keys.vars)
    try:
        first, second = proc.stdout.readline().decode(), proc.stdout.readline().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    name, url, base_var, key_var = first.rstrip("\n").split("\t")
    assert (name, base_var, key_var) == ("openai", "OPENAI_BASE_URL", "OPENAI_API_KEY")
    assert url.startswith("http://127.0.0.1:") and url.endswith("/openai")
    assert second.split("\t")[0] == "anthropic"


def test_usage_and_token_list_count_the_requests(keys, gateway):
    t = token(keys, "counted")
    for _ in range(3):
        status, _, _ = gateway.request("POST", "/openai/chat/completions", CHAT, bearer(t))
        assert status == 200
    deadline = time.monotonic() + 30  # counts are written once a second
    while time.monotonic() < deadline:
        (row,) = json.loads(keys.run("token", "list", "--json").stdout)
        if row["requests"] == 3:
            break
        time.sleep(0.2)
    assert row["requests"] == 3 and row["last_used"] and row["state"] == "live"
    (usage,) = [r for r in usage_rows(keys) if r["token"] == "counted"]
    assert usage["requests"] == 3 and usage["cost_usd"] > 0


# -- passthrough ------------------------------------------------------------------------

def test_other_paths_pass_through_byte_for_byte(keys, gateway, fake):
    t = token(keys)
    status, headers, body = gateway.request("GET", "/openai/models?limit=3", None,
                                            {"Authorization": f"Bearer {t}"})
    assert status == 200
    import urllib.request

    direct = urllib.request.Request(fake.url + "/v1/models?limit=3",
                                    headers={"Authorization": f"Bearer {OPENAI_GOOD}"})
    with urllib.request.urlopen(direct) as reply:
        assert body == reply.read()
    odd = b'{"input": "x",   "model": "text-embedding-3-small", "z": [1,2]}'
    fake.reset()
    gateway.request("POST", "/openai/embeddings", odd, bearer(t))
    (seen,) = fake.requests
    assert seen["path"].endswith("/embeddings") and seen["key"] == OPENAI_GOOD
    assert seen["body"] == json.loads(odd)


def test_upstream_status_error_body_and_rate_limit_headers_reach_the_client(byok_env, fake):
    byok_env.set_key("openai", openai_key("limitforever7"))
    gw = RunningGateway(byok_env.vars)
    try:
        t = token(byok_env)
        status, headers, body = gw.request("POST", "/openai/chat/completions", CHAT, bearer(t))
    finally:
        gw.stop()
    assert status == 429
    assert headers["retry-after"] == "7"
    assert b"rate" in body.lower()


def test_a_key_the_provider_rejects_gives_way_to_the_next(byok_env, fake):
    byok_env.set_key("openai", openai_key("revoked"))
    byok_env.set_key("openai", OPENAI_GOOD, "--name", "second")
    gw = RunningGateway(byok_env.vars)
    try:
        t = token(byok_env)
        status, _, body = gw.request("POST", "/openai/chat/completions", CHAT, bearer(t))
    finally:
        gw.stop()
    assert status == 200 and b"Echo[gpt-4o]" in body
    assert [r["key"] for r in fake.requests] == [openai_key("revoked"), OPENAI_GOOD]
    listed = json.loads(byok_env.run("key", "list", "--json").stdout)
    (openai,) = [p for p in listed if p["provider"] == "openai"]
    status_of = {k["name"]: k["status"] for k in openai["keys"]}
    assert status_of["default"].startswith("failed") and status_of["second"] == "valid"
    (row,) = [r for r in json.loads(byok_env.run("usage", "--by", "key", "--json").stdout)
              ["rows"] if r["key"] == "second"]
    assert row["fallbacks"] == 1


def test_a_key_echoed_by_the_upstream_is_masked(byok_env, fake):
    key = anthropic_key("echoes")
    byok_env.set_key("anthropic", key)
    gw = RunningGateway(byok_env.vars)
    try:
        t = token(byok_env)
        status, _, body = gw.request("POST", "/anthropic/v1/messages", MESSAGES, bearer(t))
    finally:
        code, err = gw.stop()
    assert status == 400 and b"bad key sk-ant-api03-\xe2\x80\xa6" in body
    assert_masked(key, body.decode("utf-8", "replace"), err)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_an_upstream_that_dies_mid_stream_ends_the_stream_as_that_api_reports_errors(
        byok_env, fake, api):
    key = openai_key("drop") if api == "openai" else anthropic_key("drop")
    byok_env.set_key(api, key)
    gw = RunningGateway(byok_env.vars)
    body = json.loads(CHAT if api == "openai" else MESSAGES)
    body["stream"] = True
    path = "/openai/chat/completions" if api == "openai" else "/anthropic/v1/messages"
    try:
        status, _, data = gw.request("POST", path, json.dumps(body).encode(),
                                     bearer(token(byok_env)))
    finally:
        gw.stop()
    assert status == 200
    last = data.decode().strip().split("\n\n")[-1]
    if api == "anthropic":
        assert last.startswith("event: error")
        assert json.loads(last.split("data: ", 1)[1])["type"] == "error"
    else:
        assert "error" in json.loads(last.removeprefix("data: "))


# -- refusals ---------------------------------------------------------------------------

def _shape(api: str, body: bytes) -> str:
    data = json.loads(body)
    if api == "anthropic":
        assert data["type"] == "error"
        return data["error"]["message"]
    return data["error"]["message"]


@pytest.mark.parametrize("api,path", [("openai", "/openai/chat/completions"),
                                      ("anthropic", "/anthropic/v1/messages")])
def test_refusals_are_answered_in_the_api_shape_and_send_nothing(keys, gateway, fake, api,
                                                                 path):
    good = token(keys, "only-openai", "-p", "openai")
    body = CHAT if api == "openai" else MESSAGES
    port = gateway.port
    cases = {
        "no token": (401, {}),
        "unknown token": (401, {"x-api-key": "byok-gw-" + "A" * 43}),
        "two different tokens": (401, {"x-api-key": good, "Authorization": "Bearer other"}),
        "bad Host (DNS rebinding)": (403, {"x-api-key": good, "Host": f"evil.example:{port}"}),
        "foreign Origin": (403, {"x-api-key": good, "Origin": "https://evil.example"}),
    }
    if api == "anthropic":
        cases["a provider the token is not for"] = (403, {"x-api-key": good})
    for why, (expected, headers) in cases.items():
        conn = gateway.connection()
        conn.putrequest("POST", path, skip_host="Host" in headers)
        for k, v in {"Content-Length": str(len(body)), **headers}.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        reply = conn.getresponse()
        assert reply.status == expected, why
        assert _shape(api, reply.read()), why
        assert "access-control-allow-origin" not in {k.lower() for k, _ in reply.getheaders()}
        conn.close()
    status, headers, _ = gateway.request("OPTIONS", path, None, {
        "Origin": f"http://127.0.0.1:{port}", "Access-Control-Request-Method": "POST"})
    assert status == 403 and "access-control-allow-origin" not in headers
    assert fake.requests == []


def test_revoked_and_expired_tokens_are_refused_by_a_running_gateway(keys, gateway, fake):
    t = token(keys, "soon-gone")
    assert gateway.request("POST", "/openai/chat/completions", CHAT, bearer(t))[0] == 200
    assert keys.run("token", "revoke", "soon-gone").returncode == 0
    status, _, body = gateway.request("POST", "/openai/chat/completions", CHAT, bearer(t))
    assert status == 401 and b"has been revoked" in body
    brief = token(keys, "brief", "--ttl", "1s")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, _, body = gateway.request("POST", "/openai/models", None, bearer(brief))
        if status == 401:
            break
        time.sleep(0.2)
    assert status == 401 and b"expired" in body
    listed = {r["name"]: r["state"] for r in json.loads(keys.run("token", "list",
                                                                 "--json").stdout)}
    assert listed == {"soon-gone": "revoked", "brief": "expired"}


def test_only_a_digest_of_a_token_is_stored(keys):
    t = token(keys, "secretive")
    assert_no_leak(t, home=keys.home)
    again = keys.run("token", "create", "secretive")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_a_budget_on_a_token_refuses_before_sending(keys, gateway, fake):
    t = token(keys, "capped")
    assert keys.run("budget", "set", "--token", "capped", "--per", "day", "0.000001"
                    ).returncode == 0
    status, _, body = gateway.request("POST", "/openai/chat/completions", CHAT, bearer(t))
    assert status == 402 and "budget" in _shape("openai", body)
    assert fake.requests == []
    other = token(keys, "free")
    assert gateway.request("POST", "/openai/chat/completions", CHAT, bearer(other))[0] == 200


# -- the command line ------------------------------------------------------------------

def test_gateway_binds_loopback_only_and_says_so_when_the_port_is_busy(keys):
    wide = keys.run("gateway", "--host", "0.0.0.0", timeout=30)
    assert wide.returncode == 2 and "loopback" in wide.stderr
    assert len(wide.stderr.strip().splitlines()) == 1
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = keys.run("gateway", "--port", str(taken.getsockname()[1]), timeout=30)
    assert busy.returncode == 2 and "busy" in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1 and "Traceback" not in busy.stderr


def test_the_request_log_holds_no_secret_and_is_private(keys, tmp_path):
    log = tmp_path / "requests.log"
    gw = RunningGateway(keys.vars, "--log", str(log))
    try:
        t = token(keys, "logged")
        gw.request("POST", "/openai/chat/completions?api_key=sk-proj-inquery-Zz9y8x7w6v5u4",
                   CHAT, bearer(t))
        gw.request("GET", "/openai/models", None, {"x-api-key": "byok-gw-wrong"})
    finally:
        gw.stop()
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(x["method"], x["path"], x["token"], x["status"]) for x in lines] == [
        ("POST", "/openai/chat/completions", "logged", 200),
        ("GET", "/openai/models", None, 401)]
    assert all(isinstance(x["ms"], float) for x in lines)
    for secret in (t, OPENAI_GOOD, "inquery", "byok-gw-wrong"):
        assert secret not in text
    assert log.stat().st_mode & 0o777 == 0o600


# -- proxies ------------------------------------------------------------------------------

def test_the_gateway_reaches_a_provider_through_the_proxy_in_a_tunnel(byok_env, tls_world):
    ca, server, proxy = tls_world
    byok_env.vars.update({"OPENAI_BASE_URL": "https://api.example.test/v1",
                          "HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": str(ca.pem)})
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    gw = RunningGateway(byok_env.vars)
    try:
        status, _, body = gw.request("POST", "/openai/chat/completions", CHAT,
                                     bearer(token(byok_env)))
    finally:
        gw.stop()
    assert status == 200, body
    assert json.loads(body)["choices"][0]["message"]["content"] == "Echo[gpt-4o]: hi"
    assert proxy.heads[0].startswith("CONNECT api.example.test:443 HTTP/1.")
    assert server.requests[0]["key"] == OPENAI_GOOD
    assert OPENAI_GOOD[-12:].encode() not in proxy.relayed  # the proxy saw TLS only


def test_a_key_for_this_machine_never_goes_through_a_proxy(keys, fake):
    proxy = ForwardProxy(fake.server_address[1]).start()
    gw = RunningGateway({**keys.vars, "HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url,
                         "ALL_PROXY": proxy.url, "NO_PROXY": ""})
    try:
        status, _, _ = gw.request("POST", "/openai/chat/completions", CHAT,
                                  bearer(token(keys)))
    finally:
        gw.stop()
        proxy.shutdown()
    assert status == 200 and proxy.heads == [] and fake.requests[0]["key"] == OPENAI_GOOD


def test_the_gateway_chooses_proxies_by_wires_rules():
    from byok_cli.gateway.passthrough import Upstream
    from byok_cli.wire.types import Settings

    env = {"HTTPS_PROXY": "http://me:p%40ss@proxy.corp:3128", "NO_PROXY": "internal.corp"}
    up = Upstream(Settings(), env)
    assert up.route("https://api.openai.com/v1/chat/completions") == {
        "proxy": "http://proxy.corp:3128",
        "proxy_headers": {"Proxy-Authorization": "Basic bWU6cEBzcw=="}}
    assert up.route("https://llm.internal.corp/v1/models") == {}      # NO_PROXY
    assert up.route("http://127.0.0.1:4000/v1/models") == {}          # loopback: never
    assert up.route("http://localhost:4000/v1/models") == {}
    # looked up once per host: another path there, or the same again, is the same route
    assert up.route("https://api.openai.com/v1/models") == up.route(
        "https://api.openai.com:443/v1/embeddings") == {
        "proxy": "http://proxy.corp:3128",
        "proxy_headers": {"Proxy-Authorization": "Basic bWU6cEBzcw=="}}
    assert up.route("http://api.openai.com/v1/models") == {}  # no HTTP_PROXY: its own


def test_the_gateway_serves_on_uvloop_where_it_is_installed_else_on_asyncios_loop():
    """uvloop (a dependency off Windows) runs the gateway's loop; without it, asyncio's."""
    import subprocess
    import sys

    code = ("import asyncio, sys\n{}\n"
            "from byok_cli.gateway.server import serve_until_done\n"
            "async def which():\n"
            "    print(type(asyncio.get_running_loop()).__module__)\n"
            "serve_until_done(which())\n")
    if sys.platform != "win32":
        ran = subprocess.run([sys.executable, "-c", code.format("")], capture_output=True,
                             text=True, timeout=60)
        assert ran.stdout.strip().startswith("uvloop"), ran.stderr
    hidden = "sys.modules['uvloop'] = None  # as where it is not installed"
    ran = subprocess.run([sys.executable, "-c", code.format(hidden)], capture_output=True,
                         text=True, timeout=60)
    assert ran.stdout.strip().startswith("asyncio"), ran.stderr


# -- a running gateway sees changes -----------------------------------------------------------

def test_a_running_gateway_follows_keys_and_budgets_changed_meanwhile(keys, gateway, fake):
    """The gateway keeps what every request reads between changes to the database; a
    change another byok makes is seen by the next request."""
    t = token(keys, "app")
    send = lambda: gw_request(gateway, t)  # noqa: E731
    assert send()[0] == 200 and fake.requests[-1]["key"] == OPENAI_GOOD
    assert send()[0] == 200  # (kept: the same key, read once)
    assert keys.set_key("openai", OPENAI_GOOD_ENV).returncode == 0
    assert send()[0] == 200 and fake.requests[-1]["key"] == OPENAI_GOOD_ENV
    sent = len(fake.requests)
    assert keys.run("budget", "set", "--per", "day", "0.000001").returncode == 0
    status, body = send()
    assert status == 402 and "budget" in _shape("openai", body)
    assert len(fake.requests) == sent  # refused before sending


def test_a_running_gateway_follows_providers_added_removed_and_repointed(keys, gateway, fake):
    """A provider another byok adds, removes or points elsewhere is what the gateway's next
    request sees: a key stored after `provider remove` and `provider add` at a new URL
    never goes to the old one."""
    def add(url: str) -> None:
        r = keys.run("provider", "add", "corp", "--api", "openai", "--base-url", url)
        assert r.returncode == 0, r.stderr
        assert keys.set_key("corp", OPENAI_GOOD).returncode == 0

    t = token(keys, "app")

    def send(model: str) -> tuple[int, bytes]:
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]})
        status, _, answer = gateway.request("POST", "/corp/chat/completions", body.encode(),
                                            bearer(t))
        return status, answer

    status, body = send("team/llama-70b")
    assert status == 404 and b"no provider called 'corp'" in body  # not there yet
    add(fake.url + "/gw/v1")  # added while the gateway runs
    status, body = send("team/llama-70b")
    assert status == 200 and fake.requests[-1]["mount"] == "/gw", body
    assert keys.run("provider", "remove", "corp", "--yes").returncode == 0
    sent = len(fake.requests)
    status, body = send("team/llama-70b")
    assert status == 404 and b"no provider called 'corp'" in body and len(fake.requests) == sent
    add(fake.url + "/local/v1")  # the same name, elsewhere
    status, body = send("llama3.2")
    assert status == 200, body
    assert [r["mount"] for r in fake.requests[sent:]] == ["/local"]


def gw_request(gw: RunningGateway, t: str) -> tuple[int, bytes]:
    status, _, body = gw.request("POST", "/openai/chat/completions", CHAT, bearer(t))
    return status, body


def test_a_stored_key_unused_under_preferred_provider_system_is_said_so(keys, gateway, fake):
    """Under `preferred-provider system` (where removing the preferred provider leaves it)
    the stored key is not sent: the 503 says so and what to set, as `run` says it, rather
    than sending the person off to store a key they have (closing3, tester4 #5)."""
    t = token(keys, "app")
    assert keys.run("config", "set", "preferred-provider", "system").returncode == 0
    sent = len(fake.requests)
    status, body = gw_request(gateway, t)
    said = _shape("openai", body)
    assert status == 503 and len(fake.requests) == sent, body
    assert "preferred-provider is 'system'" in said, said
    assert "byok config set preferred-provider openai" in said, said
    assert "key set" not in said
    ran = keys.run("run", "-m", "gpt-4o", "hi")  # the reason run gives
    assert ran.returncode == 4 and "preferred-provider is 'system'" in ran.stderr
