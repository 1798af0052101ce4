"""Sensor behaviour without a server: resumption from the trigger, soft_fail, bad arguments."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider._compat import AirflowException, AirflowSensorTimeout, AirflowSkipException
from ica_airflow_provider.core.errors import IcaConfigError
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.task_side import IcaBatchFailedError


def record(ref: str, item: str = "SUCCEEDED", analysis: str | None = "SUCCEEDED") -> dict[str, Any]:
    return {
        "item_id": f"i-{ref}", "user_reference": ref, "pipeline_id": "p", "item_status": item,
        "analysis_id": f"a-{ref}" if analysis else None, "analysis_status": analysis, "reason": None,
    }


def event(status: str, *records: dict[str, Any]) -> dict[str, Any]:
    return {"status": status, "project_id": "p", "batch_id": "b", "records": list(records), "message": ""}


def context() -> Any:
    pushed: dict[str, Any] = {}
    return {"ti": SimpleNamespace(xcoms=pushed, xcom_push=lambda key, value: pushed.__setitem__(key, value))}


def resume(sensor: IcaAnalysisBatchSensor, payload: dict[str, Any]) -> Any:
    return sensor.resume_execution("execute_complete", {"event": payload}, context())


def sensor(**kwargs: Any) -> IcaAnalysisBatchSensor:
    return IcaAnalysisBatchSensor(task_id="w", batch_id="b", project_id="p", **kwargs)


def test_success_event_returns_the_ids_in_item_order() -> None:
    assert resume(sensor(), event("success", record("A"), record("B"))) == ["a-A", "a-B"]


def test_soft_fail_skips_a_timeout_but_not_a_failed_batch() -> None:
    soft = sensor(soft_fail=True)
    failed = event("failure", record("A"), record("B", analysis="FAILED"))
    with pytest.raises(IcaBatchFailedError):  # as in poke mode: a failed batch fails the task
        resume(soft, failed)
    with pytest.raises(AirflowSkipException):
        resume(soft, event("timeout", record("A", analysis="IN_PROGRESS")))
    with pytest.raises(AirflowSensorTimeout, match="1 item"):
        resume(sensor(), event("timeout", record("A", analysis="IN_PROGRESS")))


def test_a_success_event_for_an_unfinished_batch_is_refused() -> None:
    with pytest.raises(AirflowException, match="not finished"):
        resume(sensor(), event("success"))
    with pytest.raises(AirflowException, match="not finished"):
        resume(sensor(), event("success", record("A", analysis="IN_PROGRESS")))


@pytest.mark.parametrize("batch_id", [None, "", ["a-1", "a-2"]])
def test_batch_id_must_be_one_id(batch_id: Any) -> None:
    with pytest.raises(IcaConfigError, match="batch_id must be one batch ID"):
        IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="p").poke({})  # type: ignore[arg-type]


@pytest.mark.parametrize("include_outputs", [1, "true", None])
def test_include_outputs_is_checked_at_parse_time(include_outputs: Any) -> None:
    with pytest.raises(ValueError, match="include_outputs: must be True or False"):
        sensor(include_outputs=include_outputs)


@pytest.mark.parametrize("page_size", [0, -5, True, 2.5])
def test_page_size_is_checked_at_parse_time(page_size: Any) -> None:
    with pytest.raises(ValueError, match="page_size"):
        sensor(page_size=page_size)
