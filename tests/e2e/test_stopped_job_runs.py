"""A batch's job STOPPED while its items are being created: the task fails on the next poll.

Real Airflow (dag.test, the trigger in-process) against the fake ICA server on a manual
clock, moved by the wait's own requests: the job is stopped as the wait's second read of
it arrives, so the stop falls between two polls of the sensor, and after the deferral.
Items a, b-stop-job, c start at 1001, 1002.5 and 1004 and take 2 s to create; the marker
stops the job at 1003.5: a is created (its analysis succeeds), b and c never are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ica_airflow_provider.testing.clock import ManualClock
from tests.e2e.test_dag_runs import MODES, run, task_states
from tests.e2e.xcoms import xcom

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]
TIMINGS: dict[str, Any] = {"batch_start_seconds": 1, "item_creation_seconds": 2, "item_stagger_seconds": 1.5}
REASON = "batch job STOPPED: Stopped by the user"
STOP_AT_READ = 2  # the first poll reads the job (RUNNING); the stop comes before the next read


@pytest.fixture
def stopping(ica_with: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[float]]:
    """The fake, and the fake's time at each GET of the batch itself (its job)."""
    clock = ManualClock()
    server = ica_with(clock=clock, **TIMINGS)
    backend, reads = server.backend, []
    log_request = backend.log_request

    def on_request(method: str, path: str, query: str) -> None:
        log_request(method, path, query)
        if method == "GET" and path.rsplit("/", 2)[-2] == "analysisCreationBatch":
            if len(reads) + 1 == STOP_AT_READ:
                clock.set(1100)  # the job STOPPED at 1003.5, a's analysis SUCCEEDED since
            reads.append(clock())

    monkeypatch.setattr(backend, "log_request", on_request)
    return server, reads


@pytest.mark.parametrize("mode", MODES)
def test_a_stopped_job_fails_the_wait_on_the_next_poll(
    e2e_dags: dict[str, Any], stopping: tuple[Any, list[float]], mode: str, task_logs: Any
) -> None:
    ica, job_reads = stopping
    dag_run = run(e2e_dags, f"ica_e2e_analyses_{mode}", {"samples": ["a", "b-stop-job", "c"]})

    assert str(dag_run.state) == "failed"
    assert task_states(dag_run) == {"create": "success", "wait": "failed"}
    # One poll after the stop: the job, then the items. The trigger starts knowing nothing,
    # so its poll reads the items, the job, then the job and the items again.
    (batch,) = ica.backend.batches.values()
    assert job_reads[0] < batch.stopped_at  # before the stop: a poll that went on waiting
    assert len([t for t in job_reads if t >= batch.stopped_at]) == (2 if mode == "deferred" else 1)
    records = {r["user_reference"]: r for r in xcom(dag_run.dag_id, dag_run.run_id, "wait", "analyses")}
    assert records["a"]["analysis_status"] == "SUCCEEDED"
    assert [(records[ref]["item_status"], records[ref]["reason"]) for ref in ("b-stop-job", "c")] == [
        ("FAILED", REASON), ("FAILED", REASON),
    ]
    logs = task_logs()
    assert "2 of 3 items failed (max_failures=0)" in logs
    for ref in ("b-stop-job", "c"):
        assert f"{ref}: creation FAILED: {REASON} (item {records[ref]['item_id']})" in logs
    assert ica.backend.abort_calls == []
