"""The gateway under load and abuse (issue 21): streams forwarded as they arrive, clients
that leave, SIGTERM with streams open, 50 parallel streams, keys split across chunks, and `exec
--gateway`. No test here times anything: each waits for an event, with a generous bound."""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading

import pytest

from conftest import ANTHROPIC_GOOD, BYOK, OPENAI_GOOD
from support.byok_gateway import GatedUpstream, RunningGateway
from test_gateway import CHAT, bearer, token, usage_rows

STREAM = json.dumps({"model": "gpt-4o", "stream": True,
                     "messages": [{"role": "user", "content": "hi"}]}).encode()


@pytest.fixture
def gated(byok_env):
    upstream = GatedUpstream().start()
    byok_env.vars["OPENAI_BASE_URL"] = upstream.url + "/v1"
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    yield upstream
    upstream.release.set()
    upstream.shutdown()


def _open_stream(gw: RunningGateway, t: str):
    conn = gw.connection()
    conn.request("POST", "/openai/chat/completions", body=STREAM, headers=bearer(t))
    reply = conn.getresponse()
    return conn, reply


def test_a_stream_is_forwarded_as_it_arrives(byok_env, gated):
    gw = RunningGateway(byok_env.vars)
    try:
        conn, reply = _open_stream(gw, token(byok_env))
        assert reply.status == 200
        # The upstream holds the rest until the first piece has reached the client: a
        # gateway that buffered would wait here until the test's bound ran out.
        first = reply.read1(65536)
        assert b'"first"' in first and not gated.release.is_set()
        gated.release.set()
        rest = reply.read()
        assert b"second" in rest and rest.rstrip().endswith(b"[DONE]")
        conn.close()
    finally:
        gw.stop()
    (row,) = usage_rows(byok_env)
    assert (row["input_tokens"], row["output_tokens"]) == (5, 2)


def test_a_client_that_leaves_mid_stream_cancels_the_upstream_and_is_logged(byok_env, gated):
    gated.endless = True
    gw = RunningGateway(byok_env.vars)
    try:
        conn, reply = _open_stream(gw, token(byok_env, "leaver"))
        assert b'"first"' in reply.read1(65536)
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        gated.release.set()
        assert gated.client_gone.wait(30), "the upstream stream went on after the client left"
    finally:
        gw.stop()
    (row,) = usage_rows(byok_env)
    assert row["token"] == "leaver" and row["requests"] == 1 and row["errors"] == 1


def test_sigterm_stops_accepting_lets_open_streams_finish_and_exits_0(byok_env, gated):
    gw = RunningGateway(byok_env.vars)
    t = token(byok_env)
    conn, reply = _open_stream(gw, t)
    assert b'"first"' in reply.read1(65536)
    gw.proc.send_signal(signal.SIGTERM)
    refused = None
    for _ in range(100):  # until the listener is closed
        try:
            with socket.create_connection(("127.0.0.1", gw.port), timeout=5):
                pass
            threading.Event().wait(0.05)
        except ConnectionResetError:
            continue  # caught in the handshake as the listener closed: try once more
        except OSError as exc:
            refused = exc
            break
    assert isinstance(refused, ConnectionRefusedError)
    gated.release.set()
    assert reply.read().rstrip().endswith(b"[DONE]")
    conn.close()
    assert gw.proc.wait(60) == 0


def test_requests_beyond_the_limit_in_flight_get_503(byok_env, gated):
    gw = RunningGateway({**byok_env.vars, "BYOK_GATEWAY_MAX_ACTIVE": "1"})
    try:
        t = token(byok_env)
        conn, reply = _open_stream(gw, t)
        assert reply.status == 200
        status, headers, body = gw.request("POST", "/openai/chat/completions", CHAT, bearer(t))
        assert status == 503 and headers["retry-after"] == "1"
        assert "limit" in json.loads(body)["error"]["message"]
        gated.release.set()
        reply.read()
        conn.close()
    finally:
        gw.stop()


# -- many at once -----------------------------------------------------------------------

