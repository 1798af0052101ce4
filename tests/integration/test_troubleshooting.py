"""The messages docs/troubleshooting.md shows are the ones users get (from the fake ICA server)."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider.core.errors import IcaApiError, IcaError
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"
ITEM = nextflow_item("s1")
BATCH_ID = "0b6e1a7c-0000-4000-8000-000000000001"


def shown(name: str) -> re.Pattern[str]:
    """The guide's message block named ``name``, ``<…>`` placeholders matching any text."""
    block = re.search(rf"<!-- message: {name} -->\n```text\n(.*?)\n```", GUIDE.read_text(), re.DOTALL)
    assert block, f"no message block {name!r} in {GUIDE.name}"
    parts = re.split(r"<[^>]+>", block.group(1))
    return re.compile(".+?".join(re.escape(part) for part in parts), re.DOTALL)


def assert_shown(name: str, error: BaseException) -> None:
    assert shown(name).fullmatch(str(error)), f"{GUIDE.name} [{name}] no longer shows:\n{error}"


def test_bad_key(ica_fake_server: Any, connect: Callable[..., None]) -> None:
    connect(SimpleNamespace(url=ica_fake_server.url, config=SimpleNamespace(api_key="wrong")))  # a mistyped key
    with pytest.raises(IcaApiError) as error:
        IcaHook().get_analysis_creation_batch("proj", BATCH_ID)
    assert_shown("bad-key", error.value)


@pytest.mark.parametrize(("status", "name"), [(403, "forbidden"), (404, "not-found")])
def test_refused_batch(status: int, name: str, ica_fake_server: Any, connect: Callable[..., None]) -> None:
    connect(ica_fake_server)
    ica_fake_server.backend.inject_fault(status, method="POST", path_contains="analysisCreationBatch")
    with pytest.raises(IcaApiError) as error:
        IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": [ITEM]}, "key")
    assert_shown(name, error.value)


def test_idempotency_key_reused_with_another_request(ica_fake_server: Any, connect: Callable[..., None]) -> None:
    connect(ica_fake_server)
    IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": [ITEM]}, "key")
    other = {"nextflowItems": [{**ITEM, "userReference": "s2"}]}
    with pytest.raises(IcaApiError) as error:
        IcaHook().create_analysis_creation_batch("proj", other, "key")
    assert_shown("idempotency-mismatch", error.value)


def test_rate_limited_until_the_retries_run_out(ica_fake_server: Any, connect: Callable[..., None]) -> None:
    connect(ica_fake_server, max_retries=1, retry_backoff=0)
    ica_fake_server.backend.inject_fault(429, count=2, path_contains="analysisCreationBatch", retry_after=0)
    with pytest.raises(IcaApiError) as error:
        IcaHook().get_analysis_creation_batch("proj", BATCH_ID)
    assert_shown("rate-limited", error.value)


def test_stopped_job(ica_fake_server_factory: Callable[..., Any], connect: Callable[..., None]) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(
        clock=clock, batch_start_seconds=1, item_creation_seconds=2, item_stagger_seconds=1.5
    )
    connect(server)
    items = [{**ITEM, "userReference": ref} for ref in ("a", "b-stop-job", "c")]
    batch_id = IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": items}, "stop").id
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(
        dag_id="d", task_id="t", run_id="r", map_index=-1,
        xcom_push=lambda key, value: pushed.__setitem__(key, value),
    )
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj")
    clock.set(1003.2)  # a created, b being created, c waiting
    assert sensor.poke({"ti": ti}) is False  # type: ignore[arg-type]
    clock.set(1100.0)  # the job STOPPED at 1003.5
    with pytest.raises(IcaError) as error:
        sensor.poke({"ti": ti})  # type: ignore[arg-type]
    assert_shown("stopped-job", error.value)


# -- waits woken by ICA's notifications ---------------------------------------------------------------

AWS_CONN_ID = "sqs_events"
PATIENCE = 60.0  # a hang guard only


class Said(logging.Handler):
    """Every log line of the process (any thread), and a latch set when one contains ``words``."""

    def __init__(self, words: str) -> None:
        super().__init__(logging.INFO)
        self.words = words
        self.lines: list[str] = []
        self.latch = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        self.lines.append(line)
        if self.words in line:
            self.latch.set()

    def matching(self, name: str) -> list[str]:
        return [line for line in self.lines if shown(name).fullmatch(line)]


