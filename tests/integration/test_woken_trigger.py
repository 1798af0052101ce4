"""The trigger's wait woken by the fake ICA's notifications, through a real SQS (moto's server).

The fake runs on a manual clock: the batch moves only when the test advances it, and the
emitter publishes what became due when the test flushes it. The trigger's reconcile and poll
intervals are far longer than the test, so only notifications can end its wait early.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip(
    "airflow.providers.amazon", reason="apache-airflow-providers-amazon is not installed (the 'events' extra)"
)

from ica_airflow_provider._compat import TaskDeferred
from ica_airflow_provider.core.notifications import ANALYSIS_STATUS_CHANGED
from ica_airflow_provider.core.wake import WAIT_TAG_PREFIX, wait_tag
from ica_airflow_provider.hooks.clients import REGISTRY
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.hooks.sqs_consumer import CONSUMERS
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator, derive_idempotency_key
from ica_airflow_provider.testing import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from ica_airflow_provider.testing.server import FakeIcaServer
from ica_airflow_provider.testing.sqs_server import MotoSqsServer
from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger
from tests.hint_loop_consumers import stop_hint_loop_consumers

AWS_CONN_ID = "sqs_events"
PATIENCE = 60.0  # a hang guard only


@pytest.fixture(autouse=True)
def aws_connection(moto_sqs_server: MotoSqsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}", moto_sqs_server.airflow_connection())


async def until(condition: Callable[[], bool]) -> None:
    """A condition another task or thread makes true (checked each loop turn; bounded)."""
    async def check() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(check(), PATIENCE)


def listings(server: FakeIcaServer, batch_id: str) -> int:
    return sum(1 for r in server.backend.request_log if r.path.endswith(f"{batch_id}/items"))


def analysis_reads(server: FakeIcaServer) -> int:
    return sum(1 for r in server.backend.request_log if "/analyses/" in r.path)


def test_a_deferred_wait_ends_on_notifications_with_a_confirming_listing(
    ica_fake_server_factory: Callable[..., FakeIcaServer], connect: Callable[..., None], sqs_queue_url: str
) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, batch_start_seconds=1, item_creation_seconds=1, analysis_step_seconds=5)
    connect(server)
    hook = IcaHook()
    hook.ensure_notifications("project-1", sqs_queue_url)
    batch = hook.create_analysis_creation_batch(
        "project-1", {"nextflowItems": [nextflow_item("s1"), nextflow_item("s2"), nextflow_item("s3")]}
    )
    clock.advance(4)  # created, the analyses under way
    trigger = IcaAnalysisBatchTrigger(
        project_id="project-1", batch_id=batch.id, poll_interval=3600, reconcile_interval=3600,
        sqs_queue=sqs_queue_url, aws_conn_id=AWS_CONN_ID,
    )
    analysis_ids = {item.analysis_id for item in server.backend.batches[batch.id].items}

    async def scenario() -> dict[str, Any]:
        events = trigger.run()
        first = asyncio.ensure_future(anext(events))
        # The wait follows its analyses once its first listing has shown them.
        await until(lambda: any(analysis_ids <= set(c._by_analysis) for c in CONSUMERS._consumers.values()))
        assert not first.done()
        server.backend.reset_request_log()
        clock.advance(120)  # every analysis ends
        assert server.backend.emitter.flush()
        event = await asyncio.wait_for(first, PATIENCE)
        await events.aclose()
        await CONSUMERS.aclose()
        return event.payload

    payload = asyncio.run(scenario())
    assert payload["status"] == "success" and payload["counts"]["analyses"] == {"SUCCEEDED": 3}
    assert payload["notifications"]["woken"] >= 1 and payload["notifications"]["applied"] >= 3
    # Nothing per status change: one confirming listing, no analysis read.
    assert listings(server, batch.id) == 1 and analysis_reads(server) == 0


def operator_context(xcoms: dict[str, Any]) -> dict[str, Any]:
    return {"ti": SimpleNamespace(xcom_push=lambda key, value: xcoms.__setitem__(key, value), dag_id="d", task_id="launch", run_id="r")}


def test_the_operators_tag_routes_its_analyses_notifications_to_its_wait_before_any_listing_shows_them(
    ica_fake_server_factory: Callable[..., FakeIcaServer], connect: Callable[..., None], sqs_queue_url: str
) -> None:
    """A wait deferred before its items are created, and no job notifications: only the batch's
    tag can bring it the analyses' (no listing has shown their ids). It ends on them, long
    before its reconcile interval, in three requests."""
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, batch_start_seconds=10, item_creation_seconds=1, analysis_step_seconds=5)
    connect(server, project_id="project-1", sqs_queue=sqs_queue_url, aws_conn_id=AWS_CONN_ID, reconcile_interval=3600)
    IcaHook().ensure_notifications("project-1", sqs_queue_url, [ANALYSIS_STATUS_CHANGED])
    operator = IcaCreateAnalysisBatchOperator(
        task_id="launch", nextflow_items=[nextflow_item(s) for s in ("t1", "t2", "t3")], wait_for_completion=True,
        deferrable=True, poll_interval=3600, idempotency_key="tag-routing",
    )
    xcoms: dict[str, Any] = {}
    with pytest.raises(TaskDeferred) as deferral:
        operator.execute(operator_context(xcoms))
    _, kwargs = deferral.value.trigger.serialize()
    trigger = IcaAnalysisBatchTrigger(**kwargs)  # as the triggerer builds it
    tag = trigger.notification_tag
    assert tag is not None and tag.startswith(WAIT_TAG_PREFIX) and "tag-routing" not in tag
    batch_id = xcoms["batch_id"]
    assert all(tag in item.tags["technicalTags"] for item in server.backend.batches[batch_id].items)
    server.backend.reset_request_log()

    async def scenario() -> dict[str, Any]:
        events = trigger.run()
        first = asyncio.ensure_future(anext(events))
        await until(lambda: any(tag in c._by_tag for c in CONSUMERS._consumers.values()))  # after its first poll
        clock.advance(10 + 3 + 60)  # created, and every analysis ends
        assert server.backend.emitter.flush()
        event = await asyncio.wait_for(first, PATIENCE)
        await events.aclose()
        (consumer,) = CONSUMERS._consumers.values()
        finished = f"tag:{tag}" in consumer._finished  # its later messages are deleted, not passed round
        await CONSUMERS.aclose()
        return {**event.payload, "finished": finished}

    payload = asyncio.run(scenario())
    assert payload["status"] == "success" and payload["counts"]["analyses"] == {"SUCCEEDED": 3} and payload["finished"]
    assert payload["notifications"]["applied"] >= 3 and payload["notifications"]["listings"] == 1
    # The first poll (items being created, then the job), and the confirming listing.
    assert listings(server, batch_id) == 2 and server.backend.count_requests("GET", f"analysisCreationBatch/{batch_id}") == 3
    assert analysis_reads(server) == 0


def test_a_retry_sends_the_same_tagged_body_whether_or_not_its_wait_is_woken_by_then(
    ica_fake_server_factory: Callable[..., FakeIcaServer], connect: Callable[..., None], sqs_queue_url: str
) -> None:
    """The tag depends on the task's arguments only: a retry woken after the connection gained a
    queue replays the first, polled, try's batch (the fake refuses another body under the same key, as ICA)."""
    server = ica_fake_server_factory(batch_start_seconds=0, item_creation_seconds=0, analysis_step_seconds=0)
    batch_ids = []
    for extra in ({}, {"sqs_queue": sqs_queue_url, "aws_conn_id": AWS_CONN_ID}):
        connect(server, project_id="project-1", **extra)
        REGISTRY.clear()  # the connection changed: its settings are read again
        operator = IcaCreateAnalysisBatchOperator(
            task_id="launch", nextflow_items=[nextflow_item("u1")], wait_for_completion=True, poll_interval=0.01,
        )
        xcoms: dict[str, Any] = {}
        operator.execute(operator_context(xcoms))
        batch_ids.append(xcoms["batch_id"])
    stop_hint_loop_consumers(PATIENCE)  # the woken try's, on the worker's hint loop
    assert batch_ids[0] == batch_ids[1] and server.backend.count_batches() == 1
    (item,) = server.backend.batches[batch_ids[0]].items
    assert [t for t in item.tags["technicalTags"] if t.startswith(WAIT_TAG_PREFIX)] == [
        wait_tag("project-1", operator.idempotency_key or derive_idempotency_key(operator_context({}), operator.build_batch()))
    ]


