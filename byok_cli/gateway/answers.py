"""Reading an upstream answer within byok's own limits (wire.limits), as its wire client
reads one: the encodings the gateway can inflate (a bomb stops at the limit), and a whole
answer read to apply policy to it (usage, cost, masking), never more than MAX_BODY of it;
and a policed stream's bound on waiting for progress, as `run`'s (IdleWatch).
``ex`` is always the request's passthrough.Exchange (not imported: it imports this).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from ..errors import ByokError, Code
from ..wire.limits import MAX_BODY, Gathered, LimitExceeded, loads
from ..wire.transport import INFLATED, Inflater, TransportError
from .exchange import Usage

if TYPE_CHECKING:
    import aiohttp

    from .deltas import DeltaMasker


def encoding(up: aiohttp.ClientResponse, ex) -> ByokError | None:
    """Whether the gateway can read the answer to mask it: uncompressed (as asked), or in
    an encoding it inflates (ex.inflater). Anything else is refused, never forwarded
    unread."""
    coding = ",".join(up.headers.getall("Content-Encoding", ())).strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in INFLATED:
        ex.inflater = Inflater(coding)
        return None
    up.close()
    return ByokError(Code.NETWORK_ERROR, f"{ex.record.name} answered in an encoding the "
                     f"gateway cannot read ({coding[:40]}), though asked for none",
                     provider=ex.record.name)


def inflated(data: bytes, inflater: Inflater | None, limit: int) -> bytes:
    """``data`` inflated, at most ``limit`` bytes of it (a compression bomb stops there)."""
    if inflater is None:
        return data
    body = Gathered(limit)
    try:
        for piece in inflater.feed(data):
            if not body.add(piece):
                raise ByokError(Code.NETWORK_ERROR, "the provider's compressed answer "
                                "inflates beyond the gateway's limit")
    except TransportError:
        raise ByokError(Code.NETWORK_ERROR, "the provider's compressed answer is corrupt"
                        ) from None
    return body.joined()


async def read_whole(up: aiohttp.ClientResponse, ex) -> bytes:
    """The answer's body, at most byok's limit of it (LIMIT_EXCEEDED past it: not read on,
    nothing of it sent)."""
    if up.content_length is not None and up.content_length > MAX_BODY:
        raise _too_large(ex)
    body = Gathered(MAX_BODY)
    while piece := await up.content.readany():
        if not body.add(piece):
            raise _too_large(ex)
    ex.read_through = True
    ex.first_at = time.monotonic()
    return body.joined()


def _too_large(ex) -> ByokError:
    return ByokError(Code.LIMIT_EXCEEDED, f"{ex.record.name}'s answer is larger than byok's "
                     f"limit ({MAX_BODY >> 20} MiB)", provider=ex.record.name)


def read_usage(usage: Usage, data: bytes) -> None:
    """The usage of a whole policed answer (one nested past byok's depth limit: refused)."""
    try:
        usage.read(loads(data, "the answer"))
    except LimitExceeded as exc:
        raise ByokError(Code.LIMIT_EXCEEDED, exc.detail) from None
    except ValueError:
        pass  # not JSON: passed on as the upstream sent it


class Stalled(asyncio.TimeoutError):
    """A policed stream made no progress within the idle bound (IdleWatch)."""


class IdleWatch:
    """A policed stream must make progress (an event of data: not a keep-alive comment or
    a ping) within BYOK_TIMEOUT, as `run`'s must (wire.client._Watch): else the upstream
    read ends with Stalled, whatever keep-alives keep its connection busy. One timer per
    stream, moved on only when it fires: an event costs nothing here."""

    def __init__(self, up: aiohttp.ClientResponse, deltas: DeltaMasker, timeout: float,
                 name: str):
        self.up, self.deltas, self.timeout = up, deltas, timeout
        self.why = (f"{name} made no progress in {timeout:g} s: nothing but keep-alives, or "
                    f"nothing at all (BYOK_TIMEOUT)")
        self.stalled = False
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(self._left(), self._check)

    def _left(self) -> float:  # (by time.monotonic, the masker's clock, whatever the loop's)
        return self.deltas.progressed + self.timeout - time.monotonic()

    def _check(self) -> None:
        if self._left() > 0.001:  # (a timer may fire a little early)
            self._timer = self._loop.call_later(self._left(), self._check)
            return
        self.stalled = True
        self.up.content.set_exception(Stalled(self.why))

    def cancel(self) -> None:
        self._timer.cancel()
