"""The asset watcher's trigger against a real SQS (moto's server, its own process) through an Airflow AWS connection.

The fake ICA publishes the data events; no test sleeps: each waits on a latch the recording
queue sets when the trigger receives or deletes, or on the next event of the trigger.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
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
from ica_airflow_provider.hooks.sqs_consumer import Consumer
from ica_airflow_provider.hooks.sqs_queue import AwsSqsQueue
from ica_airflow_provider.testing import ManualClock
from ica_airflow_provider.testing.sqs_server import MotoSqsServer
from ica_airflow_provider.triggers import watcher
from ica_airflow_provider.triggers.watcher import IcaNotificationTrigger
from tests.recording_queue import RecordingQueue

AWS_CONN_ID = "sqs_events"
PROJECT_ID = "7595e8f2-32d3-4c76-a324-c6a85dae87b5"
GLOB = "/runs/*/fastq/*.fastq.gz"
PATIENCE = 60.0  # a hang guard only


@pytest.fixture(autouse=True)
def aws_connection(moto_sqs_server: MotoSqsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}", moto_sqs_server.airflow_connection())


@pytest.fixture(autouse=True)
def saved_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A yielded event's message is deleted on the trigger's next turn (the delay has a test of its own)."""
    monkeypatch.setattr(watcher, "SAVED_AFTER_SECONDS", 0.0)


@pytest.fixture
def sqs(moto_sqs_server: MotoSqsServer) -> Any:
    return boto3.client("sqs", **moto_sqs_server.client_kwargs())


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> list[RecordingQueue]:
    """The recording queue of each trigger run in the test, in order."""
    made: list[RecordingQueue] = []

    def make(url: str, conn: str | None) -> RecordingQueue:
        made.append(RecordingQueue(AwsSqsQueue(url, conn)))
        return made[-1]

    monkeypatch.setattr(IcaNotificationTrigger, "make_queue", make)
    return made


def trigger(queue_url: str, **filters: Any) -> IcaNotificationTrigger:
    filters.setdefault("event_codes", ["ICA_DATA_108"])
    return IcaNotificationTrigger(sqs_queue=queue_url, aws_conn_id=AWS_CONN_ID, wait_time_seconds=1, **filters)


async def until_true(condition: Callable[[], bool], event: asyncio.Event) -> None:
    while not condition():
        await asyncio.wait_for(event.wait(), PATIENCE)
        event.clear()


async def until_received(queues: list[RecordingQueue], index: int, receives: int = 1) -> None:
    """Until the ``index``-th trigger run made its queue and received ``receives`` times."""
    while len(queues) <= index:
        await asyncio.sleep(0)  # the run's task has not started yet: let it
    await until_true(lambda: queues[index].receives >= receives, queues[index].changed)


class Collector:
    """Runs a trigger as the triggerer does (asks for the next event at once) and keeps its payloads."""

    def __init__(self, run: AsyncIterator[Any]) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._collect(run))

    async def _collect(self, run: AsyncIterator[Any]) -> None:
        async for event in run:
            self.payloads.append(event.payload)
            self.arrived.set()

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


def queue_counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def data_event(data_id: str, path: str, modified: str = "2026-01-01T00:00:05Z", code: str = "ICA_DATA_108") -> str:
    name = path.rsplit("/", 1)[-1]
    details = {"name": name, "path": path, "status": "AVAILABLE", "dataType": "FILE", "timeModified": modified,
               "format": {"code": "FASTQ"}}
    return json.dumps({"timestamp": "2026-01-01T00:00:06Z", "eventCode": code, "projectId": PROJECT_ID,
                       "payload": {"projectId": PROJECT_ID, "data": {"id": data_id, "details": details}}})


