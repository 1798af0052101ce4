"""Deferral decisions: a finished batch is not deferred; an open one defers a JSON-only trigger."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider._compat import TaskDeferred
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger

ITEMS = [nextflow_item(f"D{i}") for i in range(3)]


def context() -> Any:
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(
        dag_id="d", task_id="t", run_id="r", map_index=-1, xcoms=pushed,
        xcom_push=lambda key, value: pushed.__setitem__(key, value),
    )
    return {"ti": ti}


def test_sensor_does_not_defer_a_finished_batch(ica_fake_server_factory: Any, connect: Any) -> None:
    clock = ManualClock()
    ica_fake_server = ica_fake_server_factory(clock=clock)
    connect(ica_fake_server)
    batch_id = IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": ITEMS}, "done").id
    clock.advance(5)  # the fake finishes a batch in about 1.5 s
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj", deferrable=True)
    ctx = context()
    ids = sensor.execute(ctx)  # no TaskDeferred
    assert len(ids) == 3
    assert [r["user_reference"] for r in ctx["ti"].xcoms["analyses"]] == ["D0", "D1", "D2"]


def test_operator_defers_an_open_batch_with_a_plain_json_trigger(ica_fake_server: Any, connect: Any) -> None:
    connect(ica_fake_server)
    op = IcaCreateAnalysisBatchOperator(
        task_id="c", project_id="proj", nextflow_items=ITEMS, wait_for_completion=True, deferrable=True,
        poll_interval=7, timeout=600, max_failures=1, wait_for="creation",
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, IcaAnalysisBatchTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout is None  # the trigger owns the deadline
    _, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["poll_interval"] == 7 and kwargs["max_failures"] == 1 and kwargs["wait_for"] == "creation"
    assert kwargs["abort_on_kill"] is True  # the operator owns the batch
    assert before + 600 <= kwargs["end_time"] <= time.time() + 600
    assert ica_fake_server.backend.count_batches() == 1


def test_execute_complete_rejects_a_malformed_event() -> None:
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id="b", project_id="p")
    with pytest.raises(Exception, match="Unexpected event from the ICA trigger"):
        sensor.execute_complete(context(), {"status": "weird"})
    with pytest.raises(Exception, match="Unexpected event"):
        sensor.execute_complete(context(), None)
