"""byok's wire client (byok_cli.wire) over real HTTP against the fake provider server:
answers in every shape, error mapping, the retry policy, connection reuse."""

import time

import pytest

from byok_cli.errors import ByokError, Code
from byok_cli.wire import ChatRequest, ChatResult, Settings, connect
from byok_cli.wire.errors import retry_after
from conftest import anthropic_key, openai_key

FAST = Settings(timeout=3, connect_timeout=1, max_retries=2, max_wait=3)
PROVIDERS = ["openai", "anthropic"]
CONTROL = ("\x1b", "\x00", "\u202e", "\x07")


def key_for(provider, marker):
    return openai_key(marker) if provider == "openai" else anthropic_key(marker)


def client(fake, provider, marker, settings=FAST):
    url = fake.url + "/v1" if provider == "openai" else fake.url
    return connect(provider, key_for(provider, marker), url, settings)


def model_for(provider):
    return "gpt-6.2-sol" if provider == "openai" else "claude-sonnet-5-5"


def chat(fake, provider, marker, stream=True, prompt="hello there friend", model=None,
         settings=FAST):
    result = ChatResult()
    req = ChatRequest(model or model_for(provider), [{"role": "user", "content": prompt}],
                      system="be brief", max_tokens=50, stream=stream)
    pieces = []
    try:
        for piece in client(fake, provider, marker, settings).chat(req, result):
            pieces.append(piece)
    except ByokError as err:
        err.pieces = pieces
        raise
    return pieces, result


def posts(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [True, False])
def test_chat_success_with_usage(fake, provider, stream):
    pieces, result = chat(fake, provider, "good", stream=stream)
    expected = f"Echo[{model_for(provider)}]: hello there friend"
    assert "".join(pieces) == expected == result.text
    if stream:
        assert len(pieces) > 3  # really streamed
    assert result.input_tokens and result.output_tokens and result.finish_reason
    req = posts(fake)[-1]
    assert req["key"] == key_for(provider, "good") and req["stream"] is stream
    if provider == "anthropic":
        assert req["system"] == "be brief" and req["messages"][0]["role"] == "user"
        assert req["headers"]["x-api-key"] == key_for(provider, "good")
        assert "authorization" not in req["headers"]
        assert req["headers"]["anthropic-version"] == "2023-06-01"
    else:
        assert req["messages"][0] == {"role": "system", "content": "be brief"}
        assert req["body"]["max_completion_tokens"] == 50
        assert req["headers"]["authorization"] == "Bearer " + key_for(provider, "good")
        assert req["body"].get("stream_options") == ({"include_usage": True} if stream else None)


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
    for marker in ("revoked", "quota", "forbidden", "errorbody200"):
        with pytest.raises(ByokError):
            chat(fake, provider, marker)
        assert fake.seen_keys[key_for(provider, marker)] == 1, marker
    with pytest.raises(ByokError) as err:
        chat(fake, provider, "good", model="no-such-model")
    assert err.value.code == Code.MODEL_NOT_FOUND
    assert len([r for r in fake.requests if r["model"] == "no-such-model"]) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_404_on_models_is_never_retried(fake, provider):
    c = client(fake, provider, "always404")
    for call in (c.list_models, c.validate):
        with pytest.raises(ByokError) as err:
            call()
        assert err.value.code == Code.PROVIDER_UNAVAILABLE and not err.value.retryable
        assert "base URL" in err.value.hint
    assert fake.seen_keys[key_for(provider, "always404")] == 2  # once per call


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retries_what_can_succeed(fake, provider):
    pieces, _ = chat(fake, provider, "flaky")  # 500 once, then fine
    assert pieces and fake.seen_keys[key_for(provider, "flaky")] == 2
    pieces, _ = chat(fake, provider, "ratelimit0")  # 429 + Retry-After: 0 once
    assert pieces and fake.seen_keys[key_for(provider, "ratelimit0")] == 2


@pytest.mark.parametrize("provider, status", [("openai", 503), ("anthropic", 529),
                                              ("openai", 429), ("anthropic", 503)])
def test_retry_after_is_honoured_on_429_503_529(fake, provider, status):
    started = time.monotonic()
    pieces, _ = chat(fake, provider, f"once{status}")  # retry-after-ms: 300, then success
    waited = time.monotonic() - started
    assert pieces and fake.seen_keys[key_for(provider, f"once{status}")] == 2
    assert 0.3 <= waited < 0.3 + 0.5 * 2  # the provider's 300 ms, not the jittered backoff


