"""The asset watcher's trigger as a DAG file builds it: checked filters, no network, a serialization that round-trips."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from ica_airflow_provider import _compat
from ica_airflow_provider.watchers import FASTQ_NAME, event_payloads, fastq_batch_items, watched_event_codes

QUEUE = "https://sqs.eu-central-1.amazonaws.com/123456789012/ica-events"
PROJECT = "7595e8f2-32d3-4c76-a324-c6a85dae87b5"

airflow3 = pytest.mark.skipif(not _compat.HAS_ASSET_WATCHERS, reason="asset watchers need Airflow 3.0 or later")


@pytest.mark.skipif(_compat.HAS_ASSET_WATCHERS, reason="Airflow 2 only: the module refuses to load there")
def test_on_airflow_2_the_trigger_module_says_it_needs_airflow_3() -> None:
    with pytest.raises(ImportError, match=r"needs Airflow 3\.0 or later"):
        importlib.import_module("ica_airflow_provider.triggers.watcher")
    from ica_airflow_provider.watchers import ica_uploads_asset

    with pytest.raises(ImportError, match=r"needs Airflow 3\.0 or later"):
        ica_uploads_asset("x", sqs_queue=QUEUE, project_id=PROJECT, path_glob="/x/*")


@airflow3
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"event_codes": ["ICA_DATA_108", "ICA_NOPE"]}, "event_codes"),
        ({"event_codes": ["ICA_DATA_108"], "path_glob": "/runs/[fastq"}, "path_glob"),
        ({"event_codes": ["ICA_EXEC_002"], "statuses": ["FINISHED"]}, "statuses"),
        ({"event_codes": ["ICA_DATA_108"], "sqs_queue": "ica-events"}, "sqs_queue"),
        ({"event_codes": ["ICA_DATA_108"], "wait_time_seconds": 21}, "wait_time_seconds"),
        ({"event_codes": ["ICA_DATA_108"], "wait_time_seconds": 0}, "wait_time_seconds"),
        ({"event_codes": ["ICA_DATA_108"], "recent_keys": 0}, "recent_keys"),
    ],
)
def test_a_bad_filter_fails_the_parse_naming_the_field(arguments: dict[str, Any], field: str) -> None:
    from ica_airflow_provider.triggers.watcher import IcaNotificationTrigger

    with pytest.raises(ValueError, match=f"^{field}:"):
        IcaNotificationTrigger(**{"sqs_queue": QUEUE, **arguments})


@airflow3
def test_construction_makes_no_queue_and_serialization_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    from ica_airflow_provider.triggers.watcher import IcaNotificationTrigger

    def no_queue(*args: object) -> Any:
        raise AssertionError("no queue (no network) while the DAG is parsed")

    monkeypatch.setattr(IcaNotificationTrigger, "make_queue", no_queue)
    trigger = IcaNotificationTrigger(
        sqs_queue=QUEUE, event_codes=["ICA_EXEC_002"], aws_conn_id="aws_ica", project_id=PROJECT,
        statuses=["succeeded"], pipeline_codes=["dragen-germline-nf"], tags=["sample=S1"],
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "ica_airflow_provider.triggers.watcher.IcaNotificationTrigger"
    again = IcaNotificationTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert kwargs["statuses"] == ["SUCCEEDED"]
    # Airflow identifies a watcher's trigger by classpath and kwargs: the same DAG file gives the same trigger.
    assert type(trigger).hash(classpath, kwargs) == type(again).hash(*again.serialize())


@airflow3
def test_the_asset_helpers_declare_a_watched_asset_in_one_line() -> None:
    from ica_airflow_provider.watchers import ica_analyses_succeeded_asset, ica_uploads_asset

    uploads = ica_uploads_asset("fastq", sqs_queue=QUEUE, project_id=PROJECT, path_glob="/runs/*/fastq/*.fastq.gz")
    (watcher,) = uploads.watchers
    assert uploads.name == "fastq"
    assert watcher.trigger.serialize()[1]["event_codes"] == ["ICA_DATA_108"]
    succeeded = ica_analyses_succeeded_asset("done", sqs_queue=QUEUE, project_id=PROJECT, pipeline_codes=["p"])
    assert succeeded.watchers[0].trigger.serialize()[1]["pipeline_codes"] == ["p"]
    with pytest.raises(ValueError, match=r"^path_glob:"):
        ica_uploads_asset("bad", sqs_queue=QUEUE, project_id=PROJECT, path_glob="runs/*")
    # One event per sample's pair: the grouping goes into the trigger's kwargs (and so survives serialization).
    pairs = ica_uploads_asset("pairs", sqs_queue=QUEUE, project_id=PROJECT, path_glob="/runs/*", files_per_sample=2)
    kwargs = pairs.watchers[0].trigger.serialize()[1]
    assert (kwargs["group_pattern"], kwargs["group_size"]) == (FASTQ_NAME, 2)
    assert type(pairs.watchers[0].trigger)(**kwargs).serialize()[1] == kwargs
    with pytest.raises(ValueError, match=r"^group_size:"):
        ica_uploads_asset("bad", sqs_queue=QUEUE, project_id=PROJECT, path_glob="/runs/*", files_per_sample=1)
    # What the setup call must subscribe, from the assets themselves.
    assert watched_event_codes(uploads, succeeded, uploads) == ["ICA_DATA_108", "ICA_EXEC_002"]


def payload(name: str, data_id: str, t: str, code: str = "ICA_DATA_108") -> dict[str, Any]:
    return {"event_code": code, "kind": "data", "id": data_id, "name": name, "path": f"/runs/r1/{name}",
            "time_modified": t, "timestamp": t}


class AssetEvent:
    """What Airflow 3 hands a task in ``triggering_asset_events``: events with an ``extra``."""

    def __init__(self, extra: dict[str, Any]) -> None:
        self.extra = extra


def test_fastq_batch_items_group_the_uploaded_files_by_sample() -> None:
    events = {
        "fastq": [
            AssetEvent({"from_trigger": True, "payload": payload("S2_S2_L001_R2_001.fastq.gz", "fil.4", "t4")}),
            AssetEvent({"from_trigger": True, "payload": payload("S1_R1.fastq.gz", "fil.1", "t1")}),
            AssetEvent({"from_trigger": True, "payload": payload("S1_R2.fastq.gz", "fil.2", "t2")}),
            AssetEvent({"from_trigger": True, "payload": payload("S1_R2.fastq.gz", "fil.2", "t2")}),  # twice
            AssetEvent({"from_trigger": True, "payload": payload("S2_S2_L001_R1_001.fastq.gz", "fil.3", "t3")}),
            AssetEvent({"from_trigger": True, "payload": payload("notes.txt", "fil.5", "t5")}),
            AssetEvent({"source": "another DAG"}),
        ]
    }
    assert len(event_payloads(events)) == 5
    items = fastq_batch_items(events, pipeline_id="p-1", parameter_code="reads", reference_suffix="-germline")
    assert items == [
        {"userReference": "S1-germline", "pipelineId": "p-1",
         "analysisInput": {"inputs": [{"parameterCode": "reads", "dataIds": ["fil.1", "fil.2"]}]}},
        {"userReference": "S2-germline", "pipelineId": "p-1",
         "analysisInput": {"inputs": [{"parameterCode": "reads", "dataIds": ["fil.3", "fil.4"]}]}},
    ]
    assert fastq_batch_items(None, pipeline_id="p-1") == []
    # A group's event (files_per_sample) stands for its files.
    group = {**payload("S3", "/runs/r1/S3", "t6"), "kind": "data_group",
             "files": [payload("S3_R1.fastq.gz", "fil.6", "t6"), payload("S3_R2.fastq.gz", "fil.7", "t6")]}
    assert [p["id"] for p in event_payloads([AssetEvent({"payload": group})])] == ["fil.6", "fil.7"]
    # The same sample in two runs: two items, never one with the reads of both.
    other_run = {**payload("S1_R1.fastq.gz", "fil.9", "t9"), "path": "/runs/r.2/fastq/S1_R1.fastq.gz"}
    items = fastq_batch_items([*events["fastq"], AssetEvent({"payload": other_run})], pipeline_id="p-1")
    assert [(i["userReference"], i["analysisInput"]["inputs"][0]["dataIds"]) for i in items] == [
        ("S1-r_2", ["fil.9"]), ("S1-r1", ["fil.1", "fil.2"]), ("S2", ["fil.3", "fil.4"]),
    ]
    with pytest.raises(ValueError, match=r"^name_pattern:"):
        fastq_batch_items(events, pipeline_id="p-1", name_pattern=r"(.+)\.fastq\.gz")
