"""`byok vault status | rotate`: the master key and what it protects."""

from __future__ import annotations

import datetime as dt
import os
from typing import Callable

import typer

from ..errors import ByokError, Code
from ..secrets import master_sources
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
    st = state(ctx)
    store = st.store
    sealed = store.sealed_with()
    info: dict = {"database": str(store.path), "schema_version": store.schema_version(),
                  "stored_keys": sum(sealed.values()),
                  "profile": st.profile, "profile_keys": len(store.keys(st.profile))}
    source = st.keychain.master_source
    if source != "keyring":
        info.update(_own_source_info(st, source))
        in_use = info["master_key_id"]
        missing = [mk for mk in sealed if mk != in_use] if in_use else []
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
    others = master_sources.configured(os.environ, store.home)[1:]
    info["master_key_sources_ignored"] = [master_sources.NAMES[k] for k in others] or None
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
        given = master_sources.NAMES.get(source)
        output.warn(f"stored keys need master key {needed}, which "
                    + (f"{given} does not give" if given and source != "keyring" else
                       "BYOK_MASTER_KEY (not set) and the OS keyring do not provide")
                    + "; set BYOK_MASTER_KEY to it (byok checks its id)")


def _own_source_info(st, source: str) -> dict:
    """What vault status says of a master key the user keeps (environment, file, command,
    agent); for the agent, when it expires. A source that fails is named with its error."""
    from ..secrets import agent

    info: dict = {"master_key_source": f"{source} ({master_sources.NAMES[source]})",
                  "master_key_id": None, "keyring_backend": None,
                  "master_key_created_at": None, "master_key_age_days": None}
    written = _written_at(st, source)
    if written is not None:  # a file byok wrote it to: its time is when the key was made
        info["master_key_created_at"] = written.isoformat(timespec="seconds")
        info["master_key_age_days"] = (dt.datetime.now(dt.timezone.utc) - written).days
    if source == "agent":
        found = agent.status(agent.socket_path(st.store.home))
        info["agent_expires_at"] = (dt.datetime.fromtimestamp(found["expires"]).astimezone()
                                    .isoformat(timespec="seconds") if found else None)
        info["agent_socket"] = str(agent.socket_path(st.store.home))
        info["agent_pid"] = found["pid"] if found else None
        if found is None:
            info["master_key_source"] += ": locked (run `byok unlock`)"
            return info
        info["master_key_id"] = found["master_key_id"]
        return info
    try:
        info["master_key_id"] = st.keychain.master().id
    except ByokError as err:
        info["master_key_source"] += f": unusable: {err.message}"
    return info


def _written_at(st, source: str) -> dt.datetime | None:
    """When the master key file (file source) or the sealed master key (agent source) was
    last written: by `vault init` or `vault rotate`, so the key's making. None for keys byok
    never sees written (environment, command) or a file it cannot stat."""
    from pathlib import Path

    from ..secrets import sealed

    where = (Path(os.environ.get(master_sources.FILE_VARIABLE, "")).expanduser()
             if source == "file" else Path(st.store.home) / sealed.SEALED_NAME
             if source == "agent" else None)
    try:
        return None if where is None else dt.datetime.fromtimestamp(where.stat().st_mtime,
                                                                    dt.timezone.utc)
    except (OSError, ValueError):
        return None


def _in_keyring(st, mk_id: str) -> bool:
    try:
        return st.keychain.keyring.get(mk_id) is not None
    except ByokError:
        return False


@app.command("rotate")
def rotate(ctx: typer.Context,
           to: str = typer.Option(None, "--to", metavar="SOURCE",
                                  help="Move the vault to another master key source: keyring, "
                                       "file or passphrase."),
           file: str = typer.Option(None, "--file", metavar="PATH",
                                    help="With --to file: where the new master key goes "
                                         "(default: BYOK_MASTER_KEY_FILE).")) -> None:
    """Make a new master key and re-encrypt every stored key (all profiles) under it.

    All keys are re-sealed in one transaction; the old master key is replaced (in the
    keyring, the file or the sealed file) only after it has committed. With --to, the new
    key goes to another source. With BYOK_MASTER_KEY or BYOK_MASTER_KEY_COMMAND, give the
    new key in BYOK_NEW_MASTER_KEY and put it where you keep the old one afterwards.

    Examples:

      byok vault rotate

      byok vault rotate --to passphrase

      byok vault rotate --to file --file ~/.config/byok/master.key
    """
    st = state(ctx)
    kc = st.keychain
    source = kc.master_source
    if to not in (None, "keyring", "file", "passphrase"):
        raise ByokError(Code.USAGE, f"--to {to!r} is not a master key source",
                        hint="use keyring, file or passphrase")
    if file is not None and to != "file":
        raise ByokError(Code.USAGE, "--file goes with --to file", hint="byok vault rotate "
                        "--to file --file PATH")
    if not st.store.all_keys() and not st.store.active_master_key_id() and source == "keyring" \
            and to in (None, "keyring"):
        raise ByokError(Code.NO_KEY, "there is no master key to rotate yet",
                        hint="store a key first with `byok key set`")
    home = st.store.home
    if to is None and source == "file":
        to, file = "file", os.environ[master_sources.FILE_VARIABLE]
    elif to is None and source == "agent":
        to = "passphrase"
    if to == "keyring":
        old_id, new_id, count = kc.rotate_to_keyring(fault=FAULT)
    elif to == "file":
        where = file or os.environ.get(master_sources.FILE_VARIABLE)
        if not where:
            raise ByokError(Code.USAGE, "say where the new master key goes",
                            hint="byok vault rotate --to file --file PATH")
        from pathlib import Path

        path = Path(where).expanduser().absolute()
        old_id, new_id, count = kc.rotate_to_own(master_sources.NewFile(path), fault=FAULT)
    elif to == "passphrase":
        from . import passphrase

        secret = passphrase.read("new vault passphrase", new=True)
        old_id, new_id, count = kc.rotate_to_own(master_sources.NewSealed(home, secret),
                                                 fault=FAULT)
    else:
        old_id, new_id, count = kc.rotate(_given_new_key(source), fault=FAULT)
    output.info(f"rotated the master key {old_id} -> {new_id}; re-encrypted {count} key(s)")
    output.warn_unwiped(st.store, "a copy of the keys sealed with the old master key")
    _after_move(st, source, to, new_id, locals().get("path"))


