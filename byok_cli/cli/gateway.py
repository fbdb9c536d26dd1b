"""`byok gateway`: serve the profile's providers on loopback to programs holding a token."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from . import output
from .root import single, state


def gateway_command(
    ctx: typer.Context,
    port: int = typer.Option(8787, "--port", min=0, max=65535,
                             help="The port (0: a free one, printed on start)."),
    host: str = typer.Option("127.0.0.1", "--host", metavar="127.0.0.1|::1|localhost",
                             help="A loopback address: the gateway answers this machine only."),
    as_json: bool = typer.Option(False, "--json", help="Print the start-up lines as JSON."),
    log: Optional[str] = typer.Option(None, "--log", metavar="FILE",
                                      help="Append a request log (method, path, token name, "
                                           "status, timings; never bodies) to FILE, or - "
                                           "for stderr."),
) -> None:
    """Serve every provider that has a key at http://HOST:PORT/PROVIDER, until Ctrl-C or
    SIGTERM. Programs reach it with a client token (`byok token create`) where they would
    put a key, and never see one; byok applies its key order, fallbacks, budgets and usage
    log to their chat completions, messages and responses, and passes every other request
    through with the key swapped in.

    On start it prints one line per provider, tab-separated: its name, its URL here, the
    variable that takes that URL, and the variable that takes the token.

    Examples:

      byok gateway --port 8787

      OPENAI_BASE_URL=http://127.0.0.1:8787/openai OPENAI_API_KEY=$T python a.py
    """
    from ..gateway.server import Gateway, run

    st = state(ctx)
    sink = None
    if log == "-":
        sink = sys.stderr
    elif log:
        import os

        from ..errors import ByokError, Code

        try:  # 0600, as every file byok writes
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise ByokError(Code.USAGE, f"cannot write the request log {log}: "
                            f"{exc.strerror}") from None
        sink = os.fdopen(fd, "a", encoding="utf-8")
    gateway = Gateway(st.keychain, host=host, port=port, request_log=sink,
                      on_warning=output.warn)

    def ready(gw: Gateway) -> None:
        providers = gw.providers()
        if as_json:
            print(json.dumps({"url": gw.url, "providers": providers}), flush=True)
        else:
            for p in providers:
                print("\t".join([p["provider"], p["base_url"], p["base_url_env"] or "-",
                                 p["key_env"] or "-"]), flush=True)
        if not providers:
            output.warn("no provider has a key yet: store one with `byok key set PROVIDER`")
        output.info(f"byok gateway on {gw.url}; a client token: `byok token create NAME`; "
                    "Ctrl-C stops it")

    run(gateway, ready)


app = single("gateway", gateway_command)
