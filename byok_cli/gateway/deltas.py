"""The text a policed stream's events carry, masked as `byok run` masks an answer's text
(redacting.RedactingStream, eager): a key an upstream splits across events is masked in the
text a client joins from their deltas, not only where its bytes stand whole. Every string
of a chat delta the openai SDK joins is one such text (by its path: choice, tool call…),
as are Anthropic's and the Responses API's text deltas.

Events pass as their lines arrive: nothing waits for a later event. All that is held back
is a delta's tail that could begin a key (a few characters, or a key-shaped run until it
ends); it goes out with the next delta of the same text, or, when that text ends (a chat
choice's finish, an Anthropic block's stop, a Responses part's ``.done``, the stream's
end), in a delta made for it just before the event that ends it. The same pass bounds
each line and event by byok's own limits (wire.limits): past one, the stream is ended as
its API reports errors (LimitExceeded), as is an event naming an index no honest
upstream names (indexes.Indexes: a client could join a key's pieces across it).
"""

from __future__ import annotations

import json
import time

from ..redacting import RedactingStream
from ..wire.limits import MAX_EVENT, LimitExceeded, loads, size
from ..wire.sse import Lines
from .indexes import Indexes

# An Anthropic delta's type -> the field holding its text
_MESSAGE_TEXT = {"text_delta": "text", "thinking_delta": "thinking",
                 "input_json_delta": "partial_json"}
_RESPONSES_ENDED = ("response.completed", "response.failed", "response.incomplete")
_RESPONSES_WHERE = ("item_id", "output_index", "content_index", "summary_index")
# A chat delta's strings: the openai SDK joins every one across deltas (accumulate_delta),
# but for a list item's "index" and a union's "type", which it keeps as they come. Audio's
# base64 "data" is joined too, but not followed: masking key shapes in it ("AIza" and 20
# more characters occur in random base64) would corrupt the audio; it is masked byte-wise.
_NOT_JOINED = frozenset({"index", "type", "data"})
_AUDIO = "response.audio.delta"  # (the Responses API's base64 audio: the same)
# Text: a tail that could begin any key shape is held. Any other string (a tool call's
# name or id, a role, audio data, a field byok does not know) is joined by the SDK but
# taken whole from its first delta by other clients (the JS SDK, Vercel's AI SDK): there
# only a tail that could begin a key byok handled is held, so that "get_task" is not
# held for its "sk" and such a client still sees the name the upstream sent.
_TEXT = frozenset({"content", "reasoning_content", "reasoning", "refusal", "arguments",
                   "transcript", "token", "text"})
# Not joined by clients: a token's bytes (rewritten with its token) and its alternatives.
_NOT_FOLLOWED = frozenset({"bytes", "top_logprobs"})


