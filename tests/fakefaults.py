"""The failures tests/fakeprovider.py scripts, chosen by what the request's API key contains:

    key contains     behaviour
    ------------     ------------------------------------------------------------------------
    good             success (any other key that matches no marker below gets 401)
    revoked          401 (also on streaming requests)
    forbidden        403
    quota            OpenAI 429 insufficient_quota / Anthropic 400 credit balance too low
    ratelimitN       429 with Retry-After: N (and retry-after-ms) once, then success
    limitforeverN    429 with Retry-After: N every time
    servererr        500 every time
    flaky            500 on the first request of that key, then success
    overloaded       529 (Anthropic) / 503 (OpenAI)
    onceNNN          status NNN with retry-after-ms: 300 once, then success (503, 529, 404...)
    alwaysNNN        status NNN with Retry-After: 9 every time
    slow             sleeps `slow_seconds` before answering (to time out)
    drop             streams a few chunks, then drops the connection
    streamerr        200 then an error event mid-stream (Anthropic `error` event / OpenAI error chunk)
    malformed        streams invalid SSE data
    errorbody200     200 whose JSON body is an error object ("busy with another request")
    outage200        200 whose body is {"error": "Internal Server Error: upstream ..."}
    errstrNNN        status NNN, body {"error": "<text with control characters>"}
    errdetailNNN     status NNN, body {"detail": "..."}
    errhtmlNNN       status NNN, an HTML page (title, script, control characters)
    errlongNNN       status NNN, 5000 characters of plain text
    wholejson        a streamed request answered with one whole JSON body
    wholenoct        the same without a Content-Type
    nofinish         OpenAI: a stream whose chunks have no finish_reason, then [DONE]
    nostop           Anthropic: a stream that ends cleanly without message_stop
    gwtokens         Anthropic: input tokens 0 in message_start, 21 in message_delta
    sseclose         streams with Connection: close instead of chunks
    gzip             gzip-compressed answers (when the client accepts gzip)
    barelist         GET /v1/models answers a bare JSON array
    cursorloop       GET /v1/models: has_more forever, the same cursor each time
    endless          GET /v1/models: has_more forever, a new cursor each time
    usageneg         usage with input tokens -1000000 (prompt_tokens / input_tokens)
    usagehuge        usage with input tokens 99999999999999999999999
    usagefrac        usage with input tokens 1.5 and output tokens "7"
    usageover        usage of 5,000,000 input and 90,000,000 output tokens (plausible counts,
                     more than any request allows: a gateway billing what it likes)
    waitnan          429 every time with retry-after-ms: nan (waitinf: inf, waitneg: -5000)
    torrent          a streamed answer of 40 MiB of text in 64 KiB pieces, then a normal end
    keepalive        a stream of nothing but `: keepalive` comments every 0.5 s (for 20 s)
    pingforever      Anthropic: message_start, then only ping events every 0.5 s (for 20 s)
    gzipbomb         a 200 answer, gzip-encoded, that inflates to 300 MB of zeros
    echoes           400 whose message echoes the key whole, upper-cased, base64-encoded and
                     split across lines, with terminal escape sequences (a hostile gateway)
    encechoNAME      400 whose message echoes the key in one encoding NAME (ENCODINGS)
    hostile          success, but model ids and names carry terminal escape sequences
    trickle          streams one piece every 0.2 s, to be interrupted mid-answer

"""

from __future__ import annotations

import functools
import re
import time
import zlib

MARKERS = ("good", "revoked", "forbidden", "quota", "ratelimit", "limitforever", "servererr",
           "flaky", "overloaded", "once", "always", "slow", "drop", "streamerr", "malformed",
           "errorbody200", "outage200", "errstr", "errdetail", "errhtml", "errlong",
           "wholejson", "wholenoct", "nofinish", "nostop", "gwtokens", "sseclose", "gzip",
           "barelist", "cursorloop", "endless", "usageneg", "usagehuge", "usagefrac", "usageover", "waitnan",
           "waitinf", "waitneg", "torrent", "keepalive", "pingforever", "gzipbomb", "echoes", "encecho",
           "hostile", "trickle", "answerecho")
GATEWAY_TEXT = "upstream\x1b[31m said:\x00 no\u202e thanks"


