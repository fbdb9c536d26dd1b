"""`byok key import FROM [PATH]`: keys from other tools' plaintext files into the vault, and
(`--scrub`) out of those files."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import ByokError, Code, mask
from . import complete, output
from .root import state

WORDS = {"import": "imported", "replace": "replaced", "present": "already stored",
         "again": "as above", "conflict": "skipped", "duplicate": "skipped",
         "invalid": "skipped", "unknown": "skipped", "rejected": "rejected"}
IN_VAULT = ("imported", "replaced", "already stored", "would import", "would replace")


def import_keys(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="FROM",
                                 help="llm, aichat, mods, sgpt, fabric, codex, dotenv or env",
                                 autocompletion=complete.import_sources),
    path: Optional[str] = typer.Argument(None, metavar="[PATH]",
                                         help="The tool's file (default: where it keeps it)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would happen; change "
                                 "nothing."),
    scrub: Optional[bool] = typer.Option(None, "--scrub/--no-scrub", help="Remove the imported "
                                         "keys from the file (asked on a terminal)."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite a different stored key."),
    names: Optional[List[str]] = typer.Option(
        None, "--name", "-n", metavar="NAME|PROVIDER=NAME",
        help="Store the keys under NAME instead of 'default' (each provider's own NAME); "
             "PROVIDER=NAME names only that provider's key. Repeatable."),
    validate: bool = typer.Option(True, "--validate/--no-validate",
                                  help="Check each key with one cheap call before storing it."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """Import keys from another tool's plaintext file into the vault.

    Each key goes through the checks of `key set`: its shape, then a live call unless
    --no-validate. Keys of providers byok does not know are listed and skipped; a different
    stored key is kept unless --replace, or --name stores it beside it. With --scrub the keys
    now in the vault are removed from the file, every other byte left as it was; byok says
    which it kept and why, and what to put in the tool's configuration instead.

    Examples:

      byok key import llm --dry-run

      byok key import llm --name llm

      byok key import aichat --scrub

      byok key import dotenv ~/.aider/.env --no-validate
    """
    from ..secrets.hardening import no_core_dumps
    from ..importers import source_module
    from ..importers.plan import plan

    no_core_dumps()  # plaintext keys are read, whether or not a stored one is opened
    module = source_module(source)
    if scrub and source.strip().lower() == "env":
        raise ByokError(Code.USAGE, "the environment cannot be scrubbed",
                        hint="remove the `export` lines from your shell's startup files")
    st = state(ctx)
    reading = module.read(Path(path).expanduser() if path else None, os.environ)
    for file in reading.files:
        output.info(f"reading {file.path}")
        if scrub:
            from ..importers.files import refuse_hard_links

            refuse_hard_links(file.path, "nothing was imported or changed")
    steps = plan(st.keychain, reading, replace, _names(st.byok.registry, names or []))
    if not steps:
        where = ", ".join(str(f.path) for f in reading.files) or "the environment"
        raise ByokError(Code.NO_KEY, f"no API keys found in {where}")
    results = [_carry_out(ctx, step, dry_run, validate) for step in steps]
    _report(steps, results, dry_run, as_json)

    first = {}  # provider -> result of its first entry, which later "again" entries share
    for step, result in zip(steps, results):
        first.setdefault(step.entry.provider, result)
    removable = [step for step, result in zip(steps, results) if step.file is not None and (
        result in IN_VAULT or step.outcome == "again" and first[step.entry.provider] in IN_VAULT)]
    if scrub is None and removable and not dry_run and not as_json and _interactive():
        scrub = typer.confirm(f"Remove {_count(removable)} from "
                              f"{', '.join(sorted({str(s.file.path) for s in removable}))} now "
                              "that byok keeps them?", default=False, err=True)
    if scrub:
        _scrub(module, removable, dry_run, st.profile)
        _kept(steps, results, removable, dry_run)
    rejected = [r for r in results if r == "rejected"]
    if rejected:
        raise typer.Exit(Code.UNAUTHORIZED.exit_status)


def _names(registry, given: list[str]):
    """``--name``: one NAME for every provider's key (names are per provider, so they never
    collide), and PROVIDER=NAME for one provider's, which wins over it."""
    from ..secrets.keychain import check_key_name

    every, per = "default", {}
    bare = [g for g in given if "=" not in g]
    if len(bare) > 1:
        raise ByokError(Code.USAGE, f"--name {bare[0]} and --name {bare[1]}: one NAME for "
                        "every provider", hint="name one provider's key with "
                        "--name PROVIDER=NAME")
    for item in given:
        head, eq, name = item.partition("=")
        if not (name if eq else head).strip():  # not "default" by accident
            raise ByokError(Code.USAGE, f"--name {item!r} gives no name",
                            hint="--name NAME, or --name PROVIDER=NAME (e.g. openai=work)")
        if not eq:
            every = check_key_name(head)
            continue
        provider = registry.require(head).name
        if provider in per:
            raise ByokError(Code.USAGE, f"--name names the {provider} key twice")
        per[provider] = check_key_name(name)
    return lambda provider: per.get(provider, every)


