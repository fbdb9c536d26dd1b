"""The SDK side of the contract tests: make calls with the official SDKs, as a script.

Run by any Python that has the ``openai`` and ``anthropic`` packages (the test venv, or a
venv with other SDK versions), so one test session can hold byok to several SDK releases.
Reads ``{"calls": [...]}`` as JSON on stdin; each call is

    {"protocol": "openai" | "anthropic", "base_url": ..., "key": ...,
     "op": "chat" | "models" | "models_first_page", "params": {...}}

and prints ``{"versions": {...}, "results": [{"ok": true} | {"error": TYPE, "message": ...}]}``.
The requests themselves are what the capture server records; the results only say whether
the SDK accepted the call at all (a TypeError means it no longer takes a parameter).
"""

from __future__ import annotations

import json
import sys


def client_for(call: dict):
    if call["protocol"] == "openai":
        import openai

        return openai.OpenAI(api_key=call["key"], base_url=call["base_url"], max_retries=0)
    import anthropic

    return anthropic.Anthropic(api_key=call["key"], base_url=call["base_url"], max_retries=0)


def perform(call: dict) -> None:
    client, params, op = client_for(call), dict(call.get("params") or {}), call["op"]
    if op == "models":  # the whole list: iterating a page follows the next ones
        list(client.models.list(**params))
    elif op == "models_first_page":
        client.models.list(**params)
    elif call["protocol"] == "openai":
        reply = client.chat.completions.create(**params)
        if params.get("stream"):
            list(reply)
    else:
        reply = client.messages.create(**params)
        if params.get("stream"):
            list(reply)


def main() -> None:
    import anthropic
    import openai

    calls = json.load(sys.stdin)["calls"]
    results = []
    for call in calls:
        try:
            perform(call)
            results.append({"ok": True})
        except Exception as exc:  # reported to the test, which decides what it means
            results.append({"error": type(exc).__name__, "message": str(exc)[:500]})
    json.dump({"versions": {"openai": openai.__version__, "anthropic": anthropic.__version__,
                            "python": sys.version.split()[0]}, "results": results},
              sys.stdout)


if __name__ == "__main__":
    main()
