"""The hook and the sensor against the fake server: paging, tokens, replay, poll cost."""

from __future__ import annotations

import logging
import math
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider.core.auth import TokenCache
from ica_airflow_provider.core.messages import Response
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from tests.state_store import TaskStateStore


def items(n: int, long_running: set[int] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "nextflowItems": [
            nextflow_item(f"S{i:05d}" + ("-run-long" if i in long_running else ""))
            for i in range(n)
        ]
    }


def test_paging_walks_every_item_once_with_and_without_a_filter(ica_fake_server_factory: Any, connect: Any) -> None:
    clock = ManualClock()
    ica_fake_server = ica_fake_server_factory(clock=clock)
    connect(ica_fake_server)
    hook = IcaHook()
    batch = hook.create_analysis_creation_batch("proj", items(250, {3, 7}), "paging")
    clock.advance(5)  # every item created
    listed = [i.request.user_reference for i in hook.iter_analysis_creation_batch_items("proj", batch.id, page_size=40)]
    assert listed == [f"S{i:05d}" + ("-run-long" if i in (3, 7) else "") for i in range(250)]
    assert ica_fake_server.backend.count_requests("GET", "/items") == math.ceil(250 / 40)
    succeeded = list(hook.iter_analysis_creation_batch_items("proj", batch.id, statuses=["SUCCEEDED"], page_size=100))
    assert len(succeeded) == 250


def test_short_lived_tokens_are_reminted(ica_fake_server_factory: Any, connect: Any) -> None:
    wall = ManualClock(start=time.time())  # the server's and the client's wall clock
    server = ica_fake_server_factory(token_lifetime=2, wall_clock=wall)
    connect(server)
    hook = IcaHook()
    hook.protocol.tokens = TokenCache(now=wall)
    batch = hook.create_analysis_creation_batch("proj", items(2), "tokens")
    for _ in range(4):
        hook.get_analysis_creation_batch("proj", batch.id)
        wall.advance(0.8)
    mints = server.backend.count_requests("POST", "/api/tokens")
    assert 2 <= mints <= 3
    assert server.backend.count_requests("GET", "/analysisCreationBatch/") == 4  # never a 401 retry


def test_same_idempotency_key_replays_the_same_batch(ica_fake_server: Any, connect: Any) -> None:
    connect(ica_fake_server)
    hook = IcaHook()
    first = hook.create_analysis_creation_batch("proj", items(3), "replay-me")
    again = IcaHook().create_analysis_creation_batch("proj", items(3), "replay-me")
    assert again.id == first.id
    assert ica_fake_server.backend.count_batches() == 1


def test_409_while_the_first_call_is_in_flight_is_waited_out(ica_fake_server_factory: Any, connect: Any) -> None:
    server = ica_fake_server_factory()
    connect(server)
    hold = server.backend.hold_creates()  # the first POST is parked after claiming its key
    results: list[str] = []
    first = threading.Thread(
        target=lambda: results.append(IcaHook().create_analysis_creation_batch("proj", items(2), "slow").id)
    )
    first.start()
    assert hold.wait_arrived(timeout=30)
    second_hook = IcaHook()
    statuses: list[int] = []
    send = second_hook._send

    def recording(request: Any) -> Any:
        outcome = send(request)
        if isinstance(outcome, Response) and request.method == "POST" and "Batch" in request.path:
            statuses.append(outcome.status)
            if outcome.status == 409:
                hold.release()  # only now may the first call finish
        return outcome

    second_hook._send = recording  # type: ignore[method-assign]
    second_hook.protocol.policy = second_hook.protocol.policy.__class__(max_retries=20, backoff_base=0.05, backoff_max=0.1)
    second = second_hook.create_analysis_creation_batch("proj", items(2), "slow")
    first.join()
    assert statuses[0] == 409  # the second call met the first one in flight ...
    assert statuses[-1] in (200, 201)  # ... and got the same batch once it was done
    assert results == [second.id]
    assert server.backend.count_batches() == 1


def test_each_poke_costs_at_most_the_pages_or_the_open_analyses(ica_fake_server_factory: Any, connect: Any) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock)
    connect(server)
    n, page_size, long_running = 350, 100, {10, 20, 30}
    batch = IcaHook().create_analysis_creation_batch("proj", items(n, long_running), "cost")
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=batch.id, project_id="proj", page_size=page_size)
    context: Any = {"ti": SimpleNamespace(xcom_push=lambda **kw: None)}

    def poke_cost() -> tuple[Any, int]:
        server.backend.reset_request_log()
        result = sensor.poke(context)
        return result, len(server.backend.request_log)

    pages = math.ceil(n / page_size)
    result, cost = poke_cost()  # everything still being created: the whole listing
    assert result is False
    assert cost <= pages + 1 + 1  # + the token, + the batch's job (items still being created)
    clock.advance(5)  # every item created; all but the three long analyses finished
    result, cost = poke_cost()
    assert result is False
    assert cost == 1 + pages  # the job first: the last poke saw items being created
    result, cost = poke_cost()  # only the three open analyses are fetched
    assert result is False
    assert cost == len(long_running)
    assert all("/analyses/" in r.path for r in server.backend.request_log), server.backend.request_log
    clock.advance(4000)
    result, cost = poke_cost()
    assert result.is_done
    assert cost == len(long_running)
    assert len(result.xcom_value) == n


