"""The notification parser on canned ICA messages: V4, V3, none, SNS-wrapped, and what it refuses."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from ica_airflow_provider.core.notifications import (
    FOREIGN,
    MALFORMED,
    NOT_JSON,
    OVERSIZED,
    AnalysisHint,
    JobHint,
    Rejected,
    normalize_status,
    parse_message,
)

ANALYSIS_ID = "d63dc6c7-690a-4d17-8fd1-e4556a2ef1e0"
PROJECT_ID = "7595e8f2-32d3-4c76-a324-c6a85dae87b5"

V4_EVENT: dict[str, Any] = {
    "correlationId": "0e28d39b-a2cc-4e9b-86f2-78db22a25891",
    "timestamp": "2024-05-13T00:24:06.929Z",
    "eventCode": "ICA_EXEC_028",
    "eventParameters": {
        "pipelineExecution": ANALYSIS_ID,
        "analysisPreviousStatus": "QUEUED",
        "analysisStatus": "INITIALIZING",
    },
    "description": "Analysis status changed",
    "projectId": PROJECT_ID,
    "payloadVersion": "v4",
    "payload": {
        "id": ANALYSIS_ID,
        "timeCreated": "2024-05-13T00:23:58Z",
        "timeModified": "2024-05-13T00:24:06Z",
        "owner": {"id": "a9938581-7bf5-35d2-b461-282f34794dd1"},
        "tenant": {"id": "1555b441-c3be-40b0-a8f0-fb9dc7500545", "name": "t"},
        "status": "INITIALIZING",
        "tags": {"technicalTags": ["airflow-wait=abc"], "userTags": [], "referenceTags": []},
    },
}
# An older event: V3 status names, ownerId, and no payloadVersion at all.
V3_EVENT_WITHOUT_VERSION: dict[str, Any] = {
    "correlationId": "cc85de53-d3d6-4b9b-8b2d-b4a082513adb",
    "timestamp": "2024-01-17T01:43:21.404Z",
    "eventCode": "ICA_EXEC_028",
    "eventParameters": {
        "pipelineExecution": ANALYSIS_ID,
        "analysisPreviousStatus": "INPROGRESS",
        "analysisStatus": "FAILEDFINAL",
    },
    "description": "Analysis status changed",
    "projectId": PROJECT_ID,
    "payload": {
        "id": ANALYSIS_ID,
        "timeModified": "2024-01-17T01:43:18Z",
        "ownerId": "0c51d29a-8ffa-38e9-bf18-736330d7c65a",
        "status": "FAILEDFINAL",
    },
}
JOB_EVENT: dict[str, Any] = {
    "correlationId": "5f0b1b8e-3d5c-4c3f-9c39-0b8f1b5e0c11",
    "timestamp": "2024-05-13T00:20:00.000Z",
    "eventCode": "ICA_JOB_001",
    "eventParameters": {"job": "a1b2c3d4-0000-4000-8000-000000000001", "jobPreviousStatus": "RUNNING"},
    "description": "Job status changed",
    "projectId": PROJECT_ID,
    "payload": {
        "id": "a1b2c3d4-0000-4000-8000-000000000001",
        "status": "PARTIALLY_SUCCEEDED",
        "subjectType": "AnalysisCreationBatch",
        "subjectId": "b1b2c3d4-0000-4000-8000-000000000002",
    },
}


def body(event: Any) -> str:
    return json.dumps(event)


def changed(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy with ``a.b.c`` set to ``value`` (or removed when ``value`` is ``...``)."""
    result = copy.deepcopy(event)
    *parents, last = path.split(".")
    target = result
    for name in parents:
        target = target[name]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return result


def test_a_v4_analysis_event() -> None:
    hint = parse_message(body(V4_EVENT))
    assert hint == AnalysisHint(
        analysis_id=ANALYSIS_ID,
        status="INITIALIZING",
        previous_status="QUEUED",
        time_modified=datetime(2024, 5, 13, 0, 24, 6, tzinfo=timezone.utc),
        project_id=PROJECT_ID,
        payload_version="v4",
        correlation_id="0e28d39b-a2cc-4e9b-86f2-78db22a25891",
        technical_tags=("airflow-wait=abc",),
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("S1_tumour-normal", "S1_tumour-normal"), ("", None), ("x" * 256, None), (7, None), ("a\nb", None)],
)
def test_the_user_reference_routes_a_tagged_hint_and_a_bad_one_is_only_left_out(value: Any, expected: str | None) -> None:
    hint = parse_message(body(changed(V4_EVENT, "payload.userReference", value)))
    assert isinstance(hint, AnalysisHint) and hint.user_reference == expected and hint.status == "INITIALIZING"


def test_a_v3_event_without_payload_version_gets_v4_status_names() -> None:
    hint = parse_message(body(V3_EVENT_WITHOUT_VERSION).encode())
    assert isinstance(hint, AnalysisHint)
    assert (hint.status, hint.previous_status, hint.payload_version) == ("FAILED_FINAL", "IN_PROGRESS", "v3")
    declared = parse_message(body({**V3_EVENT_WITHOUT_VERSION, "payloadVersion": "V3"}))
    assert isinstance(declared, AnalysisHint) and declared.payload_version == "v3"


def test_the_payload_status_wins_and_event_parameters_are_a_fallback() -> None:
    hint = parse_message(body(changed(V4_EVENT, "eventParameters.analysisStatus", "SUCCEEDED")))
    assert isinstance(hint, AnalysisHint) and hint.status == "INITIALIZING"
    bare = changed(changed(V4_EVENT, "payload.status", ...), "eventParameters.analysisStatus", "aborted")
    hint = parse_message(body(bare))
    assert isinstance(hint, AnalysisHint) and hint.status == "ABORTED"
    hint = parse_message(body(changed(V4_EVENT, "eventParameters", ...)))
    assert isinstance(hint, AnalysisHint) and hint.previous_status is None