def test_uploads_into_the_fake_ica_start_one_event_each_for_the_matching_files(
    ica_fake_server_factory: Callable[..., Any], ica_upload: Callable[..., Any], connect: Callable[..., None],
    sqs: Any, sqs_queue_url: str, queues: list[RecordingQueue],
) -> None:
    server = ica_fake_server_factory(clock=ManualClock())
    connect(server)
    IcaHook().ensure_notifications(PROJECT_ID, sqs_queue_url, ["ICA_DATA_107", "ICA_DATA_108"])
    uploaded = [
        ica_upload(server, PROJECT_ID, path).id
        for path in ("/runs/r1/fastq/S1_R1.fastq.gz", "/runs/r1/fastq/S1_R2.fastq.gz", "/runs/r1/bam/S1.bam",
                     "/elsewhere/S9_R1.fastq.gz")
    ]

    async def scenario() -> None:
        watching = trigger(sqs_queue_url, project_id=PROJECT_ID, path_glob=GLOB, data_formats=["FASTQ"])
        collector = Collector(watching.run())
        await until_received(queues, 0)
        await until_true(lambda: len(collector.payloads) == 2 and queues[0].deleted == 4, queues[0].changed)
        await collector.stop()
        assert sorted(p["id"] for p in collector.payloads) == sorted(uploaded[:2])
        assert {p["path"] for p in collector.payloads} == {"/runs/r1/fastq/S1_R1.fastq.gz", "/runs/r1/fastq/S1_R2.fastq.gz"}
        assert all(p["event_code"] == "ICA_DATA_108" and p["status"] == "AVAILABLE" for p in collector.payloads)
        assert watching.counts["filtered"] == 2
        # The ICA_DATA_107 messages are no code of this watcher: left for their reader.
        assert watching.counts["left"] >= 1

    run(scenario)
    assert queue_counts(sqs, sqs_queue_url)[0] + queue_counts(sqs, sqs_queue_url)[1] == 4  # the four 107s


def test_a_message_is_deleted_only_after_its_event_was_taken(
    sqs: Any, sqs_queue_url: str, queues: list[RecordingQueue]
) -> None:
    async def scenario() -> None:
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=data_event("fil.1", "/runs/r1/fastq/S1_R1.fastq.gz"))
        events = trigger(sqs_queue_url, path_glob=GLOB).run()
        first = await asyncio.wait_for(events.__anext__(), PATIENCE)
        assert first.payload["id"] == "fil.1"
        assert queues[0].deleted == 0 and queue_counts(sqs, sqs_queue_url) == (0, 1)  # in flight, not deleted
        following = asyncio.ensure_future(events.__anext__())  # the triggerer asks for the next event
        await until_true(lambda: queues[0].deleted == 1, queues[0].changed)
        following.cancel()
        with pytest.raises(asyncio.CancelledError):
            await following

    run(scenario)
    assert queue_counts(sqs, sqs_queue_url) == (0, 0)


def test_a_message_is_deleted_once_the_triggerer_has_saved_its_event(
    sqs: Any, sqs_queue_url: str, queues: list[RecordingQueue], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher, "SAVED_AFTER_SECONDS", 2.0)
    clock = ManualClock()
    monkeypatch.setattr(IcaNotificationTrigger, "clock", clock)

    async def scenario() -> None:
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=data_event("fil.1", "/runs/r1/fastq/S1_R1.fastq.gz"))
        collector = Collector(trigger(sqs_queue_url, path_glob=GLOB).run())
        await until_true(lambda: len(collector.payloads) == 1, collector.arrived)
        received = queues[0].receives
        await until_true(lambda: queues[0].receives >= received + 2, queues[0].changed)
        assert queues[0].deleted == 0  # two more receives, but no time has passed on the trigger's clock
        clock.advance(2.0)
        await until_true(lambda: queues[0].deleted == 1, queues[0].changed)
        await collector.stop()

    run(scenario)
    assert queue_counts(sqs, sqs_queue_url) == (0, 0)


