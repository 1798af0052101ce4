"""The unit tests and the dag.test end-to-end runs on every supported Airflow line (`make test-matrix`).

One virtual environment per Airflow line and Python, each installed with plain pip from
``constraints/airflow-X.Y.txt``; two lines at a time (``ICA_MATRIX_PARALLEL``): a line's tests
wait on subprocesses and servers more than they compute (about a third of a core), so two
share CI's two cores well. Each line's output is printed once the line is done. Environments live in ``.venvs/`` and are kept between
runs: one is rebuilt only when its constraints file or pyproject.toml changed. The run writes
``constraints/matrix-results.json`` and fails when the compatibility table of ``docs/compatibility.md``
(generated from it) differs; ``--write-table`` rewrites the table instead.

    python3 scripts/test_matrix.py                 # every line
    python3 scripts/test_matrix.py --only 3.0 3.1  # some lines (results of the others kept)
    python3 scripts/test_matrix.py --write-table   # no tests: the table from the last results
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# (Airflow line, Python): the oldest Airflow on the oldest Python, the newest on the newest.
MATRIX = [
    ("2.10", "3.10"),
    ("2.11", "3.11"),
    ("3.0", "3.12"),
    ("3.1", "3.13"),
    ("3.2", "3.12"),
    ("3.3", "3.13"),
]
# The demo (`airflow dags test` in a subprocess, ~2 min) runs in `make test` on 3.3 and 2.10 only;
# the table check compares the results of the previous run, which this run replaces.
TESTS = ["tests/unit", "tests/e2e", "tests/integration", "-k", "not test_demo and not test_compatibility_table"]
# The test extra, and the events extra (the Amazon provider) that waits woken by ICA's
# notifications need: every line runs their tests (constraints/ pins the provider per line).
EXTRAS = "test,events"
VENVS = REPO / ".venvs"
RESULTS = REPO / "constraints" / "matrix-results.json"
TABLE_DOC = REPO / "docs" / "compatibility.md"
TABLE_START, TABLE_END = "<!-- compat-table:start -->", "<!-- compat-table:end -->"
PIP = ["--quiet", "--disable-pip-version-check"]
PARALLEL = max(1, int(os.environ.get("ICA_MATRIX_PARALLEL", "2")))
# Installs one at a time: each editable install writes the package's metadata into the clone.
_INSTALLING = threading.Lock()
# What this environment has: versions, optional features, and the ica connection form the UI gets.
PROBE = """
import json, os, platform, tempfile
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp()
import airflow
from airflow.providers_manager import ProvidersManager
from ica_airflow_provider import _compat
manager = ProvidersManager()
print(json.dumps({
    "airflow": airflow.__version__,
    "python": platform.python_version(),
    "features": _compat.features(),
    "form_fields": sorted(k for k in manager.connection_form_widgets if k.startswith("extra__ica__")),
    "form_relabels": "ica" in manager.field_behaviours,
}))
"""


def find_python(version: str) -> str:
    """``python3.X`` from PATH, or from pyenv when its shim is not the active version."""
    name = f"python{version}"
    found = shutil.which(name)
    if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
        return found
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    for candidate in sorted(glob.glob(f"{root}/versions/{version}.*/bin/{name}"), reverse=True):
        return candidate
    raise SystemExit(f"{name} not found (on PATH or in pyenv)")


def ensure_env(line: str, python: str) -> tuple[Path, float]:
    """The environment for one cell, installed if missing or stale; seconds spent installing."""
    constraints = REPO / "constraints" / f"airflow-{line}.txt"
    venv = VENVS / f"airflow-{line}-py{python}"
    key = hashlib.sha256(constraints.read_bytes() + _requirements() + EXTRAS.encode()).hexdigest()
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == key:
        return venv, 0.0
    with _INSTALLING:
        return _install(venv, python, constraints, stamp, key)


def _install(venv: Path, python: str, constraints: Path, stamp: Path, key: str) -> tuple[Path, float]:
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([find_python(python), "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", *PIP, "-c", str(constraints), "apache-airflow", "-e", f".[{EXTRAS}]"],
        check=True,
        cwd=REPO,
    )
    stamp.write_text(key)
    return venv, time.monotonic() - started


def _requirements() -> bytes:
    """pyproject.toml's dependency lists: what an environment depends on besides its pins."""
    text = (REPO / "pyproject.toml").read_text()
    found = re.findall(r"(?ms)^dependencies = \[.*?^\]|^\[project\.optional-dependencies\].*?(?=^\[)", text)
    return "".join(found or [text]).encode()


def outcomes(junit: Path) -> dict[str, str]:
    """``{"tests/e2e/test_dag_runs.py::test_all_succeed[deferred]": "passed", ...}``."""
    result = {}
    for case in ET.parse(junit).iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        status = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                status = "failed"
            elif child.tag == "skipped" and status == "passed":
                status = "skipped"
        result[f"{path}::{case.get('name')}"] = status
    return result


