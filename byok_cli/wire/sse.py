"""Server-sent events (the WHATWG event-stream format), as both APIs stream answers.

Lenient where gateways differ: an event still pending when the stream ends is delivered
(some send `data: [DONE]` without the blank line after it); comments, `id:` and `retry:`
lines are skipped.
"""

from __future__ import annotations

from typing import Iterable, Iterator, NamedTuple


class Event(NamedTuple):
    event: str  # the `event:` field, "" when there was none
    data: str   # the `data:` lines joined by newlines


def events(lines: Iterable[str]) -> Iterator[Event]:
    name, data = "", []
    for line in lines:
        if not line:
            if data:
                yield Event(name, "\n".join(data))
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
    if data:
        yield Event(name, "\n".join(data))
