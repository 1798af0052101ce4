"""Soak: 30 batches of 20 items through the operator and the sensor, a fifth of answers faulty.

Half the batches wait in poke mode, half deferred (the trigger run on an event loop, as
the triggerer would). Each batch has a scenario that dictates its outcome. Prints one
summary line; asserts every outcome, one batch per logical request, nothing unhandled,
no credential in any log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from ica_airflow_provider._compat import TaskDeferred
from ica_airflow_provider.core.auth import TokenCache
from ica_airflow_provider.core.errors import IcaError
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.task_side import IcaBatchFailedError
from ica_airflow_provider.testing.seed import nextflow_item

SEED = 20261129
BATCHES, ITEMS = 30, 20
API_KEY = "soak-api-key-9c1d77e2"
TASK_TRIES = 4  # as a task with retries=3
FAULTS = "429:3,500,502,503:2,504,drop:2,slow,lost-create:20"


@dataclass(frozen=True)
class Scenario:
    name: str
    markers: dict[int, str]  # item index -> fake-server marker
    max_failures: int
    succeeds: bool

    def samples(self, batch: int) -> list[str]:
        return [f"B{batch:02d}-S{i:02d}" + (f"-{self.markers[i]}" if i in self.markers else "") for i in range(ITEMS)]

    @property
    def failures(self) -> int:
        return len(self.markers)


SCENARIOS = [
    Scenario("all-succeed", {}, 0, True),
    Scenario("tolerated", {3: "fail-analysis", 11: "fail-analysis"}, 2, True),
    Scenario("failing", {5: "fail-creation", 9: "fail-final"}, 0, False),
]


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    task_retries: int = 0
    unhandled: list[str] = field(default_factory=list)
    outcomes: dict[int, str] = field(default_factory=dict)

    def add(self, **counts: Any) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class StubTI:
    """What the operator and the sensor use of the task instance."""

    def __init__(self, batch: int, task_id: str) -> None:
        self.dag_id, self.task_id, self.run_id, self.map_index = "soak", task_id, f"run-{batch:02d}", -1
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must serialize
        self.xcoms[key] = value


def run_task(task: Any, ti: StubTI, tally: Tally) -> Any:
    """One task with Airflow's retries: an ICA error fails the try, a new try runs it again."""
    context: Any = {"ti": ti}
    for attempt in range(1, TASK_TRIES + 1):
        try:
            try:
                return task.execute(context)
            except TaskDeferred as deferred:
                event = asyncio.run(_first_event(deferred.trigger))
                return getattr(task, deferred.method_name)(context, event=event, **(deferred.kwargs or {}))
        except IcaBatchFailedError:
            raise
        except IcaError:
            if attempt == TASK_TRIES:
                raise
            tally.add(task_retries=1)
    raise AssertionError("unreachable")


async def _first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


class PokeLoop(IcaAnalysisBatchSensor):
    """Poke mode without the scheduler: poke until done, as BaseSensorOperator does."""

    def execute(self, context: Any) -> Any:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            result = self.poke(context)
            if result:
                return result.xcom_value  # type: ignore[union-attr]
            time.sleep(self.poke_interval)
        raise AssertionError("the sensor never finished")


def _airflow2_thread_setup() -> None:
    """Airflow 2 keeps an operator-call sentinel in a thread-local set up only in the main thread."""
    try:
        from airflow.models.baseoperator import ExecutorSafeguard  # type: ignore[attr-defined]
    except ImportError:
        return
    if not hasattr(ExecutorSafeguard._sentinel, "callers"):
        ExecutorSafeguard._sentinel.callers = {}


