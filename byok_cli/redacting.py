"""Masking text that arrives in pieces (an answer's SSE events, network chunks): the pieces
shown are masked as ``errors.redact`` would mask the whole text, a key split across two
pieces included. ``run`` holds back what a masked encoded form might still cross; the
gateway (eager) holds back only what could begin a key."""

from __future__ import annotations

from .errors import _KEY_PREFIXES, _PIECE, _PIECE_STARTS, _ZERO_WIDTH, redact

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (run's start)
if TYPE_CHECKING:
    from collections.abc import Callable

# What RedactingStream may hold back: past _HOLD characters with no natural cut (one run of
# key-alphabet text, as a hostile answer can be), it cuts _FORM characters before the end
# where masking each side apart provably equals masking the whole, so that what it holds,
# and each text it masks, stays bounded. _FORM is above the longest masked form of a key
# (a key of some hundred characters as HTML character references).
_HOLD = 256 * 1024
_FORM = 16 * 1024


class RedactingStream:
    """Streamed text, masked as ``redact`` would mask it whole, however the pieces are cut:
    a key split across two pieces (SSE events, network chunks) is masked too. What could
    still grow into a secret is held back, at most the text since the last place no masked
    form crosses: a new line, a character outside ASCII, or a space after 5 characters that
    are neither space nor zero-width (the spaced-out forms have groups of at most 4), or a
    place checked so (see _HOLD). ``end`` hands over what is held back. Linear in the text:
    the pieces held are joined only when they are handed on."""

    def __init__(self, receive: Callable[[str], None] = lambda text: None,
                 eager: bool = False, shapes: bool = True):
        self.receive = receive
        # eager (the gateway, which must not hold an answer back): only a tail that could
        # begin a key is held (_open_tail), not text a masked encoded form might cross;
        # without ``shapes``, only one that could begin a key byok handled (a name some
        # clients take whole from its first delta: "get_task" is not held for its "sk")
        self.eager = eager
        self.shapes = shapes
        self._run = ""  # eager: the key characters that end what was shown (context)
        self._parts: list[str] = []
        self._size = 0
        self._hold = _HOLD  # doubled after each cut that could not be proved: linear still

    @property
    def held(self) -> str:
        return "".join(self._parts)

    def __call__(self, piece: str) -> None:
        shown = self.feed(piece)
        if shown:
            self.receive(shown)

    def feed(self, piece: str) -> str:
        """What of the text so far can be shown now, masked; the rest is held."""
        if not piece:
            return ""
        if self.eager:
            # what was shown goes on the run the new text may continue ("sk-" shown, then
            # "proj-…": held as a key shape's run)
            text, context = self.held + piece, self._run
            cut = _open_tail(context + text, self.shapes) - len(context)
            if cut <= 0:
                self._parts, self._size = [text], len(text)
                return ""
            self._parts = [text[cut:]] if cut < len(text) else []
            self._size = len(text) - cut
            shown = redact(text[:cut]) if not context else _after(context, text[:cut])
            # the context: a run shown as it came (one masked is over), that the text shown
            # in full ends with
            self._run = (_context(context + text, self.shapes)
                         if cut == len(text) and shown == text else "")
            return shown
        # The last characters held are context enough for a cut in the new piece.
        before = self._parts[-1][-6:] if self._parts else ""
        if len(before) < 6 and len(self._parts) > 1:
            before = self.held[-6:]
        cut = _safe_cut(before + piece, len(before))
        if cut is not None:
            cut -= len(before)
            text = "".join(self._parts) + piece[:cut]
            self._parts = [piece[cut:]] if cut < len(piece) else []
            self._size = len(piece) - cut
            return redact(text) if text else ""
        self._parts.append(piece)
        self._size += len(piece)
        return self._cut_checked() if self._size > self._hold else ""

    def _cut_checked(self) -> str:
        text = "".join(self._parts)
        at = len(text) - _FORM
        whole = redact(text)
        for _ in range(4):  # a few tries back; else hold on (bounded by the answer's limit)
            head = redact(text[:at])
            if whole.startswith(head) and head + redact(text[at:]) == whole:
                self._parts, self._size = [text[at:]], len(text) - at
                self._hold = _HOLD
                return head
            at -= _FORM
        self._parts, self._size, self._hold = [text], len(text), 2 * len(text)
        return ""

    def rest(self) -> str:
        """What is held, masked (the text has ended)."""
        held, context = self.held, self._run
        self._parts, self._size, self._run = [], 0, ""
        if not held:
            return ""
        return _after(context, held) if context else redact(held)

    def end(self) -> None:
        held = self.rest()
        if held:
            self.receive(held)


def _safe_cut(text: str, start: int) -> int | None:
    """The last place at or after ``start`` where ``text`` can be cut so that masking each
    side apart equals masking it whole (only the new text is scanned: no quadratic cost)."""
    for i in range(len(text) - 1, start - 1, -1):
        c = text[i]
        if c == "\n" or (c > "\x7f" and c not in _ZERO_WIDTH and not c.isspace()):
            return i + 1
        if c.isspace() and i >= 5 and not any(
                w.isspace() or w in _ZERO_WIDTH for w in text[i - 5:i]):
            return i + 1
    return None


_RUN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                       "_+/=.~*-")
_KEY_BEGUN = tuple({start[:n] for start in _KEY_PREFIXES for n in range(2, len(start))})
_MAX_OPEN = 4096  # a run longer than any key is shown, masked, rather than held on
_CONTEXT = 256   # the end of a shown run kept as context (longer than a key's prefix)


