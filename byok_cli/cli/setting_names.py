"""The profile's settings by the names people type (`byok config`), and what each means.
Kept apart from the `config` command so that completion can name them without it."""

from __future__ import annotations

# setting name -> profile column; PROVIDER.model and PROVIDER.base_url come on top
PROFILE_SETTINGS = {"preferred-provider": "preferred_provider", "fallback": "fallback",
                    "logging": "logging", "show-cost": "show_cost",
                    "allow-unpriced": "allow_unpriced", "exec-gateway": "exec_gateway"}
ON_OFF = {"logging", "show_cost", "allow_unpriced", "exec_gateway"}
PROVIDER_SETTINGS = ("model", "base_url", "send_env_key")
# PROVIDER.send_env_key on: the provider's environment key may go to this profile's
# PROVIDER.base_url (off, the default: only the profile's stored keys go there; issue 11)
PER_PROVIDER = {"model": "models", "base_url": "base_urls", "send_env_key": "send_env_keys"}
RESET = ("", "default")
SETTINGS_HELP = {  # PROVIDER.model and PROVIDER.base_url by their last part
    "preferred-provider": "a provider, or system (environment keys only)",
    "fallback": "the chain tried when a provider is unavailable",
    "logging": "on or off: keep prompts and answers in the history",
    "show-cost": "on or off: show each answer's cost on a terminal",
    "allow-unpriced": "on or off: send to models of unknown price even under a budget",
    "exec-gateway": "on or off: `byok exec` gives programs a gateway and a token, not keys",
    "model": "the model byok uses for this provider unless told otherwise",
    "base_url": "this provider's endpoint (a proxy, a gateway or a local server)",
}


def names(registry) -> list[str]:
    """Every setting's name, the built-in providers' first."""
    per_provider = [f"{p.name}.{s}" for p in registry for s in PROVIDER_SETTINGS]
    return list(PROFILE_SETTINGS) + per_provider
