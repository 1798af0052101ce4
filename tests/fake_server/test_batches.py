"""Creating and reading batches, request validation and backend introspection."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from ica_airflow_provider.testing.server import FakeIcaServer

from .helpers import PIPELINE_ID, V3, IcaClient, batch_body, cwl_item, nextflow_item, nextflow_json_item


def test_create_returns_201_with_a_full_job(client: IcaClient) -> None:
    response = client.create_batch(batch_body("sample-1", "sample-2"))
    assert response.status_code == 201
    assert response.headers["Content-Type"] == V3
    batch = response.json()
    job = batch["job"]
    assert job["subjectType"] == "AnalysisCreationBatch"
    assert job["subjectId"] == batch["id"]
    assert job["status"] == "INITIALIZED"
    assert job["timeStarted"] is None and job["timeFinished"] is None
    assert job["timeCreated"].endswith("Z")
    owner = job["owner"]
    required = {"active", "email", "emailVerified", "id", "ownerId", "tenantAdministrator", "tenantId"}
    required |= {"timeCreated", "timeModified", "twoFactorAuthentication", "username"}
    assert required <= owner.keys()
    assert owner["id"] == client.server.backend.identity.user_id
    fetched = client.get_batch(batch["id"])
    assert fetched.status_code == 200
    assert fetched.json()["id"] == batch["id"]


def test_items_keep_request_order_across_kinds(client: IcaClient) -> None:
    body = {
        "nextflowJsonItems": [nextflow_json_item("json-1")],
        "nextflowItems": [nextflow_item("nf-1"), nextflow_item("nf-2")],
        "cwlItems": [cwl_item("cwl-1")],
    }
    batch_id = client.create_batch(body).json()["id"]
    items = client.all_items(batch_id, page_size=10)
    assert [item["request"]["userReference"] for item in items] == ["cwl-1", "nf-1", "nf-2", "json-1"]
    assert [item["request"]["pipelineId"] for item in items] == [
        body["cwlItems"][0]["pipelineId"], PIPELINE_ID, PIPELINE_ID, body["nextflowJsonItems"][0]["pipelineId"]
    ]
    assert {item["processing"]["status"] for item in client.all_items(batch_id, page_size=10)} <= {
        "WAITING_RESOURCES", "RUNNING", "SUCCEEDED"
    }
    stored = client.server.backend.batches[batch_id]
    assert [item.language for item in stored.items] == ["CWL", "NEXTFLOW", "NEXTFLOW", "NEXTFLOW"]


def test_tags_are_echoed_with_all_three_lists(client: IcaClient) -> None:
    body = {"nextflowItems": [nextflow_item("a", tags={"userTags": ["u"], "technicalTags": None})]}
    batch_id = client.create_batch(body).json()["id"]
    (item,) = client.all_items(batch_id, page_size=10)
    assert item["request"]["tags"] == {"technicalTags": [], "userTags": ["u"], "referenceTags": []}


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"nextflowItems": [nextflow_item("bad!ref")]}, "nextflowItems[0].userReference"),
        ({"nextflowItems": [nextflow_item("")]}, "nextflowItems[0].userReference"),
        ({"nextflowItems": [nextflow_item("x" * 256)]}, "nextflowItems[0].userReference"),
        (
            {"nextflowItems": [nextflow_item("ok"), {"pipelineId": "p", "analysisInput": {"inputs": []}}]},
            "nextflowItems[1].userReference",
        ),
        ({"cwlItems": [nextflow_item("ok")]}, "cwlItems[0].analysisInput.objectType"),
        ({"cwlItems": [cwl_item("ok", pipelineId=None)]}, "cwlItems[0].pipelineId"),
        ({"nextflowItems": [nextflow_item("ok", analysisInput=None)]}, "nextflowItems[0].analysisInput"),
        ({"nextflowJsonItems": [nextflow_item("ok")]}, "nextflowJsonItems[0].inputFormValues"),
        (
            {"nextflowItems": [nextflow_item("ok", analysisStorageId="small")]},
            "nextflowItems[0].analysisStorageId",
        ),
        ({"nextflowItems": {"userReference": "x"}}, "nextflowItems"),
        ({}, "body"),
        ({"cwlItems": [], "nextflowItems": None}, "body"),
        ([nextflow_item("ok")], "body"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(client: IcaClient, body: Any, parameter: str) -> None:
    response = client.create_batch(body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["title"] == "ICA_API_002"
    assert parameter in problem["parameters"], problem
    assert client.server.backend.count_batches() == 0


def test_user_reference_pattern_allows_paths(client: IcaClient) -> None:
    assert client.create_batch(batch_body("run 1/sample_A/lane-2")).status_code == 201


def test_body_must_be_json(client: IcaClient) -> None:
    url = f"{client.url}/api/projects/project-1/analysisCreationBatch"
    response = requests.post(url, data=b"{not json", headers=client.headers(Content_Type=V3))
    assert response.status_code == 400
    assert response.json()["parameters"] == {"body": "must be valid JSON"}


def test_unknown_batch_other_project_and_bad_ids(client: IcaClient) -> None:
    batch_id = client.create_batch(batch_body("a")).json()["id"]
    assert client.get_batch(str(uuid.uuid4())).status_code == 404
    other_project = client.get_batch(batch_id, project_id="project-2")
    assert other_project.status_code == 404
    assert other_project.json()["title"] == "ICA_API_003"
    not_uuid = client.get_batch("not-a-uuid")
    assert not_uuid.status_code == 400
    assert not_uuid.json()["parameters"] == {"batchId": "must be a valid UUID"}
    assert client.list_items("nope").status_code == 400
    assert client.get_item(batch_id, "nope").status_code == 400
    assert client.get_item(batch_id, str(uuid.uuid4())).status_code == 404


def test_backend_introspection(ica_fake_server: FakeIcaServer) -> None:
    client = IcaClient(ica_fake_server)
    backend = ica_fake_server.backend
    client.create_batch(batch_body("a"), project_id="p1")
    client.create_batch(batch_body("b"), project_id="p1")
    batch_id = client.create_batch(batch_body("c"), project_id="p2").json()["id"]
    assert (backend.count_batches(), backend.count_batches("p1"), backend.count_batches("p3")) == (3, 2, 0)
    backend.reset_request_log()
    client.list_items(batch_id, project_id="p2", pageSize="5", status=["RUNNING", "FAILED"])
    (entry,) = backend.request_log
    assert entry == (
        "GET",
        f"/ica/rest/api/projects/p2/analysisCreationBatch/{batch_id}/items",
        "pageSize=5&status=RUNNING&status=FAILED",
    )
    assert backend.count_requests("GET", "/items") == 1


def test_injected_faults_answer_before_routing(client: IcaClient) -> None:
    backend = client.server.backend
    backend.inject_fault(429, count=2, method="POST", path_contains="analysisCreationBatch", retry_after=3)
    for _ in range(2):
        response = client.create_batch(batch_body("a"))
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
        assert response.json()["title"] == "ICA_API_429"
    assert client.create_batch(batch_body("a")).status_code == 201
    assert backend.count_requests("POST") == 3
