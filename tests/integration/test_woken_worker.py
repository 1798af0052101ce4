"""A woken wait in a worker: its arguments checked before any request, a kill, a fork, reschedules.

The fake ICA on a manual clock, moto's SQS server over HTTP; the task's own ``execute`` runs for real.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from types import FrameType, SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider.exceptions import IcaConfigError
from ica_airflow_provider.operators.ica import IcaCreateAnalysisBatchOperator
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from ica_airflow_provider.testing.server import FakeIcaServer
from tests.integration.batches import create_batch

AWS_CONN_ID = "sqs_events"
PATIENCE = 60.0  # a hang guard only
QUEUE = "https://sqs.eu-central-1.amazonaws.com/123456789012/ica-events"


def context() -> dict[str, Any]:
    xcoms: dict[str, Any] = {}
    ti = SimpleNamespace(
        xcom_push=lambda key, value: xcoms.__setitem__(key, value), get_first_reschedule_date=lambda context: None,
        dag_id="d", task_id="w", run_id="r", map_index=-1, max_tries=0, try_number=1,
    )
    return {"ti": ti, "xcoms": xcoms, "task_reschedule_count": 0}


@pytest.fixture
def server(ica_fake_server_factory: Callable[..., FakeIcaServer]) -> tuple[FakeIcaServer, ManualClock]:
    clock = ManualClock()
    return ica_fake_server_factory(clock=clock, batch_start_seconds=0, item_creation_seconds=0, analysis_step_seconds=5), clock


# -- the task's notification arguments ------------------------------------------------------------

SENSOR_MODES = [{"mode": "poke"}, {"mode": "reschedule"}, {"deferrable": True}]


@pytest.mark.parametrize("sensor_mode", SENSOR_MODES, ids=["poke", "reschedule", "deferred"])
def test_wake_on_notifications_true_without_a_queue_fails_naming_it_before_any_request(
    server: tuple[FakeIcaServer, ManualClock], connect: Callable[..., None], sensor_mode: dict[str, Any]
) -> None:
    fake, _ = server
    connect(fake, project_id="proj")  # no sqs_queue extra
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id="b-1", wake_on_notifications=True, **sensor_mode)
    with pytest.raises(IcaConfigError, match=r"w: wake_on_notifications=True, but neither the task's sqs_queue"):
        sensor.execute(context())
    operator = IcaCreateAnalysisBatchOperator(
        task_id="w", nextflow_items=[nextflow_item("s1")], wait_for_completion=True, wake_on_notifications=True,
        idempotency_key="wake-check", **({"deferrable": True} if "deferrable" in sensor_mode else {}),
    )
    with pytest.raises(IcaConfigError, match=r"wake_on_notifications=True"):
        operator.execute(context())
    assert fake.backend.request_log == []  # not even a token, let alone a batch
    assert fake.backend.count_batches() == 0


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("sqs_queue", "not a queue"),
        ("sqs_queue", "https://sqs.eu-central-1.amazonaws.com/only-a-name"),
        ("reconcile_interval", 0),
        ("reconcile_interval", "soon"),
        ("reconcile_interval", float("inf")),
        ("aws_conn_id", ""),
        ("aws_conn_id", 7),
        ("wake_on_notifications", "yes"),
    ],
)
@pytest.mark.parametrize("task", ["sensor", "operator"])
def test_a_bad_notification_argument_fails_at_dag_parse_naming_it(task: str, argument: str, value: Any) -> None:
    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2
        from airflow import DAG
    import datetime

    with DAG(dag_id="bad_wake", schedule=None, start_date=datetime.datetime(2026, 1, 1)), pytest.raises(
        ValueError, match=rf"^{argument}\b"
    ):
        if task == "sensor":
            IcaAnalysisBatchSensor(task_id="w", batch_id="b", **{argument: value})
        else:
            IcaCreateAnalysisBatchOperator(task_id="c", nextflow_items=[], wait_for_completion=True, **{argument: value})


def test_a_templated_reconcile_interval_is_checked_once_rendered(
    server: tuple[FakeIcaServer, ManualClock], connect: Callable[..., None]
) -> None:
    fake, _ = server
    connect(fake, project_id="proj", sqs_queue=QUEUE)
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id="b-1", reconcile_interval="{{ params.every }}")
    sensor.reconcile_interval = "-5"  # as rendered
    with pytest.raises(IcaConfigError, match=r"w: reconcile_interval='-5' must be more than 0"):
        sensor.execute(context())
    assert fake.backend.request_log == []


# -- a rescheduled sensor -------------------------------------------------------------------------------


def test_a_rescheduled_sensor_polls_although_the_connection_names_a_queue(
    server: tuple[FakeIcaServer, ManualClock], connect: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ica_airflow_provider.hooks import hint_sources

    fake, _ = server
    connect(fake, project_id="proj", sqs_queue=QUEUE, aws_conn_id=AWS_CONN_ID)
    subscribed: list[Any] = []
    monkeypatch.setattr(hint_sources, "_registry", lambda log: subscribed.append(log))
    batch_id = create_batch("resched-woken", "R1", "R2-run-long")
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, mode="reschedule", wake_on_notifications=True)
    with pytest.raises(Exception) as raised:
        sensor.execute(context())
    assert type(raised.value).__name__ == "AirflowRescheduleException"  # poke again later: no process between pokes
    assert subscribed == []
    assert fake.backend.count_requests("GET", f"{batch_id}/items") == 1


# -- a kill, a fork -------------------------------------------------------------------------------------


class Killed(Exception):
    """What Airflow's SIGTERM handler raises in the task after calling its on_kill."""


@pytest.fixture
def aws_connection(moto_sqs_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}", moto_sqs_server.airflow_connection())