def test_grouped_files_are_one_event_per_sample_the_incomplete_group_held_on_the_queue(
    sqs: Any, queues: list[RecordingQueue]
) -> None:
    # A short visibility timeout: a held message comes back a second later, and is held again.
    queue_url = sqs.create_queue(QueueName=f"group-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    from ica_airflow_provider.watchers import FASTQ_NAME

    async def scenario() -> None:
        for data_id, name in (("fil.1", "S1_R1"), ("fil.2", "S1_R2"), ("fil.3", "S2_R1")):
            sqs.send_message(QueueUrl=queue_url, MessageBody=data_event(data_id, f"/runs/r1/fastq/{name}.fastq.gz"))
        watching = trigger(queue_url, path_glob=GLOB, group_pattern=FASTQ_NAME, group_size=2)
        collector = Collector(watching.run())
        await until_true(lambda: len(collector.payloads) == 1, collector.arrived)
        await until_true(lambda: queues[0].deleted == 2, queues[0].changed)
        (s1,) = collector.payloads
        assert (s1["kind"], s1["name"], [f["id"] for f in s1["files"]]) == ("data_group", "S1", ["fil.1", "fil.2"])
        # S2's R1 stays on the queue, received again and held again, until its R2 comes.
        await until_true(lambda: watching.counts["held"] >= 2, queues[0].changed)
        assert len(collector.payloads) == 1
        sqs.send_message(QueueUrl=queue_url, MessageBody=data_event("fil.4", "/runs/r1/fastq/S2_R2.fastq.gz"))
        sqs.send_message(QueueUrl=queue_url, MessageBody=data_event("fil.1", "/runs/r1/fastq/S1_R1.fastq.gz"))
        await until_true(lambda: len(collector.payloads) == 2, collector.arrived)
        await until_true(lambda: queues[0].deleted == 5, queues[0].changed)
        await collector.stop()
        s2 = collector.payloads[1]
        assert (s2["name"], [f["id"] for f in s2["files"]]) == ("S2", ["fil.3", "fil.4"])
        assert watching.counts["duplicates"] == 1  # S1_R1 redelivered after its group went: no second event

    run(scenario)
    assert queue_counts(sqs, queue_url) == (0, 0)


def test_a_duplicate_delivery_starts_nothing_a_newer_state_does(
    sqs: Any, sqs_queue_url: str, queues: list[RecordingQueue]
) -> None:
    async def scenario() -> None:
        body = data_event("fil.1", "/runs/r1/fastq/S1_R1.fastq.gz")
        for message in (body, body, data_event("fil.1", "/runs/r1/fastq/S1_R1.fastq.gz", "2026-01-01T01:00:00Z")):
            sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=message)
        watching = trigger(sqs_queue_url)
        collector = Collector(watching.run())
        await until_received(queues, 0)
        await until_true(lambda: queues[0].deleted == 3, queues[0].changed)
        await collector.stop()
        assert [p["time_modified"] for p in collector.payloads] == ["2026-01-01T00:00:05+00:00", "2026-01-01T01:00:00+00:00"]
        assert watching.counts["duplicates"] == 1

    run(scenario)


def test_malformed_messages_are_logged_once_and_dropped_other_codes_left_and_the_watcher_carries_on(
    sqs: Any, sqs_queue_url: str, queues: list[RecordingQueue], caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        for body in ("{not json" + "x" * 5000, "{also not json", json.dumps({"eventCode": "ICA_DATA_108", "payload": []}),
                     json.dumps({"eventCode": "ICA_EXEC_028", "payload": {"id": "a-1", "status": "RUNNING"}}),
                     # The waits read this one; the watcher cannot (a timestamp without a zone): left all the same.
                     json.dumps({"eventCode": "ICA_EXEC_028", "timestamp": "2026-01-01T00:00:06",
                                 "payload": {"id": "a-2", "status": "RUNNING"}})):
            sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=body)
        watching = trigger(sqs_queue_url)
        collector = Collector(watching.run())
        await until_received(queues, 0)
        await until_true(lambda: queues[0].deleted == 3 and watching.counts["left"] >= 2, queues[0].changed)
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=data_event("fil.2", "/runs/r1/fastq/S2_R1.fastq.gz"))
        await until_true(lambda: len(collector.payloads) == 1 and queues[0].deleted == 4, queues[0].changed)
        await collector.stop()

    with caplog.at_level(logging.WARNING, logger=watcher.__name__):
        run(scenario)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines  # one per kind: not-json, malformed
    assert "not-json" in lines[0] and "malformed" in lines[1]
    assert all(len(line) < 400 and "\n" not in line for line in lines)
    assert sum(queue_counts(sqs, sqs_queue_url)) == 2  # the waits' ICA_EXEC_028s, left for them


