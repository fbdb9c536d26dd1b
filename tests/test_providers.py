"""The adapters, with the real SDKs over real HTTP against the fake provider server."""

import time

import pytest

from byok_cli.errors import ByokError, Code
from byok_cli.providers import ChatRequest, ChatResult, Settings, connect, retry_after
from byok_cli.registry import builtin
from conftest import anthropic_key, openai_key

FAST = Settings(timeout=3, connect_timeout=1, max_retries=2, max_wait=3)
PROVIDERS = ["openai", "anthropic"]


def key_for(provider, marker):
    return openai_key(marker) if provider == "openai" else anthropic_key(marker)


def adapter(fake, provider, marker, settings=FAST):
    url = fake.url + "/v1" if provider == "openai" else fake.url
    return connect(builtin().require(provider), key_for(provider, marker), url, settings)


def model_for(provider):
    return "gpt-6.2-sol" if provider == "openai" else "claude-sonnet-5-5"


def chat(fake, provider, marker, stream=True, prompt="hello there friend", model=None,
         settings=FAST):
    result = ChatResult()
    req = ChatRequest(model or model_for(provider), [{"role": "user", "content": prompt}],
                      system="be brief", max_tokens=50, stream=stream)
    pieces = []
    try:
        for piece in adapter(fake, provider, marker, settings).chat(req, result):
            pieces.append(piece)
    except ByokError as err:
        err.pieces = pieces
        raise
    return pieces, result


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [True, False])
def test_chat_success_with_usage(fake, provider, stream):
    pieces, result = chat(fake, provider, "good", stream=stream)
    expected = f"Echo[{model_for(provider)}]: hello there friend"
    assert "".join(pieces) == expected == result.text
    if stream:
        assert len(pieces) > 3  # really streamed
    assert result.input_tokens and result.output_tokens
    req = [r for r in fake.requests if r["method"] == "POST"][-1]
    assert req["key"] == key_for(provider, "good") and req["stream"] is stream
    if provider == "anthropic":
        assert req["system"] == "be brief" and req["messages"][0]["role"] == "user"
    else:
        assert req["messages"][0] == {"role": "system", "content": "be brief"}
        assert req["body"]["max_completion_tokens"] == 50


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("marker, code", [
    ("revoked", Code.UNAUTHORIZED),
    ("forbidden", Code.UNAUTHORIZED),
    ("quota", Code.QUOTA_EXCEEDED),
    ("servererr", Code.PROVIDER_UNAVAILABLE),
    ("overloaded", Code.PROVIDER_UNAVAILABLE),
    ("limitforever0", Code.RATE_LIMITED),
])
@pytest.mark.parametrize("stream", [True, False])
def test_error_mapping(fake, provider, marker, code, stream):
    with pytest.raises(ByokError) as err:
        chat(fake, provider, marker, stream=stream)
    assert err.value.code == code
    assert err.value.provider == provider
    assert err.value.hint or code == Code.PROVIDER_UNAVAILABLE


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_retry_where_retry_cannot_help(fake, provider):
    for marker in ("revoked", "quota", "forbidden"):
        with pytest.raises(ByokError):
            chat(fake, provider, marker)
        assert fake.seen_keys[key_for(provider, marker)] == 1, marker
    with pytest.raises(ByokError) as err:
        chat(fake, provider, "good", model="no-such-model")
    assert err.value.code == Code.MODEL_NOT_FOUND
    assert len([r for r in fake.requests if r["model"] == "no-such-model"]) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retries_what_can_succeed(fake, provider):
    pieces, _ = chat(fake, provider, "flaky")  # 500 once, then fine
    assert pieces and fake.seen_keys[key_for(provider, "flaky")] == 2
    pieces, _ = chat(fake, provider, "ratelimit0")  # 429 + Retry-After: 0 once
    assert pieces and fake.seen_keys[key_for(provider, "ratelimit0")] == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retries_are_bounded(fake, provider):
    with pytest.raises(ByokError) as err:
        chat(fake, provider, "servererr")
    assert fake.seen_keys[key_for(provider, "servererr")] == 1 + FAST.max_retries
    assert err.value.code == Code.PROVIDER_UNAVAILABLE


@pytest.mark.parametrize("provider", PROVIDERS)
def test_long_retry_after_is_not_waited_out(fake, provider):
    started = time.monotonic()
    with pytest.raises(ByokError) as err:
        chat(fake, provider, "limitforever9")  # Retry-After: 9 s > max_wait 3 s
    assert time.monotonic() - started < 2
    assert err.value.code == Code.RATE_LIMITED and err.value.retry_after == 9
    assert "retry after 9 s" in err.value.message


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("marker", ["drop", "streamerr", "malformed"])
def test_mid_stream_failures_are_partial_and_not_retried(fake, provider, marker):
    with pytest.raises(ByokError) as err:
        chat(fake, provider, marker)
    assert err.value.partial is True
    assert err.value.pieces  # some text was handed out before the failure
    assert err.value.code in (Code.NETWORK_ERROR, Code.PROVIDER_UNAVAILABLE)
    assert fake.seen_keys[key_for(provider, marker)] == 1


def test_anthropic_error_event_after_200_is_overloaded(fake):
    with pytest.raises(ByokError) as err:
        chat(fake, "anthropic", "streamerr")
    assert err.value.code == Code.PROVIDER_UNAVAILABLE and "overloaded" in err.value.message


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeout_is_a_network_error(fake, provider):
    fake.slow_seconds = 3
    settings = Settings(timeout=0.5, connect_timeout=0.5, max_retries=2, max_wait=3)
    started = time.monotonic()
    with pytest.raises(ByokError) as err:
        chat(fake, provider, "slow", settings=settings)
    assert time.monotonic() - started < 2.5  # a timeout is not retried
    assert err.value.code == Code.NETWORK_ERROR and "in time" in err.value.message


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_refused_is_a_network_error(provider):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    url = f"http://127.0.0.1:{port}" + ("/v1" if provider == "openai" else "")
    a = connect(builtin().require(provider), key_for(provider, "good"), url,
                Settings(timeout=1, connect_timeout=1, max_retries=1, max_wait=1))
    with pytest.raises(ByokError) as err:
        a.validate()
    assert err.value.code == Code.NETWORK_ERROR and "could not reach" in err.value.message


def test_echoed_key_is_masked(fake):
    key = openai_key("revoked")
    with pytest.raises(ByokError) as err:
        adapter(fake, "openai", "revoked").validate()
    assert key[:12] not in err.value.message and key[-8:] not in err.value.message
    assert "…" + key[-4:] in err.value.message


def test_openai_models_only_chat_models(fake):
    ids = [m.id for m in adapter(fake, "openai", "good").list_models()]
    assert "gpt-6.2-sol" in ids and "gpt-7-preview-fake" in ids
    assert not any(x in ids for x in ("whisper-1", "dall-e-3", "text-embedding-3-small",
                                      "tts-1", "omni-moderation-latest"))


def test_anthropic_models_follow_pagination(fake):
    ids = [m.id for m in adapter(fake, "anthropic", "good").list_models()]
    from fakeprovider import ANTHROPIC_MODELS

    assert ids == ANTHROPIC_MODELS  # more than one page
    assert len([r for r in fake.requests if r["path"] == "/v1/models"]) >= 3


def test_one_client_per_key_per_process(fake):
    a = adapter(fake, "openai", "good")
    b = adapter(fake, "openai", "good")
    assert a.client is b.client
    assert adapter(fake, "openai", "goodenv").client is not a.client


def test_retry_after_parsing():
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"retry-after": "7"}) == 7
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after({}) is None
