"""A release that installs (`make release-check`): build, check, install from the wheel, ask Airflow.

1. ``python -m build``: an sdist and a wheel, in a temporary directory (never ``dist/``).
2. ``twine check``: the metadata and the long description render on PyPI.
3. The wheel holds the package, its ``py.typed`` and the provider entry point, and no tests,
   benchmarks, deployment or scripts.
4. A fresh virtualenv with Airflow from ``constraints/airflow-<line>.txt`` and the wheel (no
   editable install); from a temporary directory, so no checkout is on ``sys.path``:
   ``airflow providers list`` shows the provider, ``airflow providers hooks`` the ``ica``
   connection type, and the example DAGs parse.

    python scripts/release_check.py               # Airflow 3.3, the newest line
    python scripts/release_check.py --line 2.10   # another line of constraints/
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "ica_airflow_provider"
DIST_NAME = "ica-airflow-provider"
NOT_IN_THE_WHEEL = ("tests/", "benchmarks/", "deploy/", "scripts/", "example_dags/", "constraints/", "docs/")
CLASSIFIER = "Framework :: Apache Airflow :: Provider"
PIP = ["--quiet", "--disable-pip-version-check"]
PARSE_DAGS = """
import json, sys
import ica_airflow_provider
try:
    from airflow.dag_processing.dagbag import DagBag
    options = {}  # Airflow 3: [core] load_examples is off in the environment
except ImportError:  # Airflow 2
    from airflow.models.dagbag import DagBag
    options = {"include_examples": False}
bag = DagBag(dag_folder=sys.argv[1], **options)
print(json.dumps({"module": ica_airflow_provider.__file__, "dags": sorted(bag.dag_ids),
                  "errors": {k: str(v) for k, v in bag.import_errors.items()}}))
"""


def run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    print("$", " ".join(str(c) for c in command), flush=True)
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build(out: Path) -> tuple[Path, Path]:
    run(sys.executable, "-m", "build", "--outdir", out, REPO)
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, (wheels, sdists)
    run(sys.executable, "-m", "twine", "check", "--strict", wheels[0], sdists[0])
    return wheels[0], sdists[0]


def check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    problems = []
    for needed in (f"{PACKAGE}/__init__.py", f"{PACKAGE}/py.typed", f"{PACKAGE}/get_provider_info.py"):
        if needed not in names:
            problems.append(f"missing {needed}")
    stray = sorted({n.split("/")[0] + "/" for n in names if n.startswith(NOT_IN_THE_WHEEL)})
    if stray:
        problems.append(f"holds {stray}")
    if f"provider_info = {PACKAGE}.get_provider_info:get_provider_info" not in entry_points.split(
        "[apache_airflow_provider]"
    )[-1]:
        problems.append("no apache_airflow_provider entry point")
    if CLASSIFIER not in metadata.get_all("Classifier", []):
        problems.append(f"no classifier {CLASSIFIER!r}")
    if metadata.get("License-Expression") != "Apache-2.0" or not any(n.endswith("LICENSE") for n in names):
        problems.append("no Apache-2.0 licence")
    if not metadata.get_all("Project-URL"):
        problems.append("no project URLs")
    if metadata.get("Description-Content-Type") != "text/markdown":
        problems.append("the long description is not Markdown")
    if problems:
        sys.exit(f"{wheel.name}: " + "; ".join(problems))
    print(f"{wheel.name}: {len(names)} files; package, py.typed, provider entry point, metadata all right")


def check_install(wheel: Path, line: str, work: Path) -> None:
    venv = work / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    constraints = REPO / "constraints" / f"airflow-{line}.txt"
    run(python, "-m", "pip", "install", *PIP, "-c", constraints, "apache-airflow", wheel)
    home = work / "airflow-home"
    dags = work / "dags"
    shutil.copytree(REPO / "example_dags", dags)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))
    }
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    }
    cwd = work  # not the checkout: nothing of it on sys.path
    airflow = venv / "bin" / "airflow"
    providers = json.loads(run(airflow, "providers", "list", "--output", "json", cwd=cwd, env=env))
    ours = [p for p in providers if p.get("package_name") == DIST_NAME]
    assert ours, f"airflow providers list does not show {DIST_NAME}: {providers}"
    hooks = json.loads(run(airflow, "providers", "hooks", "--output", "json", cwd=cwd, env=env))
    ica = [h for h in hooks if h.get("connection_type") == "ica"]
    assert ica and ica[0].get("package_name") == DIST_NAME, f"no ica connection type from {DIST_NAME}: {ica}"
    parsed = json.loads(run(python, "-c", PARSE_DAGS, dags, cwd=cwd, env=env).strip().splitlines()[-1])
    assert Path(parsed["module"]).is_relative_to(venv), f"the package was imported from {parsed['module']}"
    assert not parsed["errors"], f"the example DAGs do not parse: {parsed['errors']}"
    expected = ["example_ica_cwl_batch", "example_ica_nextflow_batch"]
    if not line.startswith("2."):  # the asset watchers' examples need Airflow 3
        expected = sorted([*expected, "example_ica_launch_on_upload", "example_ica_on_analysis_succeeded"])
    assert parsed["dags"] == expected, parsed["dags"]
    print(
        f"installed from the wheel (Airflow {line} constraints): provider {ours[0].get('version')} listed, "
        f"hook {ica[0].get('class')} for connection type ica, example DAGs {parsed['dags']} parsed"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--line", default="3.3", help="Airflow line of constraints/ to install (default 3.3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ica-release-") as tmp:
        work = Path(tmp)
        wheel, sdist = build(work / "dist")
        check_wheel(wheel)
        check_install(wheel, args.line, work)
    print(f"release check passed: {wheel.name}, {sdist.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
