"""A JSON object file (llm's keys.json): its members, where each one is in the text, and how
to remove one without touching the rest."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from ..errors import ByokError, Code

_WS = " \t\n\r"


class Member(NamedTuple):
    name: str
    value: Any
    start: int       # the name's opening quote
    value_end: int   # just after the value


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


class JSON:
    """The format of a file whose top level is one JSON object."""

    name = "JSON"

    def load(self, text: str, where: str = "the file") -> dict:
        from ..wire.limits import MAX_DEPTH, LimitExceeded, loads

        try:
            doc = loads(text, where)
        except LimitExceeded:
            raise ByokError(Code.INVALID_FORMAT, f"{where} nests JSON more than {MAX_DEPTH} "
                            "levels deep; nothing was changed") from None
        except json.JSONDecodeError as exc:
            raise ByokError(Code.INVALID_FORMAT, f"{where} is not valid JSON (line {exc.lineno}, "
                            f"column {exc.colno}: {exc.msg}); nothing was changed") from None
        if not isinstance(doc, dict):
            raise ByokError(Code.INVALID_FORMAT, f"{where} holds a JSON {type(doc).__name__}, "
                            "not an object; nothing was changed")
        return doc

    def members(self, text: str) -> list[Member]:
        """The top-level members in file order (the text must be a valid JSON object)."""
        decoder = json.JSONDecoder()
        out: list[Member] = []
        i = _skip(text, 0) + 1  # '{'
        while True:
            i = _skip(text, i)
            if text[i] == "}":
                return out
            if text[i] == ",":
                i = _skip(text, i + 1)
            start = i
            name, i = decoder.raw_decode(text, i)
            i = _skip(text, i) + 1  # ':'
            value, end = decoder.raw_decode(text, _skip(text, i))
            out.append(Member(name, value, start, end))
            i = end

    def locate(self, text: str, path: tuple) -> list[tuple[int, int, str]]:
        """How to remove the member `path[0]`: one span to delete, with the comma it needs."""
        members = self.members(text)
        index = next(i for i, m in enumerate(members) if m.name == path[0])
        here = members[index]
        if index + 1 < len(members):      # up to the next member: the comma goes too
            return [(here.start, members[index + 1].start, "")]
        if index > 0:                      # the last one: from the end of the one before
            return [(members[index - 1].value_end, here.value_end, "")]
        opening = text.index("{")
        return [(opening + 1, here.value_end, "")]

    @staticmethod
    def without(doc: dict, removed: list[tuple[tuple, bool]]) -> dict:
        out = dict(doc)
        for path, _blank in removed:
            out.pop(path[0], None)
        return out
