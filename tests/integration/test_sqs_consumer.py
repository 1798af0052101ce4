"""The notification consumer against a real SQS (moto's server, its own process), read through an Airflow AWS connection.

No test sleeps: each waits on a subscription's ``woken``, on a latch the recording queue
sets when the consumer deletes or releases a message, or on the consumer's ``stopped``;
the idle delay runs on a manual clock and retry pauses on a controlled ``sleep``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import boto3
import pytest

# The consumer reads SQS through the Amazon provider (the 'events' extra): `make test` installs
# it on both its lines; the matrix's other lines test the provider without it.
pytest.importorskip(
    "airflow.providers.amazon", reason="apache-airflow-providers-amazon is not installed (the 'events' extra)"
)

from ica_airflow_provider.core.notifications import AnalysisHint, JobHint
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.hooks.sqs_consumer import Consumer, ConsumerRegistry, Signal, Subscription
from ica_airflow_provider.hooks.sqs_queue import AwsSqsQueue, Received
from ica_airflow_provider.testing import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from ica_airflow_provider.testing.server import FakeIcaServer
from ica_airflow_provider.testing.sqs_server import MotoSqsServer

AWS_CONN_ID = "sqs_events"
PROJECT_ID = "7595e8f2-32d3-4c76-a324-c6a85dae87b5"
PATIENCE = 60.0  # a hang guard only: every wait below ends on an event long before


@pytest.fixture(autouse=True)
def aws_connection(moto_sqs_server: MotoSqsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """An Airflow AWS connection whose endpoint URL is the moto server (dummy keys)."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}", moto_sqs_server.airflow_connection())


@pytest.fixture
def sqs(moto_sqs_server: MotoSqsServer) -> Any:
    return boto3.client("sqs", **moto_sqs_server.client_kwargs())


def analysis_event(analysis_id: str, status: str = "SUCCEEDED", tags: tuple[str, ...] = (), modified: str = "2026-01-01T00:00:05Z") -> str:
    return json.dumps({
        "correlationId": str(uuid.uuid4()),
        "timestamp": "2026-01-01T00:00:05.000Z",
        "eventCode": "ICA_EXEC_028",
        "eventParameters": {"pipelineExecution": analysis_id, "analysisPreviousStatus": "IN_PROGRESS", "analysisStatus": status},
        "description": "Analysis status changed",
        "projectId": PROJECT_ID,
        "payloadVersion": "v4",
        "payload": {"id": analysis_id, "status": status, "timeModified": modified, "tags": {"technicalTags": list(tags)}},
    })


def job_event(job_id: str, status: str = "SUCCEEDED") -> str:
    return json.dumps({
        "eventCode": "ICA_JOB_001",
        "eventParameters": {"job": job_id, "jobPreviousStatus": "RUNNING", "jobStatus": status},
        "projectId": PROJECT_ID,
        "payload": {"id": job_id, "status": status},
    })


class RecordingQueue:
    """The real queue, with a latch on each delete and release (what the consumer decided)."""

    def __init__(self, queue: AwsSqsQueue) -> None:
        self.queue = queue
        self.receives = 0
        self.deleted = 0
        self.released = 0
        self.settle_calls = 0
        self.settled = asyncio.Event()
        self.received = asyncio.Event()

    async def receive(self, wait_seconds: int, max_messages: int = 10) -> list[Received]:
        messages = await self.queue.receive(wait_seconds, max_messages)
        self.receives += 1
        self.received.set()
        return messages

    async def delete(self, receipt: str) -> None:
        await self.queue.delete(receipt)
        self.deleted += 1
        self.settled.set()

    async def release(self, receipt: str) -> None:
        await self.queue.release(receipt)
        self.released += 1
        self.settled.set()

    async def delete_batch(self, receipts: Sequence[str]) -> int:
        failed = await self.queue.delete_batch(receipts)
        self.settle_calls += 1
        self.deleted += len(receipts) - failed
        self.settled.set()
        return failed

    async def release_batch(self, receipts: Sequence[str]) -> int:
        failed = await self.queue.release_batch(receipts)
        self.settle_calls += 1
        self.released += len(receipts) - failed
        self.settled.set()
        return failed


async def until(event: asyncio.Event | Signal) -> None:
    await asyncio.wait_for(event.wait(), PATIENCE)


