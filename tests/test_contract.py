"""Contract tests: byok's requests on the wire equal the official SDKs' for the same call.

The installed `byok` command and the SDKs (tests/sdk_oracle.py, in a subprocess) talk to
one capture server on 127.0.0.1 (tests/wirecapture.py); method, path, query, headers and
JSON body must agree, except for the fields in ALLOWLIST below. Nothing here knows how
byok builds its requests: only what arrives.

CI runs this file against the lowest SDK releases pyproject.toml allows and against the
latest (.ci/run), and then `test_sdk_releases_agree` compares the two releases' requests
with each other: a difference there is a change in the APIs' clients that byok may have
to follow, and fails until it is looked at and recorded in KNOWN_SDK_DRIFT.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ANTHROPIC_GOOD, OPENAI_GOOD, TESTS, Env, _clean_env
from contract_cases import (ANTHROPIC_MODEL, CASES, DEFAULT_MAX_TOKENS, OPENAI_MODEL, PROMPT,
                            SDKCall, user)
from wirecapture import CaptureServer
from wirecompare import Allowed, Difference, differences, fields, unexplained

ANTHROPIC_VERSION = "2023-06-01"


def _x_api_key_same_key(byok: str, sdk: str) -> bool:
    """Only an x-api-key header, carrying the very key the SDK sends."""
    ours, theirs = re.fullmatch(r"x-api-key (\S+)", byok), re.fullmatch(r"Bearer (\S+)", sdk)
    return bool(ours and theirs and ours.group(1) == theirs.group(1))


# ----------------------------------------------------------------------------------------
# THE ALLOWLIST: every way byok's request may differ from the SDK's, and why. Nothing else
# may differ. "PROTOCOL:FIELD" (fields: method, path, query:NAME, header:NAME, body:PATH).
# ----------------------------------------------------------------------------------------
ALLOWLIST = [
    Allowed("*:header:user-agent", "each client names itself"),
    Allowed("*:header:x-stainless-*", "the SDKs' own telemetry: package version, OS, "
            "runtime, retry count, timeouts; not part of either API"),
    Allowed("*:header:content-length", "bodies are compared as JSON; the byte count "
            "depends on whitespace and escaping"),
    Allowed("*:header:accept-encoding", "content coding is the HTTP library's choice; "
            "the server answers in any coding the client accepts, or none"),
    Allowed("*:header:connection", "HTTP/1.1 keeps connections alive without it"),
    Allowed("anthropic:header:anthropic-version", "byok pins the API version it speaks, "
            "2023-06-01, the one Anthropic's documentation names (byok_cli/wire/"
            "anthropic_messages.py, docs/testing.md); the SDKs since 2.0 send 2026-10-21, which "
            "refuses temperature on every model", lambda byok, sdk: byok == ANTHROPIC_VERSION),
    Allowed("anthropic:header:credential", "byok sends the key as x-api-key, the form the "
            "Messages API documents (SDK 2.x sends Authorization: Bearer; the API takes "
            "both); exactly one header, the same key", _x_api_key_same_key),
]

# Differences between two SDK releases in the declared range that have been looked at:
# {(protocol, field): what byok does about it}. Empty: the lowest and latest releases
# allowed today (openai 3.50/3.57, anthropic 2.10/2.14) send the same requests.
KNOWN_SDK_DRIFT: dict[tuple[str, str], str] = {}
# What may differ between two releases of one SDK without meaning anything.
SDK_SELF_DESCRIPTION = [a for a in ALLOWLIST if a.where in (
    "*:header:user-agent", "*:header:x-stainless-*")]


@pytest.fixture(scope="session")
def capture():
    server = CaptureServer().start()
    yield server
    server.shutdown()


def run_oracle(python: str, capture: CaptureServer, prefix: str) -> dict:
    """Every case's SDK calls, made by the SDKs of `python`, recorded under PREFIX.CASE."""
    calls = []
    for case in CASES:
        for call in case.sdk:
            calls.append(sdk_call(capture, f"{prefix}.{case.id}", call))
    return oracle(python, calls)


def sdk_call(capture: CaptureServer, tag: str, call: SDKCall) -> dict:
    base = capture.base(tag) + ("/v1" if call.protocol == "openai" else "")
    key = OPENAI_GOOD if call.protocol == "openai" else ANTHROPIC_GOOD
    return {"protocol": call.protocol, "op": call.op, "params": call.params,
            "base_url": base, "key": key}


def oracle(python: str, calls: list[dict]) -> dict:
    proc = subprocess.run([python, str(TESTS / "sdk_oracle.py")], input=json.dumps(
        {"calls": calls}), capture_output=True, text=True, env=_clean_env(), timeout=300)
    assert proc.returncode == 0, f"the SDK oracle ({python}) failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def sdk_requests(capture):
    """The installed SDKs' requests for every case (one subprocess for all of them)."""
    out = run_oracle(sys.executable, capture, "sdk")
    failed = [f"{c.id}: {r}" for c, r in zip((c for c in CASES for _ in c.sdk),
                                             out["results"]) if not r.get("ok")]
    assert not failed, "the SDKs refused calls the contract relies on:\n" + "\n".join(failed)
    return out


