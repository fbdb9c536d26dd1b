"""Every bound byok puts on what a server sends: the one home of these numbers (the gateway
imports them too). Going past one is a :class:`LimitExceeded` (exit 23, LIMIT_EXCEEDED),
never a MemoryError, a RecursionError or a hang.

Why these sizes: each is far above what a real answer of either API holds (a streamed
chunk is under 100 KiB, an error body a few KiB, a model list a few hundred KiB, JSON from
either API is under 20 levels deep), and small enough that holding one costs no machine
anything. The deadline is generous (a long reasoning answer streams for minutes) but finite,
as curl's ``--max-time``; the idle read timeout (BYOK_TIMEOUT) applies between bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any

MIB = 1024 * 1024

MAX_BODY = 32 * MIB        # a whole answer, and the text kept from a streamed one
MAX_LINE = 8 * MIB         # one line of an event stream
MAX_EVENT = 8 * MIB        # one event's data lines together (a stream without blank lines)
MAX_ERROR_BODY = 1 * MIB   # an error answer's body (only its first 300 characters are shown)
MAX_MODELS = 20_000        # model ids kept from a model list, all pages together
MAX_PAGES = 20             # pages of a model list followed
MAX_DEPTH = 128            # JSON nesting (serde_json's default recursion limit too)
# A header block: http.client's own bounds, 100 header lines of at most 64 KiB each.
MAX_HEADERS = 100
MAX_HEADER_LINE = 65536

DEADLINE = 600.0           # seconds for one request, start to last byte (BYOK_DEADLINE)
DEADLINE_VARIABLE = "BYOK_DEADLINE"

# What `byok gateway` accepts from a client (each BYOK_GATEWAY_* tunable; see gateway.server).
# JSON from a client is bound by MAX_DEPTH as a server's is.
GATEWAY_MAX_BODY = MAX_BODY     # a request body: 413 beyond (Anthropic's own limit is 32 MB)
GATEWAY_MAX_HEADER = 8190       # one header line: 431 beyond (aiohttp's and nginx's 8 KiB)
GATEWAY_MAX_HEADERS = 128       # header lines in one request: 431 beyond
GATEWAY_HEAD_DEADLINE = 10.0    # a request head, from its first byte (or the connection's
                                # opening): 408, then the connection is closed (slowloris)
GATEWAY_BODY_DEADLINE = 60.0    # a request body, from its head: 408
GATEWAY_IDLE = 30.0             # a kept-alive connection with no request: closed
GATEWAY_MAX_ACTIVE = 4096       # requests in flight: 503 beyond
GATEWAY_DRAIN = 30.0            # after SIGTERM: how long open streams may go on


class LimitExceeded(Exception):
    """A server's answer went past one of the limits above; ``what`` names which."""

    def __init__(self, what: str, detail: str):
        super().__init__(detail)
        self.what = what
        self.detail = detail


class Gathered:
    """A body's pieces, kept while they come to at most ``limit`` bytes in all (a reader
    past it stops reading: a compression bomb stops there too)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, piece: bytes) -> bool:
        """False (``piece`` not kept) when it takes the body past the limit."""
        self._size += len(piece)
        if self._size > self.limit:
            return False
        self._parts.append(piece)
        return True

    def joined(self) -> bytes:
        return b"".join(self._parts)


def size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB and n % MIB == 0 else f"{n // 1024} KiB"


# --- JSON nesting ----------------------------------------------------------------------------

# A string (skipped whole, in C) or one bracket: only brackets outside strings count.
_TOKENS = r'"(?:[^"\\]|\\.)*"|[\[\]{}]'


def depth_ok(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON text nests no deeper than ``limit`` (checked before parsing, so
    that neither json nor anything that walks the result recurses without bound)."""
    if isinstance(text, (bytes, bytearray)):
        if text.count(b"[") + text.count(b"{") <= limit:
            return True  # (counted before decoding: most texts stop here)
        text = bytes(text).decode("utf-8", "replace")
    if text.count("[") + text.count("{") <= limit:
        return True  # the common case: too few brackets to nest that deep, no scan
    depth = 0
    for m in re.finditer(_TOKENS, text):
        ch = m.group(0)
        if ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def loads(text: str | bytes, what: str = "the answer") -> Any:
    """``json.loads``, refusing nesting deeper than MAX_DEPTH (LimitExceeded). A text that
    is not JSON raises ValueError as json does."""
    import json

    if not depth_ok(text):
        raise LimitExceeded("depth", f"{what} nests JSON more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text)
    except RecursionError:  # cannot happen below MAX_DEPTH; kept as the last guard
        raise LimitExceeded("depth", f"{what} nests JSON too deeply") from None


def deadline(env: Mapping[str, str] | None = None) -> float:
    """BYOK_DEADLINE in seconds (a usage error when it is not a positive number)."""
    from ..inputs import env_number

    return env_number(DEADLINE_VARIABLE, DEADLINE, env=env) or DEADLINE
