"""Shell completion: what each argument may be, and how each shell is told.

Called by the shell at each TAB through `_BYOK_COMPLETE` (scripts in data/completions,
printed by `byok completion SHELL`). Reads the catalogue, the registry and, read-only, the
database; imports no SDK and writes nothing.
"""

from __future__ import annotations

import os


def _registry(ctx):
    """The built-ins and presets, and the --profile's own providers when the database opens
    (``ctx`` is click's context, passed by Typer to a parameter of that name)."""
    from ..registry import builtin

    try:
        from ..api import Byok
        from .state import profile_name

        given = ctx.find_root().params.get("profile") if ctx is not None else None
        return Byok(profile_name(given) or "default").registry
    except Exception:  # a completion must never fail: fall back to what needs no database
        return builtin()


def providers(ctx, incomplete: str) -> list[str]:
    return [p for p in _registry(ctx).names() if p.startswith(incomplete)]


def _models(incomplete: str, catalogue: str | None = None) -> list[tuple[str, str]]:
    """Model ids and aliases a person may still use (never a retired model), described."""
    import datetime as dt

    from ..catalog.curated import load

    today = dt.date.today()
    usable = [m for m in load().models if not m.is_retired(today)
              and (catalogue is None or m.provider == catalogue)]
    found = [(m.id, f"{m.name}: {m.description}") for m in usable]
    found += sorted((a, f"{m.id}") for m in usable for a in m.aliases)
    return [(name, text) for name, text in found if name.startswith(incomplete)]


def _listed(provider: str) -> list[tuple[str, str]]:
    """The ids of ``provider``'s own model list as `models list --remote` last cached it
    (for any base URL), described by their names."""
    from ..catalog.model_lists import cached

    found: dict[str, str] = {}
    for (payload,) in _query("SELECT payload FROM model_cache WHERE provider = ?", provider):
        for m in cached(payload) or []:
            if isinstance(m, dict) and isinstance(m.get("id"), str):
                found.setdefault(m["id"], m.get("name") or "listed by the provider")
    return sorted(found.items())


def models(ctx, incomplete: str) -> list[tuple[str, str]]:
    """Catalogue ids and aliases, and `provider/` for addressing any provider's models;
    after `provider/`, that provider's models: its catalogue's ids and aliases, and the ids
    of its own list when `models list --remote` has cached it."""
    registry = _registry(ctx)
    head, slash, rest = incomplete.partition("/")
    provider = registry.get(head) if slash else None
    if provider is not None:
        own = _models(rest, provider.catalog) if provider.catalog else []
        known = {name for name, _ in own}
        own += [m for m in _listed(provider.name) if m[0] not in known and m[0].startswith(rest)]
        return [(f"{head}/{name}", text) for name, text in own]
    prefixes = [(f"{p}/", "a model of this provider") for p in registry.names()]
    return _models(incomplete) + [p for p in prefixes if p[0].startswith(incomplete)]


def settings(ctx, incomplete: str) -> list[tuple[str, str]]:
    from .setting_names import SETTINGS_HELP, names

    described = [(n, SETTINGS_HELP.get(n) or SETTINGS_HELP.get(n.rpartition(".")[1], ""))
                 for n in names(_registry(ctx))]
    return [(n, text) for n, text in described if n.startswith(incomplete)]


def setting_values(ctx, incomplete: str) -> list:
    """The values the setting named before this argument takes."""
    name = (ctx.params.get("name") or "").strip().lower()
    registry = _registry(ctx)
    if name == "preferred-provider":
        values = [(p, "") for p in registry.names()] + [("system", "environment keys only")]
    elif name == "logging":
        values = [("on", "keep prompts and answers"), ("off", "keep usage figures only")]
    elif name in ("show-cost", "allow-unpriced", "exec-gateway"):
        values = [("on", ""), ("off", "")]
    elif name.endswith(".model"):
        found = registry.get(name.rpartition(".")[0])
        values = [("default", "the catalogue's default")]
        if found is not None and found.catalog:
            values += _models("", found.catalog)
    elif name.endswith(".base_url"):
        values = [("default", "the provider's own endpoint")]
    else:
        values = []
    return [v for v in values if v[0].startswith(incomplete)]


