"""A batch's job STOPPED while items are being created ends the wait, in every wait mode.

The fake ICA server over loopback, on its manual clock. Items a, b-stop-job, c start at
1001, 1002.5 and 1004 and take 2 s to create; the ``stop-job`` marker stops the job at
1003.5, midway through b: a is created (its analysis goes on and succeeds), b stays
RUNNING and c WAITING_RESOURCES for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider._compat import TaskDeferred
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.task_side import IcaBatchFailedError
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger
from tests.state_store import TaskStateStore

TIMINGS: dict[str, Any] = {"batch_start_seconds": 1, "item_creation_seconds": 2, "item_stagger_seconds": 1.5}
CREATING = 1003.2  # a created, b RUNNING, c WAITING_RESOURCES; the job RUNNING
STOPPED = 1100.0  # the job STOPPED since 1003.5; a's analysis SUCCEEDED
REASON = "creation FAILED: batch job STOPPED: Stopped by the user"


@pytest.fixture
def stopping(ica_fake_server_factory: Callable[..., Any], connect: Callable[..., None]) -> tuple[Any, ManualClock, str]:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, **TIMINGS)
    connect(server)
    body = {
        "nextflowItems": [
            nextflow_item(ref)
            for ref in ("a", "b-stop-job", "c")
        ]
    }
    batch_id = IcaHook().create_analysis_creation_batch("proj", body, "stop").id
    return server, clock, batch_id


def context(**extra: Any) -> Any:
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(
        dag_id="d", task_id="t", run_id="r", map_index=-1, xcoms=pushed,
        xcom_push=lambda key, value: pushed.__setitem__(key, value),
    )
    return {"ti": ti, **extra}


def sensor(batch_id: str, **kwargs: Any) -> IcaAnalysisBatchSensor:
    return IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj", **kwargs)


def job_reads(server: Any, batch_id: str) -> int:
    """GETs of the batch itself (its job), since the request log was last reset."""
    path = f"/analysisCreationBatch/{batch_id}"
    return sum(1 for r in list(server.backend.request_log) if r.method == "GET" and r.path.endswith(path))


def assert_failed_naming_the_stop(exc: pytest.ExceptionInfo[BaseException], ctx: Any) -> None:
    message = str(exc.value)
    assert "2 of 3 items failed (max_failures=0)" in message
    assert f"b-stop-job: {REASON} (item " in message
    records = {r["user_reference"]: r for r in ctx["ti"].xcoms["analyses"]}
    assert records["a"]["analysis_status"] == "SUCCEEDED"
    for ref in ("b-stop-job", "c"):
        assert (records[ref]["item_status"], records[ref]["reason"]) == (
            "FAILED", "batch job STOPPED: Stopped by the user"
        )


def test_poke_mode_fails_on_the_next_poke(stopping: tuple[Any, ManualClock, str]) -> None:
    server, clock, batch_id = stopping
    waiting, ctx = sensor(batch_id), context()
    clock.set(CREATING)
    assert waiting.poke(ctx) is False
    clock.set(STOPPED)
    server.backend.reset_request_log()
    with pytest.raises(IcaBatchFailedError) as failed:
        waiting.poke(ctx)
    assert job_reads(server, batch_id) == 1  # one poll: the job, then the items
    assert_failed_naming_the_stop(failed, ctx)


def test_the_admin_stop_ends_the_wait_as_the_marker_does(
    ica_fake_server_factory: Callable[..., Any], connect: Callable[..., None]
) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, **TIMINGS)
    connect(server)
    body = {"nextflowItems": [nextflow_item(r) for r in "xy"]}
    batch_id = IcaHook().create_analysis_creation_batch("proj", body, "admin").id
    waiting, ctx = sensor(batch_id, wait_for="creation"), context()
    clock.set(1003.2)  # x created, y RUNNING
    assert waiting.poke(ctx) is False
    server.backend.stop_batch_job("proj", batch_id)
    with pytest.raises(IcaBatchFailedError, match=r"^y: " + REASON + r" \(item "):
        waiting.poke(ctx)


@pytest.mark.parametrize("store", [True, False], ids=["task-state-store", "no-store"])
def test_reschedule_mode_fails_on_the_next_poke(stopping: tuple[Any, ManualClock, str], store: bool) -> None:
    """Each poke a new sensor; with Airflow 3.3's task state store the records carry over."""
    server, clock, batch_id = stopping
    extra = {"task_state_store": TaskStateStore()} if store else {}
    ctx = context(**extra)
    clock.set(CREATING)
    assert sensor(batch_id, mode="reschedule").poke(ctx) is False
    clock.set(STOPPED)
    server.backend.reset_request_log()
    with pytest.raises(IcaBatchFailedError) as failed:
        sensor(batch_id, mode="reschedule").poke(ctx)
    # With the records: the job, then the items. Without: the items, the job, then both again.
    assert job_reads(server, batch_id) == (1 if store else 2)
    assert_failed_naming_the_stop(failed, ctx)


def run_trigger(trigger: IcaAnalysisBatchTrigger, meanwhile: Callable[[], Any] | None = None) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        side = asyncio.ensure_future(meanwhile()) if meanwhile else None
        events = [event.payload async for event in trigger.run()]
        if side is not None:
            await side
        return events

    return asyncio.run(collect())


def deferred(batch_id: str, ctx: Any) -> IcaAnalysisBatchTrigger:
    with pytest.raises(TaskDeferred) as deferral:
        sensor(batch_id, deferrable=True, poke_interval=0).execute(ctx)
    trigger = deferral.value.trigger
    assert isinstance(trigger, IcaAnalysisBatchTrigger)
    return trigger


def test_deferred_mode_a_job_stopped_before_the_trigger_runs(stopping: tuple[Any, ManualClock, str]) -> None:
    server, clock, batch_id = stopping
    clock.set(CREATING)
    trigger = deferred(batch_id, ctx := context())
    clock.set(STOPPED)
    server.backend.reset_request_log()

    (event,) = run_trigger(trigger)

    assert event["status"] == "failure"
    assert job_reads(server, batch_id) == 2  # the trigger's first poll: items, job, then job and items again
    with pytest.raises(IcaBatchFailedError) as failed:
        sensor(batch_id, deferrable=True).execute_complete(ctx, event)
    assert_failed_naming_the_stop(failed, ctx)


def test_deferred_mode_a_job_stopped_while_the_trigger_polls(stopping: tuple[Any, ManualClock, str]) -> None:
    server, clock, batch_id = stopping
    clock.set(CREATING)
    trigger = deferred(batch_id, ctx := context())
    server.backend.reset_request_log()
    reads_at_stop: list[int] = []

    async def stop_after_two_polls() -> None:
        while job_reads(server, batch_id) < 2:  # the trigger polls without pause (poke_interval=0)
            await asyncio.sleep(0)
        reads_at_stop.append(job_reads(server, batch_id))
        clock.set(STOPPED)

    (event,) = run_trigger(trigger, stop_after_two_polls)

    assert event["status"] == "failure"
    # The poll under way at the stop may have read the job before it: the next one ends it.
    assert 1 <= job_reads(server, batch_id) - reads_at_stop[0] <= 2
    with pytest.raises(IcaBatchFailedError) as failed:
        sensor(batch_id, deferrable=True).execute_complete(ctx, event)
    assert_failed_naming_the_stop(failed, ctx)
