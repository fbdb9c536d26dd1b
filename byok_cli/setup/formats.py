"""Editing a tool's file in place: parse, change a few settings, write back everything else as
it was. JSON keeps its indentation and member order; TOML goes through tomlkit and YAML
through ruamel.yaml's round-trip mode (comments, order and quoting kept), both imported only
here, so no other command pays for them; NAME=VALUE files are edited line by line."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from ..errors import ByokError, Code


def _bad(where: str, kind: str, why: str) -> ByokError:
    return ByokError(Code.INVALID_FORMAT, f"{where} is not valid {kind} ({why}); nothing was "
                     "changed", hint="fix the file by hand, or move it aside, and run setup again")


class JSON:
    name = "JSON"

    def load(self, text: str, where: str) -> dict:
        if not text.strip():
            return {}
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _bad(where, "JSON", f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        if not isinstance(doc, dict):
            raise _bad(where, "JSON", "its top level is not an object")
        return doc

    def dump(self, doc: dict, original: str) -> str:
        """Only the top-level members that changed are rewritten (at the file's indentation);
        the text of every other member stays as it was, byte for byte."""
        indent = _json_indent(original)
        if not original.strip():
            return json.dumps(doc, indent=indent, ensure_ascii=False) + "\n"
        old = self.load(original, "the file")
        if set(old) - set(doc):
            return json.dumps(doc, indent=indent, ensure_ascii=False) + (
                "\n" if original.endswith("\n") else "")
        from ..importers.jsonfmt import JSON as Members

        text = original
        decoder = json.JSONDecoder()
        for member in sorted(Members().members(original), key=lambda m: -m.start):
            if doc[member.name] == member.value:
                continue
            _name, after_name = decoder.raw_decode(text, member.start)
            value_start = text.index(":", after_name) + 1
            while text[value_start] in " \t\r\n":
                value_start += 1
            text = text[:value_start] + _nested(doc[member.name], indent) + \
                text[member.value_end:]
        added = [name for name in doc if name not in old]
        if added:
            unit = indent if isinstance(indent, str) else " " * indent
            close = text.rindex("}")
            head = text[:close].rstrip()
            lines = [f"{unit}{json.dumps(name, ensure_ascii=False)}: "
                     f"{_nested(doc[name], indent)}" for name in added]
            text = head + ("," if old else "") + "\n" + ",\n".join(lines) + "\n" + text[close:]
        return text


def _nested(value: Any, indent: str | int) -> str:
    """A member's value as it is written one level in."""
    unit = indent if isinstance(indent, str) else " " * indent
    return json.dumps(value, indent=indent, ensure_ascii=False).replace("\n", "\n" + unit)


def _json_indent(text: str) -> str | int:
    """The indentation the file already uses (one level), else two spaces."""
    match = re.search(r"\n([ \t]+)\S", text)
    return match.group(1) if match else 2


class TOML:
    name = "TOML"

    def load(self, text: str, where: str) -> Any:
        import tomlkit
        from tomlkit.exceptions import TOMLKitError

        try:
            return tomlkit.parse(text)
        except TOMLKitError as exc:
            raise _bad(where, "TOML", str(exc)) from None

    def dump(self, doc: Any, original: str) -> str:
        import tomlkit

        return tomlkit.dumps(doc)


class YAML:
    name = "YAML"

    def _yaml(self):
        from ruamel.yaml import YAML as RoundTrip

        yaml = RoundTrip(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 4096  # never re-wrap a long line the person wrote
        return yaml

    def load(self, text: str, where: str) -> Any:
        from ruamel.yaml.error import YAMLError

        try:
            doc = self._yaml().load(text)
        except YAMLError as exc:
            raise _bad(where, "YAML", str(exc).splitlines()[0] if str(exc) else "") from None
        return doc

    def dump(self, doc: Any, original: str) -> str:
        out = io.StringIO()
        yaml = self._yaml()
        seq = _yaml_sequence_indent(original)
        if seq:
            yaml.indent(mapping=2, sequence=seq[0], offset=seq[1])
        yaml.dump(doc, out)
        return out.getvalue()

    @staticmethod
    def mapping():
        from ruamel.yaml.comments import CommentedMap

        return CommentedMap()


def _yaml_sequence_indent(text: str) -> tuple[int, int] | None:
    """(sequence, offset) for ruamel when the file indents its list items ("  - x" under a
    key), so items keep their place."""
    match = re.search(r"^(\S[^\n]*):\s*\n( +)- ", text, re.M)
    if match:
        offset = len(match.group(2))
        return offset + 2, offset
    return None


class Lines:
    """NAME=VALUE lines (shell-gpt's .sgptrc): one setting changed, every other line kept."""

    name = "NAME=VALUE"

    def load(self, text: str, where: str) -> dict[str, str]:
        values = {}
        for line in text.splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#") and "=" in stripped:
                name, _, value = stripped.partition("=")
                values.setdefault(name.strip(), value.strip())
        return values

    @staticmethod
    def set(text: str, name: str, value: str) -> str:
        pattern = re.compile(rf"^[ \t]*{re.escape(name)}[ \t]*=.*$", re.M)
        line = f"{name}={value}"
        if pattern.search(text):
            return pattern.sub(lambda _m: line, text, count=1)
        if text and not text.endswith("\n"):
            text += "\n"
        return text + line + "\n"