def test_rescheduled_pokes_stay_cheap_with_the_task_state_store(ica_fake_server_factory: Any, connect: Any) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock)
    connect(server)
    n, page_size, long_running = 350, 100, {10, 20, 30}
    batch = IcaHook().create_analysis_creation_batch("proj", items(n, long_running), "resched")
    store = TaskStateStore()
    context: Any = {"ti": SimpleNamespace(xcom_push=lambda **kw: None), "task_state_store": store}

    def poke_cost() -> tuple[Any, int]:
        # Every reschedule is a new sensor instance: only the store carries the records over.
        sensor = IcaAnalysisBatchSensor(
            task_id="w", batch_id=batch.id, project_id="proj", page_size=page_size, mode="reschedule"
        )
        server.backend.reset_request_log()
        result = sensor.poke(context)
        return result, sum(1 for r in server.backend.request_log if r.path != "/ica/rest/api/tokens")

    pages = math.ceil(n / page_size)
    assert poke_cost() == (False, pages + 1)  # + the batch's job: items still being created
    clock.advance(5)
    assert poke_cost() == (False, pages)  # 350 open items did not fit the store: a listing (all created now)
    # 350 records do not fit the store's budget: it keeps the batch's size and the open items.
    saved = store.data["ica_batch_records"]
    assert saved["items"] == n
    assert sorted(r["user_reference"] for r in saved["records"]) == [f"S{i:05d}-run-long" for i in sorted(long_running)]
    assert poke_cost() == (False, len(long_running))  # only the open analyses
    clock.advance(4000)
    result, cost = poke_cost()
    assert result.is_done and cost == len(long_running) + pages  # + one listing: the XCom has every record
    assert len(result.xcom_value) == n
    assert store.data == {}  # cleaned up once done


def test_a_rescheduled_sensor_counts_failed_polls_across_reschedules(
    ica_fake_server_factory: Any, connect: Any
) -> None:
    """"5 failed polls in a row" trips in reschedule mode too: the count is saved with the records."""
    from ica_airflow_provider.core.errors import IcaApiError

    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock)
    connect(server, max_retries=0)
    batch = IcaHook().create_analysis_creation_batch("proj", items(3), "resched-failures")
    store = TaskStateStore()
    context: Any = {"ti": SimpleNamespace(xcom_push=lambda **kw: None), "task_state_store": store}
    server.backend.inject_fault(503, count=100, method="GET", path_contains="/items")

    def poke() -> Any:
        sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=batch.id, project_id="proj", mode="reschedule")
        return sensor.poke(context)

    for in_a_row in range(1, 6):
        assert poke() is False
        assert store.data["ica_batch_records"]["failed_polls"] == in_a_row
    with pytest.raises(IcaApiError, match="503"):
        poke()


def test_every_way_of_waiting_logs_one_summary(
    ica_fake_server_factory: Any, connect: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    def times_logged(text: str) -> int:
        """Airflow 3 task logs go to stdout (structlog), Airflow 2's to logging; Airflow 3.0's
        unconfigured structlog writes to both: one record shown by two handlers counts once."""
        in_caplog = sum(text in line for line in caplog.messages)
        in_stdout = sum(text in line for line in capfd.readouterr().out.splitlines())
        caplog.clear()
        return max(in_caplog, in_stdout)

    from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator

    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock)
    connect(server)
    caplog.set_level(logging.INFO)
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(
        dag_id="d", task_id="c", run_id="r", map_index=-1, xcom_push=lambda key, value: pushed.__setitem__(key, value)
    )
    op = IcaCreateAnalysisBatchOperator(
        task_id="c", project_id="proj", nextflow_items=items(3)["nextflowItems"], wait_for_completion=True,
        poll_interval=10,
    )
    op.hook.sleep = clock.advance  # the operator's own wait: its sleeps move the fake's clock
    ids = op.execute({"ti": ti})  # type: ignore[arg-type]
    assert len(ids) == 3
    summary = f"ICA batch {pushed['batch_id']}: 3 of 3 analyses SUCCEEDED; returning 3 analysis IDs"
    assert times_logged(summary) == 1

    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=pushed["batch_id"], project_id="proj")
    assert sensor.poke({"ti": ti}).is_done  # type: ignore[union-attr, arg-type]
    assert times_logged(summary) == 1

    resumed = IcaAnalysisBatchSensor(task_id="w2", batch_id=pushed["batch_id"], project_id="proj")
    event = {"status": "success", "project_id": "proj", "batch_id": pushed["batch_id"], "records": pushed["analyses"]}
    assert resumed.execute_complete({"ti": ti}, event) == ids  # type: ignore[arg-type]
    assert times_logged(summary) == 1
