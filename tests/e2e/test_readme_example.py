"""The example DAG the README shows in full runs, as shown, against the fake ICA server.

As ``make demo`` runs its DAG: ``airflow dags test`` in a subprocess, the example folder as the
DAGs folder (``dag.test`` here would need the DAG in the tests' own DAGs folder).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ica_airflow_provider.hooks.ica import IcaHook
from tests.scripts import load_script

REPO = Path(__file__).resolve().parents[2]


def readme_dags() -> list[str]:
    """The example DAG files the README includes whole (scripts/docs.py keeps the copy exact)."""
    tool = load_script("docs")
    return [i.path for i in tool.includes(REPO / "README.md") if i.start is None and i.path.endswith(".py")]


@pytest.mark.e2e
@pytest.mark.parametrize("path", readme_dags())
def test_the_readme_example_runs(
    path: str, ica_fake_server_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = load_script("demo")
    server = ica_fake_server_factory(api_key=demo.API_KEY)
    env = demo.airflow_env(server.url)
    dag_id = Path(path).stem
    airflow = str(Path(sys.executable).parent / "airflow")
    for command in (["db", "migrate"], ["dags", "test", dag_id]):  # the params' defaults, as the form offers
        done = subprocess.run([airflow, *command], env=env, cwd=REPO, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    (batch,) = server.backend.batches.values()
    assert batch.items and all(item.analysis_id for item in batch.items)
    monkeypatch.setenv("AIRFLOW_CONN_ICA_DEFAULT", env["AIRFLOW_CONN_ICA_DEFAULT"])
    hook = IcaHook()
    statuses = {hook.get_analysis(demo.PROJECT_ID, item.analysis_id).status for item in batch.items}
    assert statuses == {"SUCCEEDED"}
