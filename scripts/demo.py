"""`make demo`: the main example DAG through real Airflow against the fake ICA server.

Starts the fake server on a free loopback port, points ``ica_default`` at it, runs
``airflow dags test`` on ``example_ica_nextflow_batch`` with a project-local Airflow
home (SQLite), prints the batch, every analysis and the output folder of each one that
succeeded, stops the server, and exits non-zero if anything failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ica_airflow_provider.testing import FakeIcaConfig, FakeIcaServer

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "example_ica_nextflow_batch"
PROJECT_ID = "demo-project"
API_KEY = "demo-api-key"


def airflow_env(server_url: str) -> dict[str, str]:
    home = REPO / "airflow-home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "example_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        ICA_EXAMPLE_POKE_INTERVAL="1",
        AIRFLOW_CONN_ICA_DEFAULT=json.dumps(
            {"conn_type": "ica", "host": server_url, "password": API_KEY, "extra": {"project_id": PROJECT_ID}}
        ),
    )
    return env


def airflow(env: dict[str, str], *args: str) -> int:
    command = [str(Path(sys.executable).parent / "airflow"), *args]
    print("$ airflow " + " ".join(args), flush=True)
    return subprocess.run(command, env=env, cwd=REPO, check=False).returncode


def main() -> int:
    samples = sys.argv[1:] or ["NA12878", "NA12891", "NA12892"]
    with FakeIcaServer(FakeIcaConfig(api_key=API_KEY)) as server:
        print(f"Fake ICA server at {server.url}", flush=True)
        env = airflow_env(server.url)
        if airflow(env, "db", "migrate") != 0:
            return 1
        code = airflow(env, "dags", "test", DAG_ID, "--conf", json.dumps({"samples": samples}))
        print()
        print(report(server, env))
        print(mapped_by_sample())
    print(f"\nDemo {'succeeded' if code == 0 else 'FAILED'} (airflow dags test exit code {code}).")
    return code


def report(server: FakeIcaServer, env: dict[str, str]) -> str:
    """Every batch the fake server holds, read back through the provider's own hook."""
    os.environ.update({k: env[k] for k in ("AIRFLOW_HOME", "AIRFLOW_CONN_ICA_DEFAULT")})
    from ica_airflow_provider.hooks.ica import IcaHook
    from ica_airflow_provider.models.outputs import output_records

    hook = IcaHook()
    lines = []
    for batch_id in list(server.backend.batches):
        items = list(hook.iter_analysis_creation_batch_items(PROJECT_ID, batch_id))
        lines.append(f"ICA batch {batch_id} (project {PROJECT_ID}): {len(items)} analyses")
        for item in items:
            analysis = item.created_analysis
            status = analysis.status if analysis else f"creation {item.processing.status}"
            reason = (analysis.summary if analysis else item.processing.additional_status_information) or ""
            lines.append(
                f"  {item.request.user_reference:<30} {analysis.id if analysis else '-':<38} {status} {reason}".rstrip()
            )
            if analysis is not None and analysis.status == "SUCCEEDED":
                for output in output_records(hook.get_analysis_outputs(PROJECT_ID, analysis.id)):
                    lines.append(f"    output {output['code']}: {output['data_type']} {output['name']} ({output['data_id']})")
    return "\n".join(lines) or "The fake ICA server holds no batch."


def mapped_by_sample() -> str:
    """How the UI lists the last run's mapped collect_outputs tasks (their map_index_template)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        last = session.query(DagRun).filter(DagRun.dag_id == DAG_ID).order_by(DagRun.id.desc()).first()
        if last is None:
            return "No run of the DAG."
        rows = (
            session.query(TaskInstance.rendered_map_index)
            .filter_by(dag_id=DAG_ID, run_id=last.run_id, task_id="collect_outputs")
            .order_by(TaskInstance.map_index)
            .all()
        )
    labels = [str(label) for (label,) in rows]
    return f"collect_outputs by sample: {', '.join(labels)}" if labels else "collect_outputs did not run."


if __name__ == "__main__":
    sys.exit(main())