@pytest.fixture
def sigterm_kills(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], object]], None]]:
    """``sigterm_kills(on_kill)``: SIGTERM to this process calls ``on_kill``, then raises :class:`Killed`, as in Airflow."""
    previous = signal.getsignal(signal.SIGTERM)

    def install(on_kill: Callable[[], object]) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            on_kill()
            raise Killed

        signal.signal(signal.SIGTERM, handler)

    yield install
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.usefixtures("aws_connection")
def test_killing_a_woken_poke_sensor_aborts_its_analyses_and_ends_its_subscription(
    server: tuple[FakeIcaServer, ManualClock],
    connect: Callable[..., None],
    sqs_queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
    sigterm_kills: Callable[[Callable[[], object]], None],
) -> None:
    pytest.importorskip("airflow.providers.amazon", reason="the 'events' extra is not installed")
    from ica_airflow_provider.hooks import hint_sources
    from ica_airflow_provider.hooks.ica import IcaHook
    from ica_airflow_provider.hooks.sqs_consumer import CONSUMERS, Subscription

    fake, _ = server
    connect(fake, project_id="proj", sqs_queue=sqs_queue_url, aws_conn_id=AWS_CONN_ID, reconcile_interval=3600)
    IcaHook().ensure_notifications("proj", sqs_queue_url)
    batch_id = create_batch("kill-woken", "K1-run-long", "K2-run-long")
    analyses = {item.analysis_id for item in fake.backend.batches[batch_id].items}
    watched = threading.Event()
    subscriptions: list[Subscription] = []
    watch = Subscription.watch

    def spy(subscription: Subscription, analysis_ids: Any = (), *args: Any) -> None:
        watch(subscription, analysis_ids, *args)
        subscriptions.append(subscription)
        if analyses <= subscription.analysis_ids:
            watched.set()

    monkeypatch.setattr(Subscription, "watch", spy)
    sensor = IcaAnalysisBatchSensor(
        task_id="w", batch_id=batch_id, poke_interval=3600, timeout=3600, abort_on_kill=True
    )
    sigterm_kills(sensor.on_kill)
    # The kill comes while the wait sleeps in its AwaitHints (the wait follows its analyses then).
    killer = threading.Thread(target=lambda: watched.wait(PATIENCE) and os.kill(os.getpid(), signal.SIGTERM))
    killer.start()
    with pytest.raises(Killed):
        sensor.execute(context())
    killer.join()

    assert sorted(fake.backend.abort_calls) == sorted(analyses)
    loop = hint_sources.hint_loop()

    async def left_on_the_loop() -> list[asyncio.Task[Any]]:
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and "consumer" not in t.get_name()]
        if others:
            await asyncio.wait(others, timeout=PATIENCE)
        return [t for t in others if not t.done()]

    # The wait's sleep on the hint loop was cancelled with it, and its subscription closed;
    # the consumer runs on for other waits.
    assert asyncio.run_coroutine_threadsafe(left_on_the_loop(), loop).result() == []
    assert subscriptions and all(s.closed for s in subscriptions)
    consumer = next(c for c in CONSUMERS._consumers.values() if c.queue.queue_url == sqs_queue_url)
    assert consumer.running and len(consumer._subscriptions) == 0
    asyncio.run_coroutine_threadsafe(consumer.aclose(), loop).result(PATIENCE)


def test_a_forked_worker_starts_its_own_hint_loop() -> None:
    from ica_airflow_provider.hooks import hint_sources

    parents = hint_sources.hint_loop()  # running in a thread that a fork leaves behind
    assert asyncio.run_coroutine_threadsafe(asyncio.sleep(0, "ran"), parents).result(PATIENCE) == "ran"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads: what a forking worker does
        pid = os.fork()
    if pid == 0:  # the child: exits at once, whatever happens
        code = 1
        try:
            loop = hint_sources.hint_loop()
            ran = asyncio.run_coroutine_threadsafe(asyncio.sleep(0, "ran"), loop).result(PATIENCE)
            code = 0 if ran == "ran" and loop is not parents else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert hint_sources.hint_loop() is parents


# A worker's task ends while the hint loop's long poll is in flight (one that never returns here).
EXIT_AFTER_A_WAIT = """
import asyncio, logging, threading
from ica_airflow_provider.core.messages import AwaitHints
from ica_airflow_provider.core.tracker import BatchTracker
from ica_airflow_provider.core.wake import WakeOptions
from ica_airflow_provider.hooks import hint_sources
from ica_airflow_provider.hooks.sqs_consumer import CONSUMERS

in_flight = threading.Event()

def unanswered() -> None:
    in_flight.set()
    threading.Event().wait()

class Queue:
    async def receive(self, wait_seconds, max_messages=10):
        await asyncio.to_thread(unanswered)
    async def delete(self, receipt): ...
    async def release(self, receipt): ...

CONSUMERS.make_queue = lambda url, conn_id: Queue()
options = WakeOptions("https://sqs.eu-central-1.amazonaws.com/123456789012/ica-events")
with hint_sources.blocking_subscribed(options, logging.getLogger(), BatchTracker("p", "b")) as hints:
    hints.wait(AwaitHints(0.0, ("analysis-1",), ()))
assert in_flight.wait(60)
print("task done", flush=True)
"""


def test_a_worker_process_exits_with_its_long_poll_in_flight() -> None:
    pytest.importorskip("airflow.providers.amazon", reason="the 'events' extra is not installed")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", EXIT_AFTER_A_WAIT], capture_output=True, text=True, timeout=PATIENCE)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("task done")
    assert "Cannot read SQS queue" not in done.stderr  # no warning from a consumer torn down with the process
