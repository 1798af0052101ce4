"""``include_outputs`` against the fake server: each succeeded analysis's outputs, fetched once.

In every way a wait runs: the sensor poking (one object), rescheduled (with and without a
task state store), deferred (the trigger, then ``execute_complete``), and the operator's
own wait. The fake runs on a manual clock: nothing waits.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider._compat import TaskDeferred
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from tests.state_store import TaskStateStore

# S1 and S3 succeed soon, S2 fails, S4 runs for an hour.
SAMPLES = ["S1", "S2-fail-analysis", "S3", "S4-run-long"]
ITEMS = [nextflow_item(s) for s in SAMPLES]


def context(store: TaskStateStore | None = None) -> Any:
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(
        dag_id="d", task_id="t", run_id="r", map_index=-1, xcoms=pushed,
        xcom_push=lambda key, value: pushed.__setitem__(key, value),
    )
    return {"ti": ti, **({"task_state_store": store} if store is not None else {})}


@pytest.fixture
def fake(ica_fake_server_factory: Any, connect: Any) -> tuple[Any, ManualClock]:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock)
    connect(server, retry_backoff=0)
    return server, clock


def create(key: str) -> str:
    return IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": ITEMS}, key).id


def outputs_asked(server: Any) -> Counter[str]:
    """GET …/outputs requests so far, by analysis ID."""
    return Counter(
        r.path.split("/analyses/")[1].removesuffix("/outputs")
        for r in server.backend.request_log
        if r.method == "GET" and r.path.endswith("/outputs")
    )


def asked_once_each(server: Any) -> int:
    """How many analyses' outputs were asked for; each only once."""
    asked = outputs_asked(server)
    assert set(asked.values()) <= {1}, asked
    return len(asked)


def expected_outputs(server: Any, analysis_id: str, now: float) -> list[dict[str, Any]]:
    """The record's ``outputs`` as the fake server's own data says they must be."""
    _, outputs = server.backend.get_analysis_outputs("proj", analysis_id, now)
    return [
        {"code": code, "data_id": d.data_id, "name": d.name, "data_type": d.data_type}
        for code, data in outputs
        for d in data
    ]


def check_records(server: Any, records: list[dict[str, Any]], now: float) -> None:
    by_ref = {r["user_reference"]: r for r in records}
    for ref in ("S1", "S3", "S4-run-long"):
        record = by_ref[ref]
        assert record["analysis_status"] == "SUCCEEDED"
        assert record["outputs"] == expected_outputs(server, record["analysis_id"], now)
        assert [o["data_type"] for o in record["outputs"]] == ["FOLDER"]
    assert by_ref["S2-fail-analysis"]["analysis_status"] == "FAILED"
    assert "outputs" not in by_ref["S2-fail-analysis"]  # a failed analysis has no outputs
    assert json.loads(json.dumps(records)) == records  # plain JSON, as XComs must be


def sensor(batch_id: str, **kwargs: Any) -> IcaAnalysisBatchSensor:
    return IcaAnalysisBatchSensor(
        task_id="w", batch_id=batch_id, project_id="proj", max_failures=1, include_outputs=True, **kwargs
    )


def test_poke_mode_fetches_outputs_as_analyses_succeed_once_each(fake: tuple[Any, ManualClock]) -> None:
    server, clock = fake
    batch_id = create("poke")
    waiting = sensor(batch_id)  # one object: its records last from poke to poke
    ctx = context()

    clock.advance(60)  # S1, S3 SUCCEEDED; S2 FAILED; S4 running
    assert waiting.poke(ctx) is False
    asked = outputs_asked(server)
    assert sorted(asked.values()) == [1, 1]  # S1 and S3, as soon as they succeeded
    assert waiting.poke(ctx) is False
    assert outputs_asked(server) == asked  # never again
    clock.advance(4000)
    result = waiting.poke(ctx)

    assert result.is_done  # type: ignore[union-attr]
    assert asked_once_each(server) == 3
    check_records(server, ctx["ti"].xcoms["analyses"], clock())


@pytest.mark.parametrize("compact", [False, True], ids=["every record saved", "only the open ones saved"])
def test_rescheduled_with_a_state_store_outputs_wait_for_the_end(
    fake: tuple[Any, ManualClock], monkeypatch: pytest.MonkeyPatch, compact: bool
) -> None:
    """A big batch's saved wait keeps only its open items (64 KiB): outputs fetched early
    could be dropped from the store and fetched again, so they come with the last poke,
    after the listing that brings back every record."""
    if compact:  # the 4 records do not fit, the 1 open one does
        monkeypatch.setattr("ica_airflow_provider.task_side.STATE_BUDGET", 700)
    server, clock = fake
    batch_id = create("resched-store")
    store = TaskStateStore()

    clock.advance(60)
    assert sensor(batch_id, mode="reschedule").poke(context(store)) is False  # a new object each time
    assert len(outputs_asked(server)) == 0
    assert len(store.data["ica_batch_records"]["records"]) == (1 if compact else 4)
    assert sensor(batch_id, mode="reschedule").poke(context(store)) is False
    clock.advance(4000)
    ctx = context(store)
    assert sensor(batch_id, mode="reschedule").poke(ctx).is_done  # type: ignore[union-attr]

    assert asked_once_each(server) == 3
    check_records(server, ctx["ti"].xcoms["analyses"], clock())


