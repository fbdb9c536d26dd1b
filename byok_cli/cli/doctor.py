"""`byok doctor`: check keyring, database, keys, base URLs, environment, price data and the
models in use; say what to fix (and, with --fix, fix what byok can: master keys left in the
keyring, an unfinished wipe)."""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys

import typer

from ..errors import ByokError, Code
from . import output
from .root import no_header_option, single, state

KEY_AGE_WARN_DAYS = 180
STALE_DAYS = 30  # price data older than this, or a model in use retiring within it, is flagged


class Report:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.worst: Code | None = None

    def add(self, check: str, level: str, detail: str, fix: str | None = None,
            code: Code | None = None) -> None:
        self.rows.append({"check": check, "status": level, "detail": detail, "fix": fix})
        if level == "fail" and self.worst is None:
            self.worst = code or Code.INTERNAL


def _check_keyring(st, r: Report, fix: bool) -> None:
    from ..secrets import master_sources

    sealed = st.store.sealed_with()
    found = master_sources.configured(os.environ, st.store.home)
    if len(found) > 1:
        names = [master_sources.NAMES[k] for k in found]
        r.add("master key source", "warn", f"several master key sources are set: "
              f"{', '.join(names)}; {names[0]} wins, the others are ignored",
              "keep only the one you mean (the order: BYOK_MASTER_KEY, BYOK_MASTER_KEY_FILE, "
              "BYOK_MASTER_KEY_COMMAND, the unlock agent, the OS keyring)")
    if found:
        name = master_sources.NAMES[found[0]]
        try:
            mk = st.keychain.master()
        except ByokError as err:
            r.add("master key", "fail", err.message, err.hint, err.code)
            return
        others = [m for m in sealed if m != mk.id]
        if others:
            r.add("master key", "fail", f"{name} gives master key {mk.id}, but stored keys "
                  f"are sealed with {', '.join(others)}",
                  f"set BYOK_MASTER_KEY to master key {others[0]}, or unset it if the OS keyring "
                  "holds that key", Code.DECRYPT_FAILED)
        else:
            r.add("master key", "ok", f"{name} (id {mk.id}){_agent_expiry(st, found[0])}")
        return
    try:
        name = st.keychain.keyring.backend_name()
    except ByokError as err:
        r.add("keyring", "fail", err.message, st.keychain.advised(err).hint, err.code)
        return
    from ..secrets.vault import INSECURE_OPT_IN, insecure_reason

    if insecure_reason(st.keychain.keyring.backend()) is not None:  # let in by the opt-in
        r.add("keyring", "warn", f"{name} is not an OS keyring (allowed by {INSECURE_OPT_IN}=1)",
              f"keep the master key in an OS keyring (Secret Service, KWallet, macOS Keychain, "
              f"Windows Credential Locker) and unset {INSECURE_OPT_IN}")
    else:
        r.add("keyring", "ok", name)
    if st.store.active_master_key_id() is None and not sealed:
        r.add("master key", "ok", "none yet (made when the first key is stored)")
        return
    try:
        mk = st.keychain.master()
        r.add("master key", "ok", f"id {mk.id}, in the keyring")
    except ByokError as err:
        r.add("master key", "fail", err.message, err.hint, err.code)


def _agent_expiry(st, source: str) -> str:
    if source != "agent":
        return ""
    from ..secrets import agent

    found = agent.status(agent.socket_path(st.store.home))
    if not found:
        return ""
    until = dt.datetime.fromtimestamp(found["expires"]).astimezone()
    return f", unlocked until {until:%Y-%m-%d %H:%M %Z}"


