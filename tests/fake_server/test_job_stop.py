"""A batch's job STOPPED: by the admin call or the ``stop-job`` marker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from ica_airflow_provider.testing import ManualClock

from .helpers import PROJECT_ID, IcaClient, batch_body
from .spec import assert_response

BATCH = "/api/projects/{projectId}/analysisCreationBatch/{batchId}"
ITEMS = BATCH + "/items"
TIMINGS: dict[str, Any] = {"batch_start_seconds": 1, "item_creation_seconds": 2, "item_stagger_seconds": 1.5}


@pytest.fixture
def staggered(client_factory: Callable[..., IcaClient]) -> tuple[IcaClient, ManualClock]:
    """Item i starts at 1001 + 1.5 i and is created 2 s later (a: 1003, b: 1004.5, c: 1006)."""
    clock = ManualClock()
    return client_factory(clock=clock, **TIMINGS), clock


def stop_url(client: IcaClient, batch_id: str, project_id: str = PROJECT_ID) -> str:
    root = client.url.removesuffix("/ica/rest")
    return f"{root}/_fake/projects/{project_id}/analysisCreationBatch/{batch_id}:stopJob"


def statuses(client: IcaClient, batch_id: str) -> list[str]:
    return [item["processing"]["status"] for item in client.all_items(batch_id, page_size=10)]


def test_admin_stop_freezes_items_still_being_created(
    ica_spec: dict[str, Any], staggered: tuple[IcaClient, ManualClock]
) -> None:
    client, clock = staggered
    second = client.create_batch(batch_body("a", "b", "c", "d")).json()["id"]
    clock.set(1004.2)
    assert statuses(client, second) == ["SUCCEEDED", "RUNNING", "RUNNING", "WAITING_RESOURCES"]
    stopped = requests.post(stop_url(client, second))
    assert stopped.status_code == 200
    job = stopped.json()["job"]
    assert (job["status"], job["additionalStatusInformation"]) == ("STOPPED", "Stopped by the user")
    assert job["timeFinished"] is not None
    clock.advance(3600)
    assert statuses(client, second) == ["SUCCEEDED", "RUNNING", "RUNNING", "WAITING_RESOURCES"]
    batch = client.get_batch(second)
    assert batch.json()["job"]["status"] == "STOPPED"
    assert_response(ica_spec, BATCH, batch)
    assert_response(ica_spec, ITEMS, client.list_items(second, 4))
    assert_response(ica_spec, ITEMS, client.list_items(second, 3))
    frozen = client.server.backend.batches[second].items[1]
    assert client.get_analysis(frozen.analysis_id).status_code == 404  # never created
    created = client.server.backend.batches[second].items[0]
    assert client.get_analysis(created.analysis_id).json()["status"] == "SUCCEEDED"  # goes on


def test_stopping_twice_is_a_no_op_and_a_finished_job_cannot_stop(
    staggered: tuple[IcaClient, ManualClock],
) -> None:
    client, clock = staggered
    batch_id = client.create_batch(batch_body("a", "b")).json()["id"]
    first = requests.post(stop_url(client, batch_id))
    clock.advance(10)
    again = requests.post(stop_url(client, batch_id))
    assert first.status_code == again.status_code == 200
    assert first.json()["job"]["timeFinished"] == again.json()["job"]["timeFinished"]
    assert first.json()["job"]["timeStarted"] is None  # stopped while INITIALIZED
    assert statuses(client, batch_id) == ["WAITING_RESOURCES", "WAITING_RESOURCES"]
    finished = client.create_batch(batch_body("c")).json()["id"]
    clock.advance(10)
    refused = requests.post(stop_url(client, finished))
    assert refused.status_code == 409
    assert "has finished (SUCCEEDED)" in refused.json()["detail"]
    assert client.get_batch(finished).json()["job"]["status"] == "SUCCEEDED"


def test_stop_of_an_unknown_batch_is_404(client: IcaClient) -> None:
    unknown = "0b7c1d6e-3f5a-4b2c-9d8e-1a2b3c4d5e6f"
    assert requests.post(stop_url(client, unknown)).status_code == 404
    batch_id = client.create_batch(batch_body("a")).json()["id"]
    assert requests.post(stop_url(client, batch_id, project_id="other")).status_code == 404


def test_admin_calls_are_not_api_requests(client: IcaClient) -> None:
    batch_id = client.create_batch(batch_body("a")).json()["id"]
    backend = client.server.backend
    backend.inject_fault(503)
    before = backend.request_count
    assert requests.post(stop_url(client, batch_id)).status_code == 200
    assert backend.request_count == before and backend.faults  # neither logged nor faulted


@pytest.mark.parametrize("marked", ["b-stop-job", "ica-fake:stop-job"])
def test_stop_job_marker(
    ica_spec: dict[str, Any], staggered: tuple[IcaClient, ManualClock], marked: str
) -> None:
    client, clock = staggered
    if marked.startswith("ica-fake:"):
        items = batch_body("a", "b", "c")
        items["nextflowItems"][1]["tags"] = {"technicalTags": [marked]}
    else:
        items = batch_body("a", marked, "c")
    batch_id = client.create_batch(items).json()["id"]
    clock.set(1003.4)  # b RUNNING since 1002.5; the stop comes midway, at 1003.5
    assert client.get_batch(batch_id).json()["job"]["status"] == "RUNNING"
    assert statuses(client, batch_id) == ["SUCCEEDED", "RUNNING", "WAITING_RESOURCES"]
    clock.set(1100)
    batch = client.get_batch(batch_id)
    assert_response(ica_spec, BATCH, batch)
    job = batch.json()["job"]
    assert (job["status"], job["additionalStatusInformation"]) == ("STOPPED", "Stopped by the user")
    assert job["timeFinished"].endswith("Z")
    assert statuses(client, batch_id) == ["SUCCEEDED", "RUNNING", "WAITING_RESOURCES"]
