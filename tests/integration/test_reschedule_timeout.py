"""A rescheduled sensor's timeout counts from its first poke, as Airflow's does, and is ours.

So it ends as in the other modes: the ``analyses`` XCom pushed and a message naming what
was unfinished, instead of Airflow's bare "Sensor has timed out". Airflow's
``BaseSensorOperator.execute`` runs for real; only the task instance is a stand-in.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider._compat import AIRFLOW_V_3_0_PLUS, AirflowSensorTimeout
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from tests.integration.batches import create_batch
from tests.state_store import TaskStateStore


def rescheduled_ti(first_poke: datetime.datetime | None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A task instance whose run first poked at ``first_poke``, pushes kept in ``.xcoms``."""
    xcoms: dict[str, Any] = {}
    ti = SimpleNamespace(
        xcoms=xcoms,
        xcom_push=lambda key, value: xcoms.__setitem__(key, value),
        get_first_reschedule_date=lambda context: first_poke,  # Airflow 3
        dag_id="d", task_id="w", run_id="r", map_index=-1, max_tries=0,
    )
    if not AIRFLOW_V_3_0_PLUS:  # Airflow 2 reads it from the metadata database
        import airflow.sensors.base

        monkeypatch.setattr(airflow.sensors.base, "_orig_start_date", lambda **where: first_poke)
    return ti


@pytest.mark.parametrize("elapsed", [3599.0, 3601.0])
def test_a_rescheduled_sensor_times_out_with_the_analyses_xcom(
    ica_fake_server_factory: Callable[..., Any],
    connect: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    elapsed: float,
) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock)
    connect(server)
    batch_id = create_batch("resched", "done", "slow-run-long")
    clock.advance(60)  # "done" has succeeded; "slow-run-long" runs for an hour
    first_poke = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=elapsed)
    ti = rescheduled_ti(first_poke, monkeypatch)
    context: Any = {"ti": ti, "task_state_store": TaskStateStore(), "task_reschedule_count": 3}
    sensor = IcaAnalysisBatchSensor(
        task_id="w", batch_id=batch_id, project_id="proj", mode="reschedule", timeout=3600, poke_interval=60
    )

    if elapsed < 3600:  # not yet: Airflow reschedules the next poke
        with pytest.raises(Exception) as raised:
            sensor.execute(context)
        assert type(raised.value).__name__ == "AirflowRescheduleException"
        assert "analyses" not in ti.xcoms
        return

    with pytest.raises(AirflowSensorTimeout, match=r"timed out with 1 item\(s\) not finished: slow-run-long"):
        sensor.execute(context)
    records = {r["user_reference"]: r for r in ti.xcoms["analyses"]}
    assert records["done"]["analysis_status"] == "SUCCEEDED"
    assert records["slow-run-long"]["analysis_status"] == "IN_PROGRESS"
