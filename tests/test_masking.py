"""What byok prints (issue 11, items 8, 9 and 11): keys masked however they are echoed back,
settings that look like a key refused, text from a provider stripped of control and escape
characters (but the answer on stdout passed through as is)."""

import base64
import json
import re

import pytest

from byok_cli.errors import Code
from conftest import OPENAI_GOOD, openai_key

ECHOES = openai_key("echoes")                  # the fake server echoes it back every way
GATEWAY_TOKEN = "gw_echoes_Tq8Wm3Xr6Zp1Lv5Nb9Kc2Hd7"  # an environment key without sk-
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def secret_body(key: str) -> str:
    return re.sub(r"^sk-(?:(?:proj|ant|api\d\d)-)*", "", key)


def assert_masked(key: str, *texts: str) -> None:
    """No run of 8 characters of the key's secret part, in any case, nor a piece of its
    base64 encoding at any alignment, appears in the texts."""
    body = secret_body(key)
    pieces = {body[i:i + 8].lower() for i in range(len(body) - 7)}
    raw = body.encode()
    for offset in range(3):
        whole = base64.b64encode(raw[offset:offset + (len(raw) - offset) // 3 * 3]).decode()
        pieces |= {whole[i:i + 8].lower() for i in range(len(whole) - 7)}
    for text in texts:
        low = text.lower()
        leaked = [p for p in pieces if p in low]
        assert not leaked, f"key material {leaked[:3]} in {text!r}"


# --- item 8: masking catches every echo -------------------------------------------------------

def test_a_key_echoed_whole_upper_cased_base64_or_split_is_masked_everywhere(byok_env, fake):
    byok_env.set_key("openai", ECHOES)
    runs = [byok_env.run("run", "--no-fallback", "hi"),
            byok_env.run("--debug", "run", "--no-fallback", "hi"),
            byok_env.run("run", "--json", "--no-fallback", "hi"),
            byok_env.run("key", "validate", "openai", "--json"),
            byok_env.run("key", "validate", "openai"),
            byok_env.run("key", "set", "openai", input=ECHOES)]  # checked live: warns
    assert runs[0].returncode == Code.BAD_REQUEST.exit_status
    assert "bad key sk-proj-…" in runs[0].stderr and "as sent: SK-PROJ-…" in runs[0].stderr
    assert "Traceback" in runs[1].stderr
    assert json.loads(runs[3].stdout)[0]["result"] == "BAD_REQUEST"
    assert "storing it as unverified" in runs[5].stderr  # a 400 is no verdict on the key
    for r in runs:
        assert_masked(ECHOES, r.stdout, r.stderr)


def test_an_environment_key_of_any_shape_is_masked(byok_env, fake):
    env = {"OPENAI_API_KEY": GATEWAY_TOKEN}
    runs = [byok_env.run("run", "-p", "openai", "--no-fallback", "hi", env=env),
            byok_env.run("--debug", "run", "-p", "openai", "--no-fallback", "hi", env=env),
            byok_env.run("key", "validate", "--json", env=env)]
    assert runs[0].returncode == Code.BAD_REQUEST.exit_status
    assert fake.requests[0]["key"] == GATEWAY_TOKEN  # it was sent, and echoed back
    for r in runs:
        assert_masked(GATEWAY_TOKEN, r.stdout, r.stderr)


@pytest.mark.parametrize("argv", [
    ["key", "set", "openai", OPENAI_GOOD],
    ["key", "set", OPENAI_GOOD],
    ["key", "set", "anthropic", "--no-validate", "my-gateway-token-Tq8Wm3Xr6Zp1"],
])
def test_a_key_typed_on_the_command_line_is_refused_masked_and_explained(byok_env, argv):
    r = byok_env.run(*argv)
    assert r.returncode == Code.USAGE.exit_status
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "never taken from the command line" in lines[0]
    assert "prompt" in lines[0] and "printf %s" in lines[0]
    assert_masked(argv[-1], r.stdout, r.stderr)
    assert json.loads(byok_env.run("key", "list", "--json").stdout)[0]["stored"] is False


def test_byoks_own_wording_is_not_garbled(byok_env):
    r = byok_env.run("key", "set", "anthropic", "--no-validate", input="sk-ant-!!")
    assert r.returncode == Code.INVALID_FORMAT.exit_status
    assert "(sk-ant-api03-…)" in r.stderr
    o = byok_env.run("key", "set", "openai", "--no-validate", input="pk-nope-123456789")
    assert "(sk-… or sk-proj-…)" in o.stderr


def test_masking_unit():
    from byok_cli.errors import mask, redact, remember_secret

    key = "sk-proj-unitTest-Zq1Wx2Ec3Rv4Tb5Yn6Um7"
    remember_secret(key)
    assert redact(f"got {key}") == "got sk-proj-…6Um7"
    assert redact(f"GOT {key.upper()}") == "GOT SK-PROJ-…6UM7"
    assert redact("part " + key[12:24]) == "part …"
    assert "Zq1W" not in redact(base64.urlsafe_b64encode(b"x:" + key.encode()).decode())
    assert redact("a sk-ant-api03-… and sk-… or sk-proj-…") == \
        "a sk-ant-api03-… and sk-… or sk-proj-…"
    assert redact("sk-proj-****************abcd") == "…abcd" == mask("sk-proj-xxxxabcd")
    assert redact("https://me:pw@h/x and https://tok@h") == "https://me:***@h/x and https://***@h"


# --- item 9: settings that look like a key --------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["config", "set", "openai.model", OPENAI_GOOD],
    ["config", "set", "anthropic.base_url", f"https://gw.example.com/{OPENAI_GOOD}/v1"],
    ["config", "set", "openai.base_url", f"https://gw.example.com/v1?key={OPENAI_GOOD}"],
    ["models", "default", OPENAI_GOOD],
    ["run", "-m", OPENAI_GOOD, "hi"],
])
def test_settings_that_look_like_a_key_are_refused(byok_env, fake, args):
    r = byok_env.run(*args)
    assert r.returncode == Code.USAGE.exit_status
    assert "looks like an API key" in r.stderr
    assert_masked(OPENAI_GOOD, r.stdout, r.stderr)
    shown = byok_env.run("config", "show", "--json").stdout
    assert secret_body(OPENAI_GOOD)[:8] not in shown and fake.requests == []