class DeltaMasker:
    """One policed event stream (``kind``: chat | responses | messages), line by line."""

    def __init__(self, kind: str, choices: int = 1):
        self.kind = kind
        self.indexes = Indexes(kind, choices)  # (``choices``: a chat request's ``n``)
        self.texts: dict[tuple, RedactingStream] = {}  # by a text's id (what _made reads)
        self._lines = Lines()
        self._head: list[bytes] = []        # the event's other lines (event:, id:, comments)
        self._data: list[bytes] = []        # the event's data lines, as they came
        self._event = 0                     # bytes of the event's lines so far
        self._envelope: dict = {}           # a chat chunk's id, model… for a made delta
        # when the stream last made progress: an event of data, not a keep-alive comment
        # or a ping (answers.IdleWatch bounds the wait for the next)
        self.progressed = time.monotonic()

    # -- lines ----------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> bytes:
        # SSE ends a line at \r\n, \r or \n, as clients read it: so must byok, or a stream
        # framed with \r alone would pass unread. Lines go on ending in \n.
        out: list[bytes] = []
        try:
            out.extend(self._one(line) for line in self._lines.feed(chunk))
            self._lines.check()
        except LimitExceeded as exc:
            exc.read_before = b"".join(out)  # the events before it came whole: passed on
            raise
        return b"".join(out)

    def end(self) -> bytes:
        """What is left when the stream ends (or breaks off): an event without its blank
        line, read as if it had one; an unfinished line as it came; and every held tail in
        a delta of its own."""
        event = self._dispatch() if self._data else b"".join(self._head)
        left = self._lines.end() or b""
        self._head = []
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
        if b'"ping"' not in payload or payload.replace(b" ", b"") != b'{"type":"ping"}':
            self.progressed = time.monotonic()
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
        self.indexes.check(event)
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
    def _masked(self, text_id: tuple, value: str, shapes: bool = True) -> str:
        stream = self.texts.get(text_id)
        if stream is not None:
            return stream.feed(value)
        # the first delta of a text: without ``shapes``, only a key byok handled is held
        # back (a client may take it whole); the rest of it, only SDKs join: held as text
        stream = self.texts[text_id] = RedactingStream(eager=True, shapes=shapes)
        shown = stream.feed(value)
        stream.shapes = True
        return shown

    def _held(self, ended) -> list[tuple[tuple, str]]:
        """The held tail of each text ``ended`` says has ended (the text's id, its tail)."""
        out = []
        for text_id in [t for t in self.texts if ended(t)]:
            rest = self.texts.pop(text_id).rest()
            if rest:
                out.append((text_id, rest))
        return out

    def _flush(self, ended) -> bytes:
        """A delta for the held tail of each text ``ended`` says has ended."""
        return b"".join(_made(text_id, rest, self._envelope)
                        for text_id, rest in self._held(ended))

    def _chat(self, event: dict) -> tuple[bytes, bool]:
        self._envelope = {k: event[k] for k in ("id", "object", "created", "model")
                          if k in event}
        changed = False
        for n, choice in enumerate(event.get("choices") or ()):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", n)
            for part in ("delta", "logprobs"):  # what the SDK joins, field by field
                if isinstance(choice.get(part), dict):
                    changed |= self._joined(choice[part], ("chat", index, part))
            if choice.get("finish_reason"):  # this choice's texts end here: their held
                for text_id, rest in self._held(lambda t: t[1] == index):  # tails join
                    _merge(choice, _placed(text_id[2:], rest))              # its delta
                    changed = True
        return b"", changed

    def _joined(self, node: dict, path: tuple) -> bool:
        """Every string in ``node`` a client joins across deltas, masked as one text per
        path (a list's items by their "index", or in turn when they have none)."""
        changed = False
        for key, value in node.items():
            if isinstance(value, str):
                if value and key not in _NOT_JOINED:
                    shown = self._masked(path + (key,), value, key in _TEXT)
                    if shown != value:
                        node[key] = shown
                        changed = True
                        if key == "token" and isinstance(node.get("bytes"), list):
                            node["bytes"] = list(shown.encode("utf-8", "surrogatepass"))
            elif key in _NOT_FOLLOWED:
                continue
            elif isinstance(value, dict):
                changed |= self._joined(value, path + (key,))
            elif isinstance(value, list):
                for n, item in enumerate(value):
                    if isinstance(item, dict):
                        at = item.get("index")
                        changed |= self._joined(item, path + (
                            (key, at if isinstance(at, int) else None),))
                    elif isinstance(item, str) and item:
                        shown = self._masked(path + ((key, None),), item)
                        if shown != item:
                            value[n] = shown
                            changed = True
        return changed

    def _messages(self, event: dict) -> tuple[bytes, bool]:
        kind = event.get("type")
        if kind == "content_block_delta" and isinstance(event.get("delta"), dict):
            delta = event["delta"]
            field = _MESSAGE_TEXT.get(delta.get("type"))
            value = delta.get(field) if field else None
            if isinstance(value, str) and value:
                shown = self._masked(("messages", event.get("index"), delta["type"], field),
                                     value)
                delta[field] = shown
                return b"", shown != value
        elif kind == "content_block_start" and isinstance(event.get("content_block"), dict):
            block = event["content_block"]  # its text is what the SDK joins the deltas to
            changed = False
            for delta_type, field in (("text_delta", "text"), ("thinking_delta", "thinking")):
                value = block.get(field)
                if isinstance(value, str) and value:
                    block[field] = self._masked(("messages", event.get("index"), delta_type,
                                                 field), value)
                    changed |= block[field] != value
            return b"", changed
        elif kind == "content_block_stop":
            return self._flush(lambda t: t[1] == event.get("index")), False
        elif kind in ("message_delta", "message_stop", "error"):
            return self._flush(lambda t: True), False
        return b"", False

    def _responses(self, event: dict) -> tuple[bytes, bool]:
        kind = event.get("type")
        if not isinstance(kind, str):
            return b"", False
        where = tuple(event.get(k) for k in _RESPONSES_WHERE)
        if kind.endswith(".delta") and isinstance(event.get("delta"), str) and event["delta"] \
                and kind != _AUDIO:
            value = event["delta"]
            shown = self._masked(("responses", kind) + where, value)
            event["delta"] = shown
            return b"", shown != value
        if kind in ("response.output_item.added", "response.content_part.added"):
            return b"", self._started(event)
        if kind.endswith(".done"):
            ended = ("responses", kind[:-5] + ".delta") + where
            return self._flush(lambda t: t == ended), False
        if kind in _RESPONSES_ENDED or kind == "error":
            return self._flush(lambda t: True), False
        return b"", False

    def _started(self, event: dict) -> bool:
        """The start text an added output item or content part carries (a message's
        parts' text, a function call's arguments): the first piece of the text its
        deltas continue, masked as such (as an Anthropic block's start text is)."""
        item, part = event.get("item"), event.get("part")
        if isinstance(item, dict):
            item_id, changed = item.get("id"), False
            if item.get("type") == "function_call":
                changed |= self._start(item, "arguments", "function_call_arguments",
                                       (item_id, event.get("output_index"), None, None))
            for n, one in enumerate(item.get("content") if isinstance(
                    item.get("content"), list) else ()):
                if isinstance(one, dict):
                    changed |= self._part(one, (item_id, event.get("output_index"), n, None))
            return changed
        if isinstance(part, dict):
            return self._part(part, tuple(event.get(k) for k in _RESPONSES_WHERE))
        return False

    def _part(self, part: dict, where: tuple) -> bool:
        field = "refusal" if part.get("type") == "refusal" else "text"
        delta = {"output_text": "output_text", "refusal": "refusal",
                 "reasoning_text": "reasoning_text"}.get(part.get("type"))
        return self._start(part, field, delta, where) if delta else False

    def _start(self, node: dict, field: str, delta: str, where: tuple) -> bool:
        value = node.get(field)
        if not isinstance(value, str) or not value:
            return False
        node[field] = self._masked(("responses", f"response.{delta}.delta") + where, value)
        return node[field] != value


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


