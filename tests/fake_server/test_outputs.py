"""GET .../analyses/{analysisId}/outputs: an output folder once SUCCEEDED, nothing before."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from ica_airflow_provider.testing import ManualClock

from .helpers import PROJECT_ID, V3, V4, IcaClient, batch_body
from .spec import assert_response, schema_errors

OUTPUTS = "/api/projects/{projectId}/analyses/{analysisId}/outputs"
# Analyses are created at 1003 and step every 10 s: SUCCEEDED at 1063 (FAILED ones at 1053).
TIMINGS: dict[str, Any] = {"batch_start_seconds": 1, "item_creation_seconds": 2, "analysis_step_seconds": 10}


@pytest.fixture
def timed(client_factory: Callable[..., IcaClient]) -> tuple[IcaClient, ManualClock]:
    clock = ManualClock()
    return client_factory(clock=clock, **TIMINGS), clock


def get_outputs(
    client: IcaClient, analysis_id: str, project_id: str = PROJECT_ID, accept: str = V3
) -> requests.Response:
    url = f"{client.url}/api/projects/{project_id}/analyses/{analysis_id}/outputs"
    return client.session.get(url, headers=client.headers(Accept=accept))


def analysis_ids(client: IcaClient, batch_id: str) -> list[str]:
    return [item.analysis_id for item in client.server.backend.batches[batch_id].items]


def test_outputs_appear_when_the_analysis_succeeds(
    ica_full_spec: dict[str, Any], timed: tuple[IcaClient, ManualClock]
) -> None:
    client, clock = timed
    batch_id = client.create_batch(batch_body("NA12878")).json()["id"]
    (analysis_id,) = analysis_ids(client, batch_id)
    clock.set(1003)
    for moment in (1003, 1040, 1062.9):  # REQUESTED, PREPARING_INPUTS, GENERATING_OUTPUTS
        clock.set(moment)
        empty = get_outputs(client, analysis_id)
        assert (empty.status_code, empty.json()) == (200, {"items": []})
        assert empty.headers["Content-Type"] == V3
        assert_response(ica_full_spec, OUTPUTS, empty)
    clock.set(1063)
    assert client.get_analysis(analysis_id).json()["status"] == "SUCCEEDED"
    response = get_outputs(client, analysis_id)
    assert response.status_code == 200
    assert_response(ica_full_spec, OUTPUTS, response)
    (output,) = response.json()["items"]
    assert output["code"] == "output" and "projectId" not in output  # "project-1" is no UUID
    (folder,) = output["data"]
    reference = client.get_analysis(analysis_id).json()["reference"]
    assert (folder["name"], folder["dataType"], folder["format"]) == (reference, "FOLDER", None)
    assert folder["dataId"].startswith("fol.")
    files = folder["children"]
    assert [(f["name"], f["dataType"], f["format"]["code"]) for f in files] == [
        ("NA12878.bam", "FILE", "BAM"),
        ("NA12878.vcf.gz", "FILE", "VCF"),
        ("NA12878_report.html", "FILE", "HTML"),
    ]
    assert all(f["dataId"].startswith("fil.") and len(f["dataId"]) == 36 for f in files)
    clock.advance(100)
    assert get_outputs(client, analysis_id).json() == response.json()  # stable


def test_data_ids_differ_between_analyses(timed: tuple[IcaClient, ManualClock]) -> None:
    client, clock = timed
    batch_id = client.create_batch(batch_body("same", "same")).json()["id"]
    clock.set(1100)
    bodies = [get_outputs(client, analysis_id).json() for analysis_id in analysis_ids(client, batch_id)]
    ids = [
        {f["dataId"] for f in body["items"][0]["data"][0]["children"]}
        | {body["items"][0]["data"][0]["dataId"]}
        for body in bodies
    ]
    assert len(ids[0]) == len(ids[1]) == 4 and not ids[0] & ids[1]


def test_failed_and_aborted_analyses_have_no_outputs(
    ica_full_spec: dict[str, Any], timed: tuple[IcaClient, ManualClock]
) -> None:
    client, clock = timed
    batch_id = client.create_batch(batch_body("x-fail-analysis", "y-run-long")).json()["id"]
    failed, long_running = analysis_ids(client, batch_id)
    clock.set(1010)
    assert client.abort(long_running).status_code == 204
    clock.set(5000)
    assert client.get_analysis(failed).json()["status"] == "FAILED"
    assert client.get_analysis(long_running).json()["status"] == "ABORTED"
    for analysis_id in (failed, long_running):
        response = get_outputs(client, analysis_id)
        assert response.json() == {"items": []}
        assert_response(ica_full_spec, OUTPUTS, response)


def test_unknown_analysis_and_bad_accept_are_problems(
    ica_full_spec: dict[str, Any], timed: tuple[IcaClient, ManualClock]
) -> None:
    client, clock = timed
    batch_id = client.create_batch(batch_body("a", "b-fail-creation")).json()["id"]
    ok, not_created = analysis_ids(client, batch_id)
    assert get_outputs(client, ok).status_code == 404  # the analysis does not exist yet
    clock.set(1100)
    problems = [
        get_outputs(client, "nope"),
        get_outputs(client, not_created),
        get_outputs(client, ok, project_id="other-project"),
        get_outputs(client, ok, accept=V4),  # v3 only, as the spec declares
        requests.get(f"{client.url}/api/projects/{PROJECT_ID}/analyses/{ok}/outputs", headers={"Accept": V3}),
    ]
    assert [p.status_code for p in problems] == [404, 404, 404, 400, 401]
    for problem in problems:
        assert problem.headers["Content-Type"] == "application/problem+json"
        assert_response(ica_full_spec, OUTPUTS, problem)


def test_a_uuid_project_is_named_in_each_output(
    ica_full_spec: dict[str, Any], timed: tuple[IcaClient, ManualClock]
) -> None:
    client, clock = timed
    project_id = str(uuid.uuid4())
    batch_id = client.create_batch(batch_body("a"), project_id=project_id).json()["id"]
    clock.set(1100)
    response = get_outputs(client, analysis_ids(client, batch_id)[0], project_id=project_id)
    assert response.json()["items"][0]["projectId"] == project_id
    assert_response(ica_full_spec, OUTPUTS, response)


def test_the_full_spec_validator_is_strict(ica_full_spec: dict[str, Any]) -> None:
    schema = {"$ref": "#/components/schemas/AnalysisOutputList"}
    good = {
        "items": [
            {"code": "out", "data": [{"dataId": "fil.1", "name": "a", "dataType": "FILE", "format": None}]}
        ]
    }
    assert not schema_errors(ica_full_spec, schema, good)
    for broken in ({"dataType": "LINK"}, {"dataId": ""}, {"format": {"code": "BAM"}}):
        bad = {"items": [{"code": "out", "data": [{**good["items"][0]["data"][0], **broken}]}]}
        assert schema_errors(ica_full_spec, schema, bad), broken