def _check_database(st, r: Report, fix: bool, full: bool = False) -> None:
    from ..store import file_mode

    store = st.store
    problems = store.check(full)
    if problems == ["ok"]:
        checked = "every table" if full else "all but the logs (--full checks those)"
        r.add("database", "ok", f"{store.path} (schema {store.schema_version()}; "
              f"checked {checked})")
    else:
        r.add("database", "fail", "the database is corrupt: " + "; ".join(map(str, problems)),
              "restore a backup, or move the file aside", Code.STORE_ERROR)
    loose = [f"{p.name} {oct(file_mode(p))}" for p, want in
             [(store.home, 0o700)] + [(p, 0o600) for p in store.home.glob("byok.db*")]
             if file_mode(p) & ~want]
    if loose:
        r.add("permissions", "warn", "readable by others: " + ", ".join(loose),
              f"chmod 700 {store.home} && chmod 600 {store.home}/byok.db*")
    else:
        r.add("permissions", "ok", "directory 0700, files 0600")
    store.leave_wal_at_close()  # as this check found it, for the next
    wal = store.wal_bytes()
    if wal:  # a write left it for SQLite to copy in (see store.db)
        from ..store.db import WAL_PAGES

        r.add("write-ahead log", "ok", f"{-(-wal // 1024)} KiB of recent writes beside "
              f"{store.path.name}; SQLite copies them in every {WAL_PAGES * 4} KiB")


def _age_days(stamp: str, now: dt.datetime) -> int | None:
    try:
        return (now - dt.datetime.fromisoformat(stamp)).days
    except (TypeError, ValueError):  # a damaged row: the key is judged by reading it
        return None


def _check_keys(st, r: Report, fix: bool) -> None:
    from ..secrets.keychain import mask_hint

    registry = st.byok.registry
    now = dt.datetime.now(dt.timezone.utc)
    for row in st.store.keys(st.profile):
        named = "" if row.name == "default" else f" {row.name!r}"
        label = f"stored {row.provider} key{named} {mask_hint(row.hint)}"
        if row.provider not in registry:
            r.add(label, "warn", f"{row.provider} is not a provider of this profile",
                  f"remove it with `byok key remove {row.provider} --name {row.name}`")
            continue
        try:
            registry.normalise_key(row.provider, st.keychain.get(row.provider, row.name) or "")
        except ByokError as err:
            r.add(label, "fail", err.message, err.hint, err.code)
            continue
        age = _age_days(row.updated_at, now)
        if row.status.startswith("failed"):
            r.add(label, "warn", f"the provider refused it ({row.status.split(': ')[-1]}, "
                  f"{output.short_time(row.checked_at)})",
                  f"check it again with `byok key validate {row.provider}`; if it is refused, "
                  f"store a new key with `byok key set {row.provider}`")
        elif row.status == "unverified":
            r.add(label, "warn", "never checked with the provider", "run `byok key validate`")
        elif age is not None and age > KEY_AGE_WARN_DAYS:
            r.add(label, "warn", f"{age} days old", "consider rotating it at the provider")
        else:
            r.add(label, "ok", f"valid as of {output.short_time(row.checked_at)}, "
                  f"{age} days old")
    for p in registry:
        env = st.keychain.env_key(p.name)
        if env:
            try:
                registry.normalise_key(p.name, env)
                r.add(p.key_env, "ok", f"set (…{env[-4:]})")
            except ByokError as err:
                r.add(p.key_env, "warn", err.message, f"fix or unset {p.key_env}")


def _check_leftovers(st, r: Report, fix: bool) -> None:
    """Master keys no stored key needs (left by an interrupted rotation), and a wipe that
    another process's reading held up."""
    orphans = st.keychain.orphan_master_keys()
    if orphans and fix:
        removed = st.keychain.tidy_master_keys()
        r.add("master keys", "ok", f"removed {len(removed)} unused master key(s) from the keyring")
    elif orphans:
        r.add("master keys", "warn", f"{len(orphans)} master key(s) that no stored key needs "
              "may still be in the keyring (left by an interrupted rotation or key set)",
              "byok doctor --fix")
    if st.store.wipe_pending():
        if fix and st.store.wipe():
            r.add("wipe", "ok", "removed keys' ciphertext is now wiped from the file")
        else:
            r.add("wipe", "warn", "a removed key's ciphertext is still in the database file: "
                  "another process keeps reading an older snapshot",
                  "close other byok or sqlite3 sessions, then `byok doctor --fix`")


