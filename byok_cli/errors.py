"""Error codes, exit statuses and key redaction.

Every failure byok reports is a :class:`ByokError` carrying one of the codes below.
The command layer prints ``error: <message>`` (plus a hint) on one line of stderr and
exits with the code's status; no traceback reaches the user.
"""

from __future__ import annotations

import enum
import re


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
    INTERRUPTED = ("INTERRUPTED", 130)


class ByokError(Exception):
    """A failure with a code, a one-line message and, optionally, what to do about it."""

    def __init__(self, code: Code, message: str, *, hint: str | None = None,
                 provider: str | None = None, retry_after: float | None = None,
                 retryable: bool = True):
        super().__init__(redact(message))
        self.code = code
        self.retryable = retryable  # False: retrying cannot help (e.g. a timeout already waited)
        self.partial = False  # True: it failed after some output had been shown
        self.message = redact(message)
        self.hint = redact(hint) if hint else None
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


# Secrets this process has handled (decrypted or read from the environment). Anything
# printed through ``redact`` has them masked, whatever shape they have.
_SECRETS: set[str] = set()

# Anything shaped like a provider key, including the partly starred echo some APIs send
# back ("sk-proj-****abcd"). Keep only what ``mask`` would show.
_KEYLIKE = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")


def remember_secret(secret: str) -> None:
    if secret:
        _SECRETS.add(secret)


def mask(key: str | None) -> str:
    """Show only the last four characters of a key."""
    if not key:
        return "-"
    return "…" + key[-4:] if len(key) > 8 else "…"


def redact(text: str) -> str:
    if not text:
        return text
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, mask(secret))
    return _KEYLIKE.sub(lambda m: mask(m.group(0)), text)
