"""The asset watchers' example on the real scheduler and triggerer, against the fake ICA and moto's SQS.

``tests/deployment/conftest.py`` starts the SQS server and names the two queues (one per
watcher) in the environment (``ICA_EVENTS_*``) before the deployment starts, so the
dag-processor parses the example's assets on them. The check creates the AWS connection,
subscribes the project on each queue with the codes of that queue's watcher, unpauses both
DAGs, uploads files into the fake ICA (one message also sent a second time, as SQS may), and
follows what Airflow does. The launch DAG's watcher groups a sample's R1 and R2: three FASTQs
(S1's pair, S2's R1) and a BAM start exactly one run, for S1, its batch holding exactly S1's
data ids; then the triggerer is restarted while the analyses run, S2's R2 is uploaded while
it is down, and once it is back S2 (its R1 still on the queue) starts exactly one more run;
every succeeded analysis reaches the second DAG exactly once.
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

# Not the woken waits' connection (deploy/airflow_e2e/events.py): the watchers read another moto server.
AWS_CONN_ID = "aws_ica_watchers"
LAUNCH = "example_ica_launch_on_upload"
REPORT = "example_ica_on_analysis_succeeded"
EXAMPLE = REPO / "example_dags" / "example_ica_asset_watchers.py"
TIMEOUT = 240.0


def events_environment(sqs_url: str, region: str, uploads_queue: str, analyses_queue: str) -> dict[str, str]:
    """What the example DAG file reads when it is parsed (no AIRFLOW_ variable: those do not reach the components)."""
    return {"ICA_EVENTS_UPLOADS_QUEUE_URL": uploads_queue, "ICA_EVENTS_ANALYSES_QUEUE_URL": analyses_queue,
            "ICA_EVENTS_PROJECT_ID": PROJECT_ID, "ICA_EVENTS_AWS_CONN_ID": AWS_CONN_ID,
            "ICA_E2E_SQS_URL": sqs_url, "ICA_E2E_SQS_REGION": region}


def check_asset_watchers(deployment: Deployment) -> str:
    import boto3

    from ica_airflow_provider.hooks.ica import IcaHook
    from ica_airflow_provider.testing import data_events
    from ica_airflow_provider.testing.transitions import envelope
    from ica_airflow_provider.watchers import watched_event_codes

    client, backend = deployment.client, deployment.ica.backend
    earlier = set(backend.batches)  # the other checks' batches, in the same project
    sqs_url, region = (os.environ[f"ICA_E2E_SQS_{name}"] for name in ("URL", "REGION"))
    sqs = boto3.client("sqs", endpoint_url=sqs_url, region_name=region, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    client.create_connection({
        "connection_id": AWS_CONN_ID, "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": json.dumps({"endpoint_url": sqs_url, "region_name": region}),
    })
    example = _load(EXAMPLE)
    os.environ["AIRFLOW_CONN_ICA_DEFAULT"] = json.dumps(
        {"conn_type": "ica", "host": deployment.ica.url, "password": deployment.ica.config.api_key}
    )
    try:  # one queue per watcher, each subscribed to its watcher's codes
        for asset, queue in ((example.run_fastq, example.UPLOADS_QUEUE_URL),
                             (example.germline_succeeded, example.ANALYSES_QUEUE_URL)):
            IcaHook().ensure_notifications(PROJECT_ID, queue, watched_event_codes(asset))
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
    sqs.send_message(QueueUrl=example.UPLOADS_QUEUE_URL, MessageBody=json.dumps(body))
    s1 = sorted(data_id for data_id, path in uploaded.items() if "/S1_R" in path)
    s2_r1 = next(data_id for data_id, path in uploaded.items() if "/S2_R1" in path)

    # The watcher: one asset event for S1's pair; none for the BAM, the redelivery, or S2's lone R1.
    assert [sorted(files) for files in _asset_events(deployment, "ica_run_fastq", 1)] == [s1]
    first_runs = _runs_consumed(deployment, LAUNCH, minimum=1)
    assert [sorted(ids) for ids in first_runs.values()] == [s1], f"exactly one run, for S1: {first_runs}"
    _check_batches(deployment, first_runs, earlier)

    # A triggerer restart while the first analyses run (their successes may land while it is down):
    # S2's R2 uploaded while it is down completes S2, whose R1 the watcher held on the queue.
    triggerer = next(c for c in deployment.components if c.name == "triggerer")
    triggerer.terminate()
    triggerer.finish()
    s2 = sorted([s2_r1, data_events.upload(backend, PROJECT_ID, "/runs/e2e/fastq/S2_R2.fastq.gz").id])
    assert backend.emitter.flush()
    restarted = Component("triggerer", component_argv(deployment.airflow, "triggerer", deployment.api_port),
                          deployment.env, LOG_DIR, REPO)
    restarted.start()
    deployment.components[deployment.components.index(triggerer)] = restarted
    assert sorted(sorted(files) for files in _asset_events(deployment, "ica_run_fastq", 2)) == sorted([s1, s2])
    runs = _runs_consumed(deployment, LAUNCH, minimum=2)
    assert sorted(sorted(ids) for ids in runs.values()) == sorted([s1, s2]), f"one run per sample: {runs}"
    analyses = _check_batches(deployment, runs, earlier)
    assert sorted(i for ids in _asset_events(deployment, "ica_germline_succeeded", analyses) for i in ids) == sorted(
        item.analysis_id for b in _batches(deployment, earlier) for item in b.items
    ), "one asset event per succeeded analysis"
    reported = _runs_consumed(deployment, REPORT, minimum=1)
    reported_ids = [i for ids in reported.values() for i in ids]
    assert len(set(reported_ids)) == len(reported_ids), f"no succeeded analysis reported twice: {reported}"
    return (
        "4 uploaded FASTQs (one redelivered, S2's R2 while the triggerer was down) and a BAM were 2 asset"
        f" events, one per sample's pair, consumed by {len(runs)} {LAUNCH} runs, one per sample, whose batches"
        f" name exactly their files; {analyses} succeeded analyses were {analyses} asset events"
        f" ({len(reported_ids)} consumed by {len(reported)} {REPORT} runs so far)"
    )


def _asset_events(deployment: Deployment, asset_name: str, count: int) -> list[list[str]]:
    """The subject ids of each of the asset's events, once there are ``count`` (more fail at once).

    A group's event (a sample's files) gives its files' ids; any other event its subject's id.
    """
    client = deployment.client

    def events() -> list[list[str]] | None:
        (asset,) = [a for a in client.get("/api/v2/assets", params={"name_pattern": asset_name})["assets"]
                    if a["name"] == asset_name]
        found = client.get("/api/v2/assets/events", params={"asset_id": asset["id"], "limit": 100})["asset_events"]
        ids = [_subjects(event) for event in found]
        assert len(ids) <= count, f"{asset_name}: more asset events than ICA events: {ids}"
        return ids if len(ids) == count else None

    found: list[list[str]] = deployment._wait(f"{asset_name}: {count} asset events", events, TIMEOUT)
    return found


def _subjects(event: dict[str, Any]) -> list[str]:
    payload = (event.get("extra") or {}).get("payload", {})
    files = payload.get("files") or [payload]
    return [str(f.get("id")) for f in files]


def _runs_consumed(deployment: Deployment, dag_id: str, minimum: int) -> dict[str, list[str]]:
    """Run id -> the subject ids of the asset events it consumed, once ``minimum`` runs ended and none runs."""
    client = deployment.client

    def consumed() -> dict[str, list[str]] | None:
        runs = client.dag_runs(dag_id)
        if any(run["state"] == "failed" for run in runs):
            raise AssertionError(f"{dag_id}: a run failed: {runs}")
        if len(runs) < minimum or any(run["state"] != "success" for run in runs):
            return None
        found = {}
        for run in runs:
            path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run['dag_run_id'], safe='')}/upstreamAssetEvents"
            events = client.get(path)["asset_events"]
            found[run["dag_run_id"]] = [subject for e in events for subject in _subjects(e)]
        return found

    runs: dict[str, list[str]] = deployment._wait(f"{dag_id}: {minimum} runs ended", consumed, TIMEOUT)
    return runs


def _batches(deployment: Deployment, earlier: set[str]) -> list[Any]:
    """The batches made since the check began (the launch runs')."""
    return [b for key, b in deployment.ica.backend.batches.items() if key not in earlier]


def _check_batches(deployment: Deployment, runs: dict[str, list[str]], earlier: set[str]) -> int:
    """Each launch run's batch names exactly the files it consumed; every analysis created. How many analyses."""
    client = deployment.client
    for run_id, consumed in runs.items():
        items = client.xcom(LAUNCH, run_id, "batch_items")
        sent = [data_id for item in items for data_id in item["analysisInput"]["inputs"][0]["dataIds"]]
        assert sorted(sent) == sorted(consumed), f"{run_id}: the batch names {sent}, the run consumed {consumed}"
    batches = _batches(deployment, earlier)
    assert len(batches) == len(runs), f"one batch per launch run: {len(batches)} batches, {len(runs)} runs"
    created = [item for b in batches for item in b.items]
    assert all(item.plan.creation_error is None for item in created), [i.plan.creation_error for i in created]
    return len(created)


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("example_ica_asset_watchers_e2e", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
