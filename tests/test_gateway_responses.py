"""The gateway's OpenAI Responses path (`/openai/responses`), driven by the official openai SDK:
the usage the answer reports (in the whole response, or only in a stream's
`response.completed` event) is recorded with its tokens and cost, the same as the same
exchange through chat completions. Against the fake provider's /v1/responses route.
(tests/test_prism.py sends a Responses request through the gateway to Prism too.)"""

from __future__ import annotations

import pytest

from test_gateway import gateway, keys, token, usage_rows  # noqa: F401 (fixtures)

PROMPT = "a cached question"  # the fake reports 8 of the 11 prompt tokens as cached


def rows_by_token(env) -> dict[str, dict]:
    return {r["token"]: r for r in usage_rows(env) if r["provider"] == "openai"}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_responses_usage_is_recorded_with_tokens_and_cost(keys, gateway, fake,  # noqa: F811
                                                          stream):
    import openai

    def client(name: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=gateway.url + "/openai", api_key=token(keys, name),
                             max_retries=0)

    responses, chat = client("responses"), client("chat")
    if stream:
        events = list(responses.responses.create(model="gpt-4o", input=PROMPT, stream=True))
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert events[-1].type == "response.completed"
        pieces = chat.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": PROMPT}], stream=True,
            stream_options={"include_usage": True})
        said = "".join(c.choices[0].delta.content or "" for c in pieces if c.choices)
    else:
        text = responses.responses.create(model="gpt-4o", input=PROMPT).output_text
        said = chat.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": PROMPT}]
        ).choices[0].message.content
    assert text == said == "Echo[gpt-4o]: a cached question"
    posts = [r for r in fake.requests if r["method"] == "POST"]
    assert [r["path"] for r in posts] == ["/v1/responses", "/v1/chat/completions"]
    assert posts[0]["body"]["input"] == PROMPT  # the client's body, unchanged

    rows = rows_by_token(keys)
    assert set(rows) == {"responses", "chat"}
    got = rows["responses"]
    assert got["requests"] == 1
    assert (got["input_tokens"], got["output_tokens"]) == (11, 4)
    # gpt-4o: 3 input tokens at $2.50/M, 8 cached at $1.25/M, 4 output at $10/M (whole µ$;
    # uncached it would be 67.5 µ$)
    assert got["cost_usd"] == pytest.approx((3 * 2.5 + 8 * 1.25 + 4 * 10) / 1e6, abs=1e-6)
    # the same as the same exchange through chat completions
    assert {k: got[k] for k in ("input_tokens", "output_tokens", "cost_usd")} == \
        {k: rows["chat"][k] for k in ("input_tokens", "output_tokens", "cost_usd")}