@pytest.fixture
def wire_env(tmp_path, master_key, capture):
    env = _clean_env()
    env.update({"BYOK_HOME": str(tmp_path / "home"), "BYOK_MASTER_KEY": master_key,
                "BYOK_TIMEOUT": "10", "BYOK_MAX_RETRY_WAIT": "1"})
    e = Env(tmp_path / "home", env)
    assert e.set_key("openai", OPENAI_GOOD).returncode == 0
    assert e.set_key("anthropic", ANTHROPIC_GOOD).returncode == 0
    return e


def run_byok(env: Env, capture: CaptureServer, tag: str, argv, stdin=None):
    base = capture.base(tag)
    return env.run(*argv, input=stdin, env={"OPENAI_BASE_URL": base + "/v1",
                                            "ANTHROPIC_BASE_URL": base})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_byok_request_equals_sdk(case, wire_env, capture, sdk_requests):
    for i, argv in enumerate(case.setup):
        done = run_byok(wire_env, capture, f"setup{i}.{case.id}", argv)
        assert done.returncode == 0, done.stderr
    result = run_byok(wire_env, capture, f"byok.{case.id}", case.argv, case.stdin)
    assert result.returncode == 0, result.stderr
    ours, theirs = capture.recorded(f"byok.{case.id}"), capture.recorded(f"sdk.{case.id}")
    assert theirs, "the SDK sent nothing"
    problems = unexplained(case.protocol, differences(ours, theirs), ALLOWLIST)
    assert not problems, (f"byok {' '.join(case.argv)} differs from the SDK "
                          f"({sdk_requests['versions']}):\n" + "\n".join(map(str, problems)))
    # One pinned version for everything byok sends to Anthropic.
    versions = {r["headers"].get("anthropic-version") for r in ours}
    assert case.protocol != "anthropic" or len(versions) == 1


# --- temperature: where the APIs disagree with their own past ---------------------------

def test_openai_temperature_is_sent_as_the_sdk_sends_it_or_refused(wire_env, capture):
    """Refused before anything is sent (exit 2: the catalogue says the model takes no
    temperature), or sent exactly as the SDK sends it."""
    argv = ("run", "-p", "openai", "-m", OPENAI_MODEL, "--temperature", "0.5", PROMPT)
    result = run_byok(wire_env, capture, "byok.temperature-openai", argv)
    ours = capture.recorded("byok.temperature-openai")
    if result.returncode == 2:
        assert ours == [] and result.stdout == ""
        return
    assert result.returncode == 0, result.stderr
    call = SDKCall("openai", "chat", {"model": OPENAI_MODEL, "messages": [user(PROMPT)],
                                      "temperature": 0.5, "stream": True,
                                      "stream_options": {"include_usage": True}})
    assert oracle(sys.executable, [sdk_call(capture, "sdk.temperature-openai", call)])[
        "results"] == [{"ok": True}]
    problems = unexplained("openai", differences(
        ours, capture.recorded("sdk.temperature-openai")), ALLOWLIST)
    assert not problems, "\n".join(map(str, problems))


def test_anthropic_sdk_takes_no_temperature():
    """A fact byok's rule rests on: since anthropic 2.0 (API version 2026-10-21) the SDK has
    no `temperature`, and that API version answers 400 to it, even at 1.0. If an SDK in
    the declared range takes it again, byok's rule must be revisited."""
    out = oracle(sys.executable, [{
        "protocol": "anthropic", "op": "chat", "base_url": "http://127.0.0.1:9",
        "key": ANTHROPIC_GOOD, "params": {"model": ANTHROPIC_MODEL, "messages": [user("x")],
                                          "max_tokens": 5, "temperature": 0.5}}])
    assert out["results"][0]["error"] == "TypeError", (
        f"anthropic {out['versions']['anthropic']} takes `temperature` again: revisit "
        "byok's temperature rule for Anthropic (issue 12)")


def test_anthropic_temperature_is_refused_or_sent_where_the_api_takes_it(wire_env, capture):
    argv = ("run", "-p", "anthropic", "-m", ANTHROPIC_MODEL, "--temperature", "0.5", PROMPT)
    result = run_byok(wire_env, capture, "byok.temperature-anthropic", argv)
    ours = capture.recorded("byok.temperature-anthropic")
    assert all(r["path"] == "/v1/messages" for r in ours), "never another provider"
    if result.returncode == 2:
        assert ours == [] and result.stdout == ""
        return
    assert result.returncode == 0, result.stderr
    assert len(ours) == 1 and json.loads(ours[0]["body"])["temperature"] == 0.5
    # API version 2026-10-21 refuses temperature at any value: only an older one takes it.
    assert ours[0]["headers"]["anthropic-version"] < "2026-10-21"
    call = SDKCall("anthropic", "chat", {
        "model": ANTHROPIC_MODEL, "messages": [user(PROMPT)], "max_tokens": DEFAULT_MAX_TOKENS,
        "stream": True, "extra_body": {"temperature": 0.5}})
    oracle(sys.executable, [sdk_call(capture, "sdk.temperature-anthropic", call)])
    problems = unexplained("anthropic", differences(
        ours, capture.recorded("sdk.temperature-anthropic")), ALLOWLIST)
    assert not problems, "\n".join(map(str, problems))