def _profile(ctx) -> str:
    root = ctx.find_root() if ctx is not None else None
    given = (root.params.get("profile") if root is not None else None)
    return given or os.environ.get("BYOK_PROFILE") or "default"


def _query(sql: str, *params) -> list[tuple]:
    """Rows from the byok database, opened read-only; none when there is no database."""
    import sqlite3
    from contextlib import closing

    from ..store.files import DB_NAME, data_dir

    path = data_dir() / DB_NAME
    if not path.is_file():
        return []
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=1)) as conn:
            return conn.execute(sql, params).fetchall()
    except sqlite3.Error:  # locked, damaged, older: no candidates rather than an error
        return []


def profiles(incomplete: str) -> list[str]:
    names = {"default"} | {row[0] for row in _query("SELECT name FROM profiles")}
    return sorted(n for n in names if n.startswith(incomplete))


def conversations(ctx, incomplete: str) -> list[tuple[str, str]]:
    """Conversation ids of the profile, newest first, described by their first prompt."""
    rows = _query("SELECT c.id, (SELECT content FROM messages WHERE conversation_id = c.id "
                  "AND role = 'user' ORDER BY id LIMIT 1) FROM conversations c "
                  "WHERE c.profile = ? ORDER BY c.id DESC LIMIT 100", _profile(ctx))
    found = []
    for cid, prompt in rows:
        text = " ".join((prompt or "").split())
        found.append((str(cid), text[:60] + ("…" if len(text) > 60 else "")))
    return [f for f in found if f[0].startswith(incomplete)]


def commands(ctx, incomplete: str) -> list[str]:
    """For `byok exec -- COMMAND ARGS`: programs on PATH for COMMAND; for its arguments
    nothing, so that the shell completes file names."""
    if ctx.params.get("command") or not incomplete or os.sep in incomplete:
        return []
    found = set()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        try:
            with os.scandir(directory or ".") as entries:
                for entry in entries:
                    if (entry.name.startswith(incomplete) and entry.is_file()
                            and os.access(entry.path, os.X_OK)):
                        found.add(entry.name)
        except OSError:
            continue
    return sorted(found)


def efforts(incomplete: str) -> list[str]:
    from ..catalog.curated import load

    levels = dict.fromkeys(x for v in load().effort_levels.values() for x in v)
    return [e for e in levels if e.startswith(incomplete)]


def import_sources(incomplete: str) -> list[str]:
    from ..importers import SOURCES

    return [s for s in SOURCES if s.startswith(incomplete)]


def shells(incomplete: str) -> list[str]:
    return [s for s in ("bash", "zsh", "fish") if s.startswith(incomplete)]


# --- how each shell is answered ---------------------------------------------------------

def init() -> None:
    """Register byok's answers for zsh and fish (bash keeps typer's): one candidate a line
    with its description, nothing else, so the scripts in data/completions need no eval
    and every character of a description (an apostrophe too) arrives as it is. With no
    candidate, the scripts complete file names."""
    from typer._completion_classes import FishComplete, ZshComplete, completion_init
    from typer._click.shell_completion import add_completion_class

    class Zsh(ZshComplete):
        def format_completion(self, item) -> str:
            value = item.value.replace("\\", "\\\\").replace(":", "\\:")
            text = " ".join((item.help or "").split())
            return f"{value}:{text}" if text else value

        def complete(self) -> str:
            args, incomplete = self.get_completion_args()
            return "\n".join(self.format_completion(i)
                             for i in self.get_completions(args, incomplete))

    class Fish(FishComplete):
        def format_completion(self, item) -> str:
            text = " ".join((item.help or "").split())
            return f"{item.value}\t{text}" if text else item.value

        def complete(self) -> str:
            args, incomplete = self.get_completion_args()
            return "\n".join(self.format_completion(i)
                             for i in self.get_completions(args, incomplete))

    completion_init()
    add_completion_class(Zsh, "zsh")
    add_completion_class(Fish, "fish")