def test_a_batch_the_task_does_not_wait_for_carries_no_tag(
    ica_fake_server_factory: Callable[..., FakeIcaServer], connect: Callable[..., None]
) -> None:
    server = ica_fake_server_factory(batch_start_seconds=0, item_creation_seconds=0, analysis_step_seconds=0)
    connect(server, project_id="project-1", sqs_queue="https://sqs.eu-central-1.amazonaws.com/1/q")
    operator = IcaCreateAnalysisBatchOperator(task_id="launch", nextflow_items=[nextflow_item("u1")])
    xcoms: dict[str, Any] = {}
    operator.execute(operator_context(xcoms))
    (item,) = server.backend.batches[xcoms["batch_id"]].items
    assert not any(t.startswith(WAIT_TAG_PREFIX) for t in item.tags["technicalTags"] or ())


def test_without_a_queue_the_trigger_polls_and_its_event_has_no_notification_counts(
    ica_fake_server_factory: Callable[..., FakeIcaServer], connect: Callable[..., None]
) -> None:
    server = ica_fake_server_factory(batch_start_seconds=0, item_creation_seconds=0, analysis_step_seconds=0)
    connect(server)
    batch = IcaHook().create_analysis_creation_batch("project-1", {"nextflowItems": [nextflow_item("s1")]})
    trigger = IcaAnalysisBatchTrigger(project_id="project-1", batch_id=batch.id, poll_interval=0.01)

    async def scenario() -> dict[str, Any]:
        event = await asyncio.wait_for(anext(trigger.run()), PATIENCE)
        return event.payload

    payload = asyncio.run(scenario())
    assert payload["status"] == "success" and "notifications" not in payload


