"""The contract of the ``analyses`` XCom and the return value, whether or not the state was compact.

A big batch's event leaves its records out and a rescheduled sensor keeps only the open
items: the task lists the batch once more at the end. Here the budgets are made tiny
(the same code path as 10,000 items) and the outcome is compared, field for field, with
the event that carried the records and with a poke in one process. The fake server runs
on a manual clock; nothing waits.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider._compat import AirflowSensorTimeout
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from ica_airflow_provider.triggers import events
from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger
from tests.state_store import TaskStateStore

PAGE = 5
TOKENS = "/ica/rest/api/tokens"


def refs(n: int, **markers: set[int]) -> list[str]:
    """``R00``, ``R01``, …; ``fail_analysis={3}`` makes ``R03-fail-analysis``."""
    out = []
    for i in range(n):
        suffix = "".join(f"-{m.replace('_', '-')}" for m, where in markers.items() if i in where)
        out.append(f"R{i:02d}{suffix}")
    return out


@pytest.fixture
def ica(ica_fake_server_factory: Any, connect: Any) -> Any:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock)
    connect(server, retry_backoff=0)
    server.clock = clock
    return server


def create(server: Any, references: list[str], key: str, *, advance: float = 60) -> str:
    items = [nextflow_item(r) for r in references]
    batch_id = IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": items}, key).id
    server.clock.advance(advance)
    return str(batch_id)


def fire(batch_id: str, **kwargs: Any) -> dict[str, Any]:
    """The trigger's one event, as the task gets it back from Airflow (JSON)."""
    trigger = IcaAnalysisBatchTrigger(project_id="proj", batch_id=batch_id, poll_interval=0.1, page_size=PAGE, **kwargs)

    async def first() -> Any:
        async for event in trigger.run():
            return event.payload

    return json.loads(json.dumps(asyncio.run(first())))


def context(**extra: Any) -> Any:
    pushed: dict[str, Any] = {}
    return {"ti": SimpleNamespace(xcoms=pushed, xcom_push=lambda key, value: pushed.__setitem__(key, value)), **extra}


def sensor(batch_id: str, **kwargs: Any) -> IcaAnalysisBatchSensor:
    return IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj", page_size=PAGE, **kwargs)


def outcome(run: Callable[[Any], Any]) -> tuple[Any, Any]:
    """(return value or the exception's message, the ``analyses`` XCom)."""
    ctx = context()
    try:
        result = run(ctx)
    except Exception as exc:
        result = f"{type(exc).__name__}: {exc}"
    return result, ctx["ti"].xcoms.get("analyses")


def resumed(server: Any, event: dict[str, Any], **kwargs: Any) -> tuple[tuple[Any, Any], int]:
    """The sensor back from ``event``; with the requests it cost (tokens aside)."""
    server.backend.reset_request_log()
    result = outcome(lambda ctx: sensor(event["batch_id"], **kwargs).resume_execution(
        "execute_complete", {"event": event}, ctx
    ))
    return result, sum(1 for r in server.backend.request_log if r.path != TOKENS)


def poked(batch_id: str, **kwargs: Any) -> tuple[Any, Any]:
    def poke(ctx: Any) -> Any:
        result = sensor(batch_id, **kwargs).poke(ctx)
        return result.xcom_value if result else result

    return outcome(poke)


def without_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "RECORDS_BUDGET", 0)  # as for a 10,000-item batch


