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

from ica_airflow_provider import task_side as waiting
from ica_airflow_provider._compat import AIRFLOW_V_3_0_PLUS, AirflowSensorTimeout
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from tests.integration.batches import create_batch
from tests.state_store import TaskStateStore

TIMEOUT = 3600


class Run:
    """One run of a rescheduled task: its first poke's date, its XComs, its state store."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.first_poke: datetime.datetime | None = None
        self.store = TaskStateStore()
        self.xcoms: dict[str, Any] = {}
        if not AIRFLOW_V_3_0_PLUS:  # Airflow 2 reads the date from the metadata database
            import airflow.sensors.base

            monkeypatch.setattr(airflow.sensors.base, "_orig_start_date", self._orig_start_date)

    def _orig_start_date(self, *, try_number: int, **where: Any) -> datetime.datetime | None:
        assert try_number == 1, "the run's first try: max_tries 2 - retries 2 + 1"
        return self.first_poke

    def started(self, seconds_ago: float | None) -> Run:
        now = datetime.datetime.now(datetime.timezone.utc)
        self.first_poke = None if seconds_ago is None else now - datetime.timedelta(seconds=seconds_ago)
        return self

    def context(self) -> Any:
        ti = SimpleNamespace(
            xcom_push=lambda key, value: self.xcoms.__setitem__(key, value),
            get_first_reschedule_date=lambda context: self.first_poke,  # Airflow 3
            dag_id="d", task_id="w", run_id="r", map_index=-1, max_tries=2,
        )
        return {"ti": ti, "task_state_store": self.store, "task_reschedule_count": 3}


def sensor(batch_id: str, page_size: int = 1000) -> IcaAnalysisBatchSensor:
    return IcaAnalysisBatchSensor(
        task_id="w", batch_id=batch_id, project_id="proj", mode="reschedule", timeout=TIMEOUT, retries=2,
        page_size=page_size,
    )


def rescheduled(task: IcaAnalysisBatchSensor, run: Run) -> bool:
    """Whether a poke ended in Airflow's "poke again later"."""
    try:
        task.execute(run.context())
    except Exception as raised:
        if type(raised).__name__ == "AirflowRescheduleException":
            return True
        raise
    return False


@pytest.fixture
def batch_id(ica_fake_server_factory: Callable[..., Any], connect: Callable[..., None]) -> str:
    clock = ManualClock()
    connect(ica_fake_server_factory(clock=clock))
    batch_id = create_batch("resched", "done", "slow-run-long")
    clock.advance(60)  # "done" has succeeded; "slow-run-long" runs for an hour
    return batch_id


@pytest.mark.parametrize("seconds_ago", [None, 0.0, TIMEOUT - 600.0])
def test_within_the_timeout_airflow_pokes_again_later(
    batch_id: str, monkeypatch: pytest.MonkeyPatch, seconds_ago: float | None
) -> None:
    run = Run(monkeypatch).started(seconds_ago)
    assert rescheduled(sensor(batch_id), run)
    assert "analyses" not in run.xcoms


def test_past_the_timeout_the_analyses_xcom_has_every_item(batch_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Room to save the one open record, not both: the next poke starts from a compact save,
    # and with a page per item it fetches the open analysis alone rather than list the batch.
    monkeypatch.setattr(waiting, "STATE_BUDGET", 400)
    run = Run(monkeypatch).started(None)
    assert rescheduled(sensor(batch_id, page_size=1), run)
    saved = next(iter(run.store.data.values()))
    assert [r["user_reference"] for r in saved["records"]] == ["slow-run-long"]

    run.started(TIMEOUT + 600.0)
    with pytest.raises(AirflowSensorTimeout, match=r"timed out with 1 item\(s\) not finished: slow-run-long"):
        sensor(batch_id, page_size=1).execute(run.context())  # each reschedule: a new sensor
    records = {r["user_reference"]: r["analysis_status"] for r in run.xcoms["analyses"]}
    assert records == {"done": "SUCCEEDED", "slow-run-long": "IN_PROGRESS"}


def test_a_new_run_on_the_same_object_gets_its_own_deadline(batch_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    task = sensor(batch_id)  # dag.test runs every try on the same object
    with pytest.raises(AirflowSensorTimeout):
        task.execute(Run(monkeypatch).started(TIMEOUT + 600.0).context())
    assert rescheduled(task, Run(monkeypatch).started(None))  # the retry's first poke
