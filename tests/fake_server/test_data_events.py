"""The fake ICA's data events (a file uploaded or linked), received from a real SQS server (moto) with boto3.

Time is a ManualClock; ``emitter.flush()`` returns once every due message went to SQS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ica_airflow_provider.core.ica_events import IcaEvent, parse_event
from ica_airflow_provider.testing import ManualClock, pytest_plugin
from ica_airflow_provider.testing.render import stable_uuid

from .helpers import PIPELINE_ID, PROJECT_ID, IcaClient
from .spec import assert_schema
from .test_notifications import TIMINGS, drain, new_queue, run_to_end, sqs, subscribe

ica_upload = pytest_plugin.ica_upload
__all__ = ["sqs"]  # the fixture, imported for pytest

DATA_CODES = ("ICA_DATA_107", "ICA_DATA_108", "ICA_DATA_100", "ICA_DATA_104")
PATH = "/runs/run-1/fastq/S1_R1.fastq.gz"


def upload(client: IcaClient, path: str = PATH, project_id: str = PROJECT_ID, **body: Any) -> Any:
    return client.session.post(f"{client.server.root_url}/_fake/projects/{project_id}/data:upload", json={"path": path, **body})


def test_an_upload_is_a_usable_file_announced_in_ica_shape(
    client_factory: Callable[..., IcaClient], sqs: Any, sqs_queue_url: str, ica_full_spec: dict[str, Any]
) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS)
    subscribe(client, sqs_queue_url, DATA_CODES)
    answer = upload(client, sizeInBytes=2048, userTags=["sample=S1"], technicalTags=["run=run-1"])
    assert answer.status_code == 201, answer.text
    assert_schema(ica_full_spec, "ProjectData", answer.json())
    data_id = answer.json()["data"]["id"]
    assert client.server.backend.emitter.flush()
    bodies = drain(sqs, sqs_queue_url)
    assert [body["eventCode"] for body in bodies] == ["ICA_DATA_107", "ICA_DATA_108", "ICA_DATA_100"]
    events = [parse_event(json.dumps(body)) for body in bodies]
    for body, event in zip(bodies, events, strict=True):
        assert_schema(ica_full_spec, "ProjectData", body["payload"])
        assert body["projectId"] == PROJECT_ID and body["payloadVersion"] == "v4"
        assert isinstance(event, IcaEvent)
        assert (event.id, event.path, event.name, event.data_format) == (data_id, PATH, "S1_R1.fastq.gz", "FASTQ")
        assert set(event.tags) == {"sample=S1", "run=run-1"}
    assert [event.status for event in events] == ["PARTIAL", "AVAILABLE", "AVAILABLE"]  # type: ignore[union-attr]
    assert events[0].key != events[1].key  # type: ignore[union-attr]
    assert bodies[1]["payload"]["data"]["details"]["fileSizeInBytes"] == 2048
    assert client.server.backend.emitter.stats()["data_events"] == 3

    # The uploaded file is data of the project: a batch naming it creates its analysis.
    item = {
        "userReference": "S1",
        "pipelineId": PIPELINE_ID,
        "analysisInput": {"inputs": [{"parameterCode": "fastq_folder", "dataIds": [data_id]}]},
    }
    batch = client.create_batch({"nextflowItems": [item]}).json()
    run_to_end(client.server, clock)
    (created,) = client.all_items(batch["id"], 10)
    assert created["processing"]["status"] == "SUCCEEDED", created
    # ...but not of another project.
    other = client.server.backend.catalogue.visible_data("project-2", data_id)
    assert other is None


def test_a_link_announces_104_and_makes_the_data_visible_there(
    client_factory: Callable[..., IcaClient], sqs: Any, sqs_queue_url: str, ica_full_spec: dict[str, Any]
) -> None:
    client = client_factory(clock=ManualClock())
    subscribe(client, sqs_queue_url, ("ICA_DATA_104",), project_id="project-2")
    data_id = upload(client).json()["data"]["id"]
    url = f"{client.server.root_url}/_fake/projects/project-2/data:link"
    answer = client.session.post(url, json={"dataId": data_id})
    assert answer.status_code == 201, answer.text
    assert answer.json()["projectId"] == stable_uuid("project-2")
    assert answer.json()["data"]["details"]["owningProjectId"] == stable_uuid(PROJECT_ID)
    assert client.server.backend.catalogue.visible_data("project-2", data_id) is not None
    assert client.server.backend.emitter.flush()
    (body,) = drain(sqs, sqs_queue_url)  # project-1's upload events went to no queue
    assert body["eventCode"] == "ICA_DATA_104" and body["projectId"] == "project-2"
    assert_schema(ica_full_spec, "ProjectData", body["payload"])
    assert client.session.post(url, json={"dataId": "fil." + "0" * 32}).status_code == 404


def test_uploads_pass_through_the_same_fault_knobs(client_factory: Callable[..., IcaClient], sqs: Any) -> None:
    dropped_queue, doubled_queue = new_queue(sqs, "dropped"), new_queue(sqs, "doubled")
    dropping = client_factory(clock=ManualClock(), notify_drop_rate=1.0)
    subscribe(dropping, dropped_queue, ("ICA_DATA_108",))
    doubling = client_factory(clock=ManualClock(), notify_duplicate_rate=1.0, notify_v3_rate=1.0)
    subscribe(doubling, doubled_queue, ("ICA_DATA_108",))
    for client in (dropping, doubling):
        assert upload(client).status_code == 201
        assert client.server.backend.emitter.flush()
    assert drain(sqs, dropped_queue) == []
    assert dropping.server.backend.emitter.stats()["dropped"] == 1
    doubled = drain(sqs, doubled_queue)
    assert len(doubled) == 2 and doubled[0] == doubled[1]
    assert doubled[0]["payloadVersion"] == "v3"


def test_without_a_subscription_an_upload_sends_nothing(client_factory: Callable[..., IcaClient]) -> None:
    client = client_factory()
    assert upload(client).status_code == 201
    emitter = client.server.backend.emitter
    assert not emitter.running and emitter.stats()["messages"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [({"path": "relative.fastq.gz"}, "path"), ({"path": "/runs/"}, "path"), ({"sizeInBytes": -1}, "sizeInBytes"),
     ({"userTags": [""]}, "userTags")],
)
def test_a_bad_upload_is_refused_naming_the_field(
    client: IcaClient, body: dict[str, Any], field: str
) -> None:
    answer = client.session.post(
        f"{client.server.root_url}/_fake/projects/{PROJECT_ID}/data:upload", json={"path": PATH, **body}
    )
    assert answer.status_code == 400 and field in answer.json()["parameters"], answer.text


def test_an_analysis_end_is_announced_by_its_outcome_code_too(
    client_factory: Callable[..., IcaClient], sqs: Any, sqs_queue_url: str
) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS)
    subscribe(client, sqs_queue_url, ("ICA_EXEC_002", "ICA_EXEC_001"))
    body = {"nextflowItems": [client_item("ok"), client_item("bad-fail-analysis")]}
    client.create_batch(body)
    run_to_end(client.server, clock)
    events = [parse_event(json.dumps(message)) for message in drain(sqs, sqs_queue_url)]
    outcomes = sorted((e.event_code, e.user_reference, e.status) for e in events if isinstance(e, IcaEvent))
    assert outcomes == [("ICA_EXEC_001", "bad-fail-analysis", "FAILED"), ("ICA_EXEC_002", "ok", "SUCCEEDED")]
    assert all(isinstance(e, IcaEvent) and e.pipeline_code == "dragen-germline-nf" for e in events)


def test_the_pytest_helper_uploads_and_flushes(
    ica_fake_server_factory: Callable[..., Any], ica_upload: Callable[..., Any], sqs: Any, sqs_queue_url: str
) -> None:
    server = ica_fake_server_factory(clock=ManualClock())
    subscribe(IcaClient(server), sqs_queue_url, ("ICA_DATA_108",))
    data = ica_upload(server, PROJECT_ID, PATH, user_tags=["sample=S1"])
    assert server.backend.catalogue.visible_data(PROJECT_ID, data.id) is data
    (body,) = drain(sqs, sqs_queue_url)
    assert body["payload"]["data"]["id"] == data.id


def client_item(reference: str) -> dict[str, Any]:
    from ica_airflow_provider.testing.seed import nextflow_item

    return nextflow_item(reference)