def _given_new_key(source: str) -> bytes | None:
    """BYOK_NEW_MASTER_KEY, which a source byok cannot write to needs."""
    from ..secrets import vault

    if source not in ("environment", "command"):
        return None
    new_value = os.environ.get("BYOK_NEW_MASTER_KEY")
    if not new_value:
        name = master_sources.NAMES[source]
        raise ByokError(Code.USAGE, f"the master key comes from {name}, so byok "
                        "cannot make and keep a new one",
                        hint="give the new key in BYOK_NEW_MASTER_KEY (and keep "
                             f"{name} as it is): "
                             + vault.make_key_command("BYOK_NEW_MASTER_KEY")
                             + "; or move the vault: byok vault rotate --to "
                               "keyring|file|passphrase")
    return vault.master_from_env(new_value, "BYOK_NEW_MASTER_KEY").key


def _after_move(st, source: str, to: str | None, new_id: str, path) -> None:
    """What is left to do once the keys are under the new master key: the old source is
    retired (the sealed file and its agent by byok; variables by the user)."""
    from ..secrets import agent, sealed

    home = st.store.home
    sock = agent.socket_path(home)
    if to is None and source == "environment":
        output.info("now use the new key: export BYOK_MASTER_KEY=\"$BYOK_NEW_MASTER_KEY\"; "
                    "unset BYOK_NEW_MASTER_KEY (and update it wherever you keep it)")
        return
    if to is None:
        output.info("now use the new key: put BYOK_NEW_MASTER_KEY where "
                    f"{master_sources.NAMES[source]} gets it from, and unset "
                    "BYOK_NEW_MASTER_KEY")
        return
    if to == "passphrase":
        agent.lock(sock)
        output.info("run `byok unlock` to use the new master key")
    elif source == "agent":
        sealed.sealed_path(home).unlink(missing_ok=True)  # the keys no longer need it
        agent.lock(sock)
    if to == "file" and os.environ.get(master_sources.FILE_VARIABLE) != str(path):
        output.info(f"now: export BYOK_MASTER_KEY_FILE={path}")
    variables = [master_sources.NAMES[k] for k in ("environment", "file", "command")
                 if os.environ.get(master_sources.NAMES[k])]
    if to == "file":
        variables = [v for v in variables if v != master_sources.FILE_VARIABLE]
    if variables:
        output.info(f"and unset {', '.join(variables)}: it no longer opens the stored keys")


@app.command("init")
def init(ctx: typer.Context,
         file: str = typer.Option(None, "--file", metavar="PATH",
                                  help="Write a new master key to PATH (0600); then set "
                                       "BYOK_MASTER_KEY_FILE=PATH."),
         with_passphrase: bool = typer.Option(False, "--passphrase",
                                              help="Seal a new master key with a passphrase "
                                                   "in the data dir; then `byok unlock`.")) -> None:
    """Make the master key of a new vault without an OS keyring: in a file of your own, or
    sealed with a passphrase (scrypt, AES-GCM) and opened by `byok unlock`.

    Examples:

      byok vault init --file ~/.config/byok/master.key

      byok vault init --passphrase
    """
    from ..secrets import sealed, vault

    if (file is None) == (not with_passphrase):
        raise ByokError(Code.USAGE, "give one of --file PATH or --passphrase",
                        hint="byok vault init --file ~/.config/byok/master.key")
    st = state(ctx)
    if st.store.sealed_with() or st.store.active_master_key_id():
        raise ByokError(Code.USAGE, "this vault already has a master key and stored keys "
                        "need it; nothing was changed",
                        hint="move it with `byok vault rotate --to file|passphrase`")
    if sealed.sealed_path(st.store.home).exists():
        raise ByokError(Code.USAGE, "this vault already has a passphrase-sealed master key; "
                        "nothing was changed", hint="open it with `byok unlock`")
    key = vault.new_master_key()
    if file is not None:
        from pathlib import Path

        path = Path(file).expanduser().absolute()
        master_sources.new_key_file(path, key)
        output.info(f"wrote master key {vault.key_id(key)} to {path} (mode 0600); now: "
                    f"export BYOK_MASTER_KEY_FILE={path}")
        return
    from . import passphrase

    secret = passphrase.read("new vault passphrase", new=True)
    path = sealed.sealed_path(st.store.home)
    sealed.write_private(path, sealed.seal(key, secret), replace=False)
    output.info(f"sealed master key {vault.key_id(key)} in {path}; run `byok unlock` to use it")
