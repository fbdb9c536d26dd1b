"""`byok profile list`: the profiles, their keys and preference. A profile is made by its
first `byok key set` or `byok config set`."""

from __future__ import annotations

import typer

from . import output
from .root import group, no_header_option, state

app = group("See the settings profiles (made by `key set` or `config set` with --profile).")


@app.callback()
def profiles() -> None:
    """See the settings profiles (made by `key set` or `config set` with --profile)."""


@app.command("list")
def list_profiles(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
    no_header: bool = no_header_option(),
) -> None:
    """List the profiles with their stored keys (masked) and preferred provider.

    The profile in use is marked with *.

    Example:

      byok profile list --json
    """
    from ..secrets.keychain import mask_hint

    st = state(ctx)
    store = st.store
    names = sorted(set(store.profiles()) | set(store.profiles_with_keys()) | {"default"})
    rows = []
    for name in names:
        rows.append({"profile": name, "current": name == st.profile,
                     "preferred_provider": store.settings(name)["preferred_provider"],
                     "keys": [{"provider": k.provider, "name": k.name, "key": mask_hint(k.hint),
                               "status": k.status} for k in store.keys(name)]})
    if as_json:
        output.emit_json(rows)
    else:
        output.table(["profile", output.Column("current", show=lambda v: "*" if v == "yes" else ""),
                      "preferred", output.Column("keys", whole=False)],
                     [[r["profile"], "yes" if r["current"] else "no", r["preferred_provider"],
                       ", ".join(f"{k['provider']}" + ("" if k["name"] == "default" else
                                                       f" {k['name']}") + f" {k['key']}"
                                 for k in r["keys"]) or "none"]
                      for r in rows], header=not no_header)
    if st.profile not in names:
        output.info(f"note: profile {st.profile!r} does not exist yet; `byok key set` or "
                    "`byok config set` with it makes it")
