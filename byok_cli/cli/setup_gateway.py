"""The seam between `byok setup` and the gateway: the gateway's URL for each provider, a token
made for the tool and named after it, and revoking that token on undo. The gateway
(issue 21) is not part of this version yet; until it is, --gateway is one clear error."""

from __future__ import annotations

import importlib.util

from ..errors import ByokError, Code

NEEDS_GATEWAY = "--gateway needs byok's local gateway (`byok gateway`), which this version " \
                "of byok does not have yet"


def available() -> bool:
    try:
        return importlib.util.find_spec("byok_cli.gateway") is not None
    except (ImportError, ValueError):
        return False


def credentials(st, tool: str, provider: str, dry_run: bool):
    """Credentials for gateway mode: the gateway's base URL per provider and a token for the
    tool (not created on a dry run)."""
    from ..setup import GATEWAY, Credentials

    if not available():
        raise ByokError(Code.USAGE, NEEDS_GATEWAY,
                        hint=f"use `byok setup {tool} --helper` where the tool has a key "
                             "command, or `byok exec -- …`")
    from ..gateway import setup_access  # type: ignore[attr-defined]  # the gateway's side

    urls, token = setup_access(st.keychain, tool, provider, create=not dry_run)
    return Credentials(GATEWAY, provider, st.profile, gateway_urls=urls, token=token)


def revoke(st, tool: str) -> str | None:
    """Revoke the token made for the tool; what was done, or None."""
    if not available():
        return None
    from ..gateway import revoke_setup_token  # type: ignore[attr-defined]

    return revoke_setup_token(st.keychain, tool)
