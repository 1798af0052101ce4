"""ICA events to compact payloads, the watchers' filters and path globs, the duplicate memory."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ica_airflow_provider.core.event_filter import EventFilter, compile_glob
from ica_airflow_provider.core.ica_events import MAX_TAGS, IcaEvent, RecentKeys, parse_event
from ica_airflow_provider.core.notifications import FOREIGN, MALFORMED, Rejected

PROJECT = "7595e8f2-32d3-4c76-a324-c6a85dae87b5"


def data_event(
    path: str = "/runs/r1/fastq/S1_R1.fastq.gz", code: str = "ICA_DATA_108", fmt: str | None = "FASTQ", **details: Any
) -> dict[str, Any]:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return {
        "correlationId": "c-1",
        "timestamp": "2026-01-01T00:00:06.000Z",
        "eventCode": code,
        "description": "Data uploaded",
        "projectId": PROJECT,
        "payloadVersion": "v4",
        "payload": {
            "projectId": PROJECT,
            "data": {
                "id": "fil.1",
                "details": {
                    "name": name,
                    "path": path,
                    "status": "AVAILABLE",
                    "dataType": "FILE",
                    "timeModified": "2026-01-01T00:00:05Z",
                    "format": None if fmt is None else {"code": fmt},
                    "tags": {"userTags": ["sample=S1"], "technicalTags": ["run=r1", "sample=S1"]},
                    **details,
                },
            },
        },
    }


def analysis_event(code: str = "ICA_EXEC_002", status: str = "SUCCEEDED", version: str = "v4") -> dict[str, Any]:
    return {
        "timestamp": "2026-01-01T00:10:00Z",
        "eventCode": code,
        "projectId": PROJECT,
        "payloadVersion": version,
        "payload": {
            "id": "a-1",
            "status": status,
            "timeModified": "2026-01-01T00:09:59.123456789+00:00",
            "userReference": "S1-germline",
            "pipeline": {"code": "dragen-germline-nf", "description": "x" * 10_000},
            "tags": {"technicalTags": ["t"], "userTags": [], "referenceTags": []},
        },
    }


def parsed(event: dict[str, Any]) -> IcaEvent:
    result = parse_event(json.dumps(event))
    assert isinstance(result, IcaEvent), result
    return result


def test_a_data_event_becomes_a_compact_payload() -> None:
    event = parsed(data_event())
    assert event.payload() == {
        "event_code": "ICA_DATA_108",
        "kind": "data",
        "id": "fil.1",
        "project_id": PROJECT,
        "status": "AVAILABLE",
        "time_modified": "2026-01-01T00:00:05+00:00",
        "timestamp": "2026-01-01T00:00:06+00:00",
        "path": "/runs/r1/fastq/S1_R1.fastq.gz",
        "name": "S1_R1.fastq.gz",
        "format": "FASTQ",
        "user_reference": None,
        "pipeline_code": None,
        "tags": ["run=r1", "sample=S1"],  # technical tags first, each once
        "correlation_id": "c-1",
        "files": [],  # a group's files (core/file_groups.py)
    }
    assert event.key == ("fil.1", "ICA_DATA_108", "2026-01-01T00:00:05+00:00")


def test_a_parent_path_as_the_spec_describes_it_is_joined_with_the_name() -> None:
    event = parsed(data_event(path="/runs/r1/fastq/", name="S1_R1.fastq.gz"))
    assert event.path == "/runs/r1/fastq/S1_R1.fastq.gz"
    folder = parsed(data_event(path="/runs/r1/", dataType="FOLDER", name="r1"))
    assert folder.path == "/runs/r1/"


def test_an_analysis_event_keeps_the_reference_and_pipeline_but_not_the_whole_object() -> None:
    event = parsed(analysis_event())
    payload = event.payload()
    assert (payload["user_reference"], payload["pipeline_code"], payload["status"]) == (
        "S1-germline", "dragen-germline-nf", "SUCCEEDED"
    )
    assert len(json.dumps(payload)) < 1000  # the 10 KB pipeline description stays behind
    assert parsed(analysis_event("ICA_EXEC_028", "INPROGRESS", "v3")).status == "IN_PROGRESS"


def test_the_payload_bounds_the_tags_the_filters_see_them_all() -> None:
    event = parsed(data_event(tags={"userTags": [f"t{i}" for i in range(100)] + ["x" * 1000]}))
    assert len(event.payload()["tags"]) == MAX_TAGS
    assert "t99" in event.tags and "x" * 1000 not in event.tags  # a tag longer than ICA allows is skipped
    assert EventFilter.build(["ICA_DATA_108"], tags=["t99"]).matches(event)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (json.dumps({"eventCode": "ICA_BASE_001", "payload": {}}), FOREIGN),
        (json.dumps({**data_event(), "payload": {"data": {"id": "fil.1"}}}), MALFORMED),
        (json.dumps(data_event(timeModified="yesterday")), MALFORMED),
        (json.dumps(data_event(path="/" + "p/" * 3000)), MALFORMED),
        ("[]", MALFORMED),
    ],
)
def test_what_is_no_readable_event_is_rejected_with_a_bounded_reason(body: str, kind: str) -> None:
    result = parse_event(body)
    assert isinstance(result, Rejected) and result.kind == kind
    assert len(result.reason) <= 200


def test_the_filter_checks_each_field_and_names_it() -> None:
    cases = {
        "event_codes": dict(event_codes=["ICA_DATA_999"]),
        "statuses": dict(event_codes=["ICA_EXEC_002"], statuses=["DONE"]),
        "path_glob": dict(event_codes=["ICA_DATA_108"], path_glob="/runs/[a-"),
        "pipeline_codes": dict(event_codes=["ICA_DATA_108"], pipeline_codes=["x"]),
        "data_formats": dict(event_codes=["ICA_EXEC_002"], data_formats=["FASTQ"]),
        "tags": dict(event_codes=["ICA_DATA_108"], tags=[""]),
        "project_id": dict(event_codes=["ICA_DATA_108"], project_id=""),
    }
    for field, arguments in cases.items():
        with pytest.raises(ValueError, match=f"^{field}:"):
            EventFilter.build(**arguments)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^event_codes:"):
        EventFilter.build([])
    # V3 spellings are accepted and kept in V4 spelling.
    assert EventFilter.build(["ICA_EXEC_028"], statuses=["inprogress"]).statuses == ("IN_PROGRESS",)


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("/runs/*/fastq/*.fastq.gz", "/runs/r1/fastq/S1_R1.fastq.gz", True),
        ("/runs/*/fastq/*.fastq.gz", "/runs/r1/extra/fastq/S1_R1.fastq.gz", False),
        ("/runs/**/*.fastq.gz", "/runs/r1/a/b/S1.fastq.gz", True),
        ("/runs/**/S1.fastq.gz", "/runs/S1.fastq.gz", True),
        ("/runs/S?_R[12].fastq.gz", "/runs/S1_R2.fastq.gz", True),
        ("/runs/S?_R[!12].fastq.gz", "/runs/S1_R2.fastq.gz", False),
        ("/runs/(a)+.txt", "/runs/(a)+.txt", True),  # regular expression characters are literal
    ],
)
def test_path_globs(glob: str, path: str, matches: bool) -> None:
    assert bool(compile_glob(glob).fullmatch(path)) is matches


@pytest.mark.parametrize("glob", ["runs/*", "/runs/[abc", "/runs/]", "/runs/***/x", "/runs/[]", ""])
def test_malformed_globs_are_refused(glob: str) -> None:
    with pytest.raises(ValueError, match=r"^path_glob:"):
        compile_glob(glob)


def test_an_event_passes_the_filters_that_apply_to_it() -> None:
    uploads = EventFilter.build(
        ["ICA_DATA_108", "ICA_EXEC_002"], project_id=PROJECT, path_glob="/runs/*/fastq/*.fastq.gz",
        data_formats=["fastq"], tags=["sample=S1"], pipeline_codes=["dragen-germline-nf"],
    )
    assert uploads.matches(parsed(data_event()))
    assert not uploads.matches(parsed(data_event(path="/runs/r1/bam/S1.bam")))
    assert not uploads.matches(parsed(data_event(fmt="BAM")))
    assert not uploads.matches(parsed(data_event(tags={})))
    assert not uploads.matches(parsed(data_event(code="ICA_DATA_107")))
    assert not uploads.matches(parsed({**data_event(), "projectId": "other"}))
    succeeded = parsed({**analysis_event(), "payload": {**analysis_event()["payload"], "tags": {"userTags": ["sample=S1"]}}})
    assert uploads.matches(succeeded)  # path and format concern data events only
    assert not EventFilter.build(["ICA_EXEC_002"], pipeline_codes=["other"]).matches(succeeded)
    assert not EventFilter.build(["ICA_EXEC_028"], statuses=["FAILED"]).matches(parsed(analysis_event("ICA_EXEC_028")))


def test_recent_keys_forget_the_oldest_first() -> None:
    keys = RecentKeys(2)
    for key in (("a",), ("b",), ("a",), ("c",)):
        keys.add(key)
    assert ("a",) in keys and ("c",) in keys and ("b",) not in keys and len(keys) == 2