def _carry_out(ctx: typer.Context, step, dry_run: bool, validate: bool) -> str:
    from ..importers.plan import TAKES
    from .key_checks import checked_status, store_checked

    if step.outcome not in TAKES:
        return WORDS[step.outcome]
    if dry_run:
        return f"would {step.outcome}"
    provider, key = step.entry.provider, step.entry.key
    try:
        status, checked_at = checked_status(ctx, provider, key, validate, force=False)
    except ByokError as err:
        if err.code != Code.UNAUTHORIZED:
            raise
        output.warn(f"{step.entry.label}: the {provider} key {mask(key)} was rejected "
                    f"({err.message}); not imported")
        return "rejected"
    store_checked(ctx, provider, key, status, checked_at, name=step.name or "default")
    return WORDS[step.outcome]


def _report(steps, results, dry_run: bool, as_json: bool) -> None:
    if as_json:
        output.emit_json([dict(step.to_dict(), result=result)
                          for step, result in zip(steps, results)])
        return
    rows = []
    for step, result in zip(steps, results):
        e = step.entry
        where = f"{step.file.path.name}: {e.label}" if step.file else e.label
        provider = e.provider or f"{e.tool_name} (unknown)"
        rows.append([where, provider, mask(e.key),
                     f"{result}: {step.detail}" if step.detail and result != "rejected"
                     else result])
    output.table([output.Column("from", whole=False), "provider", "key",
                  output.Column("result", whole=False)], rows)
    if dry_run:
        output.info("dry run: nothing was stored or changed")


def _scrub(module, removable, dry_run: bool, profile: str) -> None:
    from ..importers.files import rewrite_file
    from ..importers.scrub import scrubbed_text

    if not removable:
        output.info("nothing to remove: no key from this source is in the vault")
        return
    by_file: dict = {}
    for step in removable:
        by_file.setdefault(id(step.file), (step.file, []))[1].append(step.entry)
    edits = []  # every file is worked out before any is written
    for file, entries in by_file.values():
        text, leftovers = scrubbed_text(file, entries)
        edits.append((file, entries, text, leftovers))
    for file, entries, text, leftovers in edits:
        if dry_run:
            output.info(f"would remove {_count(entries)} from {file.path}")
            continue
        rewrite_file(file.path, file.data, file.identity, file.mode, text.encode("utf-8"))
        output.info(f"removed {_count(entries)} from {file.path}")
        for e in leftovers:
            output.warn(f"the key {mask(e.key)} still appears elsewhere in {file.path}; "
                        "remove it by hand")
    suffix = "" if profile == "default" else f" --profile {profile}"
    entries = [step.entry for step in removable]
    named = {s.entry.provider: s.name for s in removable if s.name not in (None, "default")}
    for line in module.setup_lines(entries, lambda p: f"byok key get {p}" + (
            f" --name {named[p]}" if p in named else "") + suffix):
        output.info(line)
    for provider, name in sorted(named.items()):
        output.info(f"`byok exec` and `byok run` try the {provider} key {name!r} after the "
                    f"keys before it;\n  `byok key order {provider} {name}` puts it first, or "
                    f"`byok exec -p {provider} -k {name} -- …` chooses it")


def _kept(steps, results, removable, dry_run: bool) -> None:
    """What --scrub left in the files, and why: only keys now in the vault are removed."""
    gone = {id(s) for s in removable}
    for step, result in zip(steps, results):
        if step.file is None or id(step) in gone:
            continue
        why = {"rejected": "the provider rejected it"}.get(result) or step.detail or result
        provider = step.entry.provider or f"{step.entry.tool_name} (unknown)"
        output.info(f"{'would keep' if dry_run else 'kept'} {step.entry.label} ({provider} "
                    f"{mask(step.entry.key)}) in {step.file.path.name}: {why}")


def _count(items) -> str:
    return f"{len(items)} key" + ("" if len(items) == 1 else "s")


def _interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