def _after(context: str, text: str) -> str:
    """``text`` masked with the ``context`` shown before it (where a key shape began),
    less what was shown of the context."""
    whole = redact(context + text)
    same = 0
    while same < len(context) and same < len(whole) and whole[same] == context[same]:
        same += 1
    return whole[same:]


def _context(text: str, shapes: bool) -> str:
    """What of the run of key characters that ends ``text`` (shown) the next piece needs:
    its last 7 characters (a key shape's start, a piece's start), or, where a key shape
    begins in it (shown only without ``shapes``, or past _MAX_OPEN), all from there on."""
    if shapes:
        text = text[-_PIECE + 1:]
    i = len(text)
    while i > 0 and text[i - 1] in _RUN_CHARS:
        i -= 1
    run = text[i:]
    at = max(run.rfind(start) for start in _KEY_PREFIXES) if not shapes else -1
    return run[at:][-_CONTEXT:] if at >= 0 else run[-_PIECE + 1:]


def _open_tail(text: str, shapes: bool = True) -> int:
    """Where the tail of ``text`` that could still grow into a key begins (len(text):
    none): its last run of key characters, when that run holds or ends with the start of a
    key shape, or ends with the first 3 to 7 characters of a piece of a remembered secret
    (or is, whole, its first 1 or 2). Without ``shapes``: only a run that ends with the
    first 4 to 7 characters of such a piece (a name's first delta: what follows it is
    held with the shown run as context).
    Masked forms outside the key alphabet (percent-encoded, spaced out) are not waited for.
    Only the new run is scanned, from the end."""
    i = len(text)
    while i > 0 and text[i - 1] in _RUN_CHARS:
        i -= 1
    run = text[i:]
    if not run or len(run) > _MAX_OPEN:
        return len(text)
    if shapes and (any(start in run for start in _KEY_PREFIXES) or run.endswith(_KEY_BEGUN)
                   or (len(run) == 1 and run in "sgAt")):  # a key shape, or its beginning
        return i
    if _PIECE_STARTS:  # (a shorter start only when it is the whole run)
        least = 3 if shapes else 4
        low = run[-_PIECE + 1:].lower()
        if any(low[-n:] in _PIECE_STARTS for n in range(1, len(low) + 1)
               if n >= least or (shapes and n == len(run))):
            return i
    return len(text)
