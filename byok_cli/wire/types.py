"""What a request to a provider is and what comes back, whatever the wire protocol.

No HTTP here: `run --explain` and the planning code use these without loading a socket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..records import fresh, record, tuple_record


@record
class ChatRequest:
    model: str
    messages: list[dict]          # [{"role": "user"|"assistant", "content": str}], and a
    #                               user turn's "attachments": [wire.attachments.Attachment]
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    effort: str | None = None     # the API's effort / reasoning control, as a level name
    stream: bool = True
    schema: dict | None = None    # a JSON Schema the answer must fit (structured output)

    @property
    def attachments(self) -> list:
        """Every attachment the request carries, earlier turns' too."""
        return [a for m in self.messages for a in m.get("attachments") or ()]


def normalise_turns(messages: list[dict]) -> list[dict]:
    """The turns both APIs accept: no empty messages, roles alternating, a user turn first.

    Consecutive turns of one role (say, after a failed answer) are joined, attachments too.
    A turn with attachments and no text is kept.
    """
    out: list[dict] = []
    for m in messages:
        text = m.get("content") or ""
        attached = list(m.get("attachments") or ())
        if not text.strip() and not attached:
            continue
        if out and out[-1]["role"] == m["role"]:
            joined = "\n\n".join(t for t in (out[-1]["content"], text) if t.strip())
            attached = list(out[-1].get("attachments") or ()) + attached
            out[-1] = {"role": m["role"], "content": joined}
        else:
            out.append({"role": m["role"], "content": text})
        if attached:
            out[-1]["attachments"] = attached
    while out and out[0]["role"] != "user":
        out.pop(0)
    return out


# No request is billed for a billion tokens or more (the largest context windows hold about
# ten million): a count above this, below 0 or not an integer is a gateway's bug, not usage.
MAX_TOKENS = 10**9


def token_count(value: object) -> int | None:
    """A token count as a provider reported it, or None when no real request has it
    (negative, fractional, a string, a boolean, absurdly large): such a count must neither
    credit a budget nor overflow the usage log, so tokens and cost become unknown."""
    return value if type(value) is int and 0 <= value <= MAX_TOKENS else None


# Why an answer ended, in one vocabulary for every API: `end` (complete), `length` (cut off
# at the token limit), `refusal`, `content_filter`, `tool_call` (the model called a tool:
# byok offers none), `other` (a word byok does not know; the provider's word is kept).
STOP_REASONS = ("end", "length", "refusal", "content_filter", "tool_call", "other")


@record
class ChatResult:
    """Filled in while a chat streams; complete once the generator is exhausted."""

    text_parts: list[str] = fresh(list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None  # of input_tokens, those read from a prompt cache
    cache_write_tokens: int | None = None   # of input_tokens, those written to a prompt cache
    reasoning_tokens: int | None = None     # of output_tokens, those spent reasoning
    finish_reason: str | None = None  # the provider's own word for why the answer ended
    stop_reason: str | None = None    # that word normalised: one of STOP_REASONS
    served_model: str | None = None   # the model the provider says answered
    refusal_parts: list[str] = fresh(list)  # OpenAI's `refusal` text
    tool_calls: list[str] = fresh(list)     # names of tools the model called
    implausible: list[str] = fresh(list)  # counts refused, as "field=value"
    reasoning_parts: list[str] = fresh(list)  # the model's reasoning, shown
    on_reasoning: Callable[[str], None] | None = None  # hears each piece of it as it comes

    def reasoned(self, piece: object) -> None:
        if isinstance(piece, str) and piece:
            self.reasoning_parts.append(piece)
            if self.on_reasoning is not None:
                self.on_reasoning(piece)

    def reset(self) -> None:
        """Empty again, for a retried request."""
        blank = ChatResult()
        for name in self.__record_fields__:
            if name == "on_reasoning":
                continue
            value = getattr(self, name)
            if isinstance(value, list):
                value.clear()  # the same lists: callers may hold them
            else:
                setattr(self, name, getattr(blank, name))

    def stopped(self, word: object, table: Mapping[str, str]) -> None:
        """Note the provider's stop word and its normalised meaning (``table``: word ->
        one of STOP_REASONS; an unknown word is `other`, the word kept)."""
        if isinstance(word, str) and word:
            self.finish_reason = word
            # OpenAI says `stop` after a refusal given in its own field: the refusal stands
            self.stop_reason = "refusal" if self.refusal_parts else table.get(word, "other")

    def served(self, model: object) -> None:
        if isinstance(model, str) and model and self.served_model is None:
            self.served_model = model[:200]

    @property
    def refusal(self) -> str:
        return "".join(self.refusal_parts)

    def tokens(self, name: str, value: object) -> int | None:
        """``value`` if it is a plausible count, else None, noting the refused one."""
        count = token_count(value)
        if count is None and value is not None:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"
            self.implausible.append(f"{name}={shown}")
        return count

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


@tuple_record
class RemoteModel:
    id: str
    name: str | None = None


@tuple_record
class Settings:
    """How long to wait and how often to retry; from the environment by default."""

    timeout: float = 60.0          # read timeout: the longest silence within an answer
    connect_timeout: float = 10.0  # to open the TCP (and proxy, and TLS) connection
    max_retries: int = 2
    max_wait: float = 20.0         # never wait longer than this in total before giving up
    deadline: float = 600.0        # one request, first byte sent to last byte read (limits.py)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        from ..inputs import env_number
        from .limits import deadline

        timeout = env_number("BYOK_TIMEOUT", 60.0, env=env) or 60.0
        return cls(timeout=timeout,
                   connect_timeout=env_number("BYOK_CONNECT_TIMEOUT", min(timeout, 10.0),
                                              env=env) or 10.0,
                   max_retries=env_number("BYOK_MAX_RETRIES", 2, kind=int, high=100, env=env),
                   max_wait=env_number("BYOK_MAX_RETRY_WAIT", 20.0, env=env),
                   deadline=deadline(env))