def test_unknown_statuses_pass_in_upper_case() -> None:
    hint = parse_message(body(changed(V4_EVENT, "payload.status", "Pending_Review")))
    assert isinstance(hint, AnalysisHint) and hint.status == "PENDING_REVIEW"
    assert normalize_status("awaitinginput") == "AWAITING_INPUT"


def test_a_job_event() -> None:
    hint = parse_message(body(JOB_EVENT))
    assert hint == JobHint(
        job_id="a1b2c3d4-0000-4000-8000-000000000001",
        status="PARTIALLY_SUCCEEDED",
        previous_status="RUNNING",
        subject_id="b1b2c3d4-0000-4000-8000-000000000002",
        subject_type="AnalysisCreationBatch",
        project_id=PROJECT_ID,
        correlation_id="5f0b1b8e-3d5c-4c3f-9c39-0b8f1b5e0c11",
    )


def test_an_sns_envelope_is_opened() -> None:
    envelope = {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:x", "Message": body(V4_EVENT)}
    assert parse_message(body(envelope)) == parse_message(body(V4_EVENT))
    broken = parse_message(body({**envelope, "Message": "{nope"}))
    assert isinstance(broken, Rejected) and broken.kind == NOT_JSON


@pytest.mark.parametrize(
    ("message", "kind", "reason"),
    [
        ("{not json", NOT_JSON, "not JSON"),
        (b"\xff\xfe", NOT_JSON, "not JSON"),
        ("[1, 2]", MALFORMED, "JSON list, not an object"),
        (body({"payload": {}}), MALFORMED, "no eventCode"),
        (body({**V4_EVENT, "eventCode": "ICA_DATA_002"}), FOREIGN, "'ICA_DATA_002' is not one a wait follows"),
        (body(changed(V4_EVENT, "payload", ...)), MALFORMED, "payload is missing"),
        (body(changed(V4_EVENT, "payload.id", ...)), MALFORMED, "payload.id is missing"),
        (body(changed(V4_EVENT, "payload.id", 42)), MALFORMED, "payload.id is not an identifier"),
        (body(changed(V4_EVENT, "payload.id", "x" * 129)), MALFORMED, "payload.id is not an identifier"),
        (body(changed(V4_EVENT, "payload.status", "IN PROGRESS; DROP")), MALFORMED, "not a status name"),
        (body(changed(V4_EVENT, "payload.timeModified", "yesterday")), MALFORMED, "not an ISO 8601 date"),
        (body(changed(V4_EVENT, "payload.timeModified", "2024-05-13T00:24:06")), MALFORMED, "no time zone"),
        (body(changed(V4_EVENT, "payload.timeModified", "2024-02-30T00:00:00Z")), MALFORMED, "not a valid date"),
        (body(changed(V4_EVENT, "payload.timeModified", 1715559846)), MALFORMED, "not an ISO 8601 date"),
        ("[" * 100_000 + "]" * 100_000, MALFORMED, "nested too deeply"),
        (body(changed(V4_EVENT, "payloadVersion", "v5")), MALFORMED, "neither v3 nor v4"),
        (body(changed(V4_EVENT, "eventParameters", "x")), MALFORMED, "eventParameters is not an object"),
        (
            body(changed(V4_EVENT, "eventParameters.pipelineExecution", "other")),
            MALFORMED,
            "name different analyses",
        ),
        (body(changed(JOB_EVENT, "payload.status", None)), MALFORMED, "payload.status is missing"),
    ],
)
def test_what_is_refused_and_why(message: str | bytes, kind: str, reason: str) -> None:
    result = parse_message(message)
    assert isinstance(result, Rejected)
    assert result.kind == kind
    assert reason in result.reason
    assert len(result.reason) <= 200


def test_oversized_messages_are_refused_before_parsing() -> None:
    padded = changed(V4_EVENT, "description", "x" * 300_000)
    result = parse_message(body(padded))
    assert isinstance(result, Rejected) and result.kind == OVERSIZED
    assert "more than 262144" in result.reason
    assert isinstance(parse_message(body(V4_EVENT), max_bytes=100), Rejected)


def test_reasons_stay_short_whatever_the_message_holds() -> None:
    huge_code = parse_message(body({**V4_EVENT, "eventCode": "X" * 10_000}))
    assert isinstance(huge_code, Rejected) and huge_code.kind == FOREIGN
    assert len(huge_code.reason) < 100 and huge_code.event_code is not None and len(huge_code.event_code) <= 41
    long_error = parse_message("{" + '"a":1,' * 50_000)
    assert isinstance(long_error, Rejected) and len(long_error.reason) <= 200


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-05-13T00:24:06Z", datetime(2024, 5, 13, 0, 24, 6, tzinfo=timezone.utc)),
        ("2024-05-13T00:24:06.5Z", datetime(2024, 5, 13, 0, 24, 6, 500_000, tzinfo=timezone.utc)),
        ("2024-05-13T00:24:06.123456789Z", datetime(2024, 5, 13, 0, 24, 6, 123_456, tzinfo=timezone.utc)),
        ("2024-05-13T02:24:06.929+0200", datetime(2024, 5, 13, 0, 24, 6, 929_000, tzinfo=timezone.utc)),
    ],
)
def test_time_modified_in_the_forms_iso_allows(written: str, expected: datetime) -> None:
    hint = parse_message(body(changed(V4_EVENT, "payload.timeModified", written)))
    assert isinstance(hint, AnalysisHint) and hint.time_modified == expected
