"""Modules import downward only, and there is no import cycle, function-level imports included.

Read from the source (every ``import`` statement, wherever it is), not from ``sys.modules``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ica_airflow_provider"
NAME = "ica_airflow_provider"

# Higher layers may import lower ones, never the reverse. Same-layer imports are allowed
# (the cycle check below still applies). Modules not listed (get_provider_info, links,
# _compat, defaults, testing) are checked for cycles only.
LAYERS = [
    ("operators", "sensors"),
    ("waiting",),
    ("triggers",),
    ("hooks",),
    ("core",),
    ("models",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module of the package that ``path`` imports, at any level of the code."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name == NAME or name.startswith(NAME + ".")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def layer(module: str) -> int | None:
    top = module.split(".")[1] if "." in module else ""
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    return None


def test_the_graph_sees_function_level_imports() -> None:
    edges = graph()
    # The operator imports IcaHook inside a method: it must still be seen.
    assert "ica_airflow_provider.hooks.ica" in edges["ica_airflow_provider.operators.ica"]


@pytest.mark.parametrize("module", sorted(graph()))
def test_imports_go_downward_only(module: str) -> None:
    mine = layer(module)
    if mine is None:
        return
    upward = sorted(m for m in graph()[module] if (theirs := layer(m)) is not None and theirs < mine)
    assert upward == [], f"{module} imports a higher layer"


def test_no_import_cycle_anywhere() -> None:
    edges = graph()
    # Only the leaves of each import are edges: ``import a.b`` runs ``a/__init__``, which
    # is fine as long as no ``__init__`` imports its own submodules back.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if nxt in (NAME,) or node.startswith(nxt + "."):  # a package and its own parents
                continue
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt] if nxt in path else [*path, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert cycles == []