def _placed(path: tuple, text: str) -> dict:
    """``text`` where ``path`` (a chat text's, within its choice) puts it: a list's item
    by its index, or a new item in turn."""
    *outer, last = path
    if isinstance(last, tuple):  # a string in a list of strings
        node: dict = {last[0]: [text]}
    else:
        node = {last: text}
        if last == "token":  # a log-probability's token, as the API shapes one
            node.update(logprob=0.0, bytes=list(text.encode("utf-8", "surrogatepass")),
                        top_logprobs=[])
    for step in reversed(outer):
        if isinstance(step, tuple):
            key, at = step
            node = {key: [node if at is None else {"index": at, **node}]}
        else:
            node = {step: node}
    return node


def _merge(into: dict, placed: dict) -> None:
    """``placed`` added to ``into``: after its strings, into its item of the same index."""
    for key, value in placed.items():
        have = into.get(key)
        if isinstance(value, str):
            into[key] = (have if isinstance(have, str) else "") + value
        elif isinstance(value, dict):
            if isinstance(have, dict):
                _merge(have, value)
            else:
                into[key] = value
        elif not isinstance(have, list):
            into[key] = value
        else:
            item = value[0]
            same = [x for x in have if isinstance(x, dict) and isinstance(item, dict)
                    and "index" in item and x.get("index") == item["index"]]
            if same:
                _merge(same[0], item)
            else:
                have.append(item)


def _made(text_id: tuple, text: str, envelope: dict) -> bytes:
    """One event carrying ``text`` as the delta of the text ``text_id`` names."""
    kind = text_id[0]
    if kind == "chat":
        choice = {"index": text_id[1], **_placed(text_id[2:], text)}
        choice.setdefault("delta", {})
        choice["finish_reason"] = None
        return b"data: " + _dumped({**envelope, "choices": [choice]}) + b"\n\n"
    if kind == "messages":
        _, index, delta_type, field = text_id
        event = {"type": "content_block_delta", "index": index,
                 "delta": {"type": delta_type, field: text}}
        return b"event: content_block_delta\ndata: " + _dumped(event) + b"\n\n"
    _, delta_type, *where = text_id
    event = {"type": delta_type, **{k: v for k, v in zip(_RESPONSES_WHERE, where)
                                    if v is not None}, "delta": text}
    return b"event: " + delta_type.encode() + b"\ndata: " + _dumped(event) + b"\n\n"
