"""The asset watchers' example on the real scheduler and triggerer, against the fake ICA and moto's SQS.

``tests/deployment/conftest.py`` starts the SQS server and names the queue in the environment
(``ICA_EVENTS_*``) before the deployment starts, so the dag-processor parses the example's
assets on it. The check creates the AWS connection, subscribes the project with the codes the
assets' watchers read, unpauses both DAGs, uploads files into the fake ICA (one message also
sent a second time, as SQS may), and follows what Airflow does: every uploaded FASTQ reaches
the launch DAG exactly once, the batches hold exactly those data ids, every succeeded
analysis reaches the second DAG exactly once, and a file uploaded while the triggerer is
down starts a run once it is back.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from deploy.airflow_e2e.deployment import LOG_DIR, PROJECT_ID, REPO, Deployment, component_argv
from deploy.airflow_e2e.procs import Component

AWS_CONN_ID = "aws_ica_events"
LAUNCH = "example_ica_launch_on_upload"
REPORT = "example_ica_on_analysis_succeeded"
EXAMPLE = REPO / "example_dags" / "example_ica_asset_watchers.py"
TIMEOUT = 240.0


def events_environment(sqs_url: str, region: str, queue_url: str) -> dict[str, str]:
    """What the example DAG file reads when it is parsed (no AIRFLOW_ variable: those do not reach the components)."""
    return {"ICA_EVENTS_QUEUE_URL": queue_url, "ICA_EVENTS_PROJECT_ID": PROJECT_ID, "ICA_EVENTS_AWS_CONN_ID": AWS_CONN_ID,
            "ICA_E2E_SQS_URL": sqs_url, "ICA_E2E_SQS_REGION": region}


def check_asset_watchers(deployment: Deployment) -> str:
    import boto3

    from ica_airflow_provider.hooks.ica import IcaHook
    from ica_airflow_provider.testing import data_events
    from ica_airflow_provider.testing.transitions import envelope
    from ica_airflow_provider.watchers import watched_event_codes

    client, backend = deployment.client, deployment.ica.backend
    queue_url, sqs_url, region = (os.environ[f"ICA_{name}"] for name in ("EVENTS_QUEUE_URL", "E2E_SQS_URL", "E2E_SQS_REGION"))
    sqs = boto3.client("sqs", endpoint_url=sqs_url, region_name=region, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    client.create_connection({
        "connection_id": AWS_CONN_ID, "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": json.dumps({"endpoint_url": sqs_url, "region_name": region}),
    })
    example = _load(EXAMPLE)
    codes = watched_event_codes(example.run_fastq, example.germline_succeeded)
    os.environ["AIRFLOW_CONN_ICA_DEFAULT"] = json.dumps(
        {"conn_type": "ica", "host": deployment.ica.url, "password": deployment.ica.config.api_key}
    )
    try:
        IcaHook().ensure_notifications(PROJECT_ID, queue_url, codes)
    finally:
        del os.environ["AIRFLOW_CONN_ICA_DEFAULT"]
    for dag_id in (LAUNCH, REPORT):
        deployment.wait_dag_parsed(dag_id)
        client.set_paused(dag_id, False)

    paths = ["/runs/e2e/fastq/S1_R1.fastq.gz", "/runs/e2e/fastq/S1_R2.fastq.gz", "/runs/e2e/fastq/S2_R1.fastq.gz",
             "/runs/e2e/bam/S1.bam"]
    uploaded = {data_events.upload(backend, PROJECT_ID, path).id: path for path in paths}
    assert backend.emitter.flush()
    # A redelivery: the same event (same subject, code and timeModified) sent once more.
    first = backend.catalogue.data[next(iter(uploaded))]
    body = envelope("ICA_DATA_108", PROJECT_ID, 0.0, "redelivered", "V4",
                    data_events.project_data(backend, PROJECT_ID, first))
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    fastq = {data_id for data_id, path in uploaded.items() if path.endswith(".fastq.gz")}

    consumed = _wait_consumed(deployment, LAUNCH, len(fastq))
    assert sorted(consumed) == sorted(fastq), f"each FASTQ once: {consumed} vs {fastq}"
    sent = [
        data_id
        for run in client.dag_runs(LAUNCH)
        for item in client.xcom(LAUNCH, run["dag_run_id"], "batch_items")
        for data_id in item["analysisInput"]["inputs"][0]["dataIds"]
    ]
    assert sorted(sent) == sorted(fastq), f"the batches name the uploaded FASTQs once each: {sent}"
    batches = [b for b in backend.batches.values() if b.project_id == PROJECT_ID]
    assert len(batches) == len(client.dag_runs(LAUNCH)), "one batch per launch run"
    created = [item for b in batches for item in b.items]
    assert all(item.plan.creation_error is None for item in created), [i.plan.creation_error for i in created]
    analyses = len(created)

    succeeded = _wait_consumed(deployment, REPORT, analyses)
    assert len(set(succeeded)) == analyses, f"each succeeded analysis once: {succeeded}"

    # A triggerer restart: a file uploaded while it is down starts a run once it is back.
    triggerer = next(c for c in deployment.components if c.name == "triggerer")
    triggerer.terminate()
    triggerer.finish()
    late = data_events.upload(backend, PROJECT_ID, "/runs/e2e/fastq/S3_R1.fastq.gz").id
    assert backend.emitter.flush()
    restarted = Component("triggerer", component_argv(deployment.airflow, "triggerer", deployment.api_port),
                          deployment.env, LOG_DIR, REPO)
    restarted.start()
    deployment.components[deployment.components.index(triggerer)] = restarted
    consumed = _wait_consumed(deployment, LAUNCH, len(fastq) + 1)
    assert sorted(consumed) == sorted([*fastq, late]), consumed
    runs = len(deployment.client.dag_runs(LAUNCH))
    return (
        f"{len(fastq)} uploaded FASTQs (one redelivered) started {LAUNCH} for each once, in batches of"
        f" {analyses} analyses; their successes started {REPORT} once each; a file uploaded while the"
        f" triggerer was down started a run after its restart ({runs} launch runs in all)"
    )


def _wait_consumed(deployment: Deployment, dag_id: str, count: int) -> list[str]:
    """The subject ids of the asset events the DAG's successful runs consumed, once ``count`` of them are."""
    client = deployment.client

    def consumed() -> list[str] | None:
        runs = client.dag_runs(dag_id)
        if any(run["state"] == "failed" for run in runs):
            raise AssertionError(f"{dag_id}: a run failed: {runs}")
        if not runs or any(run["state"] != "success" for run in runs):
            return None
        ids = []
        for run in runs:
            path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run['dag_run_id'], safe='')}/upstreamAssetEvents"
            for event in client.get(path)["asset_events"]:
                ids.append((event.get("extra") or {}).get("payload", {}).get("id"))
        return ids if len(ids) >= count else None

    found: list[str] = deployment._wait(f"{dag_id}: {count} asset events consumed", consumed, TIMEOUT)
    return found


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("example_ica_asset_watchers_e2e", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