def run_cell(line: str, python: str) -> dict[str, Any]:
    venv, install_s = ensure_env(line, python)
    bin_dir = venv / "bin"
    # Airflow may log to stdout while loading providers: the probe's answer is the last line.
    probed = subprocess.run([str(bin_dir / "python"), "-c", PROBE], check=True, capture_output=True, text=True)
    probe = json.loads(probed.stdout.strip().splitlines()[-1])
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        junit, log = Path(tmp, "junit.xml"), Path(tmp, "pytest.log")
        with log.open("w") as out:
            code = subprocess.call(
                [str(bin_dir / "pytest"), "-p", "no:cacheprovider", "-q", f"--junitxml={junit}", *TESTS],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            )
        tests = outcomes(junit) if junit.exists() else {}
        output = log.read_text(errors="replace")
    counts = {s: sum(1 for v in tests.values() if v == s) for s in ("passed", "failed", "skipped")}
    return {
        **probe,
        "line": line,
        "ok": code == 0 and counts["failed"] == 0 and counts["passed"] > 0,
        "tests": counts,
        "failed": sorted(name for name, status in tests.items() if status == "failed"),
        "poke": _all_passed(tests, "tests/e2e/", "[poke]"),
        "deferred": _all_passed(tests, "tests/e2e/", "[deferred]"),
        "install_seconds": round(install_s),
        "test_seconds": round(time.monotonic() - started),
        "output": output,
    }


def _all_passed(tests: dict[str, str], prefix: str, marker: str) -> bool:
    chosen = [status for name, status in tests.items() if name.startswith(prefix) and marker in name]
    return bool(chosen) and all(status == "passed" for status in chosen)


def compat_table(cells: list[dict[str, Any]]) -> str:
    """The compatibility table: what CI ran and what works on each cell."""
    rows = [
        "| Airflow | Python | tests (unit, dag.test e2e, integration) | poke / deferral "
        "| reschedule with the state store | on-kill abort when deferred | connection form |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in sorted(cells, key=lambda c: [int(p) for p in c["line"].split(".")]):
        features, counts = cell["features"], cell["tests"]
        # Counts change with every new test; the table says what a reader needs: all passed or not.
        result = f"**{counts['failed']} failed**" if counts["failed"] or not cell["ok"] else "all passed"
        if counts["skipped"]:
            result += f", {counts['skipped']} skipped"
        python = ".".join(cell["python"].split(".")[:2])  # the patch differs between machines
        waits = " / ".join("yes" if cell[mode] else "**no**" for mode in ("poke", "deferred"))
        rows.append(
            f"| {cell['airflow']} | {python} | {result} | {waits} "
            f"| {'yes' if features['task_state_store'] else 'no: each poke reads the batch again'} "
            f"| {'yes' if features['trigger_on_kill'] else 'no: Airflow does not call it'} "
            f"| {_form(cell)} |"
        )
    return "\n".join(rows)


def _form(cell: dict[str, Any]) -> str:
    if not (cell["form_fields"] and cell["form_relabels"]):
        return "generic fields, extras as JSON (the hook methods need the FAB provider)"
    source = "declarative (conn-fields)" if cell["features"]["declarative_connection_form"] else "hook methods"
    return f"{len(cell['form_fields'])} ICA fields, {source}"


def table_section(text: str) -> str:
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[start:end].strip()


def load_results() -> list[dict[str, Any]]:
    return json.loads(RESULTS.read_text())["cells"] if RESULTS.exists() else []


def sync_table(cells: list[dict[str, Any]], write: bool) -> bool:
    """True when the docs' table matches ``cells`` (after rewriting it, with ``write``)."""
    text, table = TABLE_DOC.read_text(), compat_table(cells)
    if table_section(text) == table:
        return True
    if write:
        start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
        TABLE_DOC.write_text(f"{text[:start]}\n{table}\n{text[end:]}")
        return True
    print(f"docs/compatibility.md's table differs from this run; expected:\n{table}", file=sys.stderr)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="LINE", help="Airflow lines to run (default: all)")
    parser.add_argument("--write-table", action="store_true", help="rewrite the docs' table, run nothing")
    args = parser.parse_args()
    if args.write_table:
        return 0 if sync_table(load_results(), write=True) else 1
    chosen = [(line, py) for line, py in MATRIX if not args.only or line in args.only]
    cells = {cell["line"]: cell for cell in load_results() if cell["line"] in dict(MATRIX)}
    started = time.monotonic()
    print(f"== Airflow {', '.join(line for line, _ in chosen)}: {PARALLEL} at a time", flush=True)
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        running = {pool.submit(run_cell, line, python): line for line, python in chosen}
        for done in concurrent.futures.as_completed(running):
            cell = cells[running[done]] = done.result()
            print(f"== Airflow {running[done]} on Python {cell['python']}\n{cell.pop('output')}", flush=True)
            print(f"== Airflow {cell['airflow']} / Python {cell['python']}: {'ok' if cell['ok'] else 'FAILED'} "
                  f"{cell['tests']} install {cell['install_seconds']} s, tests {cell['test_seconds']} s", flush=True)  # fmt: skip
    total = round(time.monotonic() - started)
    ordered = [cells[line] for line, _ in MATRIX if line in cells]
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    # The duration of the last run of every line (a partial run keeps it).
    whole = total if len(chosen) == len(MATRIX) else previous.get("total_seconds")
    RESULTS.write_text(json.dumps({"total_seconds": whole, "cells": ordered}, indent=2) + "\n")
    print(f"== test-matrix: {total} s; results in {RESULTS.relative_to(REPO)}")
    in_sync = sync_table(ordered, write=False)
    return 0 if in_sync and all(cells[line]["ok"] for line, _ in chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
