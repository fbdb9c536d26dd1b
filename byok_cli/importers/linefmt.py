"""Files of NAME=VALUE lines, each parsed the way its tool does: .env files (python-dotenv's
rules, which aider and most Python tools use), aichat's .env (its own simpler reader) and
shell_gpt's .sgptrc. A key is removed by deleting its line."""

from __future__ import annotations

import re
from typing import Callable, Mapping, NamedTuple

from ..errors import ByokError, Code

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


class Pair(NamedTuple):
    name: str
    value: str | None
    start: int   # the line's first character
    end: int     # after its line break
    line: int    # 1-based


def physical_lines(text: str):
    """(start, line number, line without its break) for each line, as Python's text mode and
    Rust's str::lines split them."""
    number, pos = 0, 0
    while pos < len(text):
        m = _LINE.match(text, pos)
        number += 1
        yield pos, m.end(), number, m.group(0).rstrip("\r\n")
        pos = m.end()


def sgpt_pairs(text: str, where: str) -> list[Pair]:
    """shell_gpt's Config._read: skip blank lines and lines starting with '#', then
    ``key, value = line.strip().split("=", 1)`` (a line without '=' stops sgpt too)."""
    out = []
    for start, end, number, line in physical_lines(text):
        if line.strip() and not line.startswith("#"):
            name, eq, value = line.strip().partition("=")
            if not eq:
                raise ByokError(Code.INVALID_FORMAT, f"{where}, line {number}: not NAME=VALUE "
                                "(shell_gpt cannot read it either); nothing was changed")
            out.append(Pair(name, value, start, end, number))
    return out


def aichat_env_pairs(text: str, where: str) -> list[Pair]:
    """aichat's load_env_file: trimmed lines, '#' comments, split at the first '=', both sides
    trimmed; lines without '=' are ignored. Quotes are kept as part of the value."""
    out = []
    for start, end, number, line in physical_lines(text):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        if eq:
            out.append(Pair(name.strip(), value.strip(), start, end, number))
    return out


_DOTENV_SKIP = re.compile(r"[ \t]*(?:#[^\r\n]*)?(?:\r\n|\r|\n|\Z)")
_DOTENV = re.compile(
    r"[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*"
    r"(?:=[ \t]*(?:'(?P<sq>(?:\\'|[^'])*)'[ \t]*(?:#[^\r\n]*)?"
    r"|\"(?P<dq>(?:\\.|[^\"\\])*)\"[ \t]*(?:#[^\r\n]*)?"
    r"|(?P<raw>[^\r\n]*)))?"
    r"(?:\r\n|\r|\n|$)")
_DQ_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "'": "'"}


def dotenv_pairs(text: str, where: str) -> list[Pair]:
    """python-dotenv's rules: `export` allowed; single quotes literal (\\' and \\\\ escaped);
    double quotes with backslash escapes; both may span lines; an unquoted value ends at a
    ' #' comment. A line that is none of these is refused (python-dotenv skips it)."""
    out = []
    pos = 0
    while pos < len(text):
        skip = _DOTENV_SKIP.match(text, pos)
        if skip and skip.end() > pos:
            pos = skip.end()
            continue
        m = _DOTENV.match(text, pos)
        number = text.count("\n", 0, pos) + 1
        if not m or m.end() == pos:
            raise ByokError(Code.INVALID_FORMAT, f"{where}, line {number}: not NAME=VALUE; "
                            "nothing was changed")
        if m.group("sq") is not None:
            value = re.sub(r"\\([\\'])", r"\1", m.group("sq"))
        elif m.group("dq") is not None:
            value = re.sub(r"\\(.)", lambda e: _DQ_ESCAPES.get(e.group(1), e.group(0)),
                           m.group("dq"), flags=re.S)
        elif m.group("raw") is not None:
            value = re.sub(r"[ \t]+#.*", "", m.group("raw")).strip()
        else:
            value = None
        out.append(Pair(m.group("name"), value, pos, m.end(), number))
        pos = m.end()
    return out


MAX_EXPANDED = 1024 * 1024  # one interpolated value; a key is under 1 KiB
_VARIABLE = re.compile(r"\$\{(?P<name>[^}:]*)(?::-(?P<default>[^}]*))?\}")


def dotenv_values(pairs: list[Pair], env: Mapping[str, str]) -> list[str | None]:
    """The values as python-dotenv's ``dotenv_values()`` gives them (it interpolates by
    default): ``${NAME}`` and ``${NAME:-default}`` in any value, quoted or not, take NAME
    from the lines above, else from the environment, else the default, else ""; a NAME
    present but empty stays empty; bare ``$NAME`` is left as it is."""
    seen: dict[str, str | None] = {}
    out: list[str | None] = []
    for pair in pairs:
        value = pair.value
        if value is not None:
            scope = {**env, **seen}

            def resolve(m: re.Match) -> str:
                default = m.group("default") if m.group("default") is not None else ""
                found = scope.get(m.group("name"), default)
                return found if found is not None else ""

            value = _VARIABLE.sub(resolve, value)
            if len(value) > MAX_EXPANDED:  # ${X}${X} on every line doubles it each time
                from ..errors import ByokError, Code

                raise ByokError(Code.INVALID_FORMAT, f"the value of {pair.name} grows past "
                                f"{MAX_EXPANDED >> 20} MiB through ${{…}} interpolation; nothing "
                                "was changed")
        seen[pair.name] = value
        out.append(value)
    return out


class Lines:
    """A NAME=VALUE format, with the reader of one tool."""

    def __init__(self, name: str, parse: Callable[[str, str], list[Pair]]):
        self.name = name
        self.parse = parse

    def pairs(self, text: str, where: str = "the file") -> list[Pair]:
        return self.parse(text, where)

    def load(self, text: str, where: str = "the file") -> list[tuple[str, str | None]]:
        return [(p.name, p.value) for p in self.parse(text, where)]

    def locate(self, text: str, path: tuple) -> list[tuple[int, int, str]]:
        pair = self.parse(text, "the file")[path[0]]
        return [(pair.start, pair.end, "")]

    @staticmethod
    def without(doc: list, removed: list[tuple[tuple, bool]]) -> list:
        out = list(doc)
        for index in sorted((path[0] for path, _ in removed), reverse=True):
            del out[index]
        return out


DOTENV = Lines(".env", dotenv_pairs)
AICHAT_ENV = Lines("aichat .env", aichat_env_pairs)
SGPTRC = Lines(".sgptrc", sgpt_pairs)
