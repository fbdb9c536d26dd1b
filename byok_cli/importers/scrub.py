"""Removing imported keys from a file, and proving that nothing else changed.

Each removal is an edit of the text (a deleted line, or a value blanked to ""), never a
re-serialisation; after each one the file is parsed again and must equal the original with
exactly that key gone. An edit that fails this proof is not made.
"""

from __future__ import annotations

from ..errors import ByokError, Code
from . import Entry, SourceFile


def scrubbed_text(file: SourceFile, entries: list[Entry]) -> tuple[str, list[Entry]]:
    """The file's text without these entries, and the entries whose key still appears in it
    elsewhere (in a comment, say), which the person must remove by hand."""
    fmt, where = file.fmt, str(file.path)
    original = fmt.load(file.text, where)
    text = file.text
    removed: list[tuple[tuple, bool]] = []
    # Line formats address entries by index: remove the last ones first.
    for entry in sorted(entries, key=lambda e: e.path[0] if isinstance(e.path[0], int) else 0,
                        reverse=True):
        for start, end, replacement in fmt.locate(text, entry.path):
            candidate = text[:start] + replacement + text[end:]
            attempt = removed + [(entry.path, bool(replacement))]
            try:
                same = fmt.load(candidate, where) == fmt.without(original, attempt)
            except ByokError:
                same = False
            if same:
                text, removed = candidate, attempt
                break
        else:
            raise ByokError(Code.INVALID_FORMAT,
                            f"{where}: {entry.label} cannot be removed without changing "
                            "something else; nothing was changed",
                            hint="remove it by hand, or import without --scrub")
    leftovers = [e for e in entries if e.key in text]
    return text, leftovers
