"""The shape of the house (issue 20): the core knows nothing of Typer or rich, nothing outside
`cli/` imports `cli/`, every import points down the layers below, and no two modules import
each other, directly or round a loop. Imports inside functions count as much as top-level
ones: a lazy import is still an arrow."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "byok_cli"

# Bottom to top. A module may import its own layer's package (a package's modules import each
# other) and any layer below; never one above.
LAYERS = [
    {"byok_cli.errors", "byok_cli.version", "byok_cli.records", "byok_cli.registry_data"},
    {"byok_cli.inputs", "byok_cli.urls", "byok_cli.schema", "byok_cli.redacting"},
    {"byok_cli.registry"},
    {"byok_cli.store", "byok_cli.wire"},
    {"byok_cli.catalog", "byok_cli.secrets", "byok_cli.usage"},
    {"byok_cli.routing", "byok_cli.importers", "byok_cli.attachments"},
    {"byok_cli.handoff", "byok_cli.setup", "byok_cli.gateway"},
    {"byok_cli.api"},
    {"byok_cli.cli"},
    {"byok_cli", "byok_cli.__main__"},
]
FOREIGN_UI = ("typer", "rich", "click")


def modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = modules()


def imports(name: str) -> set[str]:
    """Every module `name` imports, by absolute name (byok_cli's own resolved to modules)."""
    path, is_package = MODULES[name]
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                whole = f"{source}.{alias.name}"
                found.add(whole if whole in MODULES else source)
    found.discard(name)
    return found


def layer_of(name: str) -> int:
    for depth in range(len(LAYERS) - 1, -1, -1):
        if any(name == top or name.startswith(top + ".") for top in LAYERS[depth]
               if top != "byok_cli"):
            return depth
    assert name in ("byok_cli",), f"{name} is in no layer: add it to LAYERS"
    return len(LAYERS) - 1


def package_of(name: str) -> str:
    return ".".join(name.split(".")[:2])


GRAPH = {name: {m for m in imports(name) if m in MODULES} for name in MODULES}
CORE = sorted(n for n in MODULES if not n.startswith("byok_cli.cli")
              and n not in ("byok_cli", "byok_cli.__main__"))


@pytest.mark.parametrize("name", CORE)
def test_the_core_imports_no_typer_rich_or_cli(name):
    bad = {m for m in imports(name) if m.split(".")[0] in FOREIGN_UI
           or m == "byok_cli.cli" or m.startswith("byok_cli.cli.")}
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_import_points_down(name):
    mine = layer_of(name)
    up = sorted(m for m in GRAPH[name] if layer_of(m) > mine
                or (layer_of(m) == mine and package_of(m) != package_of(name)
                    and mine != len(LAYERS) - 1))
    assert not up, f"{name} (layer {mine}) imports {up} from its own layer or above"


def test_no_import_cycles():
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert cycles == []


def test_importing_the_whole_core_loads_no_typer_or_rich():
    # The static check above, confirmed by the interpreter: every core module imported in a
    # fresh process, then sys.modules read.
    script = ("import importlib, json, sys\n"
              f"for name in {CORE!r}:\n"
              "    importlib.import_module(name)\n"
              "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    loaded = set(json.loads(proc.stdout))
    assert not loaded & set(FOREIGN_UI), sorted(loaded & set(FOREIGN_UI))


def test_the_public_api_and_python_m_keep_working():
    import byok_cli

    assert {byok_cli.Byok.__name__, byok_cli.ByokError.__name__, byok_cli.Code.__name__} == {
        "Byok", "ByokError", "Code"}
    proc = subprocess.run([sys.executable, "-m", "byok_cli", "--version"], capture_output=True,
                          text=True)
    assert (proc.returncode, proc.stdout) == (0, f"byok {byok_cli.__version__}\n")