def test_fifty_parallel_streams(byok_env, fake):
    import asyncio

    import aiohttp

    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    gw = RunningGateway(byok_env.vars)
    t = token(byok_env)
    body = json.dumps({"model": "gpt-4o", "stream": True, "stream_options": {
        "include_usage": True}, "messages": [{"role": "user", "content": "lines:5"}]})

    async def one(session, i):
        async with session.post(gw.url + "/openai/chat/completions", data=body,
                                headers=bearer(t)) as r:
            assert r.status == 200
            return await r.read()

    async def main():
        async with aiohttp.ClientSession() as session:
            return await asyncio.gather(*(one(session, i) for i in range(50)))

    try:
        answers = asyncio.run(main())
    finally:
        gw.stop()
    assert len(answers) == 50
    assert all(a.rstrip().endswith(b"data: [DONE]") and b'"usage"' in a for a in answers)
    (row,) = usage_rows(byok_env)
    assert row["requests"] == 50 and row["errors"] == 0


# -- exec --gateway ---------------------------------------------------------------------

CHILD = r"""
import os, sys, openai, anthropic
print(os.getpid(), flush=True)
sys.stdin.readline()  # the test reads /proc/<pid>/environ meanwhile
o = openai.OpenAI(max_retries=0)
said = o.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
a = anthropic.Anthropic(max_retries=0)
with a.messages.stream(model="claude-haiku-4-5", max_tokens=20,
                       messages=[{"role": "user", "content": "yo"}]) as s:
    streamed = "".join(s.text_stream)
print(said.choices[0].message.content, "|", streamed, flush=True)
sys.exit(7)
"""


