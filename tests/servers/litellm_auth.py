"""LiteLLM proxy custom auth for byok's tests (loaded by the proxy from its config dir).

LiteLLM has one master key and, without a database, no other keys; byok's key shapes
differ per provider, so this hook accepts the test keys named in LITELLM_TEST_KEYS
(comma-separated) and refuses every other key, as a gateway with virtual keys would; a key
containing "overbudget" is one whose budget is spent.
"""

import os

from fastapi import Request
from litellm.proxy._types import ProxyException, UserAPIKeyAuth

_KEYS = {k for k in os.environ.get("LITELLM_TEST_KEYS", "").split(",") if k}


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    if "overbudget" in api_key:
        # A virtual key whose budget is spent, as LiteLLM's own key checks raise it: LiteLLM
        # turns it into its budget_exceeded answer (the shape byok must read as QUOTA).
        import litellm

        raise litellm.BudgetExceededError(current_cost=1.5, max_budget=1.0)
    if api_key in _KEYS:
        return UserAPIKeyAuth(api_key=api_key)
    # A ProxyException, not a bare Exception: LiteLLM 1.106.12 looks for a database error
    # behind any other exception, imports `prisma` (not part of its [proxy] extra) to do
    # so, and answers 500 text/plain instead of 401.
    raise ProxyException(message="Authentication Error, invalid api key", type="auth_error",
                         param="None", code=401)