async def until_true(condition: Callable[[], bool], event: asyncio.Event | Signal) -> None:
    """Wait on ``event`` (cleared each time) until ``condition()`` holds."""
    while not condition():
        await until(event)
        event.clear()


def consumer_on(queue_url: str, **options: Any) -> tuple[Consumer, RecordingQueue]:
    queue = RecordingQueue(AwsSqsQueue(queue_url, AWS_CONN_ID))
    consumer = Consumer(queue, wait_seconds=1, **options)
    consumer.start()
    return consumer, queue


def queue_counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def test_each_message_goes_to_every_subscription_it_concerns_and_is_deleted(sqs: Any, sqs_queue_url: str) -> None:
    async def scenario() -> None:
        consumer, queue = consumer_on(sqs_queue_url)
        by_id = consumer.subscribe(analysis_ids=["a-1"])
        by_tag = consumer.subscribe(tags=["batch-7"])
        by_job = consumer.subscribe(job_ids=["job-1"])
        other = consumer.subscribe(analysis_ids=["a-2"])
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=analysis_event("a-1", tags=("batch-7",)))
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=job_event("job-1"))
        for subscription in (by_id, by_tag, by_job):
            await until(subscription.woken)
        [hint] = by_id.take()
        assert isinstance(hint, AnalysisHint) and (hint.analysis_id, hint.status) == ("a-1", "SUCCEEDED")
        assert by_tag.take() == [hint]  # parsed once: the very same hint
        [job] = by_job.take()
        assert isinstance(job, JobHint) and job.job_id == "job-1"
        assert not other.woken.is_set() and other.take() == []
        assert consumer.counts["delivered"] == 2 and consumer.counts["messages"] == 2
        await until_true(lambda: queue.deleted >= 2, queue.settled)  # delivered first, then deleted
        assert queue_counts(sqs, sqs_queue_url) == (0, 0)
        await consumer.aclose()

    run(scenario)


def test_a_receive_is_settled_in_one_call_per_kind(sqs: Any, sqs_queue_url: str) -> None:
    """Ten messages received together: one delete call for those delivered, one release for the rest."""
    ids = [f"a-{n}" for n in range(10)]
    sqs.send_message_batch(
        QueueUrl=sqs_queue_url,
        Entries=[{"Id": str(n), "MessageBody": analysis_event(analysis_id)} for n, analysis_id in enumerate(ids)],
    )

    async def scenario() -> None:
        consumer, queue = consumer_on(sqs_queue_url, max_receives=1)
        consumer.subscribe(analysis_ids=ids[:6])
        await until_true(lambda: queue.deleted == 10, queue.settled)  # 6 delivered, 4 dropped on their second receive
        assert consumer.counts["delivered"] == 6 and consumer.counts["dropped"] == 4
        assert queue.settle_calls < consumer.counts["messages"]  # not one SQS call per message
        await consumer.aclose()

    run(scenario)


def test_a_late_subscription_gets_the_remembered_hint_at_once(sqs: Any, sqs_queue_url: str) -> None:
    async def scenario() -> None:
        consumer, queue = consumer_on(sqs_queue_url)
        early = consumer.subscribe(analysis_ids=["someone-else"])
        # Reordered: the newer state first.
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=analysis_event("a-1", "SUCCEEDED", modified="2026-01-01T00:00:09Z"))
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=analysis_event("a-1", "IN_PROGRESS", modified="2026-01-01T00:00:01Z"))
        await until_true(lambda: queue.released >= 2, queue.settled)
        early.watch(analysis_ids=["a-1"])  # the wait learns its analysis ids later
        [hint] = early.take()
        assert isinstance(hint, AnalysisHint) and hint.status == "SUCCEEDED"  # the newer state, whatever the order
        late = consumer.subscribe(analysis_ids=["a-1"])
        assert late.woken.is_set() and [h.status for h in late.take()] == ["SUCCEEDED"]  # type: ignore[union-attr]
        await consumer.aclose()

    run(scenario)