def test_exec_gateway_gives_the_child_no_key_and_its_own_exit_status(byok_env, fake,
                                                                    master_key):
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    assert byok_env.set_key("anthropic", ANTHROPIC_GOOD).returncode == 0
    env = {**byok_env.vars, "OPENAI_API_KEY": "sk-proj-envkey-Zz9y8x7w6v5u4t3s2r1q"}
    proc = subprocess.Popen([str(BYOK), "exec", "--gateway", "--", sys.executable, "-c", CHILD],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    pid = int(proc.stdout.readline())
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
    for secret in (OPENAI_GOOD, ANTHROPIC_GOOD, master_key, env["OPENAI_API_KEY"]):
        assert not any(secret.encode() in v for v in environ.values()), secret
    assert b"BYOK_MASTER_KEY" not in environ
    assert environ[b"OPENAI_API_KEY"] == environ[b"ANTHROPIC_API_KEY"]
    assert environ[b"OPENAI_API_KEY"].startswith(b"byok-gw-")
    assert environ[b"OPENAI_BASE_URL"].startswith(b"http://127.0.0.1:")
    out, err = proc.communicate(b"\n", timeout=120)
    assert proc.returncode == 7, err
    assert out.decode().splitlines()[-1] == "Echo[gpt-4o]: hi | Echo[claude-haiku-4-5]: yo"
    assert {r["key"] for r in fake.requests} == {OPENAI_GOOD, ANTHROPIC_GOOD}
    assert json.loads(byok_env.run("token", "list", "--json").stdout) == []  # died with it
    assert {r["provider"] for r in usage_rows(byok_env)} == {"openai", "anthropic"}


def test_exec_gateway_token_is_limited_to_the_providers_asked_for(byok_env, fake):
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    assert byok_env.set_key("anthropic", ANTHROPIC_GOOD).returncode == 0
    probe = ("import os, urllib.request as u, urllib.error as e\n"
             "url = os.environ['OPENAI_BASE_URL'].replace('/openai', '/anthropic/v1/models')\n"
             "r = u.Request(url, headers={'x-api-key': os.environ['OPENAI_API_KEY']})\n"
             "try: u.urlopen(r)\n"
             "except e.HTTPError as x: print(x.code)\n"
             "print('ANTHROPIC_API_KEY' in os.environ)\n")
    done = byok_env.run("exec", "--gateway", "-p", "openai", "--", sys.executable, "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["403", "False"]
    assert fake.requests == []


def test_exec_gateway_ends_as_its_child_was_ended(byok_env):
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    done = byok_env.run("exec", "--gateway", "--", "sh", "-c", "kill -TERM $$")
    assert done.returncode == -signal.SIGTERM
    assert byok_env.run("config", "set", "exec-gateway", "on").returncode == 0
    done = byok_env.run("exec", "--", "sh", "-c", 'echo "$OPENAI_API_KEY"')
    assert done.returncode == 0 and done.stdout.startswith("byok-gw-")
    done = byok_env.run("exec", "--keys", "--", "sh", "-c", 'echo "$OPENAI_API_KEY"')
    assert done.stdout.strip() == OPENAI_GOOD
    assert os.environ.get("BYOK_EXEC") is None


# Each delivery of a signal counts (as in programs built on an event loop, e.g. node's):
# the wakeup fd gets a byte per delivery, where Python handlers may see two as one. It ends
# with status 3 on SIGTERM; "alone": in a process group of its own, which the terminal's
# signals do not reach.
SIGNALLED = """
import os, signal, sys
if sys.argv[1:] == ["alone"]:
    os.setpgid(0, 0)
r, w = os.pipe()
os.set_blocking(w, False)
signal.set_wakeup_fd(w, warn_on_full_buffer=False)
for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    signal.signal(sig, lambda *a: None)
print("ready", flush=True)
while True:
    got = signal.Signals(os.read(r, 1)[0]).name
    print(got, flush=True)
    if got == "SIGTERM":
        sys.exit(3)
"""


def _line(proc) -> bytes:
    assert select.select([proc.stdout], [], [], 60)[0], "the program said nothing"
    return proc.stdout.readline().strip()


def test_exec_gateway_passes_signals_sent_to_byok_on_to_the_program(byok_env):
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    proc = subprocess.Popen([str(BYOK), "exec", "--gateway", "--", sys.executable, "-c",
                             SIGNALLED], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=byok_env.vars)
    assert _line(proc) == b"ready"
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        proc.send_signal(sig)  # to byok's pid alone, not the program's
        assert _line(proc) == sig.name.encode()  # once each
    out, err = proc.communicate(timeout=120)
    assert out == b"" and proc.returncode == 3, err  # the program's own status


def test_exec_gateway_does_not_repeat_the_terminals_ctrl_c(byok_env):
    """Ctrl-C on a terminal goes to its whole foreground group, the program's too: byok
    must not send the program another (many take a second one as "quit now"). Here the
    program has a group of its own, so any SIGINT it gets would be byok's."""
    import fcntl
    import pty
    import termios

    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    master, slave = pty.openpty()

    def own_terminal():  # byok in a session whose controlling terminal is the pty
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([str(BYOK), "exec", "--gateway", "--", sys.executable, "-c",
                             SIGNALLED, "alone"], stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=byok_env.vars,
                            preexec_fn=own_terminal)
    os.close(slave)
    try:
        assert _line(proc) == b"ready"
        os.write(master, b"\x03")  # the terminal's Ctrl-C: SIGINT to byok's group
        proc.send_signal(signal.SIGHUP)
        assert _line(proc) == b"SIGHUP"  # and no SIGINT from byok before it
        proc.send_signal(signal.SIGTERM)
        assert _line(proc) == b"SIGTERM"
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(master)
    assert out == b"" and proc.returncode == 3, err

# -- keys in answers ----------------------------------------------------------------------

def test_a_key_split_across_streamed_chunks_is_masked_at_every_offset(byok_env):
    from support.byok_gateway import SplittingUpstream

    upstream = SplittingUpstream().start()
    byok_env.vars["OPENAI_BASE_URL"] = upstream.url + "/v1"
    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    gw = RunningGateway(byok_env.vars)
    try:
        # a path passed through (a policed one is read event by event: test_gateway_answers)
        conn = gw.connection()
        conn.request("POST", "/openai/echo", body=STREAM, headers=bearer(token(byok_env)))
        reply = conn.getresponse()
        assert reply.status == 200
        seen = b""
        for at in range(1, len(OPENAI_GOOD)):
            # The event's start reaches the client while the upstream holds the key's
            # second half: the gateway held back no more than the key's first part.
            while b'"split": %d, "said": "' % at not in seen:
                piece = reply.read1(65536)
                assert piece, "the stream ended early"
                seen += piece
            upstream.go.release()
        seen += reply.read()
        conn.close()
    finally:
        gw.stop()
        upstream.shutdown()
    events = [json.loads(line[6:]) for line in seen.decode().split("\n\n")
              if line.startswith("data: {")]
    assert [e["split"] for e in events] == list(range(1, len(OPENAI_GOOD)))
    assert {e["said"] for e in events} == {"…" + OPENAI_GOOD[-4:]}
    assert OPENAI_GOOD[:8].encode() not in seen


def test_revoking_a_token_ends_its_open_stream(byok_env, gated):
    gw = RunningGateway(byok_env.vars)
    try:
        conn, reply = _open_stream(gw, token(byok_env, "doomed"))
        assert reply.status == 200 and b'"first"' in reply.read1(65536)
        revoked = byok_env.run("token", "revoke", "doomed")
        assert revoked.returncode == 0, revoked.stderr
        gated.release.set()  # the upstream goes on; the gateway must not
        rest = reply.read()
        conn.close()
    finally:
        gw.stop()
    assert b"second" not in rest and b"[DONE]" not in rest
    (event,) = [json.loads(line[6:]) for line in rest.decode().split("\n\n")
                if line.startswith("data: {")]
    assert "revoked" in event["error"]["message"]
    (row,) = usage_rows(byok_env)
    assert row["token"] == "doomed" and row["errors"] == 1


def test_an_answer_received_whole_has_its_usage_row_even_if_the_gateway_is_killed(
        byok_env, fake):
    """The usage rows of one event-loop pass are written together, and an answer's end
    leaves only once its row is committed: a gateway killed (SIGKILL) while its rows wait
    for the database has sent none of those answers whole, and every answer a client did
    get whole is in the usage log. Another byok holding the database's write lock keeps the
    gateway's rows waiting (its wait stops its event loop: the other requests may be
    answered after it, or not at all before the kill)."""
    import sqlite3

    from byok_cli.store import DB_NAME

    assert byok_env.set_key("openai", OPENAI_GOOD).returncode == 0
    gw = RunningGateway(byok_env.vars)
    t = token(byok_env)
    whole: list[bytes] = []

    def send(body: bytes) -> None:
        conn = gw.connection()
        try:
            conn.request("POST", "/openai/chat/completions", body=body, headers=bearer(t))
            reply = conn.getresponse()
            data = reply.read()
            if reply.status == 200:
                whole.append(data)
        except (OSError, http.client.HTTPException):
            pass  # cut off by the kill: not received whole
        finally:
            conn.close()

    try:
        for body in (CHAT, STREAM):  # answered and logged before the lock is taken
            send(body)
        assert len(whole) == 2
        other = sqlite3.connect(byok_env.home / DB_NAME, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another byok writing: the gateway's rows wait
        sent = len(fake.requests)
        threads = [threading.Thread(target=send, args=(body,))
                   for body in (CHAT, STREAM, CHAT, STREAM)]
        for th in threads:
            th.start()
        for _ in range(600):  # until the upstream has answered (the gateway's wait for
            if len(fake.requests) > sent:  # the lock holds up its event loop, so the rest
                break                      # may not get that far)
            threading.Event().wait(0.05)
        assert len(fake.requests) > sent
        for th in threads:  # a client that got its whole answer has it by now
            th.join(2)
        gw.proc.kill()
        gw.proc.wait(30)
        for th in threads:
            th.join(30)
        other.execute("ROLLBACK")
        other.close()
    finally:
        gw.stop()
    rows = sqlite3.connect(byok_env.home / DB_NAME).execute(
        "SELECT COUNT(*) FROM usage WHERE token_name = 'app'").fetchone()[0]
    assert rows == len(whole) >= 2
