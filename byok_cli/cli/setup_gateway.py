"""`byok setup`'s side of the gateway: the gateway's URL for each provider, a token made
for the tool and named after it, and revoking that token on undo."""

from __future__ import annotations

import time

PORT = 8787  # `byok gateway`'s default --port
DRY_RUN_TOKEN = "byok-gw-(a new token, made when setup runs for real)"


def credentials(st, tool: str, provider: str, dry_run: bool, port: int = PORT,
                earlier: bool = False):
    """Gateway mode: the gateway's base URL for the provider (http://127.0.0.1:PORT/NAME, as
    `byok gateway` serves it) and a token for the tool, named after it, limited to that
    provider. A token of that name from an earlier setup of this tool (``earlier``) is
    revoked and replaced; one the person made by hand is left alone, and setup says so."""
    from ..setup import GATEWAY, Credentials

    st.byok.registry.require(provider)
    urls = {provider: f"http://127.0.0.1:{port}/{provider}"}
    if dry_run:
        return Credentials(GATEWAY, provider, st.profile, gateway_urls=urls,
                           token=DRY_RUN_TOKEN)
    from ..gateway import tokens

    if earlier:
        st.store.revoke_token(st.profile, tool, time.time())
    token = tokens.create(st.store, st.profile, tool, [provider])
    return Credentials(GATEWAY, provider, st.profile, gateway_urls=urls, token=token)


def revoke(st, tool: str) -> str | None:
    """Revoke the token made for the tool; what was done, or None."""
    if st.store.revoke_token(st.profile, tool, time.time()):
        return f"token {tool!r} revoked"
    return None