def _number_after(key: str, marker: str, default: int = 0) -> int:
    found = re.search(re.escape(marker) + r"(\d+)", key)
    return int(found.group(1)) if found else default



def _html(key: str) -> str:
    return "".join(f"&#{ord(c)};" if i % 2 else f"&#x{ord(c):x};" for i, c in enumerate(key))


# How a hostile gateway may echo a key back (issue 27, item 7), each masked all the same.
ENCODINGS = {
    "hex": lambda k: k.encode().hex(),
    "reversed": lambda k: k[::-1],
    "percent": lambda k: "".join(f"%{b:02X}" for b in k.encode()),
    "spaced": lambda k: " ".join(k),
    "zerowidth": lambda k: "\u200b".join(k[i:i + 3] for i in range(0, len(k), 3)),
    "rot13": lambda k: __import__("codecs").encode(k, "rot13"),
    "html": _html,
}


BAD_WAITS = {"waitnan": "nan", "waitinf": "inf", "waitneg": "-5000"}  # retry-after-ms

# What a usage marker puts in place of the real counts: (input tokens, output tokens or None).
BAD_USAGE = {"usageneg": (-1_000_000, None), "usagehuge": (99999999999999999999999, None),
             "usagefrac": (1.5, "7"), "usageover": (5_000_000, 90_000_000)}


def scripted_usage(key: str, usage: dict, input_name: str, output_name: str) -> dict:
    """The usage block a key asks for: the real one unless a usage marker replaces counts."""
    for marker, (tokens_in, tokens_out) in BAD_USAGE.items():
        if marker in key:
            usage = {**usage, input_name: tokens_in}
            if tokens_out is not None:
                usage[output_name] = tokens_out
    return usage


TORRENT_BYTES = 40 * 1024 * 1024
TRICKLE_SECONDS = 20.0