def test_success_is_the_same_with_and_without_records_in_the_event(ica: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 12
    batch_id = create(ica, refs(n), "ok")
    with_records = fire(batch_id)
    without_records(monkeypatch)
    compact = fire(batch_id)
    assert events.has_records(with_records) and not events.has_records(compact)
    assert compact["items"] == n and compact["counts"]["analyses"] == {"SUCCEEDED": n}

    full, cost_full = resumed(ica, with_records)
    relisted, cost_relisted = resumed(ica, compact)
    assert cost_full == 0  # a small batch's event is enough
    assert cost_relisted == math.ceil(n / PAGE)  # one listing
    assert relisted == full == poked(batch_id)
    ids, analyses = relisted
    assert len(ids) == n
    assert [a["user_reference"] for a in analyses] == refs(n)  # every record, in item order
    assert [a["analysis_id"] for a in analyses] == ids


def test_a_failure_names_the_failed_items_after_a_relisting(ica: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    references = refs(8, fail_analysis={2, 5})
    batch_id = create(ica, references, "failing")
    with_records = fire(batch_id)
    without_records(monkeypatch)
    compact = fire(batch_id)
    assert compact["status"] == "failure" and "records" not in compact
    assert compact["failed"] == "2: R02-fail-analysis, R05-fail-analysis"

    (message, analyses), cost = resumed(ica, compact)
    assert cost == math.ceil(len(references) / PAGE)
    assert message.startswith("IcaBatchFailedError: R02-fail-analysis: analysis FAILED: ")
    assert "\nR05-fail-analysis: analysis FAILED: " in message
    assert message.endswith(f"ICA batch {batch_id}: 2 of 8 items failed (max_failures=0)")
    assert (message, analyses) == resumed(ica, with_records)[0] == poked(batch_id)


def test_a_timeout_names_the_unfinished_items_after_a_relisting(ica: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    references = refs(7, run_long={1, 4})
    batch_id = create(ica, references, "slow")
    past = time.time() - 1  # the trigger polls once, then reports the timeout
    with_records = fire(batch_id, end_time=past)
    without_records(monkeypatch)
    compact = fire(batch_id, end_time=past)
    assert compact["status"] == "timeout" and "records" not in compact
    assert compact["unfinished"] == "2: R01-run-long, R04-run-long"

    (message, analyses), _ = resumed(ica, compact)
    assert message == (
        f"{AirflowSensorTimeout.__name__}: ICA batch {batch_id}: timed out with 2 item(s) not finished:"
        " R01-run-long, R04-run-long"
    )
    assert [a["user_reference"] for a in analyses] == references
    assert (message, analyses) == resumed(ica, with_records)[0]


def test_a_relisting_that_fails_fails_the_task(ica: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    batch_id = create(ica, refs(3), "flaky")
    without_records(monkeypatch)
    compact = fire(batch_id)
    ica.backend.inject_fault(404, count=100, method="GET", path_contains="/items")
    (message, analyses), _ = resumed(ica, compact)
    assert "404" in message and analyses is None


def test_a_compact_reschedule_returns_what_a_poke_returns(ica: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import ica_airflow_provider.task_side as waiting

    n, long_running = 20, {3, 17}
    references = refs(n, run_long=long_running)
    batch_id = create(ica, references, "resched", advance=5)  # created; all but two analyses done
    monkeypatch.setattr(waiting, "STATE_BUDGET", 1_000)  # room for the two open records, not the twenty
    store = TaskStateStore()
    costs = []

    def poke() -> Any:
        ica.backend.reset_request_log()
        ctx = context(task_state_store=store)
        result = sensor(batch_id, mode="reschedule").poke(ctx)
        costs.append(sum(1 for r in ica.backend.request_log if r.path != TOKENS))
        return result, ctx["ti"].xcoms.get("analyses")

    assert poke() == (False, None)
    saved = store.data["ica_batch_records"]
    assert saved["items"] == n and [r["user_reference"] for r in saved["records"]] == [references[i] for i in sorted(long_running)]
    assert poke() == (False, None)
    ica.clock.advance(4000)
    result, analyses = poke()
    pages = math.ceil(n / PAGE)
    assert costs == [pages, len(long_running), len(long_running) + pages]
    assert (result.xcom_value, analyses) == poked(batch_id)
    assert [a["user_reference"] for a in analyses] == references
    assert store.data == {}
