"""A rescheduled sensor (a new task object each poke) keeps what its log said in the task state store."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from tests.state_store import TaskStateStore

LOG = logging.getLogger("test.reschedule")


@pytest.fixture
def batch_id(ica_fake_server_factory: Any, connect: Any) -> str:
    clock = ManualClock()
    connect(ica_fake_server_factory(clock=clock))
    items = [nextflow_item(ref) for ref in ("R1-fail-creation", "R2-run-long")]
    created = IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": items}, "resched-progress").id
    clock.advance(60)  # R1's creation has failed, R2's analysis runs for an hour
    return str(created)


def test_each_poke_says_only_what_is_new(batch_id: str, caplog: pytest.LogCaptureFixture) -> None:
    store = TaskStateStore()
    caplog.set_level(logging.INFO, logger=LOG.name)

    def poke() -> list[str]:
        start = len(caplog.records)
        sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj", mode="reschedule")
        sensor._log = sensor._cached_logger = LOG  # type: ignore[attr-defined]  # Airflow 2, Airflow 3
        ctx = {"ti": SimpleNamespace(xcom_push=lambda key, value: None), "task_state_store": store}
        assert sensor.poke(ctx) is False
        return [r.getMessage() for r in caplog.records[start:] if r.name == LOG.name]

    first = poke()
    assert any(line.startswith("ICA sample failed: R1-fail-creation: creation FAILED") for line in first), first
    assert any("creation FAILED=1 SUCCEEDED=1" in line for line in first), first
    # The next pokes: new processes, nothing new to say (no repeated counts, no failure named twice).
    assert poke() == []
    assert poke() == []
    assert store.data["ica_batch_records"]["progress"]["named"]  # what was named, saved between pokes