def test_a_message_no_one_here_wants_is_made_visible_again_then_dropped(sqs: Any, sqs_queue_url: str) -> None:
    async def scenario() -> None:
        consumer, queue = consumer_on(sqs_queue_url, max_receives=3)
        bystander = consumer.subscribe(analysis_ids=["someone-else"])
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=analysis_event("a-9"))
        await until_true(lambda: queue.deleted >= 1, queue.settled)
        assert (queue.released, queue.deleted) == (3, 1)  # three receives left it for another process
        assert consumer.counts["released"] == 3 and consumer.counts["dropped"] == 1
        assert queue_counts(sqs, sqs_queue_url) == (0, 0)
        assert not bystander.woken.is_set()
        await consumer.aclose()

    run(scenario)


def test_the_messages_of_a_finished_batch_go_round_as_others_but_are_not_remembered(
    sqs: Any, sqs_queue_url: str
) -> None:
    """A wait that saw every analysis end closes as finished: no wait here will want its batch's later
    messages, so they are not remembered; another process's wait on the batch may, so they go round."""

    async def scenario() -> None:
        consumer, queue = consumer_on(sqs_queue_url, max_receives=3)
        bystander = consumer.subscribe(analysis_ids=["someone-else"])
        done = consumer.subscribe(analysis_ids=["a-1"], job_ids=["job-1"], tags=["batch-7"])  # the operator's
        untagged = consumer.subscribe(analysis_ids=["a-3"])  # a sensor's: no tag
        cancelled = consumer.subscribe(analysis_ids=["a-5"])
        done.close(finished=True)
        untagged.close(finished=True)
        cancelled.close()  # a cancelled wait: its batch may be waited for here again
        for body in (
            analysis_event("a-1", tags=("batch-7",)), job_event("job-1"), analysis_event("a-2", tags=("batch-7",)),
            analysis_event("a-3"), analysis_event("a-5"),
        ):
            sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=body)
        await until_true(lambda: queue.deleted >= 5, queue.settled)
        assert consumer.counts["dropped"] == 5 and queue.released == 15  # each went round three times
        assert consumer.counts["finished"] == 16  # the finished waits' four, at each of their four receipts
        assert list(consumer._remembered) == [("analysis", "a-5")]
        assert not bystander.woken.is_set()
        await consumer.aclose()

    run(scenario)


def test_malformed_and_foreign_messages_are_logged_once_and_dropped(
    sqs: Any, sqs_queue_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        consumer, queue = consumer_on(sqs_queue_url)
        subscription = consumer.subscribe(analysis_ids=["a-1"])
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody="{not json" + "x" * 5000)
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=json.dumps({"eventCode": "ICA_BASE_001", "payload": {}}))
        await until_true(lambda: queue.deleted >= 2, queue.settled)
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=analysis_event("a-1"))
        await until(subscription.woken)  # the consumer carries on
        assert [h.analysis_id for h in subscription.take()] == ["a-1"]  # type: ignore[union-attr]
        await consumer.aclose()

    with caplog.at_level(logging.WARNING, logger="ica_airflow_provider.hooks.sqs_consumer"):
        run(scenario)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert "not-json" in lines[0] and "foreign" in lines[1]
    assert all(len(line) < 400 and "\n" not in line for line in lines)


def test_cancelling_one_wait_leaves_the_consumer_running_for_the_others(sqs: Any, sqs_queue_url: str) -> None:
    async def scenario() -> None:
        registry = ConsumerRegistry(make_queue=lambda url, conn: RecordingQueue(AwsSqsQueue(url, conn)), wait_seconds=1)
        entered = asyncio.Event()

        async def wait(subscription: Subscription) -> None:
            with subscription:
                entered.set()
                await subscription.woken.wait()

        first = registry.subscribe(sqs_queue_url, AWS_CONN_ID, analysis_ids=["a-1"])
        second = registry.subscribe(sqs_queue_url, AWS_CONN_ID, analysis_ids=["a-2"])
        consumer = first.consumer
        assert second.consumer is consumer and len(registry) == 1  # one consumer for both
        task = asyncio.create_task(wait(first))
        await until(entered)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert first.closed and consumer.running
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=analysis_event("a-2"))
        await until(second.woken)
        assert [h.analysis_id for h in second.take()] == ["a-2"]  # type: ignore[union-attr]
        assert consumer.running
        await registry.aclose()

    run(scenario)