def test_a_prompt_with_a_key_is_sent_with_a_warning_about_the_history(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    prompt = f"why does {openai_key('other')} fail?"
    r = byok_env.run("run", prompt)
    assert r.returncode == 0 and fake.requests[-1]["messages"][-1]["content"] == prompt
    assert "looks like an API key" in r.stderr and "--no-log" in r.stderr
    quiet = byok_env.run("run", "--no-log", prompt)
    assert quiet.returncode == 0 and "looks like" not in quiet.stderr
    plain = byok_env.run("run", "no key in this one")
    assert "looks like" not in plain.stderr


# --- item 11: text from a provider or gateway ------------------------------------------------

def test_model_names_and_errors_from_a_gateway_lose_their_escape_sequences(byok_env, fake):
    env = {"OPENAI_API_KEY": openai_key("hostile"),
           "ANTHROPIC_API_KEY": "sk-ant-api03-hostile-M1n2b3v4c5x6z7l8k9"}
    table = byok_env.run("models", "list", "--remote", env=env)
    as_json = byok_env.run("models", "list", "--remote", "--json", "--refresh", env=env)
    assert table.returncode == 0 and as_json.returncode == 0
    assert "gpt-evil" in table.stdout and not CONTROL.search(table.stdout)
    rows = json.loads(as_json.stdout)
    assert not any(CONTROL.search(r["id"] + (r["name"] or "")) for r in rows)
    assert not CONTROL.search(as_json.stdout.encode().decode("unicode_escape", "ignore"))
    byok_env.set_key("openai", ECHOES)
    err = byok_env.run("run", "--no-fallback", "hi")
    assert "done" in err.stderr and not CONTROL.search(err.stderr.replace("\n", ""))


def test_the_answer_on_stdout_passes_through_as_is(byok_env, fake):
    byok_env.set_key("openai", OPENAI_GOOD)
    r = byok_env.run("run", "say \x1b[1mbold\x1b[0m")
    assert r.returncode == 0 and "\x1b[1mbold\x1b[0m" in r.stdout


def _decodings(text: str) -> list[str]:
    """The text as each encoding a gateway may use would decode it."""
    import codecs
    import html
    from urllib.parse import unquote

    plain = re.sub(r"[ \u200b]", "", text)
    out = [text, plain, text[::-1], codecs.encode(text, "rot13"), unquote(text), html.unescape(text)]
    for run in re.findall(r"[0-9a-fA-F]{16,}", text):
        out.append(bytes.fromhex(run[:len(run) // 2 * 2]).decode("latin-1"))
    return out


@pytest.mark.parametrize("encoding", ["hex", "reversed", "percent", "spaced", "zerowidth",
                                      "rot13", "html"])
def test_a_key_echoed_in_an_encoding_is_masked(byok_env, fake, encoding):
    key = openai_key(f"encecho{encoding}")
    byok_env.set_key("openai", key)
    for r in (byok_env.run("run", "--no-fallback", "hi"),
              byok_env.run("run", "--json", "--no-fallback", "hi"),
              byok_env.run("key", "validate", "openai")):
        assert r.returncode == Code.BAD_REQUEST.exit_status, r.stderr
        assert "(sic)" in r.stderr or "(sic)" in r.stdout  # the message itself is shown
        for text in (r.stdout, r.stderr):
            for decoded in _decodings(text):
                assert_masked(key, decoded)


# --- attack2 F4: a key the answer echoes, cut across stream events, gzip-encoded -----------

@pytest.mark.parametrize("marker,flags", [("answerecho", ()), ("answerechogzip", ()),
                                          ("answerechogzip", ("--no-stream",))])
def test_a_key_echoed_in_the_answer_is_masked_on_stdout_and_in_the_history(
        byok_env, fake, marker, flags):
    key = openai_key(marker)
    byok_env.set_key("openai", key)
    runs = [byok_env.run("run", "--no-fallback", *flags, "hi"),
            byok_env.run("chat", "--no-fallback", input="hi\n/quit\n")]
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert "the key: sk-proj-…" + key[-4:] + " end" in r.stdout  # shown, masked
        assert_masked(key, r.stdout, r.stderr)
    body = secret_body(key).encode()
    assert not [p for p in byok_env.files() if body in p.read_bytes()]  # not on disk


def test_a_json_answer_that_echoes_a_key_is_masked(byok_env, fake):
    key = openai_key("answerecho")
    byok_env.set_key("openai", key)
    r = byok_env.run("run", "--no-fallback", "--schema", '{"type": "object"}', "hi")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"key": "sk-proj-…" + key[-4:]}


def test_streamed_text_is_masked_however_it_is_cut():
    from byok_cli.errors import redact, remember_secret
    from byok_cli.redacting import RedactingStream

    key = "sk-proj-Str3amCutQ8w7e6r5t4y3u2i1o0pZ"
    remember_secret(key)
    spaced = " ".join(key[i:i + 3] for i in range(0, len(key), 3))
    texts = [f"the key: {key} end", f"x\n{key.upper()}\nmore words here",
             f"spaced out: {spaced} done", f"中文{key}。", "plain words, no key at all"]
    for text in texts:
        whole = redact(text)
        assert key[8:16] not in whole.replace(" ", "")
        for cut in range(1, len(text)):
            for cuts in ((cut,), (cut, (cut + 7) % len(text))):
                got: list[str] = []
                stream = RedactingStream(got.append)
                edges = [0, *sorted(set(cuts)), len(text)]
                for a, b in zip(edges, edges[1:]):
                    stream(text[a:b])
                stream.end()
                assert "".join(got) == whole, (text, cuts)
    got = []
    stream = RedactingStream(got.append)
    stream("first line\nsecond")
    assert got == ["first line\n"]  # only what could still grow into a key is held back


def test_an_eager_stream_holds_back_only_what_could_begin_a_key():
    """The gateway's mode (eager): a key cut anywhere is masked as whole text is; ordinary
    text is shown as it comes, and only a key-shaped run, or the start of a remembered
    key's piece, waits for the rest."""
    from byok_cli.errors import redact, remember_secret
    from byok_cli.redacting import RedactingStream

    key = "sk-proj-Eag3rCutQ8w7e6r5t4y3u2i1o0pZ"
    custom = "Zq9Xw8Cv7Bn6Mm5Lk4Jh3Gf2"  # a key of no known shape, remembered
    remember_secret(key)
    remember_secret(custom)
    for secret in (key, custom):
        text = f"the key: {secret} end."
        for cut in range(1, len(text)):
            for cuts in ((cut,), (cut, (cut + 7) % len(text))):
                stream = RedactingStream(eager=True)
                edges = [0, *sorted(set(cuts)), len(text)]
                shown = "".join(stream.feed(text[a:b]) for a, b in zip(edges, edges[1:]))
                shown += stream.rest()
                assert shown == redact(text) and secret[8:16] not in shown, (text, cuts)
    stream = RedactingStream(eager=True)
    assert stream.feed("Hello, how are you? I am a cat.") == "Hello, how are you? I am a cat."
    assert stream.feed("Fine, thanks: ") == "Fine, thanks: "
    assert stream.feed("your key is sk-pr") == "your key is " and stream.held == "sk-pr"
    # "!" ends the run: a short word last could wait, as the start of a piece of a key some
    # other test in this process remembered
    assert stream.feed(key[5:12]) == "" and stream.feed(key[12:] + " ok!") == (
        redact(key) + " ok!")
    assert stream.feed("keys: Zq9X") == "keys: " and stream.feed("w8Cv7Bn6Mm5Lk4Jh3Gf2\n") \
        == redact(custom) + "\n"


def test_an_eager_stream_reads_the_run_it_showed_as_context():
    """Without key shapes (a tool name's first delta, which some clients take whole): held
    only for a remembered key's start, never for ending as a key shape begins. What
    follows a key shape shown so is held as that key's run, and masked with it."""
    from byok_cli.errors import remember_secret
    from byok_cli.redacting import RedactingStream

    key = "sk-proj-C0ntextQ8w7e6r5t4y3u2i1o0pZ"
    remember_secret(key)
    assert RedactingStream(eager=True, shapes=False).feed("get_task") == "get_task"
    assert RedactingStream(eager=True).feed("get_task") == ""  # as text: held
    assert RedactingStream(eager=True, shapes=False).feed("x_C0nt") == ""  # key's start
    stream = RedactingStream(eager=True, shapes=False)
    assert stream.feed("f_sk-") == "f_sk-"
    stream.shapes = True  # its later deltas: as text, the shown "sk-" their context
    assert stream.feed("proj") == "" and stream.feed("-C0ntextQ8w7e") == ""
    assert stream.feed("6r5t4y3u2i1o0pZ") == ""
    shown = stream.rest()
    assert shown.endswith("…" + key[-4:]) and "C0ntext" not in shown, shown
    stream = RedactingStream(eager=True, shapes=False)  # a key shape byok never handled
    assert stream.feed("f_sk-proj-") == "f_sk-proj-"
    stream.shapes = True
    assert stream.feed("Unkn0wnK3yZ") == "" and "Unkn0wn" not in stream.rest()


def test_reasoning_that_echoes_a_key_in_pieces_is_masked(byok_env, scripted):
    """The reasoning (stderr, --show-reasoning) is masked across its pieces too, and what it
    holds back comes out before the answer."""
    from support.answer_shapes import openai_stream

    key = openai_key("good")
    base = {"id": "c", "object": "chat.completion.chunk", "model": "deepseek-reasoner"}
    cut = [f"I saw {key[:13]}", key[13:21], f"{key[21:]} in", " the request."]
    events = [(None, {**base, "choices": [{"index": 0, "delta": {"reasoning_content": p},
                                          "finish_reason": None}]}) for p in cut]
    scripted.queue = [(200, events + openai_stream("stop")[1:])]
    byok_env.set_key("openai", key)
    r = byok_env.run("run", "-p", "openai", "--show-reasoning", "hi",
                     env={"OPENAI_BASE_URL": scripted.url + "/v1"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "partial answer\n"
    assert r.stderr == f"I saw sk-proj-…{key[-4:]} in the request.\n"
    assert_masked(key, r.stderr)


def test_a_stream_with_nowhere_to_cut_is_masked_alike_and_held_bounded():
    """One run of key-alphabet text (a hostile answer) gives RedactingStream no natural cut:
    it cuts where masking each side provably equals masking the whole, so what it holds
    stays bounded, and the output is still what masking the whole text gives."""
    import random

    from byok_cli import errors, redacting

    key = "sk-proj-streamRunKey-Q1w2e3r4t5y6u7i8o9PZ"
    errors.remember_secret(key)
    rng = random.Random(7)
    texts = ["x" * 3_000_000] + ["".join(rng.choice(
        ["x" * rng.randint(1, 200_000), key, key.upper(), "-"]) for _ in range(12))
        for _ in range(5)]
    for text in texts:
        out, most = [], 0
        stream = redacting.RedactingStream(out.append)
        for at in range(0, len(text), 4096):
            stream(text[at:at + 4096])
            most = max(most, len(stream.held))
        stream.end()
        assert "".join(out) == errors.redact(text)
        assert key[4:-4] not in "".join(out) and key.upper()[4:-4] not in "".join(out)
        if key not in text:  # a run glued to a key may be held whole: it looks like one key
            assert most <= redacting._HOLD + 4096, most
