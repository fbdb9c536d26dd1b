"""Price data for tests: LiteLLM-shaped maps, a loopback HTTP server that serves them, and
synced copies written straight into a byok home."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from pathlib import Path

from byok_cli.catalog import source as catalog_source, prices

LITELLM_NAME = {byok: litellm for litellm, byok in catalog_source.PROVIDERS.items()}


def litellm_map(**overrides: tuple[float, float]) -> dict:
    """The bundled snapshot as a LiteLLM map (per-token prices), with some models' (input,
    output) prices in USD per million tokens replaced."""
    out = {}
    snap = prices.snapshot()
    for provider, models in snap.models.items():
        for mid, e in models.items():
            name = LITELLM_NAME[provider]
            entry = {"litellm_provider": name, "mode": "chat"}
            key = mid if provider in ("openai", "anthropic") else f"{name}/{mid}"
            if "context" in e:
                entry["max_input_tokens"] = e["context"]
            if "max_output" in e:
                entry["max_output_tokens"] = e["max_output"]
            if "input" in e:
                entry["input_cost_per_token"] = e["input"] / 1e6
                entry["output_cost_per_token"] = e["output"] / 1e6
            if mid in overrides:
                i, o = overrides[mid]
                entry["input_cost_per_token"], entry["output_cost_per_token"] = i / 1e6, o / 1e6
            out[key] = entry
    return out


def write_synced(home: Path, models: dict, taken: str | None = None) -> Path:
    """A synced copy in ``home``, as `byok models sync` leaves it (``models`` in byok's shape:
    {provider: {id: entry}})."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    taken = taken or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    path = home / prices.SYNCED_NAME
    path.write_text(json.dumps({"source": {"taken": taken, "kind": "sync",
                                           "url": "http://127.0.0.1/test"}, "models": models}))
    path.chmod(0o600)
    return path


class MapServer:
    """Serves fixtures on 127.0.0.1: /good.json, or whatever ``files`` holds; 404 otherwise."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = files.get(self.path.split("?")[0])  # (a query is no part of it)
                if body is None:
                    self.send_error(404)
                    return
                if body == b"500":
                    self.send_error(500)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, path: str, body: bytes | dict) -> str:
        self.files[path] = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.url + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
