"""Kill and abort: what gets aborted, by whom, on the fake server."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from ica_airflow_provider.core.wait import Wait
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger

ITEMS = [
    nextflow_item(ref)
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


# -- the one line a stopped task logs about the analyses ---------------------------------------------


STOP_LOG = logging.getLogger("test.stop")


def logged(task: Any) -> Any:
    """``task`` logging to :data:`STOP_LOG` (set before it first logs: its task side keeps the logger)."""
    task._log = task._cached_logger = STOP_LOG  # the task's or trigger's logger (Airflow 2, 3's triggers; 3's tasks)
    return task


def stop_lines(caplog: pytest.LogCaptureFixture, task: Any) -> list[str]:
    """Call the task's ``on_kill`` with its log captured; the lines it logged about aborting."""
    logged(task)
    caplog.set_level(logging.INFO, logger=STOP_LOG.name)
    killed = task.on_kill()
    if asyncio.iscoroutine(killed):
        asyncio.run(killed)
    return [r.getMessage() for r in caplog.records if r.name == STOP_LOG.name and "abort" in r.getMessage()]


@pytest.mark.parametrize("abort_on_kill", [False, True])
def test_a_killed_sensor_says_what_happens_to_the_analyses(
    batch: tuple[Any, str, list[str]], abort_on_kill: bool, caplog: pytest.LogCaptureFixture
) -> None:
    _, batch_id, running = batch
    sensor = IcaAnalysisBatchSensor(task_id="wait", batch_id=batch_id, project_id="proj", abort_on_kill=abort_on_kill)
    assert logged(sensor).poke({"ti": None}) is False
    if abort_on_kill:
        aborted = ", ".join(f"K{n}-run-long ({a})" for n, a in zip((2, 3), running, strict=True))
        expected = f"ICA batch {batch_id}: asked ICA to abort 2 running analyses: {aborted}"
    else:
        expected = (
            f"ICA batch {batch_id}: task stopped; leaving 2 analyses running in ICA"
            " (abort_on_kill=True would abort them): K2-run-long, K3-run-long"
        )
    assert stop_lines(caplog, sensor) == [expected]


def test_a_killed_operator_that_does_not_abort_says_so(
    batch: tuple[Any, str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    server, batch_id, _ = batch
    op = IcaCreateAnalysisBatchOperator(task_id="create", nextflow_items=ITEMS, project_id="proj", abort_on_kill=False)
    wait = logged(op).task_wait.follow("proj", batch_id)  # what execute() does before waiting
    IcaHook().poll_batch(wait, logging.getLogger("test"))  # its wait's first poll
    assert stop_lines(caplog, op) == [
        f"ICA batch {batch_id}: task stopped; leaving 2 analyses running in ICA"
        " (abort_on_kill=True would abort them): K2-run-long, K3-run-long"
    ]
    assert server.backend.abort_calls == []


@pytest.mark.parametrize("abort_on_kill", [False, True])
def test_a_killed_trigger_says_what_happens_to_the_analyses(
    batch: tuple[Any, str, list[str]], abort_on_kill: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Airflow 3.3+ calls the trigger's on_kill when the deferred task is marked failed or cleared."""
    server, batch_id, running = batch
    trigger = IcaAnalysisBatchTrigger(project_id="proj", batch_id=batch_id, abort_on_kill=abort_on_kill)
    trigger._tracker = trigger._new_tracker()  # what run() sets, then polls
    IcaHook().poll_batch(Wait(trigger._tracker), logging.getLogger("test"))
    lines = stop_lines(caplog, trigger)
    assert len(lines) == 1
    if abort_on_kill:
        assert lines[0].startswith(f"ICA batch {batch_id}: asked ICA to abort 2 running analyses: K2-run-long (")
        assert sorted(server.backend.abort_calls) == sorted(running)
    else:
        assert "leaving 2 analyses running in ICA (abort_on_kill=True would abort them)" in lines[0]
        assert server.backend.abort_calls == []
