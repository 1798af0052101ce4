"""Deferred waits woken by ICA's notifications, judged by what the fake ICA counted.

A woken wait's task lists its batch once before it defers (the operator after creating it,
the sensor in its first poke); the trigger lists it once when it starts, once more for each
status of the batch's job while items are being created (a job hint says items appeared),
and once to confirm before it reports the batch done. Analysis transitions cost nothing: no ``GET`` of a single
analysis, however many transitions the batch went through. ``batch_requests`` counts those
requests in the fake's request log; ``hints_counts`` reads the wait's own line about it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from deploy.airflow_e2e.deployment import CONN_ID, WOKEN_CONN_ID, WOKEN_DAG_ID, Deployment, DeploymentError
from deploy.airflow_e2e.rest import log_line

OPERATOR_TASK = "operator_wait"
SENSOR_TASK = "sensor_wait"
CREATE_TASK = "create"
WOKEN_RUN_TIMEOUT_SECONDS = 240.0  # far less than the waits' 600 s polls: only notifications end them in time
# "ICA batch b: woken 4 times by notifications (9 applied, 2 ignored); 1 listing asked by them"
HINTS_LINE = re.compile(
    r"woken (?P<woken>\d+) times? by notifications \((?P<applied>\d+) applied, (?P<ignored>\d+) ignored\);"
    r" (?P<listings>\d+) listings? asked by them"
)
UNREADABLE = "ICA notifications cannot be read"


@dataclass
class BatchRequests:
    """The wait's requests for one batch, from the fake's request log."""

    batch_id: str
    listings: int = 0  # GET …/analysisCreationBatch/{id}/items (one per page)
    job_reads: int = 0  # GET …/analysisCreationBatch/{id}
    analysis_reads: int = 0  # GET …/analyses/{id} of its analyses
    analysis_transitions: int = 0  # what the fake's analyses of the batch went through
    job_transitions: int = 0

    @property
    def listings_allowed(self) -> int:
        """The task's before it defers, the trigger's first, one per job status (while items are created), the confirming one."""
        return 3 + self.job_transitions

    def per_transition(self) -> str:
        """Why these requests are not per transition; empty when they are not."""
        if self.analysis_reads:
            return f"{self.analysis_reads} GETs of single analyses"
        if self.listings > self.listings_allowed:
            return f"{self.listings} listings, more than {self.listings_allowed} (before deferring, first, job statuses, confirm)"
        return ""


def batch_requests(backend: Any, batch_id: str, entries: Iterable[Any]) -> BatchRequests:
    """Count ``entries`` (the fake's ``LoggedRequest``s) for the batch and its analyses."""
    from ica_airflow_provider.testing.transitions import analysis_timeline, job_timeline

    batch = backend.batches[batch_id]
    analyses = {f"/analyses/{item.analysis_id}" for item in batch.items if item.analysis_id}
    counted = BatchRequests(
        batch_id,
        analysis_transitions=sum(len(analysis_timeline(item)) for item in batch.items),
        job_transitions=len(job_timeline(batch)),
    )
    batch_path = f"/analysisCreationBatch/{batch_id}"
    for entry in entries:
        if entry.method != "GET":
            continue
        if entry.path.endswith(batch_path + "/items"):
            counted.listings += 1
        elif entry.path.endswith(batch_path):
            counted.job_reads += 1
        elif any(entry.path.endswith(analysis) for analysis in analyses):
            counted.analysis_reads += 1
    return counted


def hints_counts(lines: Sequence[str]) -> dict[str, int] | None:
    """The counts a woken wait's task logs when it ends (``core/hints.hints_line``); None if absent."""
    for line in lines:
        if (match := HINTS_LINE.search(line)) is not None:
            return {name: int(value) for name, value in match.groupdict().items()}
    return None


@dataclass
class WatchedRun:
    state: str
    seconds: float
    deferred: dict[str, int] = field(default_factory=dict)  # task id -> the triggerer job it was deferred on


def watch_run(deployment: Deployment, dag_id: str, run_id: str, timeout: float) -> WatchedRun:
    """Poll the run until it ends, noting each task seen deferred on a triggerer."""
    client, started = deployment.client, time.monotonic()
    watched = WatchedRun("queued", 0.0)
    while True:
        deployment.check_alive()
        state = str(client.dag_run(dag_id, run_id)["state"])
        for ti in client.task_instances(dag_id, run_id):
            if ti["state"] == "deferred" and ti.get("triggerer_job"):
                watched.deferred[ti["task_id"]] = ti["triggerer_job"]["id"]
        if state in ("success", "failed"):
            watched.state, watched.seconds = state, time.monotonic() - started
            return watched
        if time.monotonic() - started > timeout:
            raise DeploymentError(f"run {run_id} still {state} after {timeout:.0f} s\n{deployment.log_tails()}")
        time.sleep(1.0)


def check_woken_waits(deployment: Deployment, run_id: str = "e2e-woken") -> str:
    """The operator's and the sensor's deferred waits, woken through SQS: no request per transition.

    ``operator_wait`` takes the queue from its connection's extras, ``sensor_wait`` from its own
    arguments. Both poll and reconcile every 600 s: the run ends in time only if notifications
    end the waits, and the fake's request log shows what they cost.
    """
    from deploy.airflow_e2e.checks import failed_task_logs

    client, backend, sqs = deployment.client, deployment.ica.backend, deployment.sqs
    assert sqs is not None, "the deployment has no SQS server (Settings.notifications)"
    log_index = len(backend.request_log)
    before = backend.emitter.stats()
    assert client.set_paused(WOKEN_DAG_ID, False)["is_paused"] is False
    client.trigger(WOKEN_DAG_ID, run_id, {"sqs_queue": sqs.queue_url})
    watched = watch_run(deployment, WOKEN_DAG_ID, run_id, WOKEN_RUN_TIMEOUT_SECONDS)
    assert watched.state == "success", (
        f"run {run_id} ended {watched.state}\n" + failed_task_logs(deployment, run_id, dag_id=WOKEN_DAG_ID)
    )
    missing = sorted({OPERATOR_TASK, SENSOR_TASK} - set(watched.deferred))
    assert not missing, f"{missing} never seen deferred on a triggerer: {watched.deferred}"

    entries = list(backend.request_log[log_index:])
    batches = {
        OPERATOR_TASK: client.xcom(WOKEN_DAG_ID, run_id, OPERATOR_TASK, "batch_id"),
        SENSOR_TASK: client.xcom(WOKEN_DAG_ID, run_id, CREATE_TASK),
    }
    expected = {
        OPERATOR_TASK: {"WOKEN1-woken": "SUCCEEDED", "WOKEN2-woken": "SUCCEEDED"},
        SENSOR_TASK: {"WOKEN3-woken": "SUCCEEDED", "WOKEN4-fail-analysis-woken": "FAILED"},
    }
    parts = []
    for task_id, batch_id in batches.items():
        batch, now = backend.batches[batch_id], backend.now()
        at_ica = {
            item.user_reference: backend.get_analysis(batch.project_id, item.analysis_id, now)[1].status
            for item in batch.items
        }
        records = client.xcom(WOKEN_DAG_ID, run_id, task_id, "analyses")
        statuses = {r["user_reference"]: r["analysis_status"] for r in records}
        assert statuses == expected[task_id] == at_ica, f"{task_id}: XCom {statuses}, the fake ICA {at_ica}"
        succeeded = [item.analysis_id for item in batch.items if at_ica[item.user_reference] == "SUCCEEDED"]
        returned = client.xcom(WOKEN_DAG_ID, run_id, task_id)
        assert returned == succeeded, f"{task_id} returned {returned}; the batch's SUCCEEDED analyses: {succeeded}"

        counted = batch_requests(backend, batch_id, entries)
        assert not counted.per_transition(), f"{task_id}: {counted.per_transition()}: {counted}"
        ti = client.task_instance(WOKEN_DAG_ID, run_id, task_id)
        lines = [log_line(e) for e in client.task_log_events(WOKEN_DAG_ID, run_id, task_id, ti["try_number"])]
        counts = hints_counts(lines)
        assert counts is not None, f"{task_id}: no 'woken … by notifications' line:\n" + "\n".join(lines[-30:])
        assert counts["woken"] >= 1 and counts["applied"] >= 1, f"{task_id}: {counts}"
        assert not any(UNREADABLE in line for line in lines), f"{task_id}: the queue was not readable"
        parts.append(
            f"{task_id} ({WOKEN_CONN_ID if task_id == OPERATOR_TASK else CONN_ID + ' + task arguments'}):"
            f" {counted.analysis_transitions} analysis transitions, {counted.listings} listings,"
            f" {counted.job_reads} job reads, {counted.analysis_reads} analysis GETs;"
            f" woken {counts['woken']}, {counts['applied']} hints applied, {counts['ignored']} ignored"
        )
    after = backend.emitter.stats()
    assert after["sent"] > before["sent"] and after["failed"] == before["failed"], (before, after)
    return (
        f"run {run_id} succeeded in {watched.seconds:.0f} s (polls and reconciles every 600 s);"
        f" {after['sent'] - before['sent']} notifications sent; " + "; ".join(parts)
    )