def test_the_consumer_stops_a_while_after_its_last_subscription(sqs_queue_url: str) -> None:
    async def scenario() -> None:
        now = [0.0]
        queues: list[RecordingQueue] = []

        def make_queue(url: str, conn: str | None) -> RecordingQueue:
            queues.append(RecordingQueue(AwsSqsQueue(url, conn)))
            return queues[-1]

        registry = ConsumerRegistry(make_queue=make_queue, clock=lambda: now[0], idle_seconds=60.0, wait_seconds=1)
        subscription = registry.subscribe(sqs_queue_url, AWS_CONN_ID, analysis_ids=["a-1"])
        consumer = subscription.consumer
        subscription.close()
        now[0] = 59.0
        queues[0].received.clear()
        await until(queues[0].received)  # a whole poll after the close, short of the delay
        assert consumer.running and len(registry) == 1
        now[0] = 60.0
        await until(consumer.stopped)
        assert not consumer.running and len(registry) == 0
        again = registry.subscribe(sqs_queue_url, AWS_CONN_ID)  # the next wait starts a new one
        assert again.consumer is not consumer and again.consumer.running
        await registry.aclose()

    run(scenario)


def test_an_unreadable_queue_makes_subscriptions_unavailable_and_is_logged_once(
    sqs: Any, moto_sqs_server: MotoSqsServer, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"ica-events-missing-{uuid.uuid4().hex[:8]}"
    queue_url = f"{moto_sqs_server.url}/123456789012/{name}"
    sleeps: list[float] = []

    async def scenario() -> None:
        slept, proceed = asyncio.Event(), asyncio.Event()

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            slept.set()
            await proceed.wait()
            proceed.clear()

        consumer, _ = consumer_on(queue_url, sleep=sleep)
        subscription = consumer.subscribe(analysis_ids=["a-1"])
        await until(slept)
        slept.clear()
        assert subscription.woken.is_set() and not subscription.available and not consumer.available
        subscription.take()
        proceed.set()
        await until(slept)  # failed again: retried later, not logged again
        slept.clear()
        assert sleeps == [1.0, 2.0] and not subscription.woken.is_set()
        sqs.create_queue(QueueName=name)  # readable again
        proceed.set()
        await until(subscription.woken)
        assert subscription.available and consumer.available
        await consumer.aclose()
        sqs.delete_queue(QueueUrl=queue_url)

    with caplog.at_level(logging.WARNING, logger="ica_airflow_provider.hooks.sqs_consumer"):
        run(scenario)
    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "Cannot read SQS queue" in warnings[0] and len(warnings[0]) < 600


def test_the_fake_icas_messages_reach_the_wait_that_learns_its_analysis_ids_late(
    ica_fake_server_factory: Callable[..., FakeIcaServer], connect: Callable[..., None], sqs_queue_url: str
) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, batch_start_seconds=1, item_creation_seconds=1, analysis_step_seconds=1)
    connect(server)
    hook = IcaHook()
    hook.ensure_notifications("project-1", sqs_queue_url)
    batch = hook.create_analysis_creation_batch("project-1", {"nextflowItems": [nextflow_item("a"), nextflow_item("b")]})
    assert batch.job is not None
    analysis_ids = {item.analysis_id for item in server.backend.batches[batch.id].items}

    async def scenario() -> None:
        consumer, queue = consumer_on(sqs_queue_url)
        wait = consumer.subscribe(job_ids=[batch.job.id])  # type: ignore[union-attr]  # all a wait knows at first
        clock.advance(30)
        assert server.backend.emitter.flush()
        job_statuses: set[str] = set()

        def seen() -> bool:
            job_statuses.update(hint.status for hint in wait.take())
            with consumer.subscribe(analysis_ids=analysis_ids) as probe:  # what a late subscription would get
                latest = {hint.analysis_id: hint.status for hint in probe.take()}  # type: ignore[union-attr]
            return job_statuses == {"INITIALIZED", "RUNNING", "SUCCEEDED"} and latest == dict.fromkeys(analysis_ids, "SUCCEEDED")

        await until_true(seen, queue.settled)
        wait.watch(analysis_ids=analysis_ids)
        assert {hint.analysis_id: hint.status for hint in wait.take()} == dict.fromkeys(analysis_ids, "SUCCEEDED")  # type: ignore[union-attr]
        assert consumer.counts["rejected"] == 0
        await consumer.aclose()

    run(scenario)
