"""Error codes, exit statuses and key redaction.

Every failure byok reports is a :class:`ByokError` carrying one of the codes below.
The command layer prints ``error: <message>`` (plus a hint) on one line of stderr and
exits with the code's status; no traceback reaches the user.
"""

from __future__ import annotations

import enum
import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (every command's start)
if TYPE_CHECKING:
    from collections.abc import Callable


class Code(str, enum.Enum):
    """The design's error codes, extended for the CLI. The value is the exit status."""

    def __new__(cls, name: str, exit_status: int):
        obj = str.__new__(cls, name)
        obj._value_ = name
        obj.exit_status = exit_status  # type: ignore[attr-defined]
        return obj

    INTERNAL = ("INTERNAL", 1)
    USAGE = ("USAGE", 2)
    INVALID_FORMAT = ("INVALID_FORMAT", 3)
    NO_KEY = ("NO_KEY", 4)
    UNAUTHORIZED = ("UNAUTHORIZED", 5)
    QUOTA_EXCEEDED = ("QUOTA_EXCEEDED", 6)
    RATE_LIMITED = ("RATE_LIMITED", 7)
    MODEL_NOT_FOUND = ("MODEL_NOT_FOUND", 8)
    PROVIDER_UNAVAILABLE = ("PROVIDER_UNAVAILABLE", 9)
    NETWORK_ERROR = ("NETWORK_ERROR", 10)
    BAD_REQUEST = ("BAD_REQUEST", 11)
    KEYRING_UNAVAILABLE = ("KEYRING_UNAVAILABLE", 12)
    DECRYPT_FAILED = ("DECRYPT_FAILED", 13)
    STORE_ERROR = ("STORE_ERROR", 14)
    INCOMPLETE_OUTPUT = ("INCOMPLETE_OUTPUT", 15)
    BUDGET_EXCEEDED = ("BUDGET_EXCEEDED", 16)
    DECLINED = ("DECLINED", 17)            # "no" to a confirmation: nothing was changed
    NEEDS_ATTENTION = ("NEEDS_ATTENTION", 18)  # doctor found warnings (and no failure)
    REFUSED = ("REFUSED", 19)              # the model refused, or a content filter stopped it
    TRUNCATED = ("TRUNCATED", 20)          # cut off at the token limit, under --strict
    UNEXPECTED_TOOL_CALL = ("UNEXPECTED_TOOL_CALL", 21)  # the answer was only a tool call
    SCHEMA_MISMATCH = ("SCHEMA_MISMATCH", 22)  # --schema: the answer is not JSON or breaks it
    LIMIT_EXCEEDED = ("LIMIT_EXCEEDED", 23)  # a server's answer passed a bound (wire/limits.py)
    ATTACHMENT_REFUSED = ("ATTACHMENT_REFUSED", 24)  # -a: over the API's limit, or the model
    #                                                  takes no images/PDFs; nothing sent
    NOT_EXECUTABLE = ("NOT_EXECUTABLE", 126)   # exec: the shell's codes for these two
    COMMAND_NOT_FOUND = ("COMMAND_NOT_FOUND", 127)
    INTERRUPTED = ("INTERRUPTED", 130)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop like Ctrl-C (the usage row is written), exit 128 + signal."""

    def __init__(self, signum: int, name: str):
        super().__init__(name)
        self.signum, self.name = signum, name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class ByokError(Exception):
    """A failure with a code, a one-line message and, optionally, what to do about it."""

    def __init__(self, code: Code, message: str, *, hint: str | None = None,
                 provider: str | None = None, retry_after: float | None = None,
                 retryable: bool = True):
        message = strip_controls(redact(message))
        super().__init__(message)
        self.code = code
        self.retryable = retryable  # False: retrying cannot help (e.g. a timeout already waited)
        self.partial = False  # True: it failed after some output had been shown
        self.message = message
        self.hint = strip_controls(redact(hint)) if hint else None
        self.provider = provider
        self.retry_after = retry_after

    @property
    def exit_status(self) -> int:
        return self.code.exit_status  # type: ignore[attr-defined]

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message} — {self.hint}"
        return " ".join(text.split())

    def to_dict(self) -> dict:
        return {"code": self.code.value, "message": self.message, "hint": self.hint,
                "provider": self.provider}


# --- masking -------------------------------------------------------------------------
# (Patterns are compiled on first use, through re's cache: most runs print nothing.)
#
# Every secret this process handles (a decrypted key, an environment key, a master key) is
# remembered as the set of its 8-character pieces, lower-cased, and those of its base64,
# hex, reversed and rot13 forms. ``redact`` looks only inside runs of key-alphabet
# characters at least 8 long and masks every stretch covered by such pieces: a key echoed
# whole, in part, upper-cased, split across lines or so encoded. Forms that leave the key
# alphabet (percent-encoding, HTML entities, characters spaced out or split by zero-width
# characters) are decoded run by run first (_ENCODED), and a run that then holds a key is
# shown decoded and masked. Without remembered secrets it costs two regex scans.

_PIECE = 8
# piece -> True when it is the end of a key (whose last 4 characters may be shown)
_PIECES: dict[str, bool] = {}
_SEEN: set[str] = set()
_BODIES: list[str] = []  # the secret parts, lower-cased, for a quick whole-key search
_PIECE_STARTS: set[str] = set()  # the first 1 to 7 characters of each piece of a secret part
_RUN = r"[A-Za-z0-9_+/=.~\-]{%d,}" % _PIECE
# The public prefixes of provider keys: not secret, and byok's own messages quote them.
_PUBLIC_PREFIX = r"sk-(?:(?:ant|proj|svcacct|None|admin|api\d\d|admin\d\d)-)*+"
# A provider key byok never handled, including the starred echo some APIs send back
# ("sk-proj-****abcd"): 8 or more characters after the public prefix. Besides sk- (OpenAI,
# Anthropic, OpenRouter's sk-or-v1-, DeepSeek), the documented prefixes of the presets'
# keys (data/providers.json): Groq gsk_, Gemini (Google AI Studio) AIza, Together tgp_v1_.
# Those need a long run after the prefix (real keys have 35 to 52 characters there), so
# that ordinary text that happens to start so is left alone.
# A bare "sk-" must start a word ("risk-assessment-…" is no key); the providers' own
# prefixes (sk-proj-, sk-ant-, gsk_, AIza, …) are rare enough to be found glued to a word.
_KEYLIKE = (r"(?:\bsk-|sk-(?=(?:ant|proj|svcacct|admin)-))"
            r"(?:(?:ant|proj|svcacct|None|admin|api\d\d|admin\d\d)-)*+"
            r"[A-Za-z0-9_*\-]{8,}"
            r"|(?:gsk_|AIza|tgp_v1_)[A-Za-z0-9_*\-]{20,}")
_KEY_PREFIXES = ("sk-", "gsk_", "AIza", "tgp_v1_")  # a quick test before the regex
# Credentials in a URL: https://user:password@host, https://token@host
_URL_USERINFO = r"(\b[A-Za-z][A-Za-z0-9+.\-]*://)([^/?#@\s]*)@"


_PHRASES: list[str] = []  # passphrases of words: masked only whole (see remember_phrase)


def remember_phrase(phrase: str) -> None:
    """Mask a passphrase in everything printed from now on. One of several words is masked
    only whole: its pieces are ordinary words ("passphrase"), and masking those would garble
    byok's own messages. A passphrase that is one long word is masked like a key."""
    if not any(c.isspace() for c in phrase):
        remember_secret(phrase)
    elif phrase not in _PHRASES:
        _PHRASES.append(phrase)


def _secret_part(secret: str) -> str:
    prefix = re.match(_PUBLIC_PREFIX, secret)
    body = secret[prefix.end():] if prefix else secret
    return body if len(body) >= _PIECE else secret


def remember_secret(secret: str) -> None:
    """Mask ``secret`` (and pieces and encodings of it) in everything printed from now on."""
    if not secret or secret in _SEEN:
        return
    _SEEN.add(secret)
    body = _secret_part(secret)
    if len(body) < _PIECE:
        return  # too short to mask without garbling ordinary text
    low = body.lower()
    _BODIES.append(low)
    last = len(low) - _PIECE
    for i in range(last + 1):
        _PIECES[low[i:i + _PIECE]] = _PIECES.get(low[i:i + _PIECE], False) or i == last
        _PIECE_STARTS.update(low[i:i + n] for n in range(1, _PIECE))
    # base64 of the key at any alignment: the characters that encode whole 3-byte groups
    # of the key depend on the key alone. (binascii and str.translate rather than the
    # base64 and codecs modules: this runs at every start that has BYOK_MASTER_KEY set.)
    import binascii

    raw = body.encode("utf-8", "surrogateescape")
    for form in (raw.hex(), low[::-1], body.translate(_ROT13).lower()):
        for i in range(len(form) - _PIECE + 1):
            _PIECES.setdefault(form[i:i + _PIECE], False)
    for offset in range(3):
        whole = raw[offset:offset + (len(raw) - offset) // 3 * 3]
        standard = binascii.b2a_base64(whole, newline=False).decode().lower()
        for encoded in {standard, standard.replace("+", "-").replace("/", "_")}:
            for i in range(len(encoded) - _PIECE + 1):
                _PIECES.setdefault(encoded[i:i + _PIECE], False)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ROT13 = str.maketrans(_LETTERS + _LETTERS.upper(),
                       _LETTERS[13:] + _LETTERS[:13] + (_LETTERS[13:] + _LETTERS[:13]).upper())


def secrets_seen() -> int:
    """How many secrets `redact` masks so far: a cache of its results is valid while this
    stays the same."""
    return len(_SEEN)


def mask(key: str | None) -> str:
    """Show only the last four characters of a key."""
    if not key:
        return "-"
    return "…" + key[-4:] if len(key) > 8 else "…"


def _mask_run(run: str) -> str:
    """``run`` with every stretch covered by remembered pieces masked. Memory is kept to the
    pieces found (an answer can be one run of megabytes: no per-character bookkeeping)."""
    low = run.lower()
    hits = [(i, tail) for i in range(len(low) - _PIECE + 1)
            if (tail := _PIECES.get(low[i:i + _PIECE])) is not None]
    if not hits:
        return run
    out, shown = [], 0  # shown: where the text not yet handed to ``out`` starts
    start = end = -1
    tails: set[int] = set()  # where a covered stretch ends a key: its last 4 may show
    for i, tail in hits + [(len(run) + 1, False)]:
        if i > end:  # a gap: the stretch [start, end) is complete
            if end >= 0:
                out.append(run[shown:start])
                out.append("…" + run[end - 4:end] if end in tails else "…")
                shown = end
            start = i
        end = max(end, i + _PIECE)
        if tail:
            tails.add(i + _PIECE)
    out.append(run[shown:])
    return "".join(out)


# Runs in an encoding outside the key alphabet, each with its decoder and the characters
# one of its runs cannot be without (a pattern is not even compiled for text that has none
# of them): percent-encoding, HTML character references, one character at a time between
# spaces or zero-width characters, and text split by zero-width characters.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_ENCODED = (
    (r"(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9_.~\-])*%[0-9A-Fa-f]{2}(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9_.~\-])*",
     "percent", "%"),
    (r"(?:&#[xX]?[0-9A-Fa-f]{1,6};?|&[A-Za-z]{2,8};|[A-Za-z0-9_+/=.\-])*&#?[xX]?[0-9A-Za-z]"
     r"{1,8};?(?:&#[xX]?[0-9A-Fa-f]{1,6};?|&[A-Za-z]{2,8};|[A-Za-z0-9_+/=.\-])*", "html", "&"),
    (r"(?<!\S)(?:[A-Za-z0-9_+/=.\-]{1,4}[ \t%s]{1,3}){4,}[A-Za-z0-9_+/=.\-]{1,4}(?!\S)"
     % _ZERO_WIDTH, "spaced", " \t" + _ZERO_WIDTH),
    (r"[A-Za-z0-9_+/=.\-]*(?:[%s]+[A-Za-z0-9_+/=.\-]+)+" % _ZERO_WIDTH, "zero-width",
     _ZERO_WIDTH),
)
_ENCODED_MARKS = "".join(sorted({c for *_, marks in _ENCODED for c in marks}))


def _decoded(run: str, how: str) -> str:
    if how == "percent":
        from urllib.parse import unquote

        return unquote(run)
    if how == "html":
        import html

        return html.unescape(run)
    return re.sub(r"[ \t%s]" % _ZERO_WIDTH, "", run)


def _mask_encoded(text: str) -> str:
    for pattern, how, marks in _ENCODED:
        if not any(c in text for c in marks):
            continue

        def one(m: re.Match) -> str:
            run = m.group(0)
            plain = _decoded(run, how)
            masked = re.sub(_RUN, lambda r: _mask_run(r.group(0)), plain)
            return masked if masked != plain else run

        text = re.sub(pattern, one, text)
    return text


def redact(text: str) -> str:
    """``text`` with remembered secrets, key-shaped strings and URL credentials masked."""
    if not text:
        return text
    for phrase in _PHRASES:
        text = text.replace(phrase, "…")
    if _PIECES:
        if any(c in text for c in _ENCODED_MARKS):
            text = _mask_encoded(text)
        text = re.sub(_RUN, lambda m: _mask_run(m.group(0)), text)
    if any(prefix in text for prefix in _KEY_PREFIXES):
        text = re.sub(_KEYLIKE, lambda m: mask(m.group(0)), text)
    if "@" in text:
        text = re.sub(_URL_USERINFO, _mask_userinfo, text)
    return text


def _mask_userinfo(m: re.Match) -> str:
    user, colon, _ = m.group(2).partition(":")
    return f"{m.group(1)}{user}:***@" if colon and user else f"{m.group(1)}***@"


def looks_like_key(text: str) -> bool:
    """True when ``text`` holds something shaped like a provider key, or a key this
    process has handled (in any case). Fast enough for a 10 MiB prompt."""
    if any(prefix in text for prefix in _KEY_PREFIXES) and re.search(_KEYLIKE, text):
        return True
    low = text.lower() if _BODIES else ""
    return any(body in low for body in _BODIES)


def holds_secret(text: str | None) -> bool:
    """True when masking would change ``text``: it holds a key byok handled (whole, in
    part, encoded), a key shape, or URL credentials. For text from elsewhere that byok
    would keep or print (a model id a gateway lists): such text is left out, not kept."""
    return bool(text) and (looks_like_key(text) or redact(text) != text)


# --- text from elsewhere ---------------------------------------------------------------

# Terminal escape sequences (CSI, OSC, and two-character ESC sequences).
_ESCAPES = (r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_]?)"
            r"|\x9b[0-?]*[ -/]*[@-~]")


def strip_controls(text: str) -> str:
    """``text`` without terminal escape sequences or control characters (C0, C1, DEL,
    bidirectional overrides); whitespace controls become spaces. For text that came from a
    provider or gateway, or any text shown in a diagnostic."""
    if not text or text.isprintable():
        return text
    text = re.sub(_ESCAPES, "", text)
    return "".join(ch if ch.isprintable() else " " if ch in "\t\n\r\v\f" else ""
                   for ch in text)