def test_rescheduled_without_a_state_store_outputs_wait_for_the_end(fake: tuple[Any, ManualClock]) -> None:
    """Before Airflow 3.3 nothing carries records across reschedules: fetching outputs early
    would fetch them again on every poke."""
    server, clock = fake
    batch_id = create("resched-no-store")

    clock.advance(60)
    for _ in range(3):
        assert sensor(batch_id, mode="reschedule").poke(context()) is False
    assert outputs_asked(server) == Counter()
    clock.advance(4000)
    ctx = context()
    assert sensor(batch_id, mode="reschedule").poke(ctx).is_done  # type: ignore[union-attr]

    assert asked_once_each(server) == 3
    check_records(server, ctx["ti"].xcoms["analyses"], clock())


def test_deferred_the_trigger_fetches_them_and_the_event_carries_them(fake: tuple[Any, ManualClock]) -> None:
    server, clock = fake
    batch_id = create("deferred")
    waiting = sensor(batch_id, deferrable=True, poke_interval=0.05)

    clock.advance(60)  # two succeeded already: the poke before deferring leaves them to the trigger
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute(context())
    assert outputs_asked(server) == Counter()
    trigger = deferred.value.trigger
    _, kwargs = trigger.serialize()
    assert kwargs["include_outputs"] is True
    clock.advance(4000)

    async def first_event() -> dict[str, Any]:
        async for event in type(trigger)(**kwargs).run():  # as the triggerer rebuilds it
            return dict(event.payload)
        raise AssertionError("no event")

    event = asyncio.run(first_event())
    ctx = context()
    ids = sensor(batch_id, deferrable=True).execute_complete(ctx, event)  # a new object, as Airflow resumes

    assert len(ids) == 3
    assert asked_once_each(server) == 3
    check_records(server, ctx["ti"].xcoms["analyses"], clock())


def test_deferrable_in_reschedule_mode_leaves_outputs_to_the_trigger_too(fake: tuple[Any, ManualClock]) -> None:
    """mode="reschedule" with a state store does not matter once deferrable: the trigger starts afresh."""
    server, clock = fake
    batch_id = create("deferred-resched")
    clock.advance(60)
    with pytest.raises(TaskDeferred):
        sensor(batch_id, deferrable=True, mode="reschedule").execute(context(TaskStateStore()))
    assert outputs_asked(server) == Counter()


def test_a_finished_batch_is_not_deferred_and_has_its_outputs(fake: tuple[Any, ManualClock]) -> None:
    server, clock = fake
    batch_id = create("finished")
    clock.advance(4000)
    ctx = context()

    ids = sensor(batch_id, deferrable=True).execute(ctx)  # no TaskDeferred

    assert len(ids) == 3
    assert asked_once_each(server) == 3
    check_records(server, ctx["ti"].xcoms["analyses"], clock())


def test_the_operators_own_wait_fetches_outputs_once(fake: tuple[Any, ManualClock], monkeypatch: Any) -> None:
    server, clock = fake
    op = IcaCreateAnalysisBatchOperator(
        task_id="c", project_id="proj", nextflow_items=ITEMS, wait_for_completion=True, poll_interval=30,
        max_failures=1, include_outputs=True,
    )
    op.hook.sleep = lambda seconds: clock.advance(seconds + 600)  # each poll sees a later batch
    ctx = context()

    ids = op.execute(ctx)

    assert len(ids) == 3
    assert asked_once_each(server) == 3
    check_records(server, ctx["ti"].xcoms["analyses"], clock())


def test_without_include_outputs_nothing_is_asked_and_records_keep_their_keys(fake: tuple[Any, ManualClock]) -> None:
    server, clock = fake
    batch_id = create("plain")
    clock.advance(4000)
    ctx = context()

    IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj", max_failures=1).execute(ctx)

    assert outputs_asked(server) == Counter()
    assert {frozenset(r) for r in ctx["ti"].xcoms["analyses"]} == {
        frozenset(
            {"item_id", "user_reference", "pipeline_id", "item_status", "analysis_id", "analysis_status", "reason"}
        )
    }


def test_lineage_is_what_the_task_kept_when_it_ended(fake: tuple[Any, ManualClock]) -> None:
    """get_openlineage_facets_on_complete reads no XCom: the batch and records the task kept."""
    pytest.importorskip("airflow.providers.openlineage", reason="the OpenLineage provider is not installed")
    server, clock = fake
    op = IcaCreateAnalysisBatchOperator(task_id="c", project_id="proj", nextflow_items=ITEMS)
    assert op.get_openlineage_facets_on_complete(None) is None  # no batch yet: nothing to report
    batch_id = op.execute(context())
    created = op.get_openlineage_facets_on_complete(None)
    assert created.outputs == [] and created.run_facets["icaBatch"].batchId == batch_id
    clock.advance(4000)
    waiting = sensor(batch_id, deferrable=True)
    assert waiting.get_openlineage_facets_on_complete(None) is None

    waiting.execute(context())  # finished: concluded without deferring
    lineage = waiting.get_openlineage_facets_on_complete(None)

    namespace = "ica://" + server.url.split("://")[1].split("/")[0]
    folders = [
        f"proj/{o['data_id']}"
        for item in server.backend.batches[batch_id].items
        if "fail" not in item.user_reference
        for o in expected_outputs(server, item.analysis_id, clock())
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [(namespace, f) for f in folders]
    assert lineage.run_facets["icaBatch"].batchId == batch_id
    assert len(lineage.run_facets["icaBatch"].analyses) == 4
