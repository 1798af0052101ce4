"""The event loop under a burst of notifications: 10,000 messages for 1,000 woken waits.

moto's SQS server cannot carry such a burst: each of its calls walks the whole queue (a
receive of ten takes 0.025 s at a depth of 10, 0.6-0.8 s at 800), so it never hands the
loop more than a trickle (``bench_event_wait.py``'s ``burst``). Here the real consumer
(``hooks/sqs_consumer.Consumer``) reads an in-memory queue that answers every receive at once
with ten messages, the most SQS returns, yielding to the loop once, as a receive in a thread
does: the worst case for the loop. The messages are the fake ICA's own: one is taken from a
real run (the fake ICA and moto's server), then varied per analysis (id, ``userReference``,
the batch's tag, status, ``timeModified``), two per analysis, shuffled.

Each of the 1,000 waits is a task that subscribes with its batch's tag, as a woken wait of
the operator does, and applies what it is handed with the real ``HintLedger`` to a
``BatchTracker`` of five items still being created, then sleeps until woken again. No REST:
the confirming listing each wait would then make is the polled run's cost
(``bench_triggerer_scale.py``). Reported: the longest stall of the loop, full garbage
collections, messages a second, and whether every wait saw its five analyses end.

    .venv/bin/python benchmarks/bench_hint_burst.py                  # 1,000 waits, 10,000 messages
    .venv/bin/python benchmarks/bench_hint_burst.py --waits 100 --items 5
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from _common import PROJECT_ID, Report, apply_bench_env, finish, rss_kib
from bench_triggerer_scale import Probes

from ica_airflow_provider.hooks.sqs_queue import MAX_MESSAGES, Received

TARGET_STALL = 0.2
STATUSES = ("IN_PROGRESS", "SUCCEEDED")  # two messages per analysis


def template_message() -> dict[str, Any]:
    """One ``ICA_EXEC_028`` message as the fake ICA sends it, read back from moto's server."""
    import boto3

    from ica_airflow_provider.core.wake import wait_tag, with_wait_tag
    from ica_airflow_provider.hooks.ica import IcaHook
    from ica_airflow_provider.testing.config import FakeIcaConfig
    from ica_airflow_provider.testing.seed import nextflow_item
    from ica_airflow_provider.testing.server import FakeIcaServer
    from ica_airflow_provider.testing.sqs_server import MotoSqsServer

    config = FakeIcaConfig(port=0, batch_start_seconds=0, item_creation_seconds=0, analysis_step_seconds=0)
    with MotoSqsServer() as sqs, FakeIcaServer(config) as fake:
        os.environ["AIRFLOW_CONN_ICA_DEFAULT"] = json.dumps(
            {"conn_type": "ica", "host": fake.url, "password": config.api_key}
        )
        client = boto3.client("sqs", **sqs.client_kwargs())
        queue_url = client.create_queue(QueueName="template")["QueueUrl"]
        hook = IcaHook()
        hook.ensure_notifications(PROJECT_ID, queue_url, ["ICA_EXEC_028"])
        request = with_wait_tag({"nextflowItems": [nextflow_item("template-sample")]}, wait_tag(PROJECT_ID, "template"))
        hook.create_analysis_creation_batch(PROJECT_ID, request, idempotency_key="template")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            fake.backend.emitter.flush()
            answer = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
            for message in answer.get("Messages", []):
                return dict(json.loads(message["Body"]))
    raise RuntimeError("the fake ICA sent no ICA_EXEC_028 message within 60 s")


def burst(template: dict[str, Any], waits: int, items: int, seed: int) -> tuple[list[str], list[str]]:
    """The messages (JSON bodies, shuffled) and each wait's tag."""
    tags = [f"airflow-wait:{n:024x}" for n in range(waits)]
    bodies: list[str] = []
    for w, tag in enumerate(tags):
        for i in range(items):
            analysis_id = f"{w:08x}-0000-4000-8000-{i:012x}"
            for step, status in enumerate(STATUSES):
                event = copy.deepcopy(template)
                payload = event["payload"]
                payload.update(
                    id=analysis_id, status=status, userReference=f"w{w}-s{i}",
                    timeModified=f"2026-12-07T10:00:{step:02d}Z",
                    tags={**payload.get("tags", {}), "technicalTags": ["airflow", tag]},
                )
                event["eventParameters"] = {
                    "pipelineExecution": analysis_id, "analysisPreviousStatus": None, "analysisStatus": status,
                }
                bodies.append(json.dumps(event, separators=(",", ":")))
    random.Random(seed).shuffle(bodies)
    return bodies, tags


