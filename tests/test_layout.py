"""How the code is laid out: no import circles, and no module importing one from a higher layer (the
"How the code is laid out" in docs/development.md draws the same picture)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "litkb"

# Lowest first; a module may import from its own layer or below, never above.
LAYERS = [
    {"errors", "wording", "text", "registry"},
    {"fsutil", "config", "lock", "latex", "models", "names", "queries"},
    {"store", "filters", "identity", "parsers", "personal"},
    {"index", "ingest", "sync", "sources", "fulltext"},
    {"themes", "exporters", "selection"},
    {"kb"},
    {"doctor"},
    {"render", "commands", "cli", "mcp", "web", "__main__", "__init__"},
]


def module_name(path: Path) -> str:
    """`index.build` for litkb/index/build.py, `index` for litkb/index/__init__.py."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The litkb modules a file imports, anywhere in it (function-level imports count too)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" and name != "__init__" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = ".".join([*base, node.module] if node.module else base)
            if node.module is None:  # `from . import x`: the submodules named
                found |= {f"{target}.{alias.name}" if target else alias.name for alias in node.names}
            else:
                found.add(target)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("litkb"):
            found.add(str(node.module).removeprefix("litkb").lstrip("."))
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    out = set()
    for target in found:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> int:
    top = module.split(".")[0]
    for number, names in enumerate(LAYERS):
        if top in names:
            return number
    raise AssertionError(f"litkb/{module}.py is in no layer: add it to LAYERS (and to docs/development.md)")


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Imports from a lower layer to a higher one."""
    return [f"{m} imports {t}" for m, targets in edges.items() for t in targets if layer(t) > layer(m)]


def circles(edges: dict[str, set[str]]) -> list[str]:
    """Every import circle, as `a -> b -> a`."""
    found = []

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(edges.get(node, ())):
            if target in path:
                found.append(" -> ".join([*path[path.index(target) :], target]))
            elif len(path) < 12:
                visit(target, [*path, target])

    for start in edges:
        visit(start, [start])
    return found


def test_no_module_imports_a_higher_layer() -> None:
    assert upward(graph()) == []


def test_no_import_circles() -> None:
    assert circles(graph()) == []


def test_the_checks_see_imports() -> None:
    """The graph is the real one: kb imports the builder, searcher and theme service; the builder never
    reaches back to kb; exporters read the saved themes."""
    edges = graph()
    assert {"index.build", "index.search", "themes.service"} <= edges["kb"]
    assert "index.build" in edges["doctor"] and "kb" not in edges["index.build"]
    assert "themes.themeset" in edges["exporters"]


def test_the_checks_find_what_they_look_for() -> None:
    """On a made-up graph: an import that runs up and a circle are both found."""
    made_up = {"index.search": {"kb", "models"}, "kb": {"index.search"}, "models": set()}
    assert upward(made_up) == ["index.search imports kb"]
    assert "kb -> index.search -> kb" in circles(made_up)
