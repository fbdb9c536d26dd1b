"""Server-sent events (the WHATWG event-stream format), as both APIs stream answers.

Lenient where gateways differ: an event still pending when the stream ends is delivered
(some send `data: [DONE]` without the blank line after it); comments, `id:` and `retry:`
lines are skipped. An event's data may hold at most limits.MAX_EVENT characters: a stream of
`data:` lines that never ends an event is refused there (LimitExceeded), not held for ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..records import tuple_record
from .limits import MAX_EVENT, MAX_LINE, LimitExceeded, size


class Lines:
    """Bytes as they arrive, cut into lines where SSE ends them (\r\n, \r or \n), pushed
    a chunk at a time: each chunk is split once and a line's pieces are joined only when it
    ends, so a line near MAX_LINE costs linear time. A \r ends its line at once (a \n
    that begins the next chunk is its other half), so no event waits for the next read."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # the pieces of the line not yet ended
        self._held = 0
        self._cr = False  # the last chunk ended in \r (the first half of a \r\n?)

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` ends, without their endings."""
        if self._cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._cr = chunk.endswith(b"\r")
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *complete, partial = chunk.split(b"\n")
        if complete:
            if self._pending:
                complete[0] = b"".join(self._pending) + complete[0]
            self._pending, self._held = [], 0
        if partial:
            self._pending.append(partial)
            self._held += len(partial)
        return complete

    def check(self) -> None:
        """LimitExceeded when the unended line is past MAX_LINE (checked once the lines
        before it are handled: they came whole)."""
        if self._held > MAX_LINE:
            raise LimitExceeded("line", f"a line of the answer is larger than byok's limit "
                                f"({size(MAX_LINE)})")

    def end(self) -> bytes | None:
        """The last line, without an ending (None: the stream ended at a line's end)."""
        last, self._pending, self._held = b"".join(self._pending), [], 0
        return last or None


@tuple_record
class Event:
    event: str  # the `event:` field, "" when there was none
    data: str   # the `data:` lines joined by newlines


def events(lines: Iterable[str]) -> Iterator[Event]:
    name, data, held = "", [], 0
    for line in lines:
        if not line:
            if data:
                yield Event(name, "\n".join(data))
            name, data, held = "", [], 0
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            held += len(value) + 1
            if held > MAX_EVENT:
                raise LimitExceeded("event", f"an event of the stream held more than "
                                    f"{size(MAX_EVENT)} of data")
            data.append(value)
        elif field == "event":
            name = value
    if data:
        yield Event(name, "\n".join(data))
