"""A subscription's own parts, with no queue read: its ``Signal`` and its routing entries.

The consumer against a real SQS is in ``tests/integration/test_sqs_consumer.py``; here its
routing table is driven through ``_handle`` with messages made in the test.
"""

from __future__ import annotations

import asyncio
import json

from ica_airflow_provider.hooks.sqs_consumer import DELETE, RELEASE, Consumer, Signal
from ica_airflow_provider.hooks.sqs_queue import Received

PROJECT_ID = "7595e8f2-32d3-4c76-a324-c6a85dae87b5"
TAG = "airflow-wait:0123456789abcdef01234567"


class NeverRead:
    """A queue the consumer is never started on."""

    async def receive(self, wait_seconds: int, max_messages: int = 10) -> list[Received]:
        raise AssertionError("not read in these tests")


def message(analysis_id: str, tags: tuple[str, ...] = (TAG,)) -> Received:
    body = {
        "correlationId": "c-1",
        "timestamp": "2026-01-01T00:00:05.000Z",
        "eventCode": "ICA_EXEC_028",
        "eventParameters": {"analysisPreviousStatus": "IN_PROGRESS", "analysisStatus": "SUCCEEDED"},
        "projectId": PROJECT_ID,
        "payloadVersion": "v4",
        "payload": {"id": analysis_id, "status": "SUCCEEDED", "tags": {"technicalTags": list(tags)}},
    }
    return Received(message_id=analysis_id, receipt=analysis_id, body=json.dumps(body), receive_count=1)


def test_a_signal_wakes_every_waiter_and_a_cancelled_one_leaves_the_others_waiting() -> None:
    async def scenario() -> list[str]:
        signal, woke = Signal(), []

        async def waiter(name: str) -> None:
            await signal.wait()
            woke.append(name)

        first, second = asyncio.create_task(waiter("first")), asyncio.create_task(waiter("second"))
        await asyncio.sleep(0)  # both are waiting now
        assert not woke and not signal.is_set()
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        signal.set()
        await second
        signal.clear()
        third = asyncio.create_task(waiter("third"))
        await asyncio.sleep(0)
        assert not third.done()  # cleared: a new wait waits again
        signal.set()
        await third
        await signal.wait()  # set: returns at once
        return woke

    assert asyncio.run(scenario()) == ["second", "third"]


def test_two_waits_on_one_tag_each_get_its_hints_until_each_closes() -> None:
    async def scenario() -> None:
        consumer = Consumer(NeverRead())
        one, two = consumer.subscribe(tags=[TAG]), consumer.subscribe(tags=[TAG])
        assert consumer._handle(message("a-1")) == DELETE
        assert [len(s.take()) for s in (one, two)] == [1, 1]
        one.close()
        assert consumer._handle(message("a-2")) == DELETE
        assert (one.take(), [h.analysis_id for h in two.take()]) == ([], ["a-2"])  # type: ignore[union-attr]
        two.close()
        assert consumer._by_tag == {} and consumer._by_analysis == {}  # nothing left behind
        assert consumer._handle(message("a-3")) == RELEASE  # no one here wants it: another process may

    asyncio.run(scenario())


def test_an_untagged_wait_follows_its_analyses_by_id() -> None:
    async def scenario() -> None:
        consumer = Consumer(NeverRead())
        by_id = consumer.subscribe(analysis_ids=["a-1", "a-2"])
        by_id.watch(analysis_ids=["a-2", "a-3"])  # a later poll brought a-3; a-2 was followed already
        assert sorted(consumer._by_analysis) == ["a-1", "a-2", "a-3"]
        assert all(subs == (by_id,) for subs in consumer._by_analysis.values())
        assert consumer._handle(message("a-3", tags=())) == DELETE
        assert [h.analysis_id for h in by_id.take()] == ["a-3"]  # type: ignore[union-attr]
        by_id.close()
        assert consumer._by_analysis == {}

    asyncio.run(scenario())