def _check_base_urls(st, r: Report, fix: bool) -> None:
    from urllib.parse import urlsplit

    from ..routing.routes import env_key_refusal
    from ..urls import is_loopback, shown
    from ..wire.endpoint import endpoint
    from ..wire.transport import check_transport

    settings = st.store.settings(st.profile)
    for p in st.byok.registry:
        configured = settings["base_urls"].get(p.name)
        from_env = os.environ.get(p.base_url_env) if p.base_url_env else None
        if p.kind == "preset" and not configured and not from_env:
            continue  # a preset's own URL is data checked by the tests; no line per preset
        label = f"{p.name} base URL"
        try:
            found = endpoint(p, profile=configured)
            check_transport(found.url)  # a custom provider's own URL, too
        except ByokError as err:
            r.add(label, "fail", err.message, err.hint, err.code)
            continue
        where = f"{shown(found.url)} ({found.where})"
        refused = env_key_refusal(p, settings) if st.keychain.env_key(p.name) else None
        if found.note:
            r.add(label, "warn", found.note, f"drop the /v1 from {found.where}")
        elif refused:
            r.add(label, "warn", refused)
        elif found.url.startswith("http:") and not is_loopback(urlsplit(found.url).hostname):
            r.add(label, "warn", f"{where}: plain http, allowed by BYOK_ALLOW_INSECURE_HTTP=1",
                  "use https")
        else:
            r.add(label, "ok", where)


def _check_chain(st, r: Report, fix: bool) -> None:
    """Each fallback chain entry that `run` would leave out (its provider removed, say), and
    each one that `config set fallback` would refuse as a likely typo today (a chain stored
    before it checked), which `run` sends as written."""
    from ..routing.addressing import ChainEntry, chain_meant, parse_chain
    from ..routing.ask import synced_ids
    from ..catalog.curated import load

    text, registry = st.store.settings(st.profile).get("fallback") or "", st.byok.registry
    left_out: list[str] = []
    typos: list[tuple] = []
    parse_chain(text, load(), registry, left_out, listed=synced_ids(st.keychain), typos=typos)
    fixable: list[tuple] = []  # the fix: providers put right, then models
    entries = parse_chain(chain_meant(text, registry), load(), registry, [],
                          listed=synced_ids(st.keychain), typos=fixable)
    meant = {entry: ChainEntry(entry.provider, err.meant) for entry, err in fixable}
    fixed = ", ".join(str(meant.get(e, e)) for e in entries) or "..."
    fix = f"fix it with `byok config set fallback \"{fixed}\"`"
    for warning in left_out:
        r.add("fallback chain", "warn", warning, fix)
    for entry, err in typos:
        r.add("fallback chain", "warn", f"fallback entry {str(entry)!r}: {err.message} (run "
              "sends it as written)", f"{fix}; {err.hint}")


