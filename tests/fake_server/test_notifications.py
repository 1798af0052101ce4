"""The fake ICA's notifications, received from a real SQS server (moto, its own process) with boto3.

Time is a ManualClock; ``emitter.flush()`` returns once every due message went to SQS, so no
test sleeps. Fault draws are seeded: a seed gives the same messages every run.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests

from ica_airflow_provider.core.notifications import AnalysisHint, JobHint, parse_message
from ica_airflow_provider.testing import ManualClock
from ica_airflow_provider.testing.server import FakeIcaServer
from ica_airflow_provider.testing.sqs_server import MotoSqsServer

from .helpers import PROJECT_ID, V3, IcaClient, batch_body
from .spec import assert_schema

# Each step 1 s: the default batch (2 items) ends well within END seconds.
TIMINGS = {"batch_start_seconds": 1, "item_creation_seconds": 1, "analysis_step_seconds": 1, "abort_seconds": 1}
END = 20
LIFECYCLE = [
    (None, "REQUESTED"),
    ("REQUESTED", "QUEUED"),
    ("QUEUED", "INITIALIZING"),
    ("INITIALIZING", "PREPARING_INPUTS"),
    ("PREPARING_INPUTS", "IN_PROGRESS"),
    ("IN_PROGRESS", "GENERATING_OUTPUTS"),
    ("GENERATING_OUTPUTS", "SUCCEEDED"),
]
JOB_LIFECYCLE = [(None, "INITIALIZED"), ("INITIALIZED", "RUNNING"), ("RUNNING", "SUCCEEDED")]


@pytest.fixture
def sqs(moto_sqs_server: MotoSqsServer) -> Any:
    return boto3.client("sqs", **moto_sqs_server.client_kwargs())


def subscribe(
    client: IcaClient,
    queue_url: str,
    codes: tuple[str, ...] = ("ICA_EXEC_028", "ICA_JOB_001"),
    payload_version: str | None = "V4",
    project_id: str = PROJECT_ID,
) -> str:
    """An SQS channel for ``queue_url`` and the project's subscriptions, over the fake's API; the channel id."""
    headers = client.headers(3, Content_Type=V3)
    channel = client.session.post(
        f"{client.url}/api/notificationChannels",
        json={"type": "SQS", "address": queue_url, "enabled": True},
        headers=headers,
    )
    assert channel.status_code == 201, channel.text
    for code in codes:
        body = {"eventCode": code, "notificationChannelId": channel.json()["id"], "enabled": True}
        if payload_version is not None:
            body["payloadVersion"] = payload_version
        url = f"{client.url}/api/projects/{project_id}/notificationSubscriptions"
        answer = client.session.post(url, json=body, headers=headers)
        assert answer.status_code == 200, answer.text
    return str(channel.json()["id"])


def new_queue(sqs: Any, prefix: str) -> str:
    """A queue of its own on the session's SQS server (names must not repeat within a session)."""
    return str(sqs.create_queue(QueueName=f"{prefix}-{uuid.uuid4().hex[:8]}")["QueueUrl"])


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message on the queue, in the order SQS hands them out, deleted."""
    bodies: list[dict[str, Any]] = []
    while True:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = received.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def run_to_end(server: FakeIcaServer, clock: ManualClock, seconds: int = END) -> None:
    """Advance a second at a time, flushing after each: the pump sees every instant."""
    for _ in range(seconds):
        clock.advance(1)
        assert server.backend.emitter.flush()


def transitions(bodies: list[dict[str, Any]], subject: str) -> list[tuple[str | None, str]]:
    keys = ("analysisPreviousStatus", "analysisStatus") if subject != "job" else ("jobPreviousStatus", "jobStatus")
    return [
        (body["eventParameters"][keys[0]], body["eventParameters"][keys[1]])
        for body in bodies
        if (subject == "job" and body["eventCode"] == "ICA_JOB_001")
        or body["eventParameters"].get("pipelineExecution") == subject
    ]


def test_every_transition_reaches_the_queue_in_ica_shape(
    client_factory: Callable[..., IcaClient],
    sqs: Any,
    sqs_queue_url: str,
    ica_full_spec: dict[str, Any],
) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS)
    subscribe(client, sqs_queue_url)
    batch = client.create_batch(batch_body("ok", "bad-fail-analysis")).json()
    run_to_end(client.server, clock)
    bodies = drain(sqs, sqs_queue_url)
    record = client.server.backend.batches[batch["id"]]
    ok, bad = (item.analysis_id for item in record.items)
    assert transitions(bodies, ok) == LIFECYCLE
    assert transitions(bodies, bad) == [*LIFECYCLE[:5], ("IN_PROGRESS", "FAILED")]
    assert transitions(bodies, "job") == JOB_LIFECYCLE
    stats = client.server.backend.emitter.stats()
    assert (stats["sent"], stats["messages"], stats["failed"], stats["queued"]) == (len(bodies), len(bodies), 0, 0)
    for body in bodies:
        assert body["projectId"] == PROJECT_ID and body["payloadVersion"] == "v4"
        assert {"correlationId", "timestamp", "description"} <= body.keys()
        hint = parse_message(json.dumps(body))  # the provider's parser takes the fake's messages
        if body["eventCode"] == "ICA_EXEC_028":
            assert_schema(ica_full_spec, "AnalysisV4", body["payload"])
            assert isinstance(hint, AnalysisHint) and hint.status == body["payload"]["status"]
            assert hint.payload_version == "v4" and hint.time_modified is not None
        else:
            assert_schema(ica_full_spec, "Job", body["payload"])
            assert isinstance(hint, JobHint) and hint.subject_id == batch["id"]
            assert hint.job_id == batch["job"]["id"]
    # Order within one analysis follows time; timeModified never goes back.
    ok_times = [body["payload"]["timeModified"] for body in bodies if body["payload"]["id"] == ok]
    assert ok_times == sorted(ok_times)


def test_only_enabled_subscriptions_on_enabled_sqs_channels_are_served(
    client_factory: Callable[..., IcaClient], sqs: Any, sqs_queue_url: str
) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS)
    channel_id = subscribe(client, sqs_queue_url, codes=("ICA_JOB_001",))
    # Another project's batch: not subscribed.
    client.create_batch(batch_body("elsewhere"), project_id="project-2")
    run_to_end(client.server, clock)
    assert drain(sqs, sqs_queue_url) == []
    # The channel disabled: the subscribed project's batch goes unannounced.
    channel_url = f"{client.url}/api/notificationChannels/{channel_id}"
    channel = client.session.get(channel_url, headers=client.headers(3)).json()
    answer = client.session.put(
        channel_url, json={**channel, "enabled": False}, headers=client.headers(3, Content_Type=V3)
    )
    assert answer.status_code == 200
    client.create_batch(batch_body("quiet"))
    run_to_end(client.server, clock)
    assert drain(sqs, sqs_queue_url) == []
    assert client.server.backend.emitter.stats()["messages"] == 0


def test_no_subscription_no_thread_and_no_boto3(
    client_factory: Callable[..., IcaClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # an import of boto3 would now fail
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS)
    batch_id = client.create_batch(batch_body("a", "b")).json()["id"]
    clock.advance(END)
    assert client.server.backend.emitter.flush()
    assert client.get_batch(batch_id).json()["job"]["status"] == "SUCCEEDED"
    emitter = client.server.backend.emitter
    assert emitter.stats()["transitions"] == 0 and not emitter.running


def test_abort_and_job_stop_are_announced(
    client_factory: Callable[..., IcaClient], sqs: Any, sqs_queue_url: str
) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS, item_stagger_seconds=10)
    subscribe(client, sqs_queue_url)
    batch_id = client.create_batch(batch_body("long-run-long", "never")).json()["id"]
    record = client.server.backend.batches[batch_id]
    run_to_end(client.server, clock, 6)  # the first analysis IN_PROGRESS (for an hour); the second not created
    assert client.abort(record.items[0].analysis_id).status_code == 204
    stop = client.session.post(f"{client.server.root_url}/_fake/projects/{PROJECT_ID}/analysisCreationBatch/{batch_id}:stopJob")
    assert stop.status_code == 200
    assert client.server.backend.emitter.flush()  # both announced at once, on the same instant
    run_to_end(client.server, clock, 3)
    bodies = drain(sqs, sqs_queue_url)
    assert transitions(bodies, record.items[0].analysis_id)[-3:] == [
        ("PREPARING_INPUTS", "IN_PROGRESS"),
        ("IN_PROGRESS", "ABORTING"),
        ("ABORTING", "ABORTED"),
    ]
    assert transitions(bodies, record.items[1].analysis_id) == []
    assert transitions(bodies, "job") == [(None, "INITIALIZED"), ("INITIALIZED", "RUNNING"), ("RUNNING", "STOPPED")]


def faulty_run(
    client_factory: Callable[..., IcaClient], sqs: Any, queue_url: str, step: int, **faults: Any
) -> tuple[list[tuple[str, str, str | None]], dict[str, Any]]:
    """Five analyses a second apart, so that one's transitions fall on the instants of the others'."""
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS, item_stagger_seconds=1, notify_seed=7, **faults)
    subscribe(client, queue_url, codes=("ICA_EXEC_028",))
    client.create_batch(batch_body(*(f"item-{n}" for n in range(5))))
    for _ in range(0, 30, step):
        clock.advance(step)
        assert client.server.backend.emitter.flush()
    stats = client.server.backend.emitter.stats()
    bodies = drain(sqs, queue_url)
    for body in bodies:  # ids differ between servers; keep what the faults decide
        body.pop("projectId")
    return [
        (body["correlationId"], body["eventParameters"]["analysisStatus"], body.get("payloadVersion"))
        for body in bodies
    ], stats


def test_seeded_drops_and_duplicates_repeat_exactly(
    client_factory: Callable[..., IcaClient], sqs: Any, moto_sqs_server: MotoSqsServer
) -> None:
    queues = [new_queue(sqs, f"faults-{n}") for n in range(3)]
    faults = {"notify_drop_rate": 0.3, "notify_duplicate_rate": 0.3, "notify_v3_rate": 0.2}
    first, first_stats = faulty_run(client_factory, sqs, queues[0], 1, **faults)
    # The same seed pumped every 3 s, or once: the same messages in the same order.
    for queue_url, step in zip(queues[1:], (3, 30), strict=True):
        assert faulty_run(client_factory, sqs, queue_url, step, **faults) == (first, first_stats)
    stats = first_stats
    assert stats["messages"] == 5 * len(LIFECYCLE)
    assert 0 < stats["dropped"] < stats["messages"] and stats["duplicated"] > 0 and stats["v3"] > 0
    assert len(first) == stats["sent"] == stats["messages"] - stats["dropped"] + stats["duplicated"]
    correlations = [entry[0] for entry in first]
    assert len(set(correlations)) == stats["messages"] - stats["dropped"]  # a duplicate is the same message
    assert {entry[2] for entry in first} == {"v4", "v3"}
    assert {entry[1] for entry in first if entry[2] == "v3"} <= {"REQUESTED", "INPROGRESS", "SUCCEEDED"}


def test_delay_and_reordering(client_factory: Callable[..., IcaClient], sqs: Any, sqs_queue_url: str) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS, notify_seed=3, notify_delay_seconds=5, notify_reorder_seconds=3)
    subscribe(client, sqs_queue_url, codes=("ICA_EXEC_028",))
    client.create_batch(batch_body("a", "b", "c"))
    emitter = client.server.backend.emitter
    run_to_end(client.server, clock, 4)  # the analyses exist from 2 s on, and nothing is 5 s old yet
    assert drain(sqs, sqs_queue_url) == [] and emitter.stats()["pending"] > 0
    run_to_end(client.server, clock, END)
    bodies = drain(sqs, sqs_queue_url)
    assert len(bodies) == 3 * len(LIFECYCLE) and emitter.stats()["pending"] == 0
    sent_order = [body["payload"]["timeModified"] for body in bodies]
    assert sent_order != sorted(sent_order)  # neighbours swapped...
    for analysis_id in {body["payload"]["id"] for body in bodies}:  # ...but nothing lost
        assert sorted(transitions(bodies, analysis_id), key=LIFECYCLE.index) == LIFECYCLE


def test_an_outage_fails_deliveries_and_the_stats_endpoint_counts_them(
    client_factory: Callable[..., IcaClient], sqs: Any, sqs_queue_url: str
) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS, notify_outage_start_seconds=3, notify_outage_seconds=2)
    subscribe(client, sqs_queue_url, codes=("ICA_EXEC_028",))
    client.create_batch(batch_body("a"))
    run_to_end(client.server, clock)
    received = [body["eventParameters"]["analysisStatus"] for body in drain(sqs, sqs_queue_url)]
    # Created at 2 s: QUEUED at 3 s and INITIALIZING at 4 s fall in the outage [3, 5).
    assert received == ["REQUESTED", "PREPARING_INPUTS", "IN_PROGRESS", "GENERATING_OUTPUTS", "SUCCEEDED"]
    stats = requests.get(f"{client.server.root_url}/_fake/notifications/stats", timeout=10).json()
    assert (stats["failed"], stats["sent"], stats["messages"]) == (2, 5, 7)
    assert "outage" in stats["last_error"]
    assert client.server.backend.request_count == 3  # the stats call is not an API request


def test_v3_and_version_less_subscriptions(
    client_factory: Callable[..., IcaClient], sqs: Any, moto_sqs_server: MotoSqsServer, ica_full_spec: dict[str, Any]
) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS)
    v3_queue, bare_queue = new_queue(sqs, "v3-events"), new_queue(sqs, "bare-events")
    subscribe(client, v3_queue, codes=("ICA_EXEC_028",), payload_version="V3")
    subscribe(client, bare_queue, codes=("ICA_EXEC_028",), payload_version=None)
    client.create_batch(batch_body("a"))
    run_to_end(client.server, clock)
    v3, bare = drain(sqs, v3_queue), drain(sqs, bare_queue)
    assert [body["eventParameters"]["analysisStatus"] for body in v3] == [
        "REQUESTED", "REQUESTED", "INPROGRESS", "INPROGRESS", "INPROGRESS", "INPROGRESS", "SUCCEEDED"
    ]
    assert {body["payloadVersion"] for body in v3} == {"v3"}
    assert all("payloadVersion" not in body for body in bare) and len(bare) == len(v3)
    for body in v3:
        assert_schema(ica_full_spec, "AnalysisV3", body["payload"])
        hint = parse_message(json.dumps(body))
        assert isinstance(hint, AnalysisHint) and hint.payload_version == "v3"
    hint = parse_message(json.dumps(bare[2]))
    assert isinstance(hint, AnalysisHint) and (hint.status, hint.payload_version) == ("IN_PROGRESS", "v3")


def test_a_full_send_queue_drops_and_counts_instead_of_waiting(
    client_factory: Callable[..., IcaClient], sqs: Any, sqs_queue_url: str
) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS, notify_queue_size=1)
    subscribe(client, sqs_queue_url, codes=("ICA_EXEC_028",))
    client.create_batch(batch_body("a", "b", "c"))
    emitter = client.server.backend.emitter
    emitter.close()  # no sender: the one queue slot fills up
    clock.advance(END)
    handed = emitter.pump()
    stats = emitter.stats()
    assert (handed, stats["queued"], stats["overflowed"]) == (1, 1, 3 * len(LIFECYCLE) - 1)


def test_the_ticker_sends_on_its_own_with_the_real_clock(
    client_factory: Callable[..., IcaClient], sqs: Any, sqs_queue_url: str
) -> None:
    """No flush: the background ticker finds the transitions; SQS's long poll waits for them."""
    client = client_factory()  # time.monotonic, default timings: about 1.5 s for the whole batch
    subscribe(client, sqs_queue_url, codes=("ICA_JOB_001",))
    client.create_batch(batch_body("a"))
    statuses: list[str] = []
    while "SUCCEEDED" not in statuses:
        received = sqs.receive_message(QueueUrl=sqs_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
        assert received.get("Messages"), f"no job message within 20 s after {statuses}"
        for message in received["Messages"]:
            statuses.append(json.loads(message["Body"])["eventParameters"]["jobStatus"])
            sqs.delete_message(QueueUrl=sqs_queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert statuses == ["INITIALIZED", "RUNNING", "SUCCEEDED"]


def test_the_knobs_are_command_line_flags_and_bad_values_are_refused() -> None:
    from ica_airflow_provider.testing.backend import FakeIcaBackend
    from ica_airflow_provider.testing.config import FakeIcaConfig
    from ica_airflow_provider.testing.server import build_parser

    args = build_parser().parse_args(
        ["--notify-drop-rate", "0.5", "--notify-seed", "9", "--sqs-endpoint-url", "http://127.0.0.1:5000"]
    )
    config = FakeIcaConfig(**vars(args))
    assert (config.notify_drop_rate, config.notify_seed, config.sqs_endpoint_url) == (0.5, 9, "http://127.0.0.1:5000")
    assert FakeIcaBackend(config).emitter.stats()["seed"] == 9
    for bad, message in (
        ({"notify_duplicate_rate": 1.5}, "notify_duplicate_rate must be between 0 and 1"),
        ({"notify_delay_seconds": -1}, "must not be negative"),
        ({"notify_queue_size": 0}, "notify_queue_size must be at least 1"),
    ):
        with pytest.raises(ValueError, match=message):
            FakeIcaBackend(FakeIcaConfig(**bad))


def test_a_refused_send_is_a_failed_delivery(
    client_factory: Callable[..., IcaClient], moto_sqs_server: MotoSqsServer
) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, **TIMINGS)
    subscribe(client, f"{moto_sqs_server.url}/123456789012/no-such-queue", codes=("ICA_JOB_001",))
    client.create_batch(batch_body("a"))
    run_to_end(client.server, clock)
    stats = client.server.backend.emitter.stats()
    assert (stats["messages"], stats["sent"], stats["failed"]) == (3, 0, 3)
    assert stats["last_error"].startswith("QueueDoesNotExist: ") and "SendMessage" in stats["last_error"]


def test_the_sqs_endpoint_of_a_queue_url() -> None:
    from ica_airflow_provider.testing.emitter import sqs_endpoint

    aws = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"
    assert sqs_endpoint(aws, None, None) == ("https://sqs.eu-west-1.amazonaws.com", "eu-west-1")
    assert sqs_endpoint("http://127.0.0.1:5000/1/q", None, None) == ("http://127.0.0.1:5000", "us-east-1")
    assert sqs_endpoint(aws, "http://127.0.0.1:9", "ap-southeast-2") == ("http://127.0.0.1:9", "ap-southeast-2")


def test_a_burst_goes_out_in_batches_per_queue_within_sqs_limits() -> None:
    from ica_airflow_provider.testing.emitter import SEND_BATCH_BYTES, Outgoing, _sends
    from ica_airflow_provider.testing.notifications import Target

    one, two = (Target(f"http://127.0.0.1:5000/1/q{n}", None, "V4", f"s{n}") for n in (1, 2))
    small = [Outgoing(0.0, one if n % 3 else two, f"m{n}") for n in range(7)]
    sends = _sends(small)
    assert [(t, [o.body for o in entries]) for t, entries in sends] == [
        (two, ["m0", "m3", "m6"]), (one, ["m1", "m2", "m4", "m5"]),
    ]
    big = "x" * (SEND_BATCH_BYTES // 3 + 1)  # three of them are more than one request may carry
    assert [len(entries) for _, entries in _sends([Outgoing(0.0, one, big) for _ in range(3)])] == [2, 1]
