"""Kill and abort: what gets aborted, by whom, on the fake server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger

ITEMS = [
    {"userReference": ref, "pipelineId": "p", "analysisInput": {"inputs": []}}
    for ref in ("K1", "K2-run-long", "K3-run-long")
]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def batch(ica_fake_server_factory: Any, clock: ManualClock, connect: Any) -> tuple[Any, str, list[str]]:
    """A batch whose K1 has succeeded and whose two other analyses run for an hour."""
    ica_fake_server = ica_fake_server_factory(clock=clock)
    connect(ica_fake_server)
    hook = IcaHook()
    batch_id = hook.create_analysis_creation_batch("proj", {"nextflowItems": ITEMS}, "abort-test").id
    clock.advance(60)
    statuses = {
        i.request.user_reference: i.created_analysis.status if i.created_analysis else None
        for i in hook.iter_analysis_creation_batch_items("proj", batch_id)
    }
    assert statuses == {"K1": "SUCCEEDED", "K2-run-long": "IN_PROGRESS", "K3-run-long": "IN_PROGRESS"}
    ica_fake_server.backend.reset_request_log()
    items = ica_fake_server.backend.batches[batch_id].items
    return ica_fake_server, batch_id, [i.analysis_id for i in items if "run-long" in i.user_reference]


def test_operator_on_kill_aborts_running_analyses(batch: tuple[Any, str, list[str]]) -> None:
    server, batch_id, running = batch
    op = IcaCreateAnalysisBatchOperator(task_id="create", nextflow_items=ITEMS, project_id="proj")
    op.on_kill()  # nothing created yet by this operator: nothing to abort
    assert server.backend.abort_calls == []

    op.task_wait.follow("proj", batch_id)  # what execute() does before waiting
    op.on_kill()
    assert sorted(server.backend.abort_calls) == sorted(running)


def test_sensor_on_kill_leaves_analyses_alone_by_default(batch: tuple[Any, str, list[str]]) -> None:
    server, batch_id, running = batch
    for abort_on_kill, expected in ((False, []), (True, sorted(running))):
        sensor = IcaAnalysisBatchSensor(
            task_id=f"wait_{abort_on_kill}", batch_id=batch_id, project_id="proj", abort_on_kill=abort_on_kill
        )
        assert sensor.poke({"ti": None}) is False
        sensor.on_kill()
        assert sorted(server.backend.abort_calls) == expected


@pytest.mark.parametrize("abort_on_kill", [False, True])
def test_trigger_on_kill(batch: tuple[Any, str, list[str]], abort_on_kill: bool) -> None:
    server, batch_id, running = batch
    trigger = IcaAnalysisBatchTrigger(project_id="proj", batch_id=batch_id, abort_on_kill=abort_on_kill)
    asyncio.run(trigger.on_kill())
    assert sorted(server.backend.abort_calls) == (sorted(running) if abort_on_kill else [])


def test_aborted_analyses_end_aborted(batch: tuple[Any, str, list[str]], clock: ManualClock) -> None:
    _, _, running = batch
    hook = IcaHook()
    hook.abort_analysis("proj", running[0])
    assert hook.get_analysis("proj", running[0]).status == "ABORTING"
    clock.advance(5)
    assert hook.get_analysis("proj", running[0]).status == "ABORTED"
