"""What importing a source would do to a profile's vault, entry by entry; nothing is stored here.

Each provider's key is taken under one name (``default``, or the one ``--name`` gives).
Outcomes: ``import`` (no key of that name stored), ``replace`` (a different key of that name
is stored; only with --replace), ``present`` (this very key is stored already, under any
name), ``conflict`` (a different key of that name is stored and --replace was not given),
``again`` (the key an earlier entry of this source gives
too), ``duplicate`` (an earlier entry of this source gives this provider another key),
``invalid`` (not a key of that provider's shape), ``unknown`` (a provider byok does not know).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from ..errors import ByokError, mask, remember_secret
from ..secrets.keychain import Keychain, mask_hint
from . import Entry, Reading, SourceFile

TAKES = ("import", "replace")          # outcomes that store a key
IN_VAULT = ("import", "replace", "present")  # outcomes after which the key may be scrubbed


class Step(NamedTuple):
    file: SourceFile | None
    entry: Entry
    outcome: str
    detail: str = ""
    name: str | None = None  # the stored key's name: where it goes, or where it already is

    def to_dict(self, result: str | None = None) -> dict:
        e = self.entry
        return {"file": str(self.file.path) if self.file else None, "entry": e.label,
                "provider": e.provider, "tool_provider": e.tool_name, "key": mask(e.key),
                "name": self.name, "outcome": result or self.outcome,
                "detail": self.detail or None}


def plan(keychain: Keychain, reading: Reading, replace: bool,
         name_for: Callable[[str], str] = lambda provider: "default") -> list[Step]:
    steps: list[Step] = []
    chosen: dict[str, str] = {}  # provider -> the key this import gives it
    for file, entry in reading.entries():
        if len(entry.key) >= 12:  # masked wherever it might be echoed, known provider or not
            remember_secret(entry.key.strip())
        provider = entry.provider
        if provider is None:
            why = "a provider byok does not know"
            steps.append(Step(file, entry, "unknown",
                              f"{why} ({entry.note})" if entry.note else why))
            continue
        try:
            key = keychain.registry.normalise_key(provider, entry.key)
        except ByokError as err:
            steps.append(Step(file, entry, "invalid", err.message))
            continue
        entry = entry._replace(key=key)
        if provider in chosen:
            same = chosen[provider] == key
            steps.append(Step(file, entry, "again" if same else "duplicate",
                              "the same key as above" if same else
                              f"another {provider} key of this source comes first"))
            continue
        chosen[provider] = key
        name = name_for(provider)
        holder = keychain.name_holding(provider, key)
        stored = keychain.store.get_key(keychain.profile, provider, name)
        named = "" if name == "default" else f" {name!r}"
        if holder is not None:
            steps.append(Step(file, entry, "present", "this key is stored already" + (
                "" if holder == "default" else f" as {holder!r}"), holder))
        elif stored is None:
            steps.append(Step(file, entry, "import", "" if name == "default"
                              else f"as {name!r}", name))
        elif replace:
            steps.append(Step(file, entry, "replace", f"replaces the stored key{named} "
                              f"{mask_hint(stored.hint)}", name))
        else:
            steps.append(Step(file, entry, "conflict",
                              f"a different key{named} ({mask_hint(stored.hint)}) is stored; "
                              f"--replace overwrites it, --name NAME keeps both", name))
    return steps