@functools.lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """300 MB of zeros, gzip-compressed (about 300 KB), made once."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    return b"".join(z.compress(block) for _ in range(300)) + z.flush()


class Faults:
    """Mixed into the fake's request handler: sends the failure a key asks for."""

    def _refuse_by_key(self, key: str) -> bool:
        """Send the error the key asks for; return True when the request is finished."""
        anth = self._flavour() == "anthropic"
        n = self.server.count(key)
        if not any(m in key for m in MARKERS):
            # Like the real OpenAI API, echo a partly masked key back.
            shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
            if anth:
                self._error(401, "authentication_error", "invalid x-api-key")
            else:
                self._error(401, "invalid_request_error",
                            f"Incorrect API key provided: {shown}. You can find your API key at "
                            "https://platform.openai.com/account/api-keys.", "invalid_api_key")
            return True
        if "revoked" in key:
            self._error(401, "authentication_error" if anth else "invalid_request_error",
                        "This key has been revoked.", "invalid_api_key")
            return True
        if "forbidden" in key:
            self._error(403, "permission_error", "Your key lacks permission for this resource.")
            return True
        if "quota" in key:
            if anth:
                self._error(400, "invalid_request_error",
                            "Your credit balance is too low to access the Anthropic API. Please go to "
                            "Plans & Billing to upgrade or purchase credits.")
            else:
                self._error(429, "insufficient_quota",
                            "You exceeded your current quota, please check your plan and billing "
                            "details.", "insufficient_quota")
            return True
        if "limitforever" in key or ("ratelimit" in key and n == 0):
            marker = "limitforever" if "limitforever" in key else "ratelimit"
            wait = _number_after(key, marker)
            self._error(429, "rate_limit_error" if anth else "requests",
                        "Rate limit reached for requests.", "rate_limit_exceeded",
                        headers={"Retry-After": str(wait), "retry-after-ms": str(wait * 1000)})
            return True
        for marker, wait in BAD_WAITS.items():
            if marker in key:
                self._error(429, "rate_limit_error" if anth else "requests",
                            "Rate limit reached for requests.", "rate_limit_exceeded",
                            headers={"retry-after-ms": wait})
                return True
        if "servererr" in key or ("flaky" in key and n == 0):
            self._error(500, "api_error" if anth else "server_error", "The server had an error.")
            return True
        if "overloaded" in key:
            if anth:
                self._error(529, "overloaded_error", "Overloaded")
            else:
                self._error(503, "server_error", "The engine is currently overloaded.")
            return True
        if ("once" in key and n == 0) or "always" in key:
            status = _number_after(key, "once" if "once" in key else "always", 503)
            wait = {"retry-after-ms": "300", "Retry-After": "1"} if "once" in key else {
                "Retry-After": "9"}
            etype = "overloaded_error" if status == 529 else (
                "not_found_error" if status == 404 else "server_error")
            self._error(status, etype, f"scripted {status}", headers=wait)
            return True
        if "echoes" in key:
            self._echo_key(key)
            return True
        if "encecho" in key:
            name = re.search(r"encecho([a-z0-9]+)", key).group(1)
            self._error(400, "invalid_request_error", f"bad key: {ENCODINGS[name](key)} (sic)")
            return True
        for marker in ("errstr", "errdetail", "errhtml", "errlong"):
            if marker in key:
                self._gateway_error(marker, _number_after(key, marker, 502))
                return True
        if "slow" in key:
            time.sleep(self.server.slow_seconds)
        return False

    def _gateway_error(self, marker: str, status: int) -> None:
        if marker == "errstr":
            return self._send_json(status, {"error": GATEWAY_TEXT})
        if marker == "errdetail":
            return self._send_json(status, {"detail": "gateway detail: " + GATEWAY_TEXT})
        if marker == "errhtml":
            page = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
                    "<script>var secret = 1;</script></head><body><h1>Bad Gateway</h1>"
                    f"<p>The proxy said: {GATEWAY_TEXT} &amp; gave up.</p></body></html>")
            return self._send_body(status, page.encode(), "text/html")
        self._send_body(status, (("x" * 40 + "\x07") * 120 + "END").encode(), "text/plain")

    def _echo_key(self, key: str) -> None:
        import base64

        half = len(key) // 2
        self._error(400, "invalid_request_error",
                    f"bad key {key}; as sent: {key.upper()}; decoded from "
                    f"{base64.b64encode(('Basic ' + key).encode()).decode()}; "
                    f"wrapped: {key[:half]}\n{key[half:]} "
                    "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b1;1H\u202edone")

    def _mid_stream_fault(self, key: str, i: int, anthropic: bool) -> bool:
        """The fault a key asks for at the third piece; True when the stream must stop."""
        if "trickle" in key:
            time.sleep(0.2)
        if i != 2:
            return False
        if "drop" in key:
            self._drop()
            return True
        if "streamerr" in key:
            if anthropic:
                self._sse({"type": "error", "error": {"type": "overloaded_error",
                                                      "message": "Overloaded"}}, "error")
            else:
                self._sse({"error": {"message": "The server had an error while processing "
                                     "your request.", "type": "server_error"}})
        elif "malformed" in key:
            self._write(b"event: content_block_delta\ndata: {not json\n\n" if anthropic
                        else b"data: {not json\n\n")
        else:
            return False
        self._end_sse()
        return True

    def _endless_answer(self, key: str, anthropic: bool) -> bool:
        """An answer that is too big or never progresses; True when one was sent."""
        if "gzipbomb" in key:
            bomb = gzip_bomb()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(bomb)))
            self.end_headers()
            self.wfile.write(bomb)
            return True
        if not any(m in key for m in ("torrent", "keepalive", "pingforever")):
            return False
        self._start_sse()
        if anthropic:
            self._sse({"type": "message_start", "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": "m",
                "content": [], "usage": {"input_tokens": 1, "output_tokens": 1}}},
                "message_start")
        if "torrent" in key:
            piece = "x" * 65536
            for _ in range(TORRENT_BYTES // len(piece)):
                if anthropic:
                    self._sse({"type": "content_block_delta", "index": 0,
                               "delta": {"type": "text_delta", "text": piece}},
                              "content_block_delta")
                else:
                    self._sse({"choices": [{"index": 0, "delta": {"content": piece}}]})
            if anthropic:
                self._sse({"type": "message_stop"}, "message_stop")
            else:
                self._sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                self._sse("[DONE]")
        else:
            until = time.monotonic() + TRICKLE_SECONDS
            while time.monotonic() < until:
                if "pingforever" in key:
                    self._sse({"type": "ping"}, "ping")
                else:
                    self._write(b": keepalive\n\n")
                time.sleep(0.5)
        self._end_sse()
        return True
