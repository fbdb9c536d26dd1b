"""`byok vault status | rotate`: the master key and what it protects."""

from __future__ import annotations

import datetime as dt
import os
from typing import Callable

import typer

from ..errors import ByokError, Code
from . import output
from .root import group, no_header_option, state

app = group("Inspect the vault and rotate its master key.")


# Called at each step of a rotation. Only the test suite sets it (in-process, to kill byok
# at a step and prove a crash anywhere loses nothing); no variable or option reaches it.
FAULT: Callable[[str], None] = lambda step: None


@app.command("status")
def status(ctx: typer.Context,
           as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
           no_header: bool = no_header_option()) -> None:
    """Keyring backend, master key id and age, database, schema, stored keys. Nothing secret.

    Names the master key the stored keys need when it is not available.

    Example:

      byok vault status --json
    """
    from ..secrets import vault

    st = state(ctx)
    store = st.store
    env_value = os.environ.get("BYOK_MASTER_KEY")
    sealed = store.sealed_with()
    info: dict = {"database": str(store.path), "schema_version": store.schema_version(),
                  "stored_keys": sum(sealed.values()),
                  "profile": st.profile, "profile_keys": len(store.keys(st.profile))}
    if env_value:
        in_use = vault.master_from_env(env_value).id
        info.update(master_key_source="environment (BYOK_MASTER_KEY)",
                    master_key_id=in_use, keyring_backend=None,
                    master_key_created_at=None, master_key_age_days=None)
        missing = [mk for mk in sealed if mk != in_use]
    else:
        active = store.active_master_key_id()
        created = {k: c for k, c, *_ in store.master_keys()}.get(active)
        try:
            backend = st.keychain.keyring.backend_name()
        except ByokError as err:
            backend = f"unusable: {err.message}"
        age = None
        if created:
            age = (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(created)).days
        source = "keyring" if active else ("BYOK_MASTER_KEY (not set)" if sealed else "none yet")
        info.update(master_key_source=source, master_key_id=active, keyring_backend=backend,
                    master_key_created_at=created, master_key_age_days=age)
        missing = [mk for mk in sealed if not _in_keyring(st, mk)]
    info["sealed_with"] = sealed
    info["missing_master_keys"] = missing
    if as_json:
        output.emit_json(info)
    else:
        shown = {**info, "sealed_with": ", ".join(f"{mk} ({n} key{'s' * (n != 1)})"
                                                   for mk, n in sealed.items()) or None,
                 "missing_master_keys": ", ".join(missing) or None}
        output.table(["item", output.Column("value", whole=False)],
                     [[k, "-" if v is None else v] for k, v in shown.items()],
                     header=not no_header)
    if missing:
        needed = ", ".join(f"{mk} ({sealed[mk]} key{'s' * (sealed[mk] != 1)})" for mk in missing)
        output.warn(f"stored keys need master key {needed}, which "
                    + ("BYOK_MASTER_KEY is not" if env_value else
                       "BYOK_MASTER_KEY (not set) and the OS keyring do not provide")
                    + "; set BYOK_MASTER_KEY to it (byok checks its id)")


def _in_keyring(st, mk_id: str) -> bool:
    try:
        return st.keychain.keyring.get(mk_id) is not None
    except ByokError:
        return False


@app.command("rotate")
def rotate(ctx: typer.Context) -> None:
    """Make a new master key and re-encrypt every stored key (all profiles) under it.

    The old master key is removed from the keyring only after the database has committed.
    With BYOK_MASTER_KEY, give the new key in BYOK_NEW_MASTER_KEY and set BYOK_MASTER_KEY
    to it afterwards.

    Example:

      byok vault rotate
    """
    from ..secrets import vault

    st = state(ctx)
    new_key = None
    if os.environ.get("BYOK_MASTER_KEY"):
        new_value = os.environ.get("BYOK_NEW_MASTER_KEY")
        if not new_value:
            raise ByokError(Code.USAGE, "the master key comes from BYOK_MASTER_KEY, so byok "
                            "cannot make and keep a new one",
                            hint="give the new key in BYOK_NEW_MASTER_KEY (and keep "
                                 "BYOK_MASTER_KEY as it is): "
                                 + vault.make_key_command("BYOK_NEW_MASTER_KEY"))
        new_key = vault.master_from_env(new_value, "BYOK_NEW_MASTER_KEY").key
    if not st.store.all_keys() and not st.store.active_master_key_id() and new_key is None:
        raise ByokError(Code.NO_KEY, "there is no master key to rotate yet",
                        hint="store a key first with `byok key set`")
    old_id, new_id, count = st.keychain.rotate(new_key, fault=FAULT)
    output.info(f"rotated the master key {old_id} -> {new_id}; re-encrypted {count} key(s)")
    if new_key is not None:
        output.info("now use the new key: export BYOK_MASTER_KEY=\"$BYOK_NEW_MASTER_KEY\"; "
                    "unset BYOK_NEW_MASTER_KEY (and update it wherever you keep it)")
