"""Values from the command line and the environment, checked one way.

Text must be valid UTF-8 (:func:`text`): arguments that are not arrive as surrogates and
would fail only when sent. Every BYOK_* number (BYOK_TIMEOUT, BYOK_MAX_RETRIES, BYOK_MAX_RETRY_WAIT,
BYOK_KEYRING_TIMEOUT, BYOK_STDIN_TIMEOUT, BYOK_MODELS_TTL) is read by :func:`env_number`:
a value that is not a finite number in range is a usage error naming the variable, never
a silent default and never a crash. Imports nothing heavy (the fast path uses it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping


def number(kind: type, text: object, low: float | None, high: float | None):
    """`text` as an int or a finite float within [low, high]; ValueError with the reason
    otherwise (the command line's options use this too)."""
    try:
        if isinstance(text, str) and (not text.isascii() or "_" in text):
            raise ValueError  # Python reads "1_000" and "１２"; nobody means them
        value = kind(text)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{text!r} is not {_what(kind)}") from None
    if isinstance(value, float) and not math.isfinite(value):  # (a huge int is no float)
        raise ValueError(f"{text!r} is not a finite number")
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            span = f"at least {low}"
        elif low is None:
            span = f"at most {high}"
        else:
            span = f"from {low} to {high}"
        raise ValueError(f"{text} is out of range: it must be {span}")
    return value


def env_number(name: str, default: float, *, kind: type = float, low: float = 0,
               high: float = 86400, env: Mapping[str, str] | None = None):
    """The number in environment variable ``name`` (``default`` when unset or empty); a
    usage error naming the variable when it is not a ``kind`` in [low, high]."""
    env = os.environ if env is None else env
    text = (env.get(name) or "").strip()
    if not text:
        return kind(default)
    try:
        return number(kind, text, low, high)
    except ValueError:
        from .errors import ByokError, Code

        shown = text if len(text) <= 40 else text[:40] + "…"
        raise ByokError(Code.USAGE, f"{name} must be {_what(kind)} from {_plain(low)} to "
                        f"{_plain(high)}, not {shown!r}",
                        hint=f"fix it, or unset it for the default ({_plain(default)})") from None


def _what(kind: type) -> str:
    return "a whole number" if kind is int else "a number"


def _plain(value: float) -> str:
    """315360000, not 3.1536e+08; 0.5 stays 0.5."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}"


def text(value: str | None, what: str) -> str | None:
    """``value`` unchanged when it is valid UTF-8 text; a usage error naming ``what``
    otherwise (arguments and variables that are not UTF-8 reach Python as surrogates)."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        from .errors import ByokError, Code

        raise ByokError(Code.USAGE, f"{what} is not valid UTF-8 text (character {exc.start})",
                        hint="nothing was sent; convert it first, e.g. with iconv") from None
    return value
