"""The text a policed stream's events carry, masked as `byok run` masks an answer's text
(redacting.RedactingStream, eager): a key an upstream splits across events is masked in the
text a client joins from their deltas, not only where its bytes stand whole.

Events pass as their lines arrive: nothing waits for a later event. All that is held back
is a delta's tail that could begin a key (a few characters, or a key-shaped run until it
ends); it goes out with the next delta of the same text, or, when that text ends (a chat
choice's finish, an Anthropic block's stop, a Responses part's ``.done``, the stream's
end), in a delta made for it just before the event that ends it. The same pass bounds
each line and event by byok's own limits (wire.limits): past one, the stream is ended as
its API reports errors (LimitExceeded).
"""

from __future__ import annotations

import json

from ..redacting import RedactingStream
from ..wire.limits import MAX_EVENT, MAX_LINE, LimitExceeded, loads, size

# An Anthropic delta's type -> the field holding its text
_MESSAGE_TEXT = {"text_delta": "text", "thinking_delta": "thinking",
                 "input_json_delta": "partial_json"}
_CHAT_TEXT = ("content", "reasoning_content", "reasoning", "refusal")
_RESPONSES_ENDED = ("response.completed", "response.failed", "response.incomplete")


class DeltaMasker:
    """One policed event stream (``kind``: chat | responses | messages), line by line."""

    def __init__(self, kind: str):
        self.kind = kind
        self.texts: dict[tuple, RedactingStream] = {}
        self.made: dict[tuple, dict] = {}   # text -> what a delta made for it looks like
        self._line = bytearray()            # an unfinished line
        self._after_cr = False              # the last chunk ended in \r (half a \r\n?)
        self._head: list[bytes] = []        # the event's other lines (event:, id:, comments)
        self._data: list[bytes] = []        # the event's data lines, as they came
        self._event = 0                     # bytes of the event's lines so far
        self._envelope: dict = {}           # a chat chunk's id, model… for a made delta

    # -- lines ----------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> bytes:
        # SSE ends a line at \r\n, \r or \n, as clients read it: so must byok, or a stream
        # framed with \r alone would pass unread. Lines go on ending in \n.
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._after_cr = chunk.endswith(b"\r")
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            self._line += chunk
            self._bounded(len(self._line), MAX_LINE, "a line")
            return b""
        data = bytes(self._line) + chunk if self._line else chunk
        lines = data.split(b"\n")
        self._line = bytearray(lines.pop())
        out: list[bytes] = []
        try:
            out.extend(self._one(line) for line in lines)
            self._bounded(len(self._line), MAX_LINE, "a line")
        except LimitExceeded as exc:
            exc.read_before = b"".join(out)  # the events before it came whole: passed on
            raise
        return b"".join(out)

    def end(self) -> bytes:
        """What is left when the stream ends (or breaks off): an event without its blank
        line, read as if it had one; an unfinished line as it came; and every held tail in
        a delta of its own."""
        event = self._dispatch() if self._data else b"".join(self._head)
        left = bytes(self._line)
        self._head, self._line = [], bytearray()
        return event + self._flush(lambda text: True) + left

    def _one(self, line: bytes) -> bytes:
        if not line:  # the event's end: a client acts on an event here, and no sooner
            return self._dispatch() + b"\n"
        self._event += len(line) + 1
        self._bounded(self._event, MAX_EVENT, "an event")
        (self._data if line.startswith(b"data:") else self._head).append(line + b"\n")
        return b""

    def _dispatch(self) -> bytes:
        """The event read so far, its data lines joined as a client joins them (with \n:
        an event's JSON may be split over several), masked where its texts need it."""
        head, lines = b"".join(self._head), self._data
        self._head, self._data, self._event = [], [], 0
        if not lines:
            return head
        came = head + b"".join(lines)
        payload = b"\n".join(_value(line) for line in lines)
        if payload.strip() == b"[DONE]":
            return self._flush(lambda text: True) + came
        if payload.lstrip()[:1] not in (b"{", b"["):  # (an array is read for its depth)
            return came
        try:
            event = loads(payload, "an event of the answer")
        except ValueError:  # (too deep: LimitExceeded, which ends the stream)
            return came  # not JSON: passed on as it is (the key masked)
        if not isinstance(event, dict):
            return came
        before, changed = getattr(self, "_" + self.kind)(event)
        if changed or len(lines) > 1:  # one line: what a client joins is what it reads
            return before + head + b"data: " + _dumped(event) + b"\n"
        return before + came

    @staticmethod
    def _bounded(n: int, limit: int, what: str) -> None:
        if n > limit:
            raise LimitExceeded("event", f"{what} of the answer is larger than byok's limit "
                                f"({size(limit)})")

    # -- the texts ----------------------------------------------------------------------------
    def _masked(self, text_id: tuple, value: str, made: dict) -> str:
        stream = self.texts.get(text_id)
        if stream is None:
            stream = self.texts[text_id] = RedactingStream(eager=True)
            self.made[text_id] = made
        return stream.feed(value)

    def _flush(self, ended) -> bytes:
        """A delta for the held tail of each text ``ended`` says has ended."""
        out = []
        for text_id in [t for t in self.texts if ended(t)]:
            rest = self.texts.pop(text_id).rest()
            made = self.made.pop(text_id)
            if rest:
                out.append(_made(self.kind, made, rest, self._envelope))
        return b"".join(out)

    def _chat(self, event: dict) -> tuple[bytes, bool]:
        self._envelope = {k: event[k] for k in ("id", "object", "created", "model")
                          if k in event}
        changed = False
        for n, choice in enumerate(event.get("choices") or ()):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", n)
            delta = choice.get("delta")
            if isinstance(delta, dict):
                for field in _CHAT_TEXT:
                    value = delta.get(field)
                    if isinstance(value, str) and value:
                        shown = self._masked(("chat", index, field), value,
                                             {"index": index, "field": field})
                        changed |= shown != value
                        delta[field] = shown
                for call in delta.get("tool_calls") or ():
                    function = call.get("function") if isinstance(call, dict) else None
                    value = function.get("arguments") if isinstance(function, dict) else None
                    if isinstance(value, str) and value:
                        shown = self._masked(("chat", index, "tool", call.get("index")),
                                             value, {"index": index, "tool": call.get("index")})
                        changed |= shown != value
                        function["arguments"] = shown
            if choice.get("finish_reason"):  # this choice's texts end here
                changed |= self._close_choice(index, choice)
        return b"", changed

    def _close_choice(self, index, choice: dict) -> bool:
        """The held tails of choice ``index``, added to its last delta."""
        changed = False
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        for text_id in [t for t in self.texts if t[1] == index]:
            rest = self.texts.pop(text_id).rest()
            made = self.made.pop(text_id)
            if not rest:
                continue
            changed = True
            if "field" in made:
                delta[made["field"]] = (delta.get(made["field"]) or "") + rest
            else:
                calls = delta.setdefault("tool_calls", [])
                calls.append({"index": made["tool"], "function": {"arguments": rest}})
        if changed:
            choice["delta"] = delta
        return changed

    def _messages(self, event: dict) -> tuple[bytes, bool]:
        kind = event.get("type")
        if kind == "content_block_delta" and isinstance(event.get("delta"), dict):
            delta = event["delta"]
            field = _MESSAGE_TEXT.get(delta.get("type"))
            value = delta.get(field) if field else None
            if isinstance(value, str) and value:
                shown = self._masked(("messages", event.get("index"), field), value,
                                     {"index": event.get("index"), "type": delta["type"],
                                      "field": field})
                delta[field] = shown
                return b"", shown != value
        elif kind == "content_block_stop":
            return self._flush(lambda t: t[1] == event.get("index")), False
        elif kind in ("message_delta", "message_stop", "error"):
            return self._flush(lambda t: True), False
        return b"", False

    def _responses(self, event: dict) -> tuple[bytes, bool]:
        kind = event.get("type")
        if not isinstance(kind, str):
            return b"", False
        where = tuple(event.get(k) for k in ("item_id", "output_index", "content_index",
                                              "summary_index"))
        if kind.endswith(".delta") and isinstance(event.get("delta"), str) and event["delta"]:
            value = event["delta"]
            made = {k: event[k] for k in ("item_id", "output_index", "content_index",
                                          "summary_index") if k in event}
            shown = self._masked(("responses", kind) + where, value, {**made, "type": kind})
            event["delta"] = shown
            return b"", shown != value
        if kind.endswith(".done"):
            ended = ("responses", kind[:-5] + ".delta") + where
            return self._flush(lambda t: t == ended), False
        if kind in _RESPONSES_ENDED or kind == "error":
            return self._flush(lambda t: True), False
        return b"", False


def _value(line: bytes) -> bytes:
    """A data line's value: after "data:" and one space, without its line end."""
    value = line[5:-1]
    return value[1:] if value.startswith(b" ") else value


def _dumped(event: dict) -> bytes:
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): kept escaped
        return json.dumps(event, separators=(",", ":")).encode()


def _made(kind: str, made: dict, text: str, envelope: dict) -> bytes:
    """One event carrying ``text`` as the delta of the text ``made`` describes."""
    if kind == "chat":
        delta = ({made["field"]: text} if "field" in made else
                 {"tool_calls": [{"index": made["tool"], "function": {"arguments": text}}]})
        event = {**envelope, "choices": [{"index": made["index"], "delta": delta,
                                          "finish_reason": None}]}
        return b"data: " + _dumped(event) + b"\n\n"
    if kind == "messages":
        event = {"type": "content_block_delta", "index": made["index"],
                 "delta": {"type": made["type"], made["field"]: text}}
        return b"event: content_block_delta\ndata: " + _dumped(event) + b"\n\n"
    event = {"type": made["type"], **{k: v for k, v in made.items() if k != "type"},
             "delta": text}
    return b"event: " + made["type"].encode() + b"\ndata: " + _dumped(event) + b"\n\n"
