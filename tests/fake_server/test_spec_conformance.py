"""Every kind of response the fake sends, validated against the ICA OpenAPI subset."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from ica_airflow_provider.testing import ManualClock, seed

from .helpers import V3, V4, IcaClient, batch_body, cwl_item, nextflow_item, nextflow_json_item
from .spec import assert_response, assert_schema, load_spec, schema_errors

TOKENS = "/api/tokens"
REFRESH = "/api/tokens:refresh"
BATCHES = "/api/projects/{projectId}/analysisCreationBatch"
BATCH = BATCHES + "/{batchId}"
ITEMS = BATCH + "/items"
ITEM = ITEMS + "/{itemId}"
ANALYSIS = "/api/projects/{projectId}/analyses/{analysisId}"
ABORT = ANALYSIS + ":abort"
OUTPUTS = ANALYSIS + "/outputs"

SCENARIO_BODY: dict[str, Any] = {
    "cwlItems": [
        cwl_item("cwl-ok", tags={"technicalTags": ["t1"], "userTags": ["u"], "referenceTags": ["r"]}),
        cwl_item(
            "cwl-structured-fail-analysis",
            analysisInput={
                "objectType": "STRUCTURED",
                "inputs": [{"parameterCode": "bam", "dataIds": [seed.data_id_for("/tumor-normal/PT-002/tumor.bam")]}],
            },
        ),
    ],
    "nextflowItems": [
        nextflow_item("nf-fail-creation"),
        nextflow_item("nf-final", tags={"technicalTags": ["ica-fake:fail-final"]}),
        nextflow_item("nf-run-long", analysisStorageId=str(uuid.uuid4())),
        nextflow_item("nf-unknown-pipeline", pipelineId=str(uuid.uuid4())),  # refused by the catalogue
    ],
    "nextflowJsonItems": [nextflow_json_item("json-awaiting-input")],
}
# Seconds after creation at which to check everything (see TIMINGS in test_lifecycle).
CHECKPOINTS = (0, 1.5, 3, 5, 14, 24, 34, 44, 50, 54, 56, 60, 80, 100)


@pytest.fixture
def scenario(client_factory: Callable[..., IcaClient]) -> tuple[IcaClient, ManualClock]:
    clock = ManualClock()
    client = client_factory(
        clock=clock,
        batch_start_seconds=1,
        item_creation_seconds=2,
        analysis_step_seconds=10,
        abort_seconds=5,
        awaiting_input_seconds=30,
    )
    return client, clock


def test_missing_spec_skips_unless_required(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "openapi.json"
    monkeypatch.delenv("ICA_REQUIRE_SPEC", raising=False)
    with pytest.raises(pytest.skip.Exception, match="ICA spec not found at"):
        load_spec(missing)
    monkeypatch.setenv("ICA_REQUIRE_SPEC", "1")
    with pytest.raises(pytest.fail.Exception, match="ICA spec not found at"):
        load_spec(missing)


def test_the_validator_is_strict(ica_spec: dict[str, Any]) -> None:
    """Guard against a validator that accepts anything (unresolved refs, no format checks)."""
    ref = {"$ref": "#/components/schemas/AnalysisCreationBatch"}
    assert schema_errors(ica_spec, ref, {"id": "not-a-uuid"})
    assert schema_errors(ica_spec, ref, {"id": str(uuid.uuid4()), "job": {"id": str(uuid.uuid4())}})
    assert not schema_errors(ica_spec, ref, {"id": str(uuid.uuid4()), "job": None})


def test_request_bodies_used_in_tests_are_valid(ica_spec: dict[str, Any]) -> None:
    assert_schema(ica_spec, "CreateAnalysisCreationBatch", SCENARIO_BODY)
    assert_schema(ica_spec, "CreateAnalysisCreationBatch", batch_body("a", "b"))


def test_token_responses(ica_spec: dict[str, Any], client: IcaClient) -> None:
    ok = requests.post(f"{client.url}{TOKENS}", headers={"X-API-Key": "fake-api-key", "Accept": V3})
    assert ok.status_code == 200
    assert_response(ica_spec, TOKENS, ok)
    denied = requests.post(f"{client.url}{TOKENS}", headers={"X-API-Key": "wrong", "Accept": V3})
    assert denied.status_code == 401
    assert_response(ica_spec, TOKENS, denied)
    refresh = requests.post(f"{client.url}{REFRESH}", headers=client.headers())
    assert refresh.status_code == 401
    assert_response(ica_spec, REFRESH, refresh)


def test_every_status_of_every_resource(
    ica_spec: dict[str, Any], ica_full_spec: dict[str, Any], scenario: tuple[IcaClient, ManualClock]
) -> None:
    client, clock = scenario
    created = client.create_batch(SCENARIO_BODY)
    assert created.status_code == 201
    assert_response(ica_spec, BATCHES, created)
    batch_id = created.json()["id"]
    seen: set[tuple[str, str]] = set()
    for seconds in CHECKPOINTS:
        clock.set(1000 + seconds)
        if seconds == 50:
            run_long = client.server.backend.batches[batch_id].items[4]
            aborted = client.abort(run_long.analysis_id)
            assert aborted.status_code == 204
            assert_response(ica_spec, ABORT, aborted)
        batch = client.get_batch(batch_id)
        assert_response(ica_spec, BATCH, batch)
        seen.add(("job", batch.json()["job"]["status"]))
        for version in (3, 4):
            page = client.list_items(batch_id, version, pageSize="4")
            assert_response(ica_spec, ITEMS, page)
            rest = client.list_items(batch_id, version, pageToken=page.json()["nextPageToken"])
            assert_response(ica_spec, ITEMS, rest)
            offset = client.list_items(batch_id, version, pageOffset="0", status=["SUCCEEDED", "FAILED"])
            assert_response(ica_spec, ITEMS, offset)
            for item in page.json()["items"] + rest.json()["items"]:
                seen.add(("item", item["processing"]["status"]))
                assert_response(ica_spec, ITEM, client.get_item(batch_id, item["id"], version))
                if "createdAnalysis" in item:
                    analysis = client.get_analysis(item["createdAnalysis"]["id"], version)
                    assert_response(ica_spec, ANALYSIS, analysis)
                    seen.add((f"v{version}", analysis.json()["status"]))
                    outputs = client.session.get(analysis.url + "/outputs", headers=client.headers(3))
                    assert_response(ica_full_spec, OUTPUTS, outputs)
                    seen.add(("outputs", str(bool(outputs.json()["items"]))))
    assert {value for kind, value in seen if kind == "outputs"} == {"True", "False"}
    v4_statuses = {status for kind, status in seen if kind == "v4"}
    assert v4_statuses == {
        "REQUESTED",
        "QUEUED",
        "INITIALIZING",
        "PREPARING_INPUTS",
        "IN_PROGRESS",
        "GENERATING_OUTPUTS",
        "AWAITING_INPUT",
        "ABORTING",
        "ABORTED",
        "SUCCEEDED",
        "FAILED",
        "FAILED_FINAL",
    }
    assert {status for kind, status in seen if kind == "item"} == {
        "WAITING_RESOURCES",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
    }
    assert {status for kind, status in seen if kind == "job"} == {
        "INITIALIZED",
        "RUNNING",
        "PARTIALLY_SUCCEEDED",
    }


def test_job_statuses_of_other_outcomes(
    ica_spec: dict[str, Any], client_factory: Callable[..., IcaClient]
) -> None:
    clock = ManualClock()
    client = client_factory(
        clock=clock, batch_start_seconds=1, item_waiting_seconds=2, item_creation_seconds=2
    )
    ok = client.create_batch(batch_body("a")).json()["id"]
    failed = client.create_batch(batch_body("b-fail-creation")).json()["id"]
    for seconds, expected in ((2, "WAITING_FOR_RESOURCES"), (10, "SUCCEEDED")):
        clock.set(1000 + seconds)
        response = client.get_batch(ok)
        assert response.json()["job"]["status"] == expected
        assert_response(ica_spec, BATCH, response)
    response = client.get_batch(failed)
    assert response.json()["job"]["status"] == "FAILED"
    assert_response(ica_spec, BATCH, response)


def test_problem_responses(ica_spec: dict[str, Any], client_factory: Callable[..., IcaClient]) -> None:
    client = client_factory(create_delay_seconds=0)
    batch_id = client.create_batch(batch_body("a"), idempotency_key="k").json()["id"]
    unknown = str(uuid.uuid4())
    problems = [
        (BATCHES, client.create_batch({"nextflowItems": [{"userReference": "bad!"}]})),
        (BATCHES, client.create_batch(batch_body("a"), headers={"Content-Type": "application/json"})),
        (BATCHES, client.create_batch(batch_body("b"), idempotency_key="k")),
        (BATCHES, client.create_batch(batch_body("a"), idempotency_key="k" * 256)),
        (BATCH, client.get_batch(unknown)),
        (BATCH, client.get_batch("not-a-uuid")),
        (BATCH, client.get_batch(batch_id, Accept="application/json")),
        (ITEMS, client.list_items(batch_id, pageSize="0")),
        (ITEMS, client.list_items(batch_id, status="NOPE")),
        (ITEM, client.get_item(batch_id, unknown)),
        (ANALYSIS, client.get_analysis("nope")),
        (ABORT, client.abort("nope")),
        (
            BATCH,
            requests.get(
                f"{client.url}/api/projects/p/analysisCreationBatch/{batch_id}", headers={"Accept": V3}
            ),
        ),
    ]
    client.server.backend.inject_fault(503, path_contains="/items")
    problems.append((ITEMS, client.list_items(batch_id)))
    for path, response in problems:
        assert response.status_code >= 400
        assert response.headers["Content-Type"] == "application/problem+json"
        assert_response(ica_spec, path, response)
    assert {response.status_code for _, response in problems} == {400, 401, 404, 415, 422, 503}


EVENT_CODES = "/api/eventCodes"
CHANNELS = "/api/notificationChannels"
CHANNEL = CHANNELS + "/{channelId}"
SUBSCRIPTIONS = "/api/projects/{projectId}/notificationSubscriptions"
SUBSCRIPTION = SUBSCRIPTIONS + "/{subscriptionId}"


def test_notification_endpoints(ica_full_spec: dict[str, Any], client: IcaClient) -> None:
    """Channels, subscriptions and event codes: every answer, errors included, as the full spec declares."""
    spec, session, url, headers = ica_full_spec, client.session, client.url, client.headers(3)
    sent = client.headers(3, Content_Type=V3)
    channel_body = {"type": "SQS", "address": "http://127.0.0.1:1/000000000000/q", "enabled": True}
    assert_schema(spec, "CreateNotificationChannel", channel_body)
    created = session.post(url + CHANNELS, json=channel_body, headers=sent)
    assert created.status_code == 201, created.text
    channel = created.json()
    subscription_body = {
        "eventCode": "ICA_EXEC_028", "notificationChannelId": channel["id"], "enabled": True, "payloadVersion": "V4"
    }
    assert_schema(spec, "CreateNotificationSubscription", subscription_body)
    subscriptions = f"{url}/api/projects/project-1/notificationSubscriptions"
    subscribed = session.post(subscriptions, json=subscription_body, headers=sent)
    subscription_url = f"{subscriptions}/{subscribed.json()['id']}"
    channel_url = f"{url}{CHANNELS}/{channel['id']}"
    changed_channel = {**channel, "enabled": False}
    changed_subscription = {**subscribed.json(), "filterExpression": "$.payload.tags[?(@=='x')]"}
    answers = [
        (EVENT_CODES, session.get(url + EVENT_CODES, headers=headers), 200),
        (CHANNELS, created, 201),
        (CHANNELS, session.get(url + CHANNELS, headers=headers), 200),
        (CHANNEL, session.get(channel_url, headers=headers), 200),
        (CHANNEL, session.put(channel_url, json=changed_channel, headers=sent), 200),
        (SUBSCRIPTIONS, subscribed, 200),
        (SUBSCRIPTIONS, session.get(subscriptions, headers=headers), 200),
        (SUBSCRIPTION, session.get(subscription_url, headers=headers), 200),
        (SUBSCRIPTION, session.put(subscription_url, json=changed_subscription, headers=sent), 200),
        # Problems: a too long address, an unknown code, an unknown channel, a stale ETag, a channel in use.
        (CHANNELS, session.post(url + CHANNELS, json={**channel_body, "address": "x" * 101}, headers=sent), 400),
        (SUBSCRIPTIONS, session.post(subscriptions, json={**subscription_body, "eventCode": "NOPE"}, headers=sent), 400),
        (SUBSCRIPTION, session.get(f"{subscriptions}/{uuid.uuid4()}", headers=headers), 404),
        (CHANNEL, session.put(channel_url, json=channel, headers={**sent, "If-Match": '"stale"'}), 409),
        (CHANNEL, session.delete(channel_url, headers=headers), 409),
        (CHANNELS, session.get(url + CHANNELS, headers={**headers, "Accept": V4}), 400),
        (SUBSCRIPTION, session.delete(subscription_url, headers=headers), 204),
        (CHANNEL, session.delete(channel_url, headers=headers), 204),
        (CHANNEL, session.get(channel_url, headers=headers), 404),
    ]
    for path, response, status in answers:
        assert response.status_code == status, (path, response.text)
        assert_response(spec, path, response)
