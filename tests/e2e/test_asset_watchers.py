"""The asset watchers' example as parsed by Airflow, against the fake ICA and a real SQS server (moto).

Each watcher reads its own queue. Files uploaded into the fake ICA (every message delivered
twice) reach the upload asset's watcher, which hands on each sample once both its reads came
(a sample still missing one stays on the queue, and a new run of the watcher still has it);
the launch DAG's ``batch_items`` makes one item per sample; the batch they make runs in the fake; its analyses' success reaches the second DAG's watcher, once each. The
scheduler's part (an asset event starting a DAG run) is Airflow's own and runs in ``make e2e``'s
deployment only. No test sleeps: the fake's clock is manual and the triggers' runs are awaited.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

pytest.importorskip(
    "airflow.providers.amazon", reason="apache-airflow-providers-amazon is not installed (the 'events' extra)"
)
from ica_airflow_provider import _compat

if not _compat.HAS_ASSET_WATCHERS:
    pytest.skip("asset watchers need Airflow 3.0 or later", allow_module_level=True)

from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.hooks.sqs_queue import AwsSqsQueue
from ica_airflow_provider.testing import ManualClock
from ica_airflow_provider.testing.sqs_server import MotoSqsServer
from ica_airflow_provider.triggers.watcher import IcaNotificationTrigger
from ica_airflow_provider.watchers import watched_event_codes
from tests.recording_queue import RecordingQueue

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
PROJECT_ID = "3c1f0d2e-6a4b-4c8d-9e0f-1a2b3c4d5e6f"
AWS_CONN_ID = "aws_ica_events"
TIMINGS = {"batch_start_seconds": 1, "item_creation_seconds": 1, "analysis_step_seconds": 1}
PATIENCE = 60.0


class AssetEvent:
    """An asset event as a task sees it in ``triggering_asset_events``."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.extra = {"from_trigger": True, "payload": payload}


def watcher_of(dag: Any) -> Any:
    (asset,) = dag.timetable.asset_condition.objects
    (watcher,) = asset.watchers
    return asset, watcher.trigger


async def take(trigger: Any, count: int, messages: int, queues: list[RecordingQueue]) -> list[dict[str, Any]]:
    """The events of a trigger's run, once it yielded ``count`` and deleted ``messages`` messages."""
    payloads: list[dict[str, Any]] = []
    made = len(queues)

    async def collect() -> None:
        async for event in trigger.run():
            payloads.append(event.payload)

    task = asyncio.ensure_future(collect())
    while len(queues) == made:
        await asyncio.sleep(0)  # the run's task has not made its queue yet: let it
    queue = queues[-1]
    while len(payloads) < count or queue.deleted < messages:
        await asyncio.wait_for(queue.changed.wait(), PATIENCE)
        queue.changed.clear()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return payloads


