"""Real Airflow runs (dag.test) whose waits ICA's notifications wake, through moto's SQS server.

The fake ICA runs on a manual clock: the batch ends only when the test moves the clock, which a
helper thread does once the wait follows every analysis of the batch (its subscription watched
them), then sends the notifications. Polls and listings are an hour apart, so a wait that ends
within the test was woken; each run's timeout only guards against a hang. Where a wait must
poll, the clock moves at its third poll instead.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip(
    "airflow.providers.amazon", reason="apache-airflow-providers-amazon is not installed (the 'events' extra)"
)

from ica_airflow_provider.core import wait as core_wait
from ica_airflow_provider.hooks import hint_sources
from ica_airflow_provider.hooks.clients import REGISTRY
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.hooks.sqs_consumer import CONSUMERS, ConsumerRegistry, Subscription
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.server import FakeIcaServer
from ica_airflow_provider.testing.sqs_server import MotoSqsServer
from tests.e2e.test_dag_runs import MODES, run, task_states
from tests.e2e.xcoms import xcom
from tests.hint_loop_consumers import stop_hint_loop_consumers

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db", "aws_connections", "stop_consumers")]
PROJECT = "proj-e2e"
AWS_CONN_ID = "sqs_events"
PATIENCE = 60.0  # a hang guard only
SAMPLES = ["W1", "W2-fail-analysis", "W3"]  # the woken DAGs tolerate one failure and fetch outputs
ENDED = 600  # seconds on the fake's clock after which every analysis of SAMPLES has ended
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ANALYSIS_READ = re.compile(r"/analyses/[^/]+$")
NOT_READABLE = "ICA notifications cannot be read; polling ICA every"


@pytest.fixture
def aws_connections(moto_sqs_server: MotoSqsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS connections that read the queues (the named one, and aws_default), at moto's endpoint."""
    conn = moto_sqs_server.airflow_connection()
    for conn_id in (AWS_CONN_ID, "aws_default"):
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn)


@pytest.fixture
def stop_consumers() -> Iterator[None]:
    """Each test's consumers stop with it (else they go on reading its deleted queue, logging into the next)."""
    yield
    stop_hint_loop_consumers(PATIENCE)
    CONSUMERS._consumers.clear()


class Notifier:
    """Ends the fake's batches and sends their notifications once a wait follows them: its
    ``analyses`` analyses by id (a sensor's untagged batch), or its batch's tag (the operator's)."""

    def __init__(self, server: FakeIcaServer, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, analyses: int) -> None:
        self.server, self.clock = server, clock
        self.followed: set[str] = set()
        self.tags: set[str] = set()
        self.requests_before: int | None = None  # the fake's requests when the batch ended
        self.flushed = False
        self._changed = threading.Condition()
        watch = Subscription.watch

        def spy(subscription: Subscription, analysis_ids: Any = (), job_ids: Any = (), tags: Any = ()) -> None:
            analysis_ids = tuple(analysis_ids)
            watch(subscription, analysis_ids, job_ids, tags)
            with self._changed:
                self.followed.update(analysis_ids)
                self.tags.update(tags)
                self._changed.notify_all()

        monkeypatch.setattr(Subscription, "watch", spy)
        self._thread = threading.Thread(target=self._end_batches, args=(analyses,), daemon=True)
        self._thread.start()

    def _end_batches(self, analyses: int) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.followed) >= analyses or bool(self.tags), PATIENCE):
                return
        # The wait is asleep in its AwaitHints: every request from now on is one the notifications caused.
        self.requests_before = len(self.server.backend.request_log)
        self.clock.advance(ENDED)
        self.flushed = self.server.backend.emitter.flush()

    def requests_after(self) -> list[Any]:
        assert self.requests_before is not None, "the wait never followed its analyses"
        return list(self.server.backend.request_log)[self.requests_before:]


@pytest.fixture
def woken_ica(
    ica_fake_server_factory: Callable[..., FakeIcaServer], monkeypatch: pytest.MonkeyPatch, sqs_queue_url: str
) -> Callable[..., tuple[FakeIcaServer, ManualClock]]:
    """``woken_ica(queue_on_connection=True)``: a fake ICA on a manual clock, its project subscribed to the queue."""

    def start(*, queue_on_connection: bool = True) -> tuple[FakeIcaServer, ManualClock]:
        clock = ManualClock()
        server = ica_fake_server_factory(
            clock=clock, batch_start_seconds=0, item_creation_seconds=0, analysis_step_seconds=5
        )
        extra: dict[str, Any] = {"project_id": PROJECT}
        if queue_on_connection:
            extra |= {"sqs_queue": sqs_queue_url, "aws_conn_id": AWS_CONN_ID, "reconcile_interval": 3600}
        conn = {"conn_type": "ica", "host": server.url, "password": "fake-api-key", "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_ICA_DEFAULT", json.dumps(conn))
        REGISTRY.clear()  # the connection changed: no client of an earlier fake is kept
        IcaHook().ensure_notifications(PROJECT, sqs_queue_url)
        server.backend.reset_request_log()
        return server, clock

    return start


