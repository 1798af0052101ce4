"""Features of newer Airflow versions say so where they are missing (issue: every version)."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from test_hook_fake import items

from ica_airflow_provider import task_side as waiting
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from tests.state_store import TaskStateStore

NOTE = "No task state store"


@pytest.mark.parametrize("store", [None, TaskStateStore()], ids=["without a store", "with a store"])
def test_a_rescheduled_poke_says_when_it_has_no_state_store(
    ica_fake_server_factory: Any, connect: Any, caplog: pytest.LogCaptureFixture, capfd: Any, store: Any
) -> None:
    server = ica_fake_server_factory(clock=ManualClock())
    connect(server)
    batch = IcaHook().create_analysis_creation_batch("proj", items(2), "note")
    context: Any = {"ti": SimpleNamespace(xcom_push=lambda **kw: None)}
    if store is not None:
        context["task_state_store"] = store
    caplog.set_level(logging.INFO)
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=batch.id, project_id="proj", mode="reschedule")

    assert sensor.poke(context) is False

    said = NOTE in caplog.text or NOTE in capfd.readouterr().out
    assert said is (store is None)


@pytest.mark.parametrize("has_on_kill", [False, True])
def test_deferring_with_abort_on_kill_warns_where_triggers_cannot_abort(
    monkeypatch: pytest.MonkeyPatch, has_on_kill: bool, ica_fake_server: Any, connect: Any
) -> None:
    connect(ica_fake_server)  # the trigger's arguments follow the connection's notification settings
    monkeypatch.setattr(waiting, "HAS_TRIGGER_ON_KILL", has_on_kill)
    # The trigger takes the connection's notification queue (none here): read at defer, after the first poke.
    monkeypatch.setenv("AIRFLOW_CONN_ICA_DEFAULT", json.dumps({"conn_type": "ica", "host": "http://127.0.0.1:9", "password": "k"}))
    warnings: list[str] = []
    log = SimpleNamespace(warning=lambda msg, *a: warnings.append(msg % a), info=lambda *a: None)
    task_wait = waiting.TaskWait("w", "ica_default", IcaHook(), log, "analyses", 0, 100, poll_interval=5)  # type: ignore[arg-type]
    wait = task_wait.follow("proj", "b1")

    task_wait.trigger(wait, abort_on_kill=True)
    task_wait.trigger(wait, abort_on_kill=False)

    assert len(warnings) == (0 if has_on_kill else 1)
    assert all("Airflow 3.3+" in w for w in warnings)
