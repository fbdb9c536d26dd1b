"""A fast OpenAI-style upstream for benchmarks/gateway.py (aiohttp, one process).

POST /v1/chat/completions answers at once: a whole JSON answer, or with "stream": true ten
chunks, a usage chunk and [DONE]. The model "hold" streams one chunk and then holds the
stream open (for counting what open streams cost a gateway).

A request whose "user" field is "pace:MS:N" is answered as a model answers: the first of N
chunks after MS milliseconds, then one every MS (then the usage chunk and [DONE]); not
streamed, the whole answer after N * MS. (The field passes through byok's gateway and
LiteLLM's proxy as the client sent it, so all three paths meet the same pace.)

    python benchmarks/upstream.py PORT
"""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import web

WHOLE = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1767225600,
    "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "hello from the benchmark upstream"}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}}).encode()


def _chunk(content: str | None, usage: dict | None = None) -> bytes:
    data = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "gpt-4o",
            "created": 1767225600,
            "choices": [] if content is None else [{"index": 0, "delta": {"content": content}}]}
    if usage:
        data["usage"] = usage
    return b"data: " + json.dumps(data).encode() + b"\n\n"


STREAM = (b"".join(_chunk(f"piece{i} ") for i in range(10))
          + _chunk(None, {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22})
          + b"data: [DONE]\n\n")


def pace(body: dict) -> tuple[float, int] | None:
    """(seconds before each chunk, chunks) when the request asks for a model's pace."""
    user = body.get("user")
    if isinstance(user, str) and user.startswith("pace:"):
        _, ms, n = user.split(":")
        return int(ms) / 1000, int(n)
    return None


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    paced = pace(body)
    if not body.get("stream"):
        if paced:
            await asyncio.sleep(paced[0] * paced[1])
        return web.Response(body=WHOLE, content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    if body.get("model") == "hold":
        await response.write(_chunk("first"))
        await asyncio.sleep(3600)
    if paced:
        delay, n = paced
        for i in range(n):
            await asyncio.sleep(delay)
            await response.write(_chunk(f"piece{i} "))
        await response.write(_chunk(None, {"prompt_tokens": 12, "completion_tokens": n,
                                           "total_tokens": 12 + n}) + b"data: [DONE]\n\n")
    else:
        await response.write(STREAM)
    await response.write_eof()
    return response


def main() -> None:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
