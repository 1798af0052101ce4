"""The bad-input matrix: each bad input or answer gets an error that names the problem.

Input problems are caught before any request; 4xx answers are not retried.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider.core.errors import IcaApiError, IcaConfigError, IcaError
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor

BASE = "https://ica.example.test/ica/rest"
BATCH_URL = f"{BASE}/api/projects/proj/analysisCreationBatch"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln"  # exp in 2100
GOOD = {"userReference": "S1", "pipelineId": "5c6d7e8f-0a1b-4c2d-8e3f-9a0b1c2d3e4f", "analysisInput": {"inputs": []}}


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ICA_DEFAULT",
        json.dumps({"conn_type": "ica", "host": BASE, "password": "key", "extra": {"project_id": "proj"}}),
    )


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ica_airflow_provider.hooks.ica.time.sleep", lambda s: None)


def execute(**kwargs: Any) -> Any:
    op = IcaCreateAnalysisBatchOperator(task_id="create", **kwargs)
    ti = SimpleNamespace(dag_id="d", task_id="create", run_id="r", map_index=-1, xcom_push=lambda **kw: None)
    return op.execute({"ti": ti})  # type: ignore[arg-type]


INPUT_CASES = [
    ("pattern", {"nextflow_items": [{**GOOD, "userReference": "S1:tumor"}]},
     ["nextflow_items[0].userReference", "':'"]),
    ("too-long", {"nextflow_items": [{**GOOD, "userReference": "x" * 256}]},
     ["nextflow_items[0].userReference", "255"]),
    ("duplicate", {"nextflow_items": [GOOD], "cwl_items": [{**GOOD, "analysisInput": {"objectType": "JSON", "inputJson": "{}"}}]},
     ["'S1'", "cwl_items[0]", "nextflow_items[0]"]),
    ("empty", {"nextflow_items": []}, ["no items"]),
    ("pipeline-not-a-uuid", {"nextflow_items": [{**GOOD, "pipelineId": "not a pipeline id!"}]},
     ["nextflow_items[0].pipelineId (userReference 'S1'): 'not a pipeline id!' is not an ICA pipeline ID: a UUID"]),
    ("data-id-shape", {"nextflow_items": [{**GOOD, "analysisInput": {"inputs": [
        {"parameterCode": "fastq", "dataIds": ["not-a-folder"]}]}}]},
     ["nextflow_items[0].analysisInput.inputs[0].dataIds[0] (userReference 'S1'): 'not-a-folder' is not an ICA data ID"]),
    ("mount-data-id", {"cwl_items": [{**GOOD, "analysisInput": {"objectType": "JSON", "inputJson": "{}",
                                                               "mounts": [{"dataId": "fil.12", "mountPath": "a"}]}}]},
     ["cwl_items[0].analysisInput.mounts[0].dataId (userReference 'S1'): 'fil.12' is not an ICA data ID"]),
    ("form-data-id", {"nextflow_json_items": [{**{k: v for k, v in GOOD.items() if k != "analysisInput"},
                                               "inputFormValues": {"fields": [{"id": "x", "dataValues": [{"dataId": "fol.x"}]}]}}]},
     ["nextflow_json_items[0].inputFormValues.fields[0].dataValues[0].dataId (userReference 'S1'): 'fol.x'"]),
    ("unknown-field", {"nextflow_items": [{**GOOD, "pipelineID": "p"}]},
     ["nextflow_items[0].pipelineID", "did you mean 'pipelineId'"]),
    ("mistyped-field", {"nextflow_items": [{**GOOD, "analysisInput": {"inputs": "fil.00000000000000000000000000000001"}}]},
     ["nextflow_items[0].analysisInput.inputs"]),
    ("malformed-json-template", {"cwl_items": '[{"userReference": "a"'}, ["cwl_items: not valid JSON"]),
    ("missing-project", {"nextflow_items": [GOOD], "ica_conn_id": "ica_no_project"}, ["project_id is not set"]),
    ("no-api-key", {"nextflow_items": [GOOD], "ica_conn_id": "ica_no_key"}, ["'ica_no_key'", "no API key"]),
    ("malformed-url", {"nextflow_items": [GOOD], "ica_conn_id": "ica_bad_url"}, ["'ica_bad_url'", "not a URL"]),
    ("plain-http", {"nextflow_items": [GOOD], "ica_conn_id": "ica_http"}, ["plain http", "allow_insecure_http"]),
]


@pytest.mark.parametrize(("name", "kwargs", "expected"), INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
def test_bad_input_is_named_before_any_request(
    name: str, kwargs: dict[str, Any], expected: list[str], requests_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conns = {
        "ica_no_project": {"host": BASE, "password": "key"},
        "ica_no_key": {"host": BASE, "extra": {"project_id": "proj"}},
        "ica_bad_url": {"host": "ht!tp://ica example", "password": "key", "extra": {"project_id": "proj"}},
        "ica_http": {"host": "http://ica.example.test/ica/rest", "password": "key", "extra": {"project_id": "proj"}},
    }
    for conn_id, conn in conns.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "ica", **conn}))
    with pytest.raises(IcaConfigError) as exc:
        execute(**kwargs)
    for text in expected:
        assert text in str(exc.value)
    assert requests_mock.call_count == 0


def test_every_bad_sample_is_named_in_one_message(requests_mock: Any) -> None:
    """All bad items at once, each by its userReference: one try shows everything to fix."""
    folder = "fol." + "a" * 32
    items = [
        {**GOOD, "userReference": f"S{n}", "analysisInput": {"inputs": [{"parameterCode": "fastq", "dataIds": [data]}]},
         "pipelineId": pipeline}
        for n, (pipeline, data) in enumerate(
            [(GOOD["pipelineId"], folder), ("p", folder), (GOOD["pipelineId"], "fol.1"), ("p", "x")], start=1
        )
    ]
    with pytest.raises(IcaConfigError) as exc:
        execute(nextflow_items=items)
    lines = str(exc.value).splitlines()
    assert lines[0] == "create: the batch request is invalid (4 problem(s)):"
    assert [line.split(": ", 1)[0].strip() for line in lines[1:]] == [
        "nextflow_items[1].pipelineId (userReference 'S2')",
        "nextflow_items[2].analysisInput.inputs[0].dataIds[0] (userReference 'S3')",
        "nextflow_items[3].pipelineId (userReference 'S4')",
        "nextflow_items[3].analysisInput.inputs[0].dataIds[0] (userReference 'S4')",
    ]
    assert requests_mock.call_count == 0


def test_unknown_wait_for_fails_at_parse_time() -> None:
    with pytest.raises(ValueError, match="wait_for: 'all'"):
        IcaAnalysisBatchSensor(task_id="w", batch_id="b", wait_for="all")  # type: ignore[arg-type]


ANSWER_CASES = [
    (400, {"json": {"type": "about:blank", "title": "ICA_API_002", "status": 400, "detail": "Validation failed",
                    "parameters": {"nextflowItems[0].pipelineId": "unknown pipeline"},
                    "timestamp": "2026-01-01T00:00:00Z"}, "headers": {"Content-Type": "application/problem+json"}},
     ["400 ICA_API_002", "Validation failed", "nextflowItems[0].pipelineId: unknown pipeline"]),
    (403, {"json": {"title": "ICA_API_403", "status": 403, "detail": "No access to project proj"}},
     ["403", "No access to project proj"]),
    (404, {"json": {"title": "ICA_API_003", "status": 404, "detail": "Project not found"}}, ["404", "Project not found"]),
    (422, {"json": {"title": "ICA_API_007", "status": 422, "detail": "Idempotency-Key reused with another body"}},
     ["422", "another body"]),
    (403, {"text": "<html><body><h1>403 Forbidden</h1>proxy says no</body></html>", "headers": {"Content-Type": "text/html"}},
     ["403", "non-JSON answer (text/html)", "proxy says no"]),
    (201, {"text": '{"id": "3f1c', "headers": {"Content-Type": "application/vnd.illumina.v3+json"}},
     ["not valid JSON"]),
]


@pytest.mark.parametrize(("status", "answer", "expected"), ANSWER_CASES,
                         ids=["400", "403", "404", "422", "html-page", "truncated-json"])
def test_error_answers_are_explained_and_not_retried(
    status: int, answer: dict[str, Any], expected: list[str], requests_mock: Any
) -> None:
    requests_mock.post(f"{BASE}/api/tokens", json={"token": JWT})
    requests_mock.post(BATCH_URL, status_code=status, **answer)
    with pytest.raises(IcaApiError) as exc:
        execute(nextflow_items=[GOOD])
    for text in expected:
        assert text in str(exc.value)
    assert "POST /api/projects/proj/analysisCreationBatch" in str(exc.value)
    assert sum(r.url.startswith(BATCH_URL) for r in requests_mock.request_history) == 1


def test_401_is_retried_once_with_a_new_token_then_explained(requests_mock: Any) -> None:
    requests_mock.post(f"{BASE}/api/tokens", json={"token": JWT})
    requests_mock.post(BATCH_URL, status_code=401, json={"title": "ICA_API_001", "status": 401, "detail": "JWT expired"})
    with pytest.raises(IcaError, match=r"401 ICA_API_001.*JWT expired"):
        execute(nextflow_items=[GOOD])
    assert [r.path for r in requests_mock.request_history].count("/ica/rest/api/tokens") == 2
    assert sum(r.url.startswith(BATCH_URL) for r in requests_mock.request_history) == 2


def test_rejected_api_key_is_explained(requests_mock: Any) -> None:
    requests_mock.post(f"{BASE}/api/tokens", status_code=401, json={"title": "ICA_API_001", "detail": "Invalid API key"})
    with pytest.raises(IcaApiError, match=r"401 ICA_API_001 to POST /api/tokens: Invalid API key"):
        execute(nextflow_items=[GOOD])
    assert requests_mock.call_count == 1