@pytest.mark.parametrize("provider, status", [("openai", 503), ("anthropic", 529)])
def test_a_retry_after_beyond_the_budget_is_not_waited_out(fake, provider, status):
    started = time.monotonic()
    with pytest.raises(ByokError) as err:
        chat(fake, provider, f"always{status}")  # Retry-After: 9 s > max_wait 3 s
    assert time.monotonic() - started < 2
    assert err.value.code == Code.PROVIDER_UNAVAILABLE and err.value.retry_after == 9
    assert "retry after 9 s" in err.value.message
    assert fake.seen_keys[key_for(provider, f"always{status}")] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retries_are_bounded(fake, provider):
    with pytest.raises(ByokError) as err:
        chat(fake, provider, "servererr")
    assert fake.seen_keys[key_for(provider, "servererr")] == 1 + FAST.max_retries
    assert err.value.code == Code.PROVIDER_UNAVAILABLE


@pytest.mark.parametrize("provider", PROVIDERS)
def test_long_rate_limit_wait_is_not_waited_out(fake, provider):
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
@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("marker, code", [("errorbody200", Code.BAD_REQUEST),
                                          ("outage200", Code.PROVIDER_UNAVAILABLE)])
def test_a_200_whose_body_is_an_error_is_an_error(fake, provider, stream, marker, code):
    with pytest.raises(ByokError) as err:
        chat(fake, provider, marker, stream=stream)
    assert err.value.code == code and not err.value.pieces
    assert ("busy with another request" in err.value.message if marker == "errorbody200"
            else "upstream connect error" in err.value.message)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("marker", ["wholejson", "wholenoct"])
def test_a_streamed_request_answered_whole_is_accepted(fake, provider, marker):
    pieces, result = chat(fake, provider, marker, stream=True)
    assert pieces == [f"Echo[{model_for(provider)}]: hello there friend"]
    assert result.input_tokens and result.output_tokens
    assert posts(fake)[-1]["stream"] is True


def test_openai_stream_with_done_but_no_finish_reason_is_complete(fake):
    pieces, result = chat(fake, "openai", "nofinish")
    assert "".join(pieces) == "Echo[gpt-6.2-sol]: hello there friend"
    assert result.finish_reason is None and result.input_tokens == 11


def test_anthropic_stream_is_complete_only_at_message_stop(fake):
    with pytest.raises(ByokError) as err:
        chat(fake, "anthropic", "nostop")
    assert err.value.code == Code.NETWORK_ERROR and err.value.partial
    assert "".join(err.value.pieces) == "Echo[claude-sonnet-5-5]: hello there friend"
    assert "before the answer was complete" in err.value.message


def test_anthropic_input_tokens_from_message_delta(fake):
    _, result = chat(fake, "anthropic", "gwtokens")
    assert result.input_tokens == 21  # 0 in message_start, the count in message_delta
    _, result = chat(fake, "anthropic", "good")
    assert result.input_tokens == 13  # message_start only


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("marker, words", [
    ("errstr502", "upstream said: no thanks"),
    ("errdetail400", "gateway detail: upstream said: no thanks"),
    ("errhtml502", "502 Bad Gateway: Bad Gateway The proxy said: upstream said: no thanks & gave"),
    ("errlong500", "xxxxxxxx"),
])
def test_gateway_error_bodies_carry_their_text_cleaned(fake, provider, marker, words):
    with pytest.raises(ByokError) as err:
        chat(fake, provider, marker, stream=False)
    message = err.value.message
    assert words in message
    assert not any(c in message for c in CONTROL) and "var secret" not in message
    assert len(message) < 400 and "END" not in message  # cut
    expected = Code.BAD_REQUEST if marker.endswith("400") else Code.PROVIDER_UNAVAILABLE
    assert err.value.code == expected


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [True, False])
def test_gzip_answers(fake, provider, stream):
    pieces, result = chat(fake, provider, "gzip", stream=stream)
    assert "".join(pieces) == f"Echo[{model_for(provider)}]: hello there friend"
    assert posts(fake)[-1]["headers"]["accept-encoding"] == "gzip, deflate"
    assert client(fake, provider, "gzip").list_models()


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
    c = connect(provider, key_for(provider, "good"), url,
                Settings(timeout=1, connect_timeout=1, max_retries=1, max_wait=1))
    with pytest.raises(ByokError) as err:
        c.validate()
    assert err.value.code == Code.NETWORK_ERROR and "could not reach" in err.value.message


