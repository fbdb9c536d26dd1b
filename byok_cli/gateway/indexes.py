"""The indexes a policed stream's events may name (issue 21, tester6 #1). DeltaMasker
follows one text per place (a chat choice, a tool call, a block, an output's part), but
clients do not all place a delta where its index says: the openai and anthropic SDKs read
a negative index as Python does (``-1``: the last item), naive clients read
``choices[0]`` whatever its index, the SDKs append a started block or output item
whatever index it names, and Responses clients join the text of every output. A key whose
characters alternate between two places would reach them whole. So an index no honest
upstream sends ends the stream, as an event past byok's limits does (LimitExceeded,
passed on as the API's error event after the events before it):

- chat: a choice index that is not an int in 0 <= i < the request's ``n``; a tool call's
  (any delta list item's) index that is negative, not an int, or past the next one (the
  SDK appends a new one whatever its index); text for a choice after its finish;
- messages: a block started out of turn (its index is not the number of blocks started
  before it), or a delta or stop for a block not started, or stopped;
- responses: an output item or content part added out of turn, or an event naming an
  output item or part other than the one last added (an honest upstream writes them one
  after another), or another item's id; a negative or non-int summary index; a delta for
  a text after its ``.done`` or its item's.
"""

from __future__ import annotations

from ..wire.limits import LimitExceeded


def _count(value) -> bool:
    """An int (not a bool) of at least 0: what an honest index is."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _refused(what: str, value) -> LimitExceeded:
    return LimitExceeded("index", f"the answer named {what} {value!r}, which no honest "
                         f"answer to this request names (a client could join a key's "
                         f"pieces across it): byok ended the stream")


class Indexes:
    """The places one policed stream (``kind``: chat | responses | messages) has opened;
    ``check`` refuses an event that names another."""

    def __init__(self, kind: str, choices: int = 1):
        self.kind, self.choices = kind, choices
        self.started = 0            # messages: blocks started; responses: output items added
        self.open: set[int] = set()  # messages: blocks started and not stopped
        self.item_id = None         # responses: the id of the output item last added
        self.parts = 0              # responses: content parts of that item
        self.lists: dict[tuple, int] = {}  # chat: (choice, list) -> its items opened
        self.ended: set = set()     # chat: finished choices; responses: texts .done

    def check(self, event: dict) -> None:
        getattr(self, "_" + self.kind)(event)

    def _chat(self, event: dict) -> None:
        choices = event.get("choices")
        if not isinstance(choices, list):
            return
        for n, choice in enumerate(choices):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", n)  # (none: read in turn, as the choice it stands as)
            if not _count(index) or index >= self.choices:
                raise _refused("choice index", index)
            delta = choice.get("delta")
            if index in self.ended and _has_text(delta):
                raise _refused("the finished choice index", index)
            if choice.get("finish_reason"):
                self.ended.add(index)
            for key, value in (delta.items() if isinstance(delta, dict) else ()):
                for item in (value if isinstance(value, list) else ()):
                    if isinstance(item, dict) and "index" in item:
                        self._listed((index, key), item["index"])

    def _listed(self, where: tuple, at) -> None:
        opened = self.lists.get(where, 0)
        if not _count(at) or at > opened:
            raise _refused("tool call index", at)
        self.lists[where] = max(opened, at + 1)

    def _messages(self, event: dict) -> None:
        kind, index = event.get("type"), event.get("index")
        if kind == "content_block_start":
            if not _count(index) or index != self.started:
                raise _refused("a block started at index", index)
            self.started += 1
            self.open.add(index)
        elif kind in ("content_block_delta", "content_block_stop"):
            if not _count(index) or index not in self.open:
                raise _refused("block index", index)
            if kind == "content_block_stop":
                self.open.discard(index)

    def _responses(self, event: dict) -> None:
        kind = event.get("type") if isinstance(event.get("type"), str) else ""
        if "summary_index" in event and not _count(event["summary_index"]):
            raise _refused("summary index", event["summary_index"])
        if "output_index" not in event:
            return
        output = event["output_index"]
        if kind == "response.output_item.added":
            if not _count(output) or output != self.started:
                raise _refused("an output item added at index", output)
            self.started += 1
            item = event.get("item") if isinstance(event.get("item"), dict) else {}
            self.item_id = item.get("id")
            content = item.get("content")
            self.parts = len(content) if isinstance(content, list) else 0
            return
        if not _count(output) or output != self.started - 1 \
                or (kind.endswith(".delta") and output in self.ended):
            raise _refused("output index", output)
        if "item_id" in event and self.item_id is not None \
                and event["item_id"] != self.item_id:
            raise _refused("item id", event["item_id"])
        place = (kind.rsplit(".", 1)[0], output, event.get("content_index"),
                 event.get("summary_index"))
        if kind == "response.output_item.done":
            self.ended.add(output)
        elif kind.endswith(".done"):
            self.ended.add(place)
        elif kind.endswith(".delta") and place in self.ended:
            raise _refused("a text ended, at output index", output)
        if "content_index" not in event:
            return
        part = event["content_index"]
        if kind == "response.content_part.added":
            # the next part, or the last again (an item added with its part already in it)
            if not _count(part) or part > self.parts or part < self.parts - 1:
                raise _refused("a content part added at index", part)
            self.parts = part + 1
        elif not _count(part) or part != self.parts - 1:
            raise _refused("content index", part)


def _has_text(node) -> bool:
    """Whether ``node`` holds a non-empty string anywhere but a list item's index, a
    union's type and a role (OpenRouter's closing usage chunk repeats the delta's
    "role": "assistant" after the finish)."""
    if isinstance(node, str):
        return bool(node)
    if isinstance(node, dict):
        return any(_has_text(v) for k, v in node.items()
                   if k not in ("index", "type", "role"))
    return isinstance(node, list) and any(_has_text(v) for v in node)
