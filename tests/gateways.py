"""The third-party servers byok is held to, each started the way its own docs say.

- LiteLLM proxy: a real gateway. It serves both wire protocols (/v1/chat/completions,
  /v1/messages, /v1/models) and forwards to an upstream, here tests/fakeprovider.py on
  127.0.0.1, so what it translates, renames or drops is visible at both ends. It refuses
  to start without a master key; keys are checked by a custom auth hook
  (tests/servers/litellm_auth.py) that accepts the two test keys, since byok's key shapes
  differ per provider.
- LLMock: a mock of both APIs that also grades the client (retries, Retry-After,
  truncated streams) and keeps every request it served.
- fakellm: a mock of both chat APIs driven by YAML rules (no model lists).

Each is described by a Gateway: where to point byok, which models it lists, what it
answers to a conversation, and (where it can tell) which messages reached it.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Callable, NamedTuple

from fakeprovider import FakeProviderServer
from serverproc import ServerProcess, free_port, installed, offline_env

SERVERS = Path(__file__).resolve().parent / "servers"
OPENAI_KEY = "sk-proj-good-gateway-Oa1b2c3d4e5f6g7h8"
ANTHROPIC_KEY = "sk-ant-api03-good-gateway-Aa1b2c3d4e5f"
OPENAI_MODEL, ANTHROPIC_MODEL = "gpt-6.2-sol", "claude-sonnet-5-5"


class Gateway(NamedTuple):
    name: str
    openai_url: str
    anthropic_url: str
    listed: dict[str, set[str]] | None       # provider -> model ids it lists; None: no lists
    reply: Callable[[str, list[str]], str]   # (model, the conversation's texts) -> answer
    received: Callable[[], list[list[str]]] | None   # texts of each chat request that arrived
    process: ServerProcess
    openai_stream_usage: bool = True         # sends usage in OpenAI streams when asked
    posted: Callable[[], list[list]] | None = None   # the messages of each chat request, whole


def texts(messages: list) -> list[str]:
    """The text of each message, whatever block structure carries it."""
    out = []
    for m in messages or []:
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        out.append(content or "")
    return out


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.load(reply)


def post_json(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as reply:
        return json.load(reply)


# --- LiteLLM proxy ----------------------------------------------------------------------

def litellm_config(upstream: str, master_key: str) -> str:
    models = [
        {"model_name": OPENAI_MODEL, "litellm_params": {
            "model": f"openai/{OPENAI_MODEL}", "api_base": upstream + "/v1",
            "api_key": "sk-proj-good-upstream-Oa1b2c3d4e5f6"}},
        {"model_name": ANTHROPIC_MODEL, "litellm_params": {
            "model": f"anthropic/{ANTHROPIC_MODEL}", "api_base": upstream,
            "api_key": "sk-ant-api03-good-upstream-Aa1b2c3"}},
    ]
    return json.dumps({"model_list": models,
                       "litellm_settings": {"telemetry": False},
                       "general_settings": {"master_key": master_key,
                                            "custom_auth": "litellm_auth.user_api_key_auth"}})


def start_litellm(workdir: Path):
    exe = installed("litellm", "litellm")
    upstream = FakeProviderServer().start()
    shutil.copy(SERVERS / "litellm_auth.py", workdir / "litellm_auth.py")
    config = workdir / "config.yaml"  # JSON is YAML
    config.write_text(litellm_config(upstream.url, "sk-" + "0123456789abcdef" * 4))
    port = free_port()
    env = offline_env(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False",
                      LITELLM_TEST_KEYS=f"{OPENAI_KEY},{ANTHROPIC_KEY}",
                      NO_DOCS="True", DISABLE_ADMIN_UI="True")
    proc = ServerProcess("litellm", [exe, "--config", config, "--host", "127.0.0.1",
                                     "--port", port, "--num_workers", "1"],
                         f"http://127.0.0.1:{port}/health/liveliness",
                         workdir / "litellm.log", env=env, cwd=workdir).start()
    url = f"http://127.0.0.1:{port}"

    def received() -> list[list[str]]:
        return [texts(r["messages"]) for r in upstream.requests if r["method"] == "POST"]

    gateway = Gateway("litellm", url + "/v1", url, {
        "openai": {OPENAI_MODEL}, "anthropic": {ANTHROPIC_MODEL}},
        lambda model, conversation: f"Echo[{model}]: {conversation[-1]}", received, proc,
        posted=lambda: [r["messages"] for r in upstream.requests if r["method"] == "POST"])
    return gateway, upstream


# --- LLMock ----------------------------------------------------------------------------

def start_llmock(workdir: Path) -> Gateway:
    exe = installed("llmock", "llmock")
    port = free_port()
    proc = ServerProcess("llmock", [exe, "serve", "--host", "127.0.0.1", "--port", port,
                                    "--response-style", "echo", "--log-level", "warning"],
                         f"http://127.0.0.1:{port}/health", workdir / "llmock.log").start()
    url = f"http://127.0.0.1:{port}"

    def reply(model: str, conversation: list[str]) -> str:
        prompt = " ".join(" ".join(conversation).split())
        return f"Hello! You said: {prompt[:120]}"

    def received() -> list[list[str]]:
        rows = get_json(url + "/_llmock/requests")["requests"]
        return [texts(r["body"].get("messages")) for r in rows
                if r["method"] == "POST" and r.get("status") == 200]

    def posted() -> list[list]:
        rows = get_json(url + "/_llmock/requests")["requests"]
        return [r["body"].get("messages") for r in rows
                if r["method"] == "POST" and r.get("status") == 200]

    return Gateway("llmock", url + "/v1", url + "/anthropic", {
        "openai": {"gpt-4o", "gpt-4o-mini"}, "anthropic": {"claude-sonnet-4-6"}},
        reply, received, proc, posted=posted)


def llmock_verdict(gateway: Gateway) -> dict:
    return get_json(gateway.anthropic_url.rsplit("/", 1)[0] + "/_llmock/verdict")


def llmock_admin(gateway: Gateway, path: str, body: dict | None = None) -> dict:
    url = gateway.anthropic_url.rsplit("/", 1)[0] + "/_llmock/" + path
    return post_json(url, body or {})


# --- fakellm ---------------------------------------------------------------------------

FAKELLM_FIRST = "fakellm: first answer"


def fakellm_reply(model: str, conversation: list[str]) -> str:
    """What tests/servers/fakellm.yaml makes fakellm answer."""
    if len(conversation) >= 3 and conversation[-2] == FAKELLM_FIRST:
        return "fakellm: saw the history"
    if "first question" in " ".join(conversation):
        return FAKELLM_FIRST
    return "fakellm: hello"


def start_fakellm(workdir: Path) -> Gateway:
    exe = installed("fakellm", "fakellm")
    shutil.copy(SERVERS / "fakellm.yaml", workdir / "fakellm.yaml")
    port = free_port()
    proc = ServerProcess("fakellm", [exe, "serve", "--host", "127.0.0.1", "--port", port,
                                     "--config", workdir / "fakellm.yaml"],
                         f"http://127.0.0.1:{port}/_fakellm/stats", workdir / "fakellm.log",
                         cwd=workdir).start()
    url = f"http://127.0.0.1:{port}"
    return Gateway("fakellm", url + "/v1", url, None, fakellm_reply, None, proc,
                   openai_stream_usage=False)
