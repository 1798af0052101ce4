"""The trigger on its own: serialization, and one event per outcome against the fake server.\n\nThe fake runs on a manual clock and the connection retries without backoff: nothing waits.\n"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger

ITEMS = [nextflow_item(ref) for ref in ("T1", "T2", "T3-fail-analysis")]


def test_serialize_round_trip_is_plain_json() -> None:
    trigger = IcaAnalysisBatchTrigger(
        project_id="proj", batch_id="b-1", ica_conn_id="c", wait_for="creation", max_failures=2,
        poll_interval=5, end_time=1234.5, page_size=50, abort_on_kill=True, include_outputs=True,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "ica_airflow_provider.triggers.ica.IcaAnalysisBatchTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert IcaAnalysisBatchTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert kwargs["include_outputs"] is True


@pytest.fixture
def batch(ica_fake_server_factory: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """A batch whose whole lifecycle has passed on the fake's manual clock; no retry waits."""
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ICA_DEFAULT",
        json.dumps({"conn_type": "ica", "host": server.url, "password": "fake-api-key", "extra": {"retry_backoff": 0}}),
    )
    from ica_airflow_provider.hooks.ica import IcaHook

    created = IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": ITEMS}, "trigger-test")
    clock.advance(60)
    return server, created.id


def events(trigger: IcaAnalysisBatchTrigger) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def make(batch_id: str, **kwargs: Any) -> IcaAnalysisBatchTrigger:
    return IcaAnalysisBatchTrigger(project_id="proj", batch_id=batch_id, poll_interval=0.1, **kwargs)


def test_failure_event_carries_the_records(batch: tuple[Any, str]) -> None:
    _, batch_id = batch
    (event,) = events(make(batch_id))
    assert event["status"] == "failure"
    assert event["batch_id"] == batch_id
    statuses = {r["user_reference"]: r["analysis_status"] for r in event["records"]}
    assert statuses == {"T1": "SUCCEEDED", "T2": "SUCCEEDED", "T3-fail-analysis": "FAILED"}


def test_success_event_when_failures_are_tolerated(batch: tuple[Any, str]) -> None:
    _, batch_id = batch
    (event,) = events(make(batch_id, max_failures=1))
    assert event["status"] == "success"
    assert len(event["records"]) == 3


def test_timeout_event_at_the_wall_clock_deadline(batch: tuple[Any, str]) -> None:
    from ica_airflow_provider.hooks.ica import IcaHook

    long_item = nextflow_item("T4-run-long")
    open_id = IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": [long_item]}, "open").id
    (event,) = events(make(open_id, end_time=time.time() - 1))  # past already: one poll, then the timeout
    assert event["status"] == "timeout"
    assert [r["user_reference"] for r in event["records"]] == ["T4-run-long"]


def test_error_event_for_an_unknown_batch(batch: tuple[Any, str]) -> None:
    (event,) = events(make("00000000-0000-4000-8000-000000000000"))
    assert event["status"] == "error"
    assert "404" in event["message"]


def test_transient_errors_are_retried_not_fatal(batch: tuple[Any, str]) -> None:
    server, batch_id = batch
    server.backend.inject_fault(503, count=3, method="GET", path_contains="/items")
    (event,) = events(make(batch_id, max_failures=1))
    assert event["status"] == "success"


def test_error_event_for_a_missing_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    (event,) = events(IcaAnalysisBatchTrigger(project_id="p", batch_id="b", ica_conn_id="ica_missing"))
    assert event["status"] == "error"
    assert "ica_missing" in event["message"]