def test_watchers_and_waits_share_a_queue_without_losing_or_repeating_an_event(
    sqs: Any, queues: list[RecordingQueue]
) -> None:
    # A short visibility timeout: what one reader leaves, the other receives a second later.
    queue_url = sqs.create_queue(QueueName=f"shared-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]

    async def scenario() -> None:
        waits_queue = RecordingQueue(AwsSqsQueue(queue_url, AWS_CONN_ID))
        consumer = Consumer(waits_queue, wait_seconds=1)
        consumer.start()
        wait = consumer.subscribe(analysis_ids=["a-1"])
        files = [f"fil.{i}" for i in range(6)]
        for i, data_id in enumerate(files):
            sqs.send_message(QueueUrl=queue_url, MessageBody=data_event(data_id, f"/runs/r1/fastq/S{i}_R1.fastq.gz"))
        for status, modified in (("IN_PROGRESS", "2026-01-01T00:00:01Z"), ("SUCCEEDED", "2026-01-01T00:00:09Z")):
            sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({
                "eventCode": "ICA_EXEC_028", "projectId": PROJECT_ID,
                "payload": {"id": "a-1", "status": status, "timeModified": modified},
            }))
        watching = trigger(queue_url)
        collector = Collector(watching.run())
        await until_received(queues, 0)
        hints: list[Any] = []

        def done() -> bool:
            hints.extend(wait.take())
            # Each data event's message deleted too (a second later, it would be received again).
            # ... and the consumer's deletes of the hints it delivered (it settles after delivering).
            return (len(collector.payloads) == len(files) and len(hints) == 2 and queues[0].deleted >= len(files)
                    and waits_queue.deleted >= 2)

        progress = asyncio.Event()

        async def relay() -> None:  # wake on either reader's progress
            while True:
                events = (queues[0].changed, waits_queue.changed, wait.woken, collector.arrived)
                waiters = [asyncio.ensure_future(e.wait()) for e in events]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
                queues[0].changed.clear()
                waits_queue.changed.clear()
                collector.arrived.clear()
                progress.set()

        relaying = asyncio.ensure_future(relay())
        await until_true(done, progress)
        relaying.cancel()
        await collector.stop()
        await consumer.aclose()
        assert sorted(p["id"] for p in collector.payloads) == files  # each once
        assert sorted(h.status for h in hints) == ["IN_PROGRESS", "SUCCEEDED"]
        assert consumer.counts["rejected"] == 0  # the data events were left for the watcher, not dropped

    run(scenario)
    assert queue_counts(sqs, queue_url) == (0, 0)


def test_a_second_watcher_of_one_code_on_one_queue_waits_until_the_first_stops(
    sqs_queue_url: str, queues: list[RecordingQueue], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher, "CLAIM_RETRY_SECONDS", 0.01)

    async def scenario() -> None:
        first = Collector(trigger(sqs_queue_url, path_glob=GLOB).run())
        await until_received(queues, 0)
        second = Collector(trigger(sqs_queue_url, path_glob="/other/*").run())  # a replacement, say
        other_code = Collector(trigger(sqs_queue_url, event_codes=["ICA_DATA_104"]).run())  # another code is fine
        await until_received(queues, 1)
        assert len(queues) == 2  # the second watcher of ICA_DATA_108 made no queue: it reads nothing yet
        await first.stop()
        await until_received(queues, 2)  # the first gave its code back: the second reads now
        await second.stop()
        await other_code.stop()

    with caplog.at_level(logging.WARNING, logger=watcher.__name__):
        run(scenario)
    warnings = [r.getMessage() for r in caplog.records if "Another asset watcher" in r.getMessage()]
    assert len(warnings) == 1 and "ICA_DATA_108" in warnings[0], warnings


def test_an_unreadable_queue_is_logged_once_and_retried(
    sqs: Any, queues: list[RecordingQueue], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher, "FIRST_RETRY_SECONDS", 0.01)
    monkeypatch.setattr(watcher, "LAST_RETRY_SECONDS", 0.02)
    gone = sqs.create_queue(QueueName=f"gone-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.delete_queue(QueueUrl=gone)

    async def scenario() -> None:
        watching = trigger(gone)
        collector = Collector(watching.run())
        await until_received(queues, 0, 3)
        await collector.stop()
        assert watching.counts["failures"] >= 3

    with caplog.at_level(logging.WARNING, logger=watcher.__name__):
        run(scenario)
    assert len([r for r in caplog.records if "Cannot read SQS queue" in r.getMessage()]) == 1