def polls_then_ends(clock: ManualClock, monkeypatch: pytest.MonkeyPatch, at_poll: int = 3) -> list[int]:
    """The batch ends at the wait's ``at_poll``-th poll (of any wait in the run); returns the poll count."""
    polls: list[int] = []
    poll = core_wait.Wait.poll

    def counted(self: core_wait.Wait, *args: Any, **kwargs: Any) -> Any:
        polls.append(1)
        if len(polls) == at_poll:
            clock.advance(ENDED)
        return (yield from poll(self, *args, **kwargs))

    monkeypatch.setattr(core_wait.Wait, "poll", counted)
    return polls


def said_once(logs: str, line: str, server: FakeIcaServer, items: int) -> bool:
    """Whether ``line`` is in the run's log once, as its summary is (dag.test shows some lines twice on some lines)."""
    (batch_id,) = server.backend.batches
    copies = logs.count(f"ICA batch {batch_id}: {items} of {items} analyses SUCCEEDED")
    return copies >= 1 and logs.count(line) == copies


def outcome(dag_run: Any, task_id: str) -> dict[str, Any]:
    """What a run ended with, without the IDs that differ from run to run."""
    records = xcom(dag_run.dag_id, dag_run.run_id, task_id, "analyses")
    return {
        "state": str(dag_run.state),
        "tasks": task_states(dag_run),
        "records": [
            {key: value for key, value in record.items() if not key.endswith("_id") and key != "outputs"}
            | {"outputs": [(o["code"], UUID.sub("<id>", o["name"]), o["data_type"]) for o in record.get("outputs") or []]}
            for record in records
        ],
        "succeeded": len(xcom(dag_run.dag_id, dag_run.run_id, task_id) or []),
        "links": sorted(
            key for key in ("analyses_url", "analysis_url") if xcom(dag_run.dag_id, dag_run.run_id, task_id, key)
        ),
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("task", ["sensor", "operator"])
def test_a_woken_wait_ends_on_notifications_as_a_polled_one_does(
    e2e_dags: dict[str, Any],
    ica_with: Callable[..., Any],
    woken_ica: Callable[..., tuple[FakeIcaServer, ManualClock]],
    monkeypatch: pytest.MonkeyPatch,
    task_logs: Any,
    mode: str,
    task: str,
) -> None:
    waiting = "wait" if task == "sensor" else "create"
    polled_dag = f"ica_e2e_outputs_{mode}" if task == "sensor" else f"ica_e2e_operator_outputs_{mode}"
    ica_with()  # a fake on the wall clock: the polled run's batch ends by itself
    polled = outcome(run(e2e_dags, polled_dag, {"samples": SAMPLES}), waiting)
    task_logs()  # the polled run's lines

    server, clock = woken_ica()
    notifier = Notifier(server, clock, monkeypatch, analyses=len(SAMPLES))
    dag_run = run(e2e_dags, f"ica_e2e_woken{'' if task == 'sensor' else '_operator'}_{mode}", {"samples": SAMPLES})

    assert outcome(dag_run, waiting) == polled
    assert polled["state"] == "success" and polled["succeeded"] == 2
    assert notifier.flushed and server.backend.emitter.stats()["sent"] > 0
    after = notifier.requests_after()
    # Woken: one confirming listing, no analysis read; then only the outputs (one request each).
    assert [r.path for r in after if r.path.endswith("/items")] == [
        f"/ica/rest/api/projects/{PROJECT}/analysisCreationBatch/{batch}/items" for batch in server.backend.batches
    ]
    assert not [r for r in after if ANALYSIS_READ.search(r.path)]
    logs = task_logs()
    batch_id = next(iter(server.backend.batches))
    assert re.search(rf"ICA batch {batch_id}: woken \d+ times? by notifications \([1-9]\d* applied", logs)
    # The summary a polled wait logs.
    assert f"ICA batch {batch_id}: 2 of 3 analyses SUCCEEDED, 1 FAILED (max_failures=1); returning 2 analysis IDs" in logs
    assert NOT_READABLE not in logs


@pytest.mark.parametrize("soft_fail", [False, True])
def test_a_woken_sensor_times_out_at_its_deadline(
    e2e_dags: dict[str, Any], woken_ica: Callable[..., tuple[FakeIcaServer, ManualClock]], task_logs: Any, soft_fail: bool
) -> None:
    server, _ = woken_ica()  # the clock never moves: the batch outlives the one-second timeout
    dag_run = run(e2e_dags, f"ica_e2e_woken_timeout{'_soft' if soft_fail else ''}", {"samples": ["T1", "T2"]})

    assert task_states(dag_run)["wait"] == ("skipped" if soft_fail else "failed")
    records = xcom(dag_run.dag_id, dag_run.run_id, "wait", "analyses")
    assert [r["user_reference"] for r in records] == ["T1", "T2"]  # pushed, as on a polled timeout
    assert "timed out with 2 item(s) not finished: T1, T2" in task_logs()
    assert server.backend.abort_calls == []  # a watcher aborts nothing


@pytest.mark.parametrize("mode", MODES)
def test_wake_on_notifications_false_polls_though_the_connection_names_a_queue(
    e2e_dags: dict[str, Any],
    woken_ica: Callable[..., tuple[FakeIcaServer, ManualClock]],
    monkeypatch: pytest.MonkeyPatch,
    task_logs: Any,
    mode: str,
) -> None:
    _, clock = woken_ica()
    polls = polls_then_ends(clock, monkeypatch)
    subscribed: list[str] = []
    subscribe = ConsumerRegistry.subscribe
    monkeypatch.setattr(
        ConsumerRegistry, "subscribe", lambda self, url, *a, **k: subscribed.append(url) or subscribe(self, url, *a, **k)
    )
    dag_run = run(e2e_dags, f"ica_e2e_unwoken_{mode}", {"samples": ["U1", "U2"]})

    assert str(dag_run.state) == "success"
    assert len(polls) >= 3 and subscribed == []
    assert "by notifications" not in task_logs()


def test_a_templated_queue_is_rendered_and_wakes_the_wait(
    e2e_dags: dict[str, Any],
    woken_ica: Callable[..., tuple[FakeIcaServer, ManualClock]],
    monkeypatch: pytest.MonkeyPatch,
    sqs_queue_url: str,
) -> None:
    server, clock = woken_ica(queue_on_connection=False)  # the run's conf names it; aws_default reads it
    subscribed: list[tuple[str, str | None]] = []
    subscribe = ConsumerRegistry.subscribe
    monkeypatch.setattr(
        ConsumerRegistry, "subscribe",
        lambda self, url, conn_id, *a, **k: subscribed.append((url, conn_id)) or subscribe(self, url, conn_id, *a, **k),
    )
    notifier = Notifier(server, clock, monkeypatch, analyses=len(SAMPLES))
    dag_run = run(e2e_dags, "ica_e2e_woken_poke", {"samples": SAMPLES, "sqs_queue": sqs_queue_url})

    assert str(dag_run.state) == "success" and notifier.flushed
    assert subscribed == [(sqs_queue_url, "aws_default")]


def test_an_unreadable_queue_makes_the_wait_poll_and_say_so_once(
    e2e_dags: dict[str, Any],
    woken_ica: Callable[..., tuple[FakeIcaServer, ManualClock]],
    monkeypatch: pytest.MonkeyPatch,
    sqs_queue_url: str,
    task_logs: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    missing = sqs_queue_url + "-missing"  # moto answers: no such queue
    for _ in range(2):  # the second wait finds the consumer already unable to read it
        caplog.clear()  # each run's own lines (Airflow 2 logs through it)
        server, clock = woken_ica(queue_on_connection=False)
        polls = polls_then_ends(clock, monkeypatch)
        dag_run = run(e2e_dags, "ica_e2e_woken_fallback", {"samples": ["F1", "F2"], "sqs_queue": missing})

        assert str(dag_run.state) == "success"
        assert len(polls) >= 3  # at poll_interval: listings are an hour apart
        assert said_once(task_logs(), NOT_READABLE, server, 2)


def test_without_the_amazon_provider_the_wait_polls_with_one_warning(
    e2e_dags: dict[str, Any],
    woken_ica: Callable[..., tuple[FakeIcaServer, ManualClock]],
    monkeypatch: pytest.MonkeyPatch,
    sqs_queue_url: str,
    task_logs: Any,
) -> None:
    server, clock = woken_ica(queue_on_connection=False)
    polls = polls_then_ends(clock, monkeypatch)
    # The import the hint source makes fails, as where the provider is not installed.
    registry = hint_sources._registry

    def without_amazon(log: Any) -> Any:
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(sys.modules, "airflow.providers.amazon", None)
            return registry(log)

    monkeypatch.setattr(hint_sources, "_registry", without_amazon)
    dag_run = run(e2e_dags, "ica_e2e_woken_fallback", {"samples": ["M1"], "sqs_queue": sqs_queue_url})

    assert str(dag_run.state) == "success" and len(polls) >= 3
    assert said_once(task_logs(), "ICA notifications need the Amazon provider", server, 1)
    assert len(CONSUMERS) == 0