@pytest.fixture
def said() -> Iterator[Callable[[str], Said]]:
    handlers: list[Said] = []

    def listen(words: str) -> Said:
        handler = Said(words)
        logging.getLogger().addHandler(handler)
        handlers.append(handler)
        return handler

    yield listen
    for handler in handlers:
        logging.getLogger().removeHandler(handler)


@pytest.fixture
def hint_loop_cleared() -> Iterator[None]:
    """Stop the consumers the test left on the worker's hint loop (a missing queue's retries forever)."""
    yield
    from ica_airflow_provider.hooks.hint_sources import hint_loop
    from ica_airflow_provider.hooks.sqs_consumer import CONSUMERS

    loop = hint_loop()

    async def stop() -> None:
        for key, consumer in list(CONSUMERS._consumers.items()):
            if key[2] is loop:
                await consumer.aclose()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(PATIENCE)


def task_instance() -> Any:
    return SimpleNamespace(dag_id="d", task_id="w", run_id="r", map_index=-1, xcom_push=lambda key, value: None)


def woken_sensor(batch_id: str, **kwargs: Any) -> IcaAnalysisBatchSensor:
    """A poke-mode sensor: woken in this process, as in a worker."""
    sensor = IcaAnalysisBatchSensor(
        task_id="w", batch_id=batch_id, project_id="proj", poke_interval=0.05, timeout=PATIENCE, **kwargs
    )
    # The task's logger: a plain one whose lines reach the root logger (Airflow 3's is structlog's).
    sensor._log = sensor._cached_logger = logging.getLogger("ica_troubleshooting.task")  # type: ignore[attr-defined]
    return sensor


def test_an_unreadable_queue_is_said_and_the_wait_polls(
    ica_fake_server_factory: Callable[..., Any],
    connect: Callable[..., None],
    moto_sqs_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    said: Callable[[str], Said],
    hint_loop_cleared: None,
) -> None:
    pytest.importorskip("airflow.providers.amazon", reason="the 'events' extra reads the queue")
    monkeypatch.setenv(f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}", moto_sqs_server.airflow_connection())
    missing = f"{moto_sqs_server.url}/123456789012/ica-events-missing-{uuid.uuid4().hex[:8]}"
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, batch_start_seconds=1, item_creation_seconds=1, analysis_step_seconds=1)
    connect(server, sqs_queue=missing, aws_conn_id=AWS_CONN_ID)
    batch_id = IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": [ITEM]}, "unreadable").id
    log = said("notifications cannot be read")

    def finish_once_said() -> None:  # the batch ends only after the wait said it polls
        if log.latch.wait(PATIENCE):
            clock.advance(3600)

    ender = threading.Thread(target=finish_once_said, daemon=True)
    ender.start()
    ids = woken_sensor(batch_id).execute({"ti": task_instance()})  # type: ignore[arg-type]
    ender.join(PATIENCE)
    assert len(ids) == 1  # it polled ICA to the end
    assert len(log.matching("queue-unreadable")) == 1, log.lines
    assert len(log.matching("wait-polls-meanwhile")) == 1, log.lines


def test_without_the_amazon_provider_the_wait_says_so_and_polls(
    ica_fake_server_factory: Callable[..., Any],
    connect: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    said: Callable[[str], Said],
) -> None:
    monkeypatch.setitem(sys.modules, "airflow.providers.amazon", None)  # importing it fails, as when absent
    server = ica_fake_server_factory(batch_start_seconds=0, item_creation_seconds=0, analysis_step_seconds=0)
    connect(server, sqs_queue="https://sqs.eu-central-1.amazonaws.com/123456789012/ica-events")
    batch_id = IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": [ITEM]}, "no-amazon").id
    log = said("Amazon provider")
    ids = woken_sensor(batch_id).execute({"ti": task_instance()})  # type: ignore[arg-type]
    assert len(ids) == 1
    assert len(log.matching("no-amazon-provider")) == 1, log.lines


def test_wake_on_notifications_without_a_queue(ica_fake_server: Any, connect: Callable[..., None]) -> None:
    connect(ica_fake_server)  # no sqs_queue extra
    sensor = woken_sensor(BATCH_ID, wake_on_notifications=True)
    ica_fake_server.backend.reset_request_log()
    with pytest.raises(IcaError) as error:
        sensor.execute({"ti": task_instance()})  # type: ignore[arg-type]
    assert_shown("wake-without-queue", error.value)
    assert ica_fake_server.backend.request_log == []  # refused before any request