def _models_in_use(st) -> set[tuple[str, str]]:
    """The profile's chosen or default model of each provider, and those used in 30 days."""
    from ..catalog.curated import default_model
    from ..catalog.curated import load
    from ..store import DAY

    cat, settings = load(), st.store.settings(st.profile)
    used = {(p.name, model) for p in st.byok.registry
            if (model := settings["models"].get(p.name) or (
                default_model(p, cat) if p.kind == "builtin" else None))}
    since = int(dt.datetime.now(dt.timezone.utc).timestamp() // DAY) - 30
    used |= set(st.store.conn.execute(
        "SELECT DISTINCT provider, model FROM usage_daily WHERE profile = ? AND day >= ? "
        "AND requests > errors", (st.profile, since)))
    return used


def _check_catalogue(st, r: Report, data=None) -> None:
    from ..catalog.curated import load
    from ..catalog.sync import history
    from ..catalog.prices import load as load_prices
    from .models import describe

    data = data or load_prices(st.store.home)
    if data.age_days() > STALE_DAYS:
        r.add("price data", "warn", describe(data), "refresh it with `byok models sync`")
    else:
        r.add("price data", "ok", describe(data))
    last = history(st.store, 1)
    if last and last[0]["outcome"] != "ok":
        r.add("last sync", "warn", f"{last[0]['at']}: {last[0]['outcome']}",
              "check the source, then `byok models sync` again")
    today = dt.date.today()
    soon = today + dt.timedelta(days=STALE_DAYS)
    cat = load()
    registry = st.byok.registry
    for provider, model in sorted(_models_in_use(st)):
        record = registry.get(provider)
        priced_as = (record.catalog or record.name) if record else provider
        known, info = cat.get(model), data.info(priced_as, model)
        ends = (known.end_of_life if known else None) or (info.retires if info else None)
        label = f"model {provider}/{model}"
        if ends and ends <= today:
            r.add(label, "warn", f"retired on {ends}", "choose another with `byok models default`")
        elif ends and ends <= soon:
            r.add(label, "warn", f"retires on {ends}, within {STALE_DAYS} days",
                  "choose another with `byok models default`")
        elif known and known.is_deprecated(today):
            r.add(label, "warn", f"deprecated since {known.deprecated}"
                  + (f", retires {ends}" if ends else ""), "plan a move to a newer model")


def _check_prices(st, r: Report, fix: bool) -> None:
    _check_catalogue(st, r)


CHECKS = {"database": _check_database, "keyring": _check_keyring, "keys": _check_keys,
          "master keys": _check_leftovers, "base URLs": _check_base_urls,
          "fallback chain": _check_chain, "price data": _check_prices}


def doctor(ctx: typer.Context,
           as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
           no_header: bool = no_header_option(),
           fix: bool = typer.Option(False, "--fix", help="Remove master keys no stored key "
                                    "needs from the keyring; finish an interrupted wipe."),
           full: bool = typer.Option(False, "--full", help="Check every page of the database, "
                                     "the usage log and conversations too (takes longer as "
                                     "they grow).")) -> None:
    """Check the keyring, database, keys, base URLs, environment, price data (age, last sync)
    and the models in use (deprecated, or retiring within 30 days), and say what to fix.

    Examples:

      byok doctor

      byok doctor --fix

      byok doctor --full
    """
    st = state(ctx)
    report = Report()
    try:
        st.store  # opening checks the directory, the files and the schema
        checks = {**CHECKS, "database": functools.partial(_check_database, full=full)}
    except ByokError as err:
        report.add("database", "fail", err.message, err.hint, err.code)
        checks = {}
    for name, check in checks.items():
        try:
            check(st, report, fix)
        except ByokError as err:  # one failing check does not hide the others
            report.add(name, "fail", err.message, err.hint, err.code)
    if as_json:
        output.emit_json(report.rows)
    elif output.stdout_is_tty():
        _print_compact(report.rows)
    else:
        output.table(["check", "status", output.Column("detail", whole=False),
                      output.Column("fix", whole=False)],
                     [[x["check"], x["status"], x["detail"], x["fix"]] for x in report.rows],
                     header=not no_header)
    if report.worst is not None:
        raise typer.Exit(report.worst.exit_status)
    if any(x["status"] == "warn" for x in report.rows):
        raise typer.Exit(Code.NEEDS_ATTENTION.exit_status)


def _print_compact(rows: list[dict]) -> None:
    """One line per check on a terminal (`ok    check: detail`) where it fits, its fix on
    the line below when it has one. Lines break between words. In a detail, a long value (a
    path, a URL) that does not fit the rest of the line is shortened at its start, keeping
    the tail that names it; a fix, a command to copy, wraps whole (shortened only when
    wider than the terminal)."""
    import shutil

    from ..errors import redact, strip_controls

    width = max(40, shutil.get_terminal_size((80, 24)).columns)
    colours = {"ok": "32", "warn": "33", "fail": "31"} if output.colour_allowed(sys.stdout) \
        else {}

    def fill(text: str, indent: int, squeeze: bool) -> list[str]:
        lines, line = [], ""
        for word in strip_controls(redact(text)).split():
            left = width - indent - len(line) - (1 if line else 0)
            if len(word) > left and squeeze and left >= _SQUEEZE:
                word = "…" + word[-(left - 1):]
            elif len(word) > left and line:
                lines.append(line)
                line, left = "", width - indent
            if len(word) > left:
                word = "…" + word[-(left - 1):]
            line = f"{line} {word}" if line else word
        return [" " * indent + x for x in [*lines, line]]

    out = []
    for row in rows:
        status = row["status"]
        first, *rest = fill(f"{row['check']}: {row['detail']}", 6, squeeze=True)
        shown = f"\033[{colours[status]}m{status:<4}\033[0m" if status in colours \
            else f"{status:<4}"
        out += [shown + first[4:], *rest]
        if row["fix"]:
            fix = fill(f"fix: {row['fix']}", 11, squeeze=False)
            out += [fix[0][5:], *fix[1:]]
    sys.stdout.write("\n".join(out) + "\n")
    sys.stdout.flush()


_SQUEEZE = 24  # shortest room a long value in a detail is shortened into on the same line


app = single("doctor", doctor)