def test_uploads_start_the_launch_dag_and_its_successes_the_second_one(
    ica_fake_server_factory: Callable[..., Any], ica_upload: Callable[..., Any],
    moto_sqs_server: MotoSqsServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqs = boto3.client("sqs", **moto_sqs_server.client_kwargs())
    run = uuid.uuid4().hex[:8]
    uploads_queue, analyses_queue = (
        # A short visibility timeout: held and duplicated messages come back within the test.
        sqs.create_queue(QueueName=f"ica-{name}-{run}", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
        for name in ("uploads", "analyses")
    )
    monkeypatch.setenv(f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}", moto_sqs_server.airflow_connection())
    for name, value in (("UPLOADS_QUEUE_URL", uploads_queue), ("ANALYSES_QUEUE_URL", analyses_queue),
                        ("PROJECT_ID", PROJECT_ID), ("AWS_CONN_ID", AWS_CONN_ID)):
        monkeypatch.setenv(f"ICA_EVENTS_{name}", value)
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, notify_duplicate_rate=1.0, **TIMINGS)
    conn = {"conn_type": "ica", "host": server.url, "password": server.config.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_ICA_DEFAULT", json.dumps(conn))
    queues: list[RecordingQueue] = []
    monkeypatch.setattr(IcaNotificationTrigger, "make_queue", lambda url, conn: queues.append(RecordingQueue(AwsSqsQueue(url, conn))) or queues[-1])

    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES / "example_ica_asset_watchers.py"))
    assert bag.import_errors == {}
    launch, report = bag.dags["example_ica_launch_on_upload"], bag.dags["example_ica_on_analysis_succeeded"]
    uploads_asset, uploads = watcher_of(launch)
    succeeded_asset, succeeded = watcher_of(report)
    # One queue per watcher; the setup subscribes each queue to what its parsed asset's watcher reads.
    assert (uploads.sqs_queue, succeeded.sqs_queue) == (uploads_queue, analyses_queue)
    for asset, queue, codes in ((uploads_asset, uploads_queue, ["ICA_DATA_108"]),
                                (succeeded_asset, analyses_queue, ["ICA_EXEC_002"])):
        assert watched_event_codes(asset) == codes
        IcaHook().ensure_notifications(PROJECT_ID, queue, codes)

    paths = ["/runs/r7/fastq/S1_R1.fastq.gz", "/runs/r7/fastq/S1_R2.fastq.gz", "/runs/r7/fastq/S2_R1.fastq.gz",
             "/runs/r7/bam/S1.bam"]
    uploaded = {path: ica_upload(server, PROJECT_ID, path).id for path in paths}
    # Every message twice (the fake's duplicate knob): S1 is one event; the BAM none; S2 waits for its R2.
    (s1,) = asyncio.run(take(uploads, 1, 2 * 3, queues))
    assert (s1["kind"], s1["name"], [f["path"] for f in s1["files"]]) == ("data_group", "S1", paths[:2])
    assert uploads.counts["held"] >= 1
    # S2's R2, while no watcher runs: the watcher made again (as a restarted triggerer does, from
    # its serialized arguments) gets S2's R1 back from the queue.
    late = "/runs/r7/fastq/S2_R2.fastq.gz"
    uploaded[late] = ica_upload(server, PROJECT_ID, late).id
    restarted = type(uploads)(**uploads.serialize()[1])
    (s2,) = asyncio.run(take(restarted, 1, 2 * 2, queues))
    assert (s2["name"], [f["path"] for f in s2["files"]]) == ("S2", [paths[2], late])

    params = {"pipeline_id": "bb47d612-5906-4d5a-922e-541262c966df", "parameter_code": "fastq_folder"}
    events = {uploads_asset.name: [AssetEvent(s1), AssetEvent(s2)]}  # Airflow 3.0's Asset is unhashable
    items = launch.get_task("batch_items").python_callable(params=params, triggering_asset_events=events)
    assert [(i["userReference"], i["analysisInput"]["inputs"][0]["dataIds"]) for i in items] == [
        ("S1-germline", [uploaded[paths[0]], uploaded[paths[1]]]),
        ("S2-germline", [uploaded[paths[2]], uploaded[late]]),
    ]

    IcaHook().create_analysis_creation_batch(PROJECT_ID, {"nextflowItems": items}, "watchers-e2e")
    for _ in range(30):  # every analysis ends well within 30 s of the fake's clock
        clock.advance(1)
        assert server.backend.emitter.flush()
    done = asyncio.run(take(succeeded, 2, 2 * 2, queues))
    assert sorted((p["user_reference"], p["status"]) for p in done) == [
        ("S1-germline", "SUCCEEDED"), ("S2-germline", "SUCCEEDED")
    ]
    reported = report.get_task("succeeded_analyses").python_callable(
        triggering_asset_events={succeeded_asset.name: [AssetEvent(p) for p in done]}
    )
    assert sorted(r["user_reference"] for r in reported) == ["S1-germline", "S2-germline"]
