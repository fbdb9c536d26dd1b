"""Server-sent events (the WHATWG event-stream format), as both APIs stream answers.

Lenient where gateways differ: an event still pending when the stream ends is delivered
(some send `data: [DONE]` without the blank line after it); comments, `id:` and `retry:`
lines are skipped. An event's data may hold at most limits.MAX_EVENT characters: a stream of
`data:` lines that never ends an event is refused there (LimitExceeded), not held for ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..records import tuple_record
from .limits import MAX_EVENT, LimitExceeded, size


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
