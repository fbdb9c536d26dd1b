"""`--schema`: a JSON Schema from a file, inline JSON or llm's concise form, whether a provider
can be held to it strictly, and the answer checked against it here.

The validator covers the part of JSON Schema (2020-12) that structured outputs use: type
(one or a list), properties, required, additionalProperties, items, prefixItems, enum,
const, anyOf / oneOf / allOf, $ref to "#/$defs/…" or "#/definitions/…", minItems /
maxItems, minLength / maxLength, minimum / maximum / exclusiveMinimum / exclusiveMaximum,
pattern. Keywords outside it (format, descriptions, titles…) constrain nothing here. It is
small and stdlib-only because `run` imports no heavy library: jsonschema and its
dependencies cost more to import than the rest of `run`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from .errors import ByokError, Code

MAX_SCHEMA = 1 << 20    # bytes of a schema file
MAX_DEPTH = 64          # nesting of a schema or an answer checked against it
CONCISE_TYPES = {"str": "string", "string": "string", "int": "integer", "integer": "integer",
                 "float": "number", "number": "number", "bool": "boolean", "boolean": "boolean"}


def load(text: str, *, multi: bool = False) -> dict:
    """The schema ``text`` means: a file's path, inline JSON, or the concise form
    (`name, age int, bio: a short biography`). ``multi``: a list of such objects, as
    {"items": [...]} (an object at the top, as both APIs require)."""
    text = (text or "").strip()
    if not text:
        raise ByokError(Code.USAGE, "--schema is empty", hint=_HINT)
    schema = _read(text)
    if not isinstance(schema, dict):
        raise ByokError(Code.USAGE, "--schema must be a JSON object (a JSON Schema)",
                        hint=_HINT)
    _check_depth(schema, 0)
    if multi:
        schema = {"type": "object", "properties": {"items": {"type": "array", "items": schema}},
                  "required": ["items"], "additionalProperties": False}
    if schema.get("type", "object") != "object":
        raise ByokError(Code.USAGE, "--schema must describe an object (\"type\": \"object\"): "
                        "both APIs take only an object at the top", hint="wrap a list in an "
                        "object, or use --schema-multi for a list of objects")
    return schema


_HINT = ("give a JSON Schema file, inline JSON ('{\"type\": \"object\", …}') or the concise "
         "form ('name, age int')")


def _read(text: str) -> Any:
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ByokError(Code.USAGE, f"--schema is not valid JSON: {exc}", hint=_HINT) from None
    if os.path.isfile(text):
        try:
            with open(text, "rb") as f:
                data = f.read(MAX_SCHEMA + 1)
        except OSError as exc:
            raise ByokError(Code.USAGE, f"cannot read the schema file {text!r}: "
                            f"{exc.strerror}") from None
        if len(data) > MAX_SCHEMA:
            raise ByokError(Code.USAGE, f"the schema file {text!r} is over 1 MiB")
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ByokError(Code.USAGE, f"the schema file {text!r} is not valid JSON: {exc}",
                            hint=_HINT) from None
    if os.sep in text or text.endswith(".json"):
        raise ByokError(Code.USAGE, f"there is no schema file {text!r}", hint=_HINT)
    return concise(text)


def concise(text: str) -> dict:
    """llm's concise schema: fields separated by commas or new lines, each `name [type]
    [: description]`, the type one of str, int, float, bool (str when left out)."""
    properties: dict[str, dict] = {}
    separator = "\n" if "\n" in text else ","
    for part in text.split(separator):
        part = part.strip()
        if not part:
            continue
        head, colon, description = part.partition(":")
        words = head.split()
        if not words or len(words) > 2 or not re.fullmatch(r"[A-Za-z_][\w\-]*", words[0]):
            raise ByokError(Code.USAGE, f"--schema: cannot read the field {part!r}", hint=_HINT)
        kind = CONCISE_TYPES.get(words[1].lower() if len(words) == 2 else "str")
        if kind is None:
            raise ByokError(Code.USAGE, f"--schema: unknown type {words[1]!r} in {part!r}",
                            hint="types: str, int, float, bool")
        properties[words[0]] = {"type": kind}
        if colon and description.strip():
            properties[words[0]]["description"] = description.strip()
    if not properties:
        raise ByokError(Code.USAGE, "--schema names no field", hint=_HINT)
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ByokError(Code.USAGE, f"--schema is nested more than {MAX_DEPTH} levels deep")
    children = value.values() if isinstance(value, dict) else value if isinstance(
        value, list) else ()
    for child in children:
        _check_depth(child, depth + 1)


def is_strict(schema: dict) -> bool:
    """Whether OpenAI's strict mode can take the schema as it is: every object closed
    (additionalProperties false) with all of its properties required."""
    def walk(node: Any) -> bool:
        if isinstance(node, list):
            return all(walk(n) for n in node)
        if not isinstance(node, dict):
            return True
        kinds = node.get("type")
        if kinds == "object" or (isinstance(kinds, list) and "object" in kinds) \
                or "properties" in node:
            props = node.get("properties") or {}
            if node.get("additionalProperties") is not False or set(
                    node.get("required") or ()) != set(props):
                return False
        return all(walk(v) for k, v in node.items() if k not in ("enum", "const", "default"))
    return walk(schema)


# --- checking an answer ---------------------------------------------------------------------

def parse_answer(text: str) -> Any:
    """The answer's JSON value (inside a ```json fence, if a model added one), or
    ByokError SCHEMA_MISMATCH naming why it is not JSON."""
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*\n(.*)\n```", body, re.S)
    if fenced:
        body = fenced.group(1).strip()
    try:
        return json.loads(body)
    except ValueError as exc:
        shown = body[:60] + ("…" if len(body) > 60 else "")
        raise ByokError(Code.SCHEMA_MISMATCH, f"the answer is not JSON ({exc.msg} at "
                        f"character {exc.pos}): {shown!r}", retryable=False) from None


def first_violation(value: Any, schema: dict) -> str | None:
    """Where and how ``value`` breaks ``schema`` first (`$.people[2].age: expected integer,
    got string`), or None when it conforms."""
    return _check(value, schema, schema, "$", 0)


_TYPES = {"string": str, "boolean": bool, "object": dict, "array": list}


def _is(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or (
            isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    expected = _TYPES.get(kind)
    return expected is None or isinstance(value, expected)


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null", int: "integer", float: "number"}.get(type(value), "value")


def _resolve(node: dict, root: dict) -> dict:
    for _ in range(MAX_DEPTH):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return node
        target: Any = root
        if ref != "#" and not ref.startswith("#/"):
            return {}  # a remote schema: nothing checked here
        for part in ref[2:].split("/") if ref != "#" else ():
            target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(
                target, dict) else None
        node = target if isinstance(target, dict) else {}
    return {}


def _check(value: Any, node: Any, root: dict, at: str, depth: int) -> str | None:
    if node is True or not isinstance(node, dict):
        return None if node is not False else f"{at}: no value is allowed here"
    if depth > MAX_DEPTH:
        return f"{at}: nested more than {MAX_DEPTH} levels deep"
    node = _resolve(node, root)
    kinds = node.get("type")
    if kinds is not None:
        wanted = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is(value, k) for k in wanted if isinstance(k, str)):
            return f"{at}: expected {' or '.join(map(str, wanted))}, got {_kind(value)}"
    if "const" in node and value != node["const"]:
        return f"{at}: expected {json.dumps(node['const'])}"
    if isinstance(node.get("enum"), list) and value not in node["enum"]:
        return f"{at}: {json.dumps(value)[:40]} is not one of " + ", ".join(
            json.dumps(v) for v in node["enum"][:8])
    for word in ("anyOf", "oneOf"):
        options = node.get(word)
        if isinstance(options, list) and options and all(
                _check(value, o, root, at, depth + 1) for o in options):
            return f"{at}: matches none of the {word} choices"
    for sub in node.get("allOf") or ():
        if (why := _check(value, sub, root, at, depth + 1)):
            return why
    if isinstance(value, dict):
        return _check_object(value, node, root, at, depth)
    if isinstance(value, list):
        return _check_array(value, node, root, at, depth)
    if isinstance(value, str):
        return _check_string(value, node, at)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _check_number(value, node, at)
    return None


def _check_object(value: dict, node: dict, root: dict, at: str, depth: int) -> str | None:
    props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
    for name in node.get("required") or ():
        if name not in value:
            return f"{at}: missing required property {name!r}"
    extra = node.get("additionalProperties", True)
    for name, item in value.items():
        where = f"{at}.{name}" if re.fullmatch(r"\w+", name) else f"{at}[{json.dumps(name)}]"
        if name in props:
            why = _check(item, props[name], root, where, depth + 1)
        elif extra is False:
            why = f"{at}: property {name!r} is not allowed"
        else:
            why = _check(item, extra, root, where, depth + 1)
        if why:
            return why
    return None


def _check_array(value: list, node: dict, root: dict, at: str, depth: int) -> str | None:
    if isinstance(node.get("minItems"), int) and len(value) < node["minItems"]:
        return f"{at}: fewer than {node['minItems']} items"
    if isinstance(node.get("maxItems"), int) and len(value) > node["maxItems"]:
        return f"{at}: more than {node['maxItems']} items"
    prefix = node.get("prefixItems") if isinstance(node.get("prefixItems"), list) else []
    for i, item in enumerate(value):
        sub = prefix[i] if i < len(prefix) else node.get("items", True)
        if (why := _check(item, sub, root, f"{at}[{i}]", depth + 1)):
            return why
    return None


def _check_string(value: str, node: dict, at: str) -> str | None:
    if isinstance(node.get("minLength"), int) and len(value) < node["minLength"]:
        return f"{at}: shorter than {node['minLength']} characters"
    if isinstance(node.get("maxLength"), int) and len(value) > node["maxLength"]:
        return f"{at}: longer than {node['maxLength']} characters"
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        try:
            if not re.search(pattern, value):
                return f"{at}: does not match the pattern {pattern!r}"
        except re.error:
            return None  # a pattern Python cannot read constrains nothing here
    return None


def _check_number(value: float, node: dict, at: str) -> str | None:
    for word, broken in (("minimum", lambda b: value < b), ("maximum", lambda b: value > b),
                         ("exclusiveMinimum", lambda b: value <= b),
                         ("exclusiveMaximum", lambda b: value >= b)):
        bound = node.get(word)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool) and broken(bound):
            return f"{at}: {value} breaks {word} {bound}"
    return None
