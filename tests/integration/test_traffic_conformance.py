"""Every request the hook sends, checked against the ICA OpenAPI spec.

A whole lifecycle runs against the fake server over loopback while the hook's transport
records each request; each one must name a spec operation, with declared parameters,
a media type the operation offers and a body its schema accepts.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from ica_airflow_provider.core.messages import Request
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.testing import seed
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import cwl_item, nextflow_item
from tests.fake_server.spec import FULL_SPEC_PATH, load_spec, schema_errors

ITEMS = {
    "nextflowItems": [
        nextflow_item(
            f"N{i}",
            tags={"technicalTags": ["t"], "userTags": [], "referenceTags": []},
            analysisInput={
                "inputs": [{"parameterCode": "fastq_folder", "dataIds": [seed.FASTQ_FOLDER_ID]}],
                "parameters": [{"code": "x", "value": "1"}],
            },
        )
        for i in range(5)
    ],
    "cwlItems": [cwl_item("C1")],
}


def operation_for(spec: dict[str, Any], request: Request) -> tuple[str, dict[str, Any], dict[str, str]]:
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        match = re.match(pattern, request.path)
        if match and request.method.lower() in item:
            return template, item[request.method.lower()], match.groupdict()
    raise AssertionError(f"{request.describe()} is not an operation of the spec")


def check(spec: dict[str, Any], request: Request) -> list[str]:
    template, op, path_params = operation_for(spec, request)
    problems: list[str] = []
    declared = {p["name"]: p for p in op.get("parameters", [])}
    for name, value in path_params.items():
        if declared[name]["schema"].get("format") == "uuid":
            uuid.UUID(value)
    for name, value in request.params:
        param = declared.get(name)
        if param is None or param["in"] != "query":
            problems.append(f"{template}: undeclared query parameter {name!r}")
            continue
        schema = param["schema"].get("items", param["schema"])
        problems += [f"{template} ?{name}: {e}" for e in schema_errors(spec, schema, value)]
    headers = {k.lower(): v for k, v in request.headers.items()}
    if "idempotency-key" in headers:
        assert "Idempotency-Key" in declared
        assert len(headers["idempotency-key"]) <= 255
    success = next(r for code, r in op["responses"].items() if code.startswith("2"))
    offered = set(success.get("content", {}))
    if offered and headers.get("accept") not in offered:
        problems.append(f"{template}: Accept {headers.get('accept')!r} not in {sorted(offered)}")
    body = op.get("requestBody")
    if body is not None and request.body is not None:
        content_type = headers.get("content-type")
        if content_type not in body["content"]:
            problems.append(f"{template}: Content-Type {content_type!r} not in {sorted(body['content'])}")
        else:
            schema = body["content"][content_type]["schema"]
            problems += [f"{template} body: {e}" for e in schema_errors(spec, schema, json.loads(request.body))]
    if request.path != "/api/tokens" and "x-api-key" in headers:
        problems.append(f"{template}: the API key was sent on an ordinary call")
    return problems


def test_every_request_the_hook_sends_matches_the_spec(
    ica_fake_server_factory: Any, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(FULL_SPEC_PATH)  # the subset lacks getAnalysisOutputs
    clock = ManualClock()
    connect(ica_fake_server_factory(clock=clock))
    hook = IcaHook()
    sent: list[Request] = []
    send = hook._send

    def recording_send(request: Request) -> Any:
        sent.append(request)
        return send(request)

    monkeypatch.setattr(hook, "_send", recording_send)

    batch = hook.create_analysis_creation_batch("proj", ITEMS, idempotency_key="conformance-1")
    hook.get_analysis_creation_batch("proj", batch.id)
    clock.advance(1.0)
    items = list(hook.iter_analysis_creation_batch_items("proj", batch.id, page_size=2))
    list(hook.iter_analysis_creation_batch_items("proj", batch.id, statuses=["RUNNING", "SUCCEEDED"]))
    item = hook.get_analysis_creation_batch_item("proj", batch.id, items[0].id)
    assert item.created_analysis is not None
    hook.get_analysis("proj", item.created_analysis.id)
    hook.get_analysis_outputs("proj", item.created_analysis.id)
    hook.abort_analysis("proj", item.created_analysis.id)

    operations = {operation_for(spec, r)[1]["operationId"] for r in sent}
    assert operations == {
        "createJwtToken",
        "createAnalysisCreationBatch",
        "getAnalysisCreationBatch",
        "getAnalysisCreationBatchItems",
        "getAnalysisCreationBatchItem",
        "getAnalysis",
        "getAnalysisOutputs",
        "abortAnalysis",
    }
    assert sum(r.path.endswith("/items") for r in sent) >= 4  # paging really happened
    problems = [p for request in sent for p in check(spec, request)]
    assert problems == []


def test_the_check_catches_what_the_spec_forbids() -> None:
    spec = load_spec(FULL_SPEC_PATH)  # the subset lacks getAnalysisOutputs
    from ica_airflow_provider.core import operations as ops

    good = ops.create_analysis_creation_batch("p", ITEMS, "k")
    assert check(spec, good) == []
    wrong_accept = good.with_headers(Accept=ops.V4)
    assert any("Accept" in p for p in check(spec, wrong_accept))
    bad_body = Request(good.method, good.path, headers=good.headers, body=b'{"cwlItems": [{"userReference": "a:b"}]}')
    assert any("body" in p for p in check(spec, bad_body))
    items = ops.get_analysis_creation_batch_items("p", str(uuid.uuid4()), statuses=["RUNNING"])
    assert check(spec, items) == []
    assert any("status" in p for p in check(spec, Request("GET", items.path, (("status", "DONE"),), items.headers)))
    assert any("undeclared" in p for p in check(spec, Request("GET", items.path, (("sort", "x"),), items.headers)))
    outputs = ops.get_analysis_outputs("p", "a")
    assert check(spec, outputs) == []
    assert any("Accept" in p for p in check(spec, outputs.with_headers(Accept=ops.V4)))


def test_the_notification_setup_requests_match_the_spec(
    ica_fake_server: Any, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(FULL_SPEC_PATH)  # the subset has no notification operations
    connect(ica_fake_server)
    hook = IcaHook()
    sent: list[Request] = []
    send = hook._send
    monkeypatch.setattr(hook, "_send", lambda request: sent.append(request) or send(request))
    hook.ensure_notifications("proj", "https://sqs.us-east-1.amazonaws.com/123456789012/ica-events")
    operations = {operation_for(spec, r)[1]["operationId"] for r in sent}
    assert operations == {
        "createJwtToken",
        "getEventCodes",
        "getNotificationChannels",
        "createNotificationChannel",
        "getNotificationSubscriptions",
        "createNotificationSubscription",
    }
    assert [p for request in sent for p in check(spec, request)] == []
