"""Status progression driven by an injected clock, failure markers, abort, and V3/V4 shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ica_airflow_provider.testing import ManualClock

from .helpers import IcaClient, batch_body, nextflow_item

# Round numbers keep the arithmetic on the ManualClock exact.
TIMINGS = {
    "batch_start_seconds": 1,
    "item_creation_seconds": 2,
    "analysis_step_seconds": 10,
    "abort_seconds": 5,
    "awaiting_input_seconds": 30,
    "long_run_seconds": 1000,
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def client(client_factory: Callable[..., IcaClient], clock: ManualClock) -> IcaClient:
    return client_factory(clock=clock, **TIMINGS)


def at(clock: ManualClock, seconds: float) -> None:
    """Move the clock to ``seconds`` after the batch was created (at 1000)."""
    clock.set(1000 + seconds)


def job(client: IcaClient, batch_id: str) -> dict[str, Any]:
    response = client.get_batch(batch_id)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()["job"]
    return result


def only_item(client: IcaClient, batch_id: str, version: int = 4) -> dict[str, Any]:
    (item,) = client.list_items(batch_id, version).json()["items"]
    return dict(item)


def items_by_ref(client: IcaClient, batch_id: str, version: int = 4) -> dict[str, dict[str, Any]]:
    items = client.list_items(batch_id, version).json()["items"]
    return {item["request"]["userReference"]: item for item in items}


def test_job_item_and_analysis_progress_with_the_clock(client: IcaClient, clock: ManualClock) -> None:
    batch_id = client.create_batch(batch_body("s1")).json()["id"]
    assert job(client, batch_id)["status"] == "INITIALIZED"
    assert only_item(client, batch_id)["processing"]["status"] == "WAITING_RESOURCES"
    at(clock, 1.5)
    assert (job(client, batch_id)["status"], job(client, batch_id)["timeStarted"] is not None) == (
        "RUNNING",
        True,
    )
    item = only_item(client, batch_id)
    assert item["processing"]["status"] == "RUNNING"
    assert "createdAnalysis" not in item
    at(clock, 3)
    finished = job(client, batch_id)
    assert finished["status"] == "SUCCEEDED"
    assert finished["timeFinished"] is not None
    analysis_id = only_item(client, batch_id)["createdAnalysis"]["id"]
    expected = [
        (3, "REQUESTED"),
        (14, "QUEUED"),
        (23, "INITIALIZING"),
        (40, "PREPARING_INPUTS"),
        (43, "IN_PROGRESS"),
        (55, "GENERATING_OUTPUTS"),
        (62.5, "GENERATING_OUTPUTS"),
        (63, "SUCCEEDED"),
    ]
    for seconds, status in expected:
        at(clock, seconds)
        analysis = client.get_analysis(analysis_id).json()
        assert analysis["status"] == status, seconds
        assert (analysis["startDate"] is not None) == (seconds >= 23)
        assert (analysis["endDate"] is not None) == (status == "SUCCEEDED")
    assert only_item(client, batch_id)["createdAnalysis"]["status"] == "SUCCEEDED"


def test_waiting_for_resources_phase(client_factory: Callable[..., IcaClient], clock: ManualClock) -> None:
    client = client_factory(
        clock=clock, batch_start_seconds=1, item_waiting_seconds=5, item_creation_seconds=2
    )
    batch_id = client.create_batch(batch_body("s1")).json()["id"]
    at(clock, 3)
    assert job(client, batch_id)["status"] == "WAITING_FOR_RESOURCES"
    assert only_item(client, batch_id)["processing"]["status"] == "WAITING_RESOURCES"
    at(clock, 6)
    assert job(client, batch_id)["status"] == "RUNNING"
    assert only_item(client, batch_id)["processing"]["status"] == "RUNNING"


def test_failure_markers(client: IcaClient, clock: ManualClock) -> None:
    body = {
        "nextflowItems": [
            nextflow_item("ok"),
            nextflow_item("s-fail-creation"),
            nextflow_item("s-fail-analysis"),
            nextflow_item("tagged", tags={"technicalTags": ["ica-fake:fail-final"]}),
            nextflow_item("s-run-long"),
            nextflow_item("s-awaiting-input"),
        ]
    }
    batch_id = client.create_batch(body).json()["id"]
    at(clock, 45)  # all analyses in IN_PROGRESS, except the one waiting for input
    items = items_by_ref(client, batch_id)
    assert items["s-awaiting-input"]["createdAnalysis"]["status"] == "AWAITING_INPUT"
    at(clock, 60)
    items = items_by_ref(client, batch_id)
    failed_item = items["s-fail-creation"]
    assert failed_item["processing"]["status"] == "FAILED"
    assert failed_item["processing"]["additionalStatusInformation"].startswith(
        "Pipeline input validation failed"
    )
    assert "createdAnalysis" not in failed_item
    statuses = {
        ref: item["createdAnalysis"]["status"] for ref, item in items.items() if "createdAnalysis" in item
    }
    assert statuses == {
        "ok": "GENERATING_OUTPUTS",
        "s-fail-analysis": "FAILED",
        "tagged": "FAILED_FINAL",
        "s-run-long": "IN_PROGRESS",
        "s-awaiting-input": "AWAITING_INPUT",  # 30 s from 43 on
    }
    assert "fail-analysis" in items["s-fail-analysis"]["createdAnalysis"]["summary"]
    assert items["ok"]["createdAnalysis"]["summary"] is None
    finished = job(client, batch_id)
    assert finished["status"] == "PARTIALLY_SUCCEEDED"
    assert finished["additionalStatusInformation"] == "1 of 6 analyses could not be created"
    at(clock, 100)
    assert items_by_ref(client, batch_id)["s-awaiting-input"]["createdAnalysis"]["status"] == "SUCCEEDED"
    assert items_by_ref(client, batch_id, version=3)["tagged"]["createdAnalysis"]["status"] == "FAILEDFINAL"


def test_batch_where_every_creation_fails(client: IcaClient, clock: ManualClock) -> None:
    batch_id = client.create_batch(batch_body("a-fail-creation", "b-fail-creation")).json()["id"]
    at(clock, 10)
    assert job(client, batch_id)["status"] == "FAILED"


def test_abort_goes_aborting_then_aborted(client: IcaClient, clock: ManualClock) -> None:
    batch_id = client.create_batch(batch_body("long-run-long", "quick")).json()["id"]
    at(clock, 50)
    items = items_by_ref(client, batch_id)
    long_id, quick_id = (items[ref]["createdAnalysis"]["id"] for ref in ("long-run-long", "quick"))
    before = client.get_analysis(long_id)
    assert client.abort(long_id).status_code == 204
    aborting = client.get_analysis(long_id)
    assert aborting.json()["status"] == "ABORTING"
    assert aborting.headers["ETag"] != before.headers["ETag"]
    assert client.get_analysis(long_id, version=3).json()["status"] == "INPROGRESS"
    at(clock, 54)
    assert client.get_analysis(long_id).json()["status"] == "ABORTING"
    at(clock, 55)
    aborted = client.get_analysis(long_id).json()
    assert aborted["status"] == "ABORTED"
    assert aborted["endDate"] is not None
    assert client.abort(long_id).status_code == 204  # already final: a no-op
    at(clock, 70)
    assert client.get_analysis(quick_id).json()["status"] == "SUCCEEDED"
    assert client.abort(quick_id).status_code == 204
    assert client.get_analysis(quick_id).json()["status"] == "SUCCEEDED"
    backend = client.server.backend
    assert backend.abort_calls == [long_id, long_id, quick_id]
    assert backend.abort_count(long_id) == 2
    assert client.abort("unknown").status_code == 404
    assert client.abort(quick_id, project_id="project-2").status_code == 404


def test_analysis_lookup_rules(client: IcaClient, clock: ManualClock) -> None:
    batch_id = client.create_batch(batch_body("s1")).json()["id"]
    analysis_id = client.server.backend.batches[batch_id].items[0].analysis_id
    assert client.get_analysis(analysis_id).status_code == 404  # not created yet
    at(clock, 3)
    assert client.get_analysis(analysis_id).status_code == 200
    assert client.get_analysis(analysis_id, project_id="project-2").status_code == 404


def test_v3_and_v4_shapes(client: IcaClient, clock: ManualClock) -> None:
    batch_id = client.create_batch(batch_body("s1")).json()["id"]
    at(clock, 14)  # QUEUED, which V3 does not know
    v4 = only_item(client, batch_id, 4)["createdAnalysis"]
    v3 = only_item(client, batch_id, 3)["createdAnalysis"]
    assert (v4["status"], v3["status"]) == ("QUEUED", "REQUESTED")
    assert v4["owner"] == {"id": client.server.backend.identity.user_id}
    assert set(v4["tenant"]) == {"id", "name"}
    assert "ownerId" not in v4 and "owner" not in v3
    assert v3["ownerId"] == v4["owner"]["id"] and v3["tenantId"] == v4["tenant"]["id"]
    assert v4["pipeline"]["language"] == "NEXTFLOW"
    assert "ownerId" in v3["pipeline"] and "owner" in v4["pipeline"]
    assert "timeCreated" in v3["analysisStorage"] and "timeCreated" not in v4["analysisStorage"]
    assert v4["reference"].startswith("s1-") and v4["reference"].endswith(v4["id"])
    assert v4["tags"] == {"technicalTags": [], "userTags": [], "referenceTags": []}
    analysis = client.get_analysis(v4["id"], version=3)
    assert analysis.headers["Content-Type"] == "application/vnd.illumina.v3+json"
    assert analysis.json()["status"] == "REQUESTED"
