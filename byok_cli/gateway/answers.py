"""Reading an upstream answer within byok's own limits (wire.limits), as its wire client
reads one: the encodings the gateway can inflate (a bomb stops at the limit), and a whole
answer read to apply policy to it (usage, cost, masking), never more than MAX_BODY of it.
``ex`` is always the request's passthrough.Exchange (not imported: it imports this).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import ByokError, Code
from ..wire.limits import MAX_BODY, LimitExceeded, loads
from ..wire.transport import INFLATED, Inflater, TransportError
from .exchange import Usage

if TYPE_CHECKING:
    import aiohttp


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
    out, size = [], 0
    try:
        for piece in inflater.feed(data):
            size += len(piece)
            if size > limit:
                raise ByokError(Code.NETWORK_ERROR, "the provider's compressed answer "
                                "inflates beyond the gateway's limit")
            out.append(piece)
    except TransportError:
        raise ByokError(Code.NETWORK_ERROR, "the provider's compressed answer is corrupt"
                        ) from None
    return b"".join(out)


async def read_whole(up: aiohttp.ClientResponse, ex) -> bytes:
    """The answer's body, at most byok's limit of it (LIMIT_EXCEEDED past it: not read on,
    nothing of it sent)."""
    if up.content_length is not None and up.content_length > MAX_BODY:
        raise _too_large(ex)
    pieces, held = [], 0
    while piece := await up.content.readany():
        held += len(piece)
        if held > MAX_BODY:
            raise _too_large(ex)
        pieces.append(piece)
    ex.read_through = True
    ex.first_at = time.monotonic()
    return b"".join(pieces)


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