# --- the SDK releases at both ends of the declared range -----------------------------------

def sdk_pythons() -> dict[str, str]:
    """BYOK_SDK_PYTHONS="lowest=/path/bin/python,latest=/path/bin/python" (set by .ci/run)."""
    spec = os.environ.get("BYOK_SDK_PYTHONS", "")
    return dict(item.split("=", 1) for item in spec.split(",") if "=" in item)


def test_sdk_releases_agree(capture):
    """The lowest and latest SDK releases allowed make the same requests for every case.
    A difference is printed in full and fails until recorded in KNOWN_SDK_DRIFT with
    what byok does about it."""
    pythons = sdk_pythons()
    if len(pythons) < 2:
        if os.environ.get("BYOK_REQUIRE_SDK_MATRIX"):
            pytest.fail("BYOK_REQUIRE_SDK_MATRIX is set but BYOK_SDK_PYTHONS names "
                        f"{len(pythons)} interpreters")
        pytest.skip("needs BYOK_SDK_PYTHONS with two SDK venvs (the CI matrix sets it)")
    (name_a, py_a), (name_b, py_b) = list(pythons.items())[:2]
    out_a, out_b = run_oracle(py_a, capture, name_a), run_oracle(py_b, capture, name_b)
    label = f"{name_a} {out_a['versions']} vs {name_b} {out_b['versions']}"
    problems = []
    for case in CASES:
        diffs = differences(capture.recorded(f"{name_a}.{case.id}"),
                            capture.recorded(f"{name_b}.{case.id}"))
        for diff in unexplained(case.protocol, diffs, SDK_SELF_DESCRIPTION):
            if (case.protocol, diff.field) not in KNOWN_SDK_DRIFT:
                problems.append(f"{case.id}: {diff.show(name_a, name_b)}")
    for call, ra, rb in zip((c for c in CASES for _ in c.sdk), out_a["results"],
                            out_b["results"]):
        if ra != rb:
            problems.append(f"{call.id}: the SDKs disagree on the call itself: {ra} / {rb}")
    print(f"\nSDK releases compared: {label}; known drift: {KNOWN_SDK_DRIFT or 'none'}")
    assert not problems, (f"SDK releases differ ({label}); byok may have to follow:\n"
                          + "\n".join(problems))


# --- the comparison itself can fail -----------------------------------------------------

def _request(**over):
    base = {"method": "POST", "path": "/v1/messages", "query": {},
            "headers": {"content-type": "application/json", "x-api-key": "sk-ant-k1",
                        "anthropic-version": "2026-10-21", "user-agent": "a"},
            "body": json.dumps({"model": "m", "messages": [{"role": "user", "content": "é"}]})}
    return {**base, **over}


def test_comparison_reports_what_differs_and_allows_only_the_allowlist():
    same = _request(headers={**_request()["headers"], "user-agent": "b"},
                    body=json.dumps({"messages": [{"content": "é", "role": "user"}],
                                     "model": "m"}, ensure_ascii=True))
    assert unexplained("anthropic", differences([_request()], [same]), ALLOWLIST) == []
    bearer = _request(headers={**_request()["headers"], "x-api-key": None})
    bearer["headers"] = {k: v for k, v in bearer["headers"].items() if v is not None}
    bearer["headers"]["authorization"] = "Bearer sk-ant-k1"
    assert unexplained("anthropic", differences([_request()], [bearer]), ALLOWLIST) == []
    assert unexplained("openai", differences([_request()], [bearer]), ALLOWLIST) != []
    other_key = {**bearer, "headers": {**bearer["headers"], "authorization": "Bearer sk-2"}}
    assert unexplained("anthropic", differences([_request()], [other_key]), ALLOWLIST)
    changed = _request(body=json.dumps({"model": "m", "messages": [
        {"role": "user", "content": "é"}], "temperature": 1}), query={"beta": ["true"]})
    found = unexplained("anthropic", differences([_request()], [changed]), ALLOWLIST)
    assert [d.field for d in found] == ["body:temperature", "query:beta"]
    bad_version = _request(headers={**_request()["headers"], "anthropic-version": "latest"})
    assert unexplained("anthropic", differences([bad_version], [_request()]), ALLOWLIST)
    assert differences([_request()], []) == [Difference(-1, "number of requests", "1", "0")]
    assert fields(_request())["body:messages[0].content"] == '"é"'
