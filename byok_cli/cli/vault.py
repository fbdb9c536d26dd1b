"""`byok vault status | rotate`: the master key and what it protects."""

from __future__ import annotations

import datetime as dt
import os
from typing import Callable

import typer

from ..errors import ByokError, Code
from . import output
from .root import group, state

app = group("Inspect the vault and rotate its master key.")


# Called at each step of a rotation. Only the test suite sets it (in-process, to kill byok
# at a step and prove a crash anywhere loses nothing); no variable or option reaches it.
FAULT: Callable[[str], None] = lambda step: None


@app.command("status")
def status(ctx: typer.Context,
           as_json: bool = typer.Option(False, "--json", help="Print a JSON object.")) -> None:
    """Keyring backend, master key id and age, database, schema, stored keys. Nothing secret.

    Example:

      byok vault status --json
    """
    from .. import vault

    st = state(ctx)
    store = st.store
    env_value = os.environ.get("BYOK_MASTER_KEY")
    info: dict = {"database": str(store.path), "schema_version": store.schema_version(),
                  "stored_keys": len(store.all_keys()),
                  "profile": st.profile, "profile_keys": len(store.keys(st.profile))}
    if env_value:
        info.update(master_key_source="environment (BYOK_MASTER_KEY)",
                    master_key_id=vault.master_from_env(env_value).id, keyring_backend=None,
                    master_key_created_at=None, master_key_age_days=None)
    else:
        active = store.active_master_key_id()
        created = dict((k, c) for k, c, _ in store.master_keys()).get(active)
        try:
            backend = st.keychain.keyring.backend_name()
        except ByokError as err:
            backend = f"unusable: {err.message}"
        age = None
        if created:
            age = (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(created)).days
        info.update(master_key_source="keyring" if active else "none yet",
                    master_key_id=active, keyring_backend=backend,
                    master_key_created_at=created, master_key_age_days=age)
    if as_json:
        output.emit_json(info)
        return
    output.table(["item", "value"], [[k, "-" if v is None else v] for k, v in info.items()])


@app.command("rotate")
def rotate(ctx: typer.Context) -> None:
    """Make a new master key and re-encrypt every stored key (all profiles) under it.

    The old master key is removed from the keyring only after the database has committed.
    With BYOK_MASTER_KEY, give the new key in BYOK_NEW_MASTER_KEY and set BYOK_MASTER_KEY
    to it afterwards.

    Example:

      byok vault rotate
    """
    from .. import vault

    st = state(ctx)
    new_key = None
    if os.environ.get("BYOK_MASTER_KEY"):
        new_value = os.environ.get("BYOK_NEW_MASTER_KEY")
        if not new_value:
            raise ByokError(Code.USAGE, "the master key comes from BYOK_MASTER_KEY, so byok "
                            "cannot make and keep a new one", hint="set BYOK_NEW_MASTER_KEY to "
                            "a new key (" + vault.MAKE_KEY_HINT.split(": ", 1)[1] + ")")
        new_key = vault.master_from_env(new_value, "BYOK_NEW_MASTER_KEY").key
    if not st.store.all_keys() and not st.store.active_master_key_id() and new_key is None:
        raise ByokError(Code.NO_KEY, "there is no master key to rotate yet",
                        hint="store a key first with `byok key set`")
    old_id, new_id, count = st.keychain.rotate(new_key, fault=FAULT)
    output.info(f"rotated the master key {old_id} -> {new_id}; re-encrypted {count} key(s)")
    if new_key is not None:
        output.info("now set BYOK_MASTER_KEY to the value of BYOK_NEW_MASTER_KEY")