def one_batch(index: int, tally: Tally) -> None:
    _airflow2_thread_setup()
    scenario = SCENARIOS[index % len(SCENARIOS)]
    deferred = index % 2 == 1
    create = IcaCreateAnalysisBatchOperator(
        task_id="create",
        project_id="soak",
        nextflow_items=[nextflow_item(s) for s in scenario.samples(index)],
    )
    sensor_class = IcaAnalysisBatchSensor if deferred else PokeLoop
    try:
        batch_id = run_task(create, StubTI(index, "create"), tally)
        sensor = sensor_class(
            task_id="wait", batch_id=batch_id, project_id="soak", poke_interval=0.2,
            max_failures=scenario.max_failures, deferrable=deferred, timeout=120,
        )
        wait_ti = StubTI(index, "wait")
        try:
            ids = run_task(sensor, wait_ti, tally)
        except IcaBatchFailedError as exc:
            failed = [r for r in wait_ti.xcoms["analyses"] if r["reason"]]
            ok = not scenario.succeeds and len(failed) == scenario.failures and all(
                r["user_reference"] in str(exc) for r in failed
            )
            tally.outcomes[index] = "failed as expected" if ok else f"wrong failure: {exc}"
        else:
            expected = ITEMS - scenario.failures
            ok = scenario.succeeds and len(ids) == expected == len(set(ids))
            tally.outcomes[index] = "succeeded as expected" if ok else f"wrong success: {len(ids)} ids"
    except Exception as exc:  # anything else escaped the provider
        with tally.lock:
            tally.unhandled.append(f"batch {index}: {type(exc).__name__}: {exc}")


@pytest.mark.soak
def test_soak(ica_fake_server_factory: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
              capfd: pytest.CaptureFixture[str], summary_line: Any) -> None:
    server = ica_fake_server_factory(
        api_key=API_KEY, fault_rate=0.2, fault_seed=SEED, fault_kinds=FAULTS, retry_after_seconds=0.05,
        slow_seconds=0.3, token_lifetime=3, item_creation_seconds=0.2, analysis_step_seconds=0.15,
    )
    monkeypatch.setenv("AIRFLOW_CONN_ICA_DEFAULT", json.dumps({
        "conn_type": "ica", "host": server.url, "password": API_KEY,
        "extra": {"retry_backoff": 0.05, "retry_backoff_max": 0.5, "max_retries": 6, "timeout": [2, 5]},
    }))
    tokens: list[str] = []
    store = TokenCache.store
    monkeypatch.setattr(TokenCache, "store", lambda cache, token: (tokens.append(token), store(cache, token))[1])
    retries = Counter[int]()
    delay = RetryPolicy.delay

    def counting_delay(self: RetryPolicy, request: Any, outcome: Any, attempt: int) -> float | None:
        seconds = delay(self, request, outcome, attempt)
        retries[0] += seconds is not None  # a retry follows
        return seconds

    monkeypatch.setattr(RetryPolicy, "delay", counting_delay)
    # Random draws give a few lost answers to batch POSTs; two more make sure there are some.
    server.backend.inject_fault("lost-create", count=2, method="POST", path_contains="/analysisCreationBatch")
    caplog.set_level(logging.DEBUG)
    tally = Tally()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        for future in [pool.submit(one_batch, i, tally) for i in range(BATCHES)]:
            future.result()
    elapsed = time.monotonic() - started

    stats = server.backend.stats()
    logs = caplog.text + "".join(capfd.readouterr())
    leaks = sum(logs.count(secret) for secret in {API_KEY, *tokens})
    duplicates = server.backend.count_batches() - BATCHES
    faults = dict(sorted(stats["fault_counts"].items()))
    summary_line(
        f"soak: batches={BATCHES} items={BATCHES * ITEMS} requests={stats['requests']} faults={stats['faults']}"
        f" {faults} client_retries={retries[0]} task_retries={tally.task_retries} duplicates={duplicates}"
        f" leaks={leaks} unhandled={len(tally.unhandled)} seed={SEED} seconds={elapsed:.0f}"
    )
    assert tally.unhandled == []
    assert sorted(tally.outcomes) == list(range(BATCHES))
    wrong = {i: o for i, o in tally.outcomes.items() if not o.endswith("as expected")}
    assert wrong == {}
    assert duplicates == 0
    assert leaks == 0 and tokens
    assert stats["faults"] >= 0.1 * stats["requests"]
    assert {"429", "503", "drop", "lost-create"} <= set(faults)
