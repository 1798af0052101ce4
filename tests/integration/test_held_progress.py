"""The poke's progress lines name what the wait is waiting for, once it has waited a while.

The fake over loopback on its manual clock: p's analysis stays AWAITING_INPUT, q (started
an hour after p) stays WAITING_RESOURCES.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider.core.tracker import HELD_POLLS
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from tests.integration.batches import create_batch
from tests.state_store import TaskStateStore


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_pokes_name_the_items_held_after_a_while(
    ica_fake_server_factory: Callable[..., Any],
    connect: Callable[..., None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, awaiting_input_seconds=3600, item_stagger_seconds=3600)
    connect(server)
    batch_id = create_batch("held", "p-awaiting-input", "q")
    clock.advance(30)
    context: Any = {"ti": SimpleNamespace(xcom_push=lambda **kw: None), "task_state_store": TaskStateStore()}
    caplog.set_level("INFO")

    in_poke_mode = IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj")

    def poke_logs() -> str:
        # Rescheduled: a new sensor each poke, the saved wait carrying the held counts over.
        sensor = (
            in_poke_mode
            if mode == "poke"
            else IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj", mode=mode)
        )
        capfd.readouterr()
        caplog.clear()
        assert sensor.poke(context) is False
        return "".join(capfd.readouterr()) + caplog.text

    for _ in range(HELD_POLLS - 1):
        assert "polls or more" not in poke_logs()
    logs = poke_logs()

    analysis_id = next(i.analysis_id for i in server.backend.batches[batch_id].items)
    assert f"items WAITING_RESOURCES for {HELD_POLLS} polls or more (1): q" in logs
    assert f"analyses AWAITING_INPUT for {HELD_POLLS} polls or more (1): p-awaiting-input (analysis {analysis_id})" in logs
