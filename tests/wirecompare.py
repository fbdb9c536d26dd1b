"""Compare two sequences of captured requests field by field, as the wire saw them.

A request becomes a flat map of fields: ``method``, ``path``, ``query:NAME``,
``header:NAME`` and ``body:JSON.PATH``. The key is taken out of its header into one field,
``header:credential`` ("Bearer KEY" or "x-api-key KEY"), so that the form it travels in can
be allowed to differ while the key itself may not. Differences are matched against an
allowlist whose entries say why a field may differ and, where it matters, what byok's own
value must still satisfy.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Callable, NamedTuple

_MISSING = "<absent>"


class Difference(NamedTuple):
    index: int          # which request of the sequence
    field: str          # e.g. "header:anthropic-version", "body:messages[0].content"
    byok: str
    sdk: str
    note: str = ""

    def __str__(self) -> str:
        return self.show("byok", "SDK")

    def show(self, first: str, second: str) -> str:
        a, b = (_masked(v) if self.field == "header:credential" else v
                for v in (self.byok, self.sdk))
        note = f" (allowed to differ only if: {self.note})" if self.note else ""
        return f"request {self.index + 1}, {self.field}: {first} {a} / {second} {b}{note}"


def _masked(credential: str) -> str:
    """Keys, even test keys, are shown by their last 4 characters only."""
    parts = credential.split(" + ")
    return " + ".join(f"{part.rsplit(' ', 1)[0]} ...{part[-4:]}" for part in parts)


class Allowed(NamedTuple):
    """A field allowed to differ. ``where`` is "PROTOCOL:FIELD" with shell wildcards."""

    where: str
    reason: str
    check: Callable[[str, str], bool] | None = None  # (byok's value, SDK's) -> still acceptable

    def covers(self, protocol: str, diff: Difference) -> bool:
        return fnmatch.fnmatchcase(f"{protocol}:{diff.field}", self.where)


def _credential(headers: dict) -> str:
    found = []
    auth = headers.get("authorization")
    if auth is not None:
        found.append(auth if auth.startswith("Bearer ") else f"authorization {auth}")
    if headers.get("x-api-key") is not None:
        found.append(f"x-api-key {headers['x-api-key']}")
    return " + ".join(found) or _MISSING


def _flatten(value, prefix: str, out: dict) -> None:
    if isinstance(value, dict):
        if not value:
            out[prefix] = "{}"
        for k, v in value.items():
            _flatten(v, f"{prefix}{k}" if prefix.endswith(":") else f"{prefix}.{k}", out)
    elif isinstance(value, list):
        if not value:
            out[prefix] = "[]"
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}[{i}]", out)
    else:
        out[prefix] = json.dumps(value, ensure_ascii=False)


def fields(request: dict) -> dict[str, str]:
    """One captured request as {field: value}, values as JSON text."""
    out = {"method": request["method"], "path": request["path"]}
    for name, values in request["query"].items():
        out[f"query:{name}"] = json.dumps(values)
    headers = dict(request["headers"])
    out["header:credential"] = _credential(headers)
    for name, value in headers.items():
        if name not in ("authorization", "x-api-key"):
            out[f"header:{name}"] = value
    body = request["body"]
    if body:
        try:
            _flatten(json.loads(body), "body:", out)
        except ValueError:
            out["body:<raw>"] = repr(body)
    return out


def differences(byok: list[dict], sdk: list[dict]) -> list[Difference]:
    found = []
    if len(byok) != len(sdk):
        found.append(Difference(-1, "number of requests", str(len(byok)), str(len(sdk))))
    for i, (a, b) in enumerate(zip(byok, sdk)):
        fa, fb = fields(a), fields(b)
        for name in sorted(fa.keys() | fb.keys()):
            va, vb = fa.get(name, _MISSING), fb.get(name, _MISSING)
            if va != vb:
                found.append(Difference(i, name, va, vb))
    return found


def unexplained(protocol: str, diffs: list[Difference],
                allowlist: list[Allowed]) -> list[Difference]:
    """The differences no allowlist entry accounts for."""
    out = []
    for diff in diffs:
        entry = next((a for a in allowlist if a.covers(protocol, diff)), None)
        if entry is None:
            out.append(diff)
        elif entry.check is not None and not entry.check(diff.byok, diff.sdk):
            out.append(diff._replace(note=entry.reason))
    return out