def test_echoed_key_is_masked(fake):
    key = openai_key("revoked")
    with pytest.raises(ByokError) as err:
        client(fake, "openai", "nosuchmarker").validate()
    assert "Incorrect API key" in err.value.message
    with pytest.raises(ByokError) as err:
        connect("openai", key, fake.url + "/v1", FAST).validate()
    assert key[:12] not in err.value.message and key[-8:] not in err.value.message


def test_openai_models_only_chat_models(fake):
    ids = [m.id for m in client(fake, "openai", "good").list_models()]
    assert "gpt-6.2-sol" in ids and "gpt-7-preview-fake" in ids
    assert not any(x in ids for x in ("whisper-1", "dall-e-3", "text-embedding-3-small",
                                      "tts-1", "omni-moderation-latest"))


def test_anthropic_models_follow_pagination(fake):
    ids = [m.id for m in client(fake, "anthropic", "good").list_models()]
    from fakeprovider import ANTHROPIC_MODELS

    assert ids == ANTHROPIC_MODELS  # more than one page
    pages = [r for r in fake.requests if r["path"] == "/v1/models"]
    assert len(pages) >= 3 and pages[0]["raw_query"] == "limit=100"
    assert pages[1]["query"] == {"after_id": ["claude-haiku-5-5"], "limit": ["100"]}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_bare_json_array_of_models_is_accepted(fake, provider):
    ids = [m.id for m in client(fake, provider, "barelist").list_models()]
    assert ("gpt-6.2-sol" if provider == "openai" else "claude-opus-5-5") in ids


@pytest.mark.parametrize("provider", PROVIDERS)
def test_model_paging_is_bounded(fake, provider):
    c = client(fake, provider, "cursorloop")
    assert [m.id[-2:] for m in c.list_models()] == ["p1"] and not c.truncated
    assert fake.seen_keys[key_for(provider, "cursorloop")] == 2  # stops when a cursor repeats
    c = client(fake, provider, "endless")
    assert len(c.list_models()) == c.max_pages and c.truncated
    assert fake.seen_keys[key_for(provider, "endless")] == c.max_pages


@pytest.mark.parametrize("provider", PROVIDERS)
def test_one_connection_is_reused_across_requests(fake, provider):
    for stream in (True, False, True):
        chat(fake, provider, "good", stream=stream)
    client(fake, provider, "good").validate()
    assert len(fake.connections()) == 1 and len(fake.requests) == 4
    chat(fake, provider, "sseclose")  # a server that closes after a stream
    chat(fake, provider, "good")
    assert len(fake.connections()) == 2


def test_a_bug_is_not_a_network_error(fake):
    """A TypeError inside byok (here: a value JSON cannot carry) is raised as itself: not a
    ByokError, so neither retried nor a reason to fall back; nothing is sent."""
    c = client(fake, "openai", "good")
    req = ChatRequest("gpt-4o", [{"role": "user", "content": "hi"}], temperature=object())
    with pytest.raises(TypeError):
        list(c.chat(req, ChatResult()))
    assert fake.requests == []


def test_retry_after_parsing():
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"Retry-After": "7"}) == 7
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after({"retry-after": "soon"}) is None
    for bad in ("nan", "inf", "-infinity", "-1", "1e400"):  # ignored, never "retry after 0 s"
        assert retry_after({"retry-after-ms": bad}) is None
        assert retry_after({"retry-after": bad}) is None
        assert retry_after({"retry-after-ms": bad, "retry-after": "2"}) == 2
    assert retry_after({}) is None


def test_localhost_is_reached_without_asking_a_resolver(fake, monkeypatch):
    """A key goes over plain http to "localhost" only because it stays on this machine, so
    the name must not be looked up (a resolver or /etc/hosts could send it anywhere)."""
    import socket

    from byok_cli.wire import transport

    real = socket.getaddrinfo

    def no_lookup_of_localhost(host, *args, **kwargs):
        if str(host).lower().startswith("localhost"):
            raise socket.gaierror("no resolver for localhost in this test")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup_of_localhost)
    port = fake.url.rsplit(":", 1)[1]
    answer = transport.request("GET", f"http://localhost:{port}/v1/models",
                               {"Authorization": "Bearer " + openai_key("good")}, None, FAST)
    assert answer.status == 200
    assert fake.requests[-1]["path"] == "/v1/models"