class MemoryQueue:
    """Ten messages a receive, at once; deletes counted. Each call yields to the loop once."""

    def __init__(self, bodies: Sequence[str]) -> None:
        self.bodies = list(bodies)
        self.next = 0
        self.deleted = 0
        self.drained = asyncio.Event()

    async def receive(self, wait_seconds: int, max_messages: int = MAX_MESSAGES) -> list[Received]:
        await asyncio.sleep(0)
        start, self.next = self.next, min(self.next + max_messages, len(self.bodies))
        if start == self.next:
            self.drained.set()
            await asyncio.sleep(0.05)  # a long poll that finds nothing
        return [Received(f"m{n}", f"r{n}", self.bodies[n], 1) for n in range(start, self.next)]

    async def delete(self, receipt: str) -> None:
        await self.delete_batch([receipt])

    async def release(self, receipt: str) -> None:
        await asyncio.sleep(0)

    async def delete_batch(self, receipts: Sequence[str]) -> int:
        await asyncio.sleep(0)
        self.deleted += len(receipts)
        return 0

    async def release_batch(self, receipts: Sequence[str]) -> int:
        await asyncio.sleep(0)
        return 0


async def run(bodies: list[str], tags: list[str], items: int) -> dict[str, Any]:
    from ica_airflow_provider.core.hints import HintLedger
    from ica_airflow_provider.core.tracker import BatchTracker, ItemRecord
    from ica_airflow_provider.hooks.sqs_consumer import Consumer

    queue = MemoryQueue(bodies)
    consumer = Consumer(queue, name="burst")
    ended = 0
    all_ended = asyncio.Event()

    async def wait(w: int, tag: str) -> None:
        nonlocal ended
        tracker = BatchTracker(PROJECT_ID, f"batch-{w}")
        tracker.load_records(
            [ItemRecord(f"i{w}-{i}", f"w{w}-s{i}", None, "RUNNING").to_xcom() for i in range(items)]
        )
        ledger = HintLedger(tag=tag)
        subscription = consumer.subscribe(tags=[tag])
        try:
            ledger.new_ids(tracker)
            while not tracker.verdict(0).done:
                await subscription.woken.wait()
                ledger.apply(tracker, subscription.take())
        finally:
            subscription.close(finished=tracker.settled())  # as the trigger's hint source closes it
        ended += 1
        if ended == len(tags):
            all_ended.set()

    probes = Probes()
    gc.collect()
    rss_before = rss_kib()[0]
    tasks = []
    for w, tag in enumerate(tags):  # as the triggerer starts triggers: a loop turn before each
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(wait(w, tag)))
    await asyncio.sleep(0)
    gc.callbacks.append(probes.count_collections)
    started, cpu0 = time.monotonic(), time.process_time()
    watchdog = asyncio.create_task(probes.watchdog(started))
    consumer.start()
    await asyncio.wait_for(all_ended.wait(), 600)
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu0
    probes.running = False
    gc.callbacks.remove(probes.count_collections)
    await watchdog
    await asyncio.gather(*tasks)
    await consumer.aclose()
    full, longest_full = probes.longest_collection(2)
    return {
        "messages": len(bodies), "waits": len(tags), "ended": ended, "seconds": seconds, "cpu": cpu,
        "stall": probes.longest_stall, "stall_at": probes.stall_at, "full_collections": full,
        "longest_full_collection": longest_full, "rss_growth_kib": rss_kib()[1] - rss_before,
        "consumer": dict(consumer.counts), "deleted": queue.deleted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--items", type=int, default=5, help="analyses per batch (two messages each)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    started = time.perf_counter()
    apply_bench_env()
    import airflow.jobs.triggerer_job_runner  # noqa: F401  (the trigger runner's heap, which full collections walk)

    template = template_message()
    bodies, tags = burst(template, args.waits, args.items, args.seed)
    result = asyncio.run(run(bodies, tags, args.items))
    size = sum(len(b) for b in bodies) / len(bodies)
    print(
        f"burst: {result['messages']:,} messages (~{size / 1024:.1f} KiB each) for {result['waits']:,} waits in"
        f" {result['seconds']:.2f} s ({result['messages'] / result['seconds']:,.0f} a second, CPU {result['cpu']:.2f} s);"
        f" {result['ended']:,} waits saw their analyses end; longest stall {result['stall']:.3f} s at"
        f" +{result['stall_at']:.1f} s; {result['full_collections']} full collections, longest"
        f" {result['longest_full_collection']:.3f} s; consumer {result['consumer']}",
        flush=True,
    )
    report = Report("hint_burst")
    label = f"6 burst of {result['messages']:,} messages, {result['waits']:,} woken waits (in-memory queue)"
    report.add(label, "waits that saw every analysis end", f"{result['ended']:,} / {result['waits']:,}",
               f"{result['waits']:,} / {result['waits']:,}", result["ended"] == result["waits"])
    report.add(label, "longest event-loop stall", f"{result['stall']:.3f} s", f"<= {TARGET_STALL} s",
               result["stall"] <= TARGET_STALL)
    report.add(label, "messages a second through the consumer (CPU s)",
               f"{result['messages'] / result['seconds']:,.0f} ({result['cpu']:.2f} s)", "", None)
    report.detail(f"`bench_hint_burst.py --waits {args.waits} --items {args.items}`: {json.dumps(result)}")
    finish(report, args.json, started)


if __name__ == "__main__":
    main()