def test_the_trigger_round_trips_its_notification_arguments() -> None:
    trigger = IcaAnalysisBatchTrigger(
        project_id="p", batch_id="b", sqs_queue="https://sqs.eu-central-1.amazonaws.com/1/q",
        aws_conn_id="aws_x", reconcile_interval=120.0,
    )
    _, kwargs = trigger.serialize()
    again = IcaAnalysisBatchTrigger(**kwargs)
    assert (again.sqs_queue, again.aws_conn_id, again.reconcile_interval) == (
        "https://sqs.eu-central-1.amazonaws.com/1/q", "aws_x", 120.0,
    )


def test_a_cancelled_trigger_closes_its_subscription_and_the_consumer_serves_the_others(
    ica_fake_server_factory: Callable[..., FakeIcaServer], connect: Callable[..., None], sqs_queue_url: str
) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, batch_start_seconds=0, item_creation_seconds=0, analysis_step_seconds=5)
    connect(server)
    hook = IcaHook()
    hook.ensure_notifications("project-1", sqs_queue_url)
    batch = hook.create_analysis_creation_batch("project-1", {"nextflowItems": [nextflow_item("c1"), nextflow_item("c2")]})
    analysis_ids = {item.analysis_id for item in server.backend.batches[batch.id].items}

    def trigger() -> IcaAnalysisBatchTrigger:
        return IcaAnalysisBatchTrigger(
            project_id="project-1", batch_id=batch.id, poll_interval=3600, reconcile_interval=3600,
            sqs_queue=sqs_queue_url, aws_conn_id=AWS_CONN_ID,
        )

    async def scenario() -> tuple[dict[str, Any], int, bool]:
        # As the triggerer runs each trigger: a task of its own, cancelled when its task is.
        cancelled, kept = (asyncio.ensure_future(anext(trigger().run())) for _ in range(2))
        await until(lambda: sum(analysis_ids <= s.analysis_ids for c in CONSUMERS._consumers.values() for s in c._subscriptions) == 2)
        (consumer,) = CONSUMERS._consumers.values()
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        left, running = len(consumer._subscriptions), consumer.running
        clock.advance(600)
        assert server.backend.emitter.flush()
        event = await asyncio.wait_for(kept, PATIENCE)
        await CONSUMERS.aclose()
        return event.payload, left, running

    payload, left, running = asyncio.run(scenario())
    assert left == 1 and running  # the cancelled wait's subscription closed; the consumer carried on
    assert payload["status"] == "success" and payload["notifications"]["applied"] >= 2
