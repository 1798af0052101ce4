"""Modules import downward only, and there is no import cycle, function-level imports included.

Read from the source (every ``import`` statement, wherever it is), not from ``sys.modules``.
Every module of the package is in a layer; the fake server (``testing/``) imports only
itself (and the standard and third-party libraries). Importing the core loads no Airflow.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ica_airflow_provider"
NAME = "ica_airflow_provider"

# Higher layers may import lower ones, never the reverse; same-layer imports are allowed
# (the cycle check below still applies). Keyed by the module's first name in the package
# ("" is the package's own ``__init__``). ``_compat`` is the only door to Airflow: it sits
# above the core, which may not reach it.
LAYERS = [
    ("operators", "sensors", "task_mixin", "notifications_cli", "watchers"),
    ("task_side",),
    ("triggers",),
    ("hooks",),
    ("links", "openlineage", "exceptions", "arguments", "forms", "get_provider_info"),
    ("_compat",),
    ("core",),
    ("models",),
    ("defaults", ""),
]
STANDALONE = "testing"  # the fake server: imports only itself


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, package_dir: Path = PACKAGE) -> set[str]:
    """Every module of the package that ``path`` imports, at any level of the code."""
    found: set[str] = set()
    own = module_name(path, package_dir)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
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


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    return {
        name: {m for m in imports_of(path, package) if m in modules and m != name} for name, path in modules.items()
    }


def top(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def layer(module: str) -> int | None:
    for index, names in enumerate(LAYERS):
        if top(module) in names:
            return index
    return None


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the layering, as ``importer -> imported``."""
    found = []
    for module, imported in sorted(edges.items()):
        for other in sorted(imported):
            if (top(module) == STANDALONE) != (top(other) == STANDALONE):
                found.append(f"{module} -> {other}")  # the fake server and the product never meet
            elif top(module) != STANDALONE and layer(other) < layer(module):  # type: ignore[operator]
                found.append(f"{module} -> {other}")
    return found


def test_every_module_is_in_a_layer() -> None:
    unplaced = sorted(m for m in graph() if layer(m) is None and top(m) != STANDALONE)
    assert unplaced == []


def test_the_graph_sees_function_level_imports() -> None:
    edges = graph()
    # The tasks import IcaHook inside a method: it must still be seen.
    assert "ica_airflow_provider.hooks.ica" in edges["ica_airflow_provider.task_mixin"]


def test_imports_go_downward_only() -> None:
    assert violations(graph()) == []


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("core/wait.py", "from ica_airflow_provider._compat import AirflowException"),
        ("core/tracker.py", "def f():\n    from ica_airflow_provider.task_side import TaskWait"),
        ("models/_base.py", "from ..core import errors"),
        ("testing/backend.py", "from ica_airflow_provider.core.status import Phase"),
        ("hooks/ica.py", "from ica_airflow_provider.testing.clock import ManualClock"),
    ],
)
def test_a_planted_violation_is_found(tmp_path: Path, module: str, line: str) -> None:
    copy = tmp_path / NAME
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    planted = copy / module
    planted.write_text(planted.read_text() + "\n" + line + "\n")
    assert violations(graph(copy)) != []


def test_importing_the_core_loads_no_airflow() -> None:
    code = (
        "import json, sys\n"
        "import ica_airflow_provider.core, ica_airflow_provider.core.wait, ica_airflow_provider.core.drive\n"
        "import ica_airflow_provider.core.shared, ica_airflow_provider.models\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert json.loads(out.stdout) == []


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
