"""Notification setup in one idempotent call: the hook and the command line against the fake ICA."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from ica_airflow_provider.core.errors import IcaConfigError, IcaError
from ica_airflow_provider.core.notification_setup import queue_policy_statement
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.notifications_cli import main
from ica_airflow_provider.testing import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from ica_airflow_provider.testing.server import FakeIcaServer
from ica_airflow_provider.testing.sqs_server import MotoSqsServer

PROJECT = "project-1"
QUEUE = "https://sqs.eu-central-1.amazonaws.com/123456789012/ica-events"


def posts(server: FakeIcaServer) -> int:
    return server.backend.count_requests("POST", "/notification")


def test_the_second_call_finds_everything_and_creates_nothing(
    ica_fake_server: FakeIcaServer, connect: Callable[..., None]
) -> None:
    connect(ica_fake_server)
    first = IcaHook().ensure_notifications(PROJECT, QUEUE)
    assert first.changed and first.channel_created
    assert [(sub.event_code, sub.created) for sub in first.subscriptions] == [
        ("ICA_EXEC_028", True),
        ("ICA_JOB_001", True),
    ]
    assert posts(ica_fake_server) == 3
    second = IcaHook().ensure_notifications(PROJECT, QUEUE)
    assert not second.changed and second.warnings == ()
    assert (second.channel_id, second.subscriptions) == (
        first.channel_id,
        tuple(type(sub)(sub.event_code, sub.subscription_id, False) for sub in first.subscriptions),
    )
    assert posts(ica_fake_server) == 3  # the repeat only read
    store = ica_fake_server.backend.notifications
    assert len(store.channels) == 1 and len(store.subscriptions) == 2
    assert {(sub.event_code, sub.payload_version, sub.enabled) for sub in store.subscriptions.values()} == {
        ("ICA_EXEC_028", "V4", True),
        ("ICA_JOB_001", "V4", True),
    }
    assert second.policy_statement == {
        "Sid": "AllowIcaNotifications",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::079623148045:root"},
        "Action": "sqs:SendMessage",
        "Resource": "arn:aws:sqs:eu-central-1:123456789012:ica-events",
    }


def test_a_v3_subscription_or_a_disabled_channel_is_not_reused_and_is_named(
    ica_fake_server: FakeIcaServer, connect: Callable[..., None]
) -> None:
    connect(ica_fake_server)
    store = ica_fake_server.backend.notifications
    disabled = store.create_channel({"type": "SQS", "address": QUEUE, "enabled": False})
    setup = IcaHook().ensure_notifications(PROJECT, QUEUE, ["ICA_EXEC_028"])
    assert setup.channel_created and setup.channel_id != disabled.id
    assert setup.warnings == (f"SQS channel {disabled.id} for this queue is disabled; created an enabled one beside it",)
    old = store.create_subscription(
        "project-2",
        {"eventCode": "ICA_EXEC_028", "notificationChannelId": setup.channel_id, "enabled": True, "payloadVersion": "V3"},
    )
    other = IcaHook().ensure_notifications("project-2", QUEUE, ["ICA_EXEC_028"])
    assert not other.channel_created and other.subscriptions[0].created
    assert other.warnings == (f"subscription {old.id} sends ICA_EXEC_028 with payload version V3; delete it",)


def test_unknown_event_codes_are_refused_before_anything_is_created(
    ica_fake_server: FakeIcaServer, connect: Callable[..., None]
) -> None:
    connect(ica_fake_server)
    with pytest.raises(IcaError, match="ICA does not offer ICA_NOPE_001"):
        IcaHook().ensure_notifications(PROJECT, QUEUE, ["ICA_EXEC_028", "ICA_NOPE_001"])
    assert posts(ica_fake_server) == 0


@pytest.mark.parametrize(
    ("project", "queue", "codes", "message"),
    [
        (" ", QUEUE, None, "project_id: ' ' is empty"),
        (PROJECT, "ica-events", None, "queue_url: 'ica-events' is not an SQS queue URL"),
        (PROJECT, QUEUE + "x" * 60, None, "queue_url: 122 characters; ICA accepts channel addresses of at most 100"),
        (PROJECT, QUEUE, [], "event_codes: empty"),
        (PROJECT, QUEUE, ["X" * 21], "event_codes: 'XXXXXXXXXXXXXXXXXXXXX' is not an event code"),
    ],
)
def test_bad_arguments_are_named_before_any_request(
    ica_fake_server: FakeIcaServer,
    connect: Callable[..., None],
    project: str,
    queue: str,
    codes: list[str] | None,
    message: str,
) -> None:
    connect(ica_fake_server)
    with pytest.raises(IcaConfigError, match=message.replace("(", r"\(")):
        IcaHook().ensure_notifications(project, queue, codes)
    assert ica_fake_server.backend.request_count == 0


def test_the_command_line(
    ica_fake_server: FakeIcaServer, connect: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    connect(ica_fake_server)
    assert main(["--project", PROJECT, "--queue-url", QUEUE]) == 0
    first = capsys.readouterr().out
    assert main(["--project", PROJECT, "--queue-url", QUEUE, "--event-code", "ICA_JOB_001"]) == 0
    second = capsys.readouterr().out
    assert first.count(": created") == 3 and ": created" not in second
    assert second.count(": already there") == 2
    policy = json.loads(second[second.index("{") :])
    assert policy == queue_policy_statement(QUEUE)
    assert main(["--project", PROJECT, "--queue-url", QUEUE, "--event-code", "ICA_NOPE_001"]) == 1
    captured = capsys.readouterr()
    assert "ICA does not offer ICA_NOPE_001" in captured.err and captured.out == ""


def test_a_set_up_project_gets_its_batch_transitions_on_the_queue(
    ica_fake_server_factory: Callable[..., FakeIcaServer],
    connect: Callable[..., None],
    moto_sqs_server: MotoSqsServer,
    sqs_queue_url: str,
) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, batch_start_seconds=1, item_creation_seconds=1, analysis_step_seconds=1)
    connect(server)
    hook = IcaHook()
    hook.ensure_notifications(PROJECT, sqs_queue_url)
    batch = hook.create_analysis_creation_batch(
        PROJECT, {"nextflowItems": [nextflow_item("a")]}
    )
    clock.advance(30)
    assert server.backend.emitter.flush()
    sqs = boto3.client("sqs", **moto_sqs_server.client_kwargs())
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=sqs_queue_url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [json.loads(message["Body"]) for message in messages]
        sqs.delete_message_batch(
            QueueUrl=sqs_queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
        )
    codes = [body["eventCode"] for body in bodies]
    assert codes.count("ICA_EXEC_028") == 7 and codes.count("ICA_JOB_001") == 3
    assert {body["payload"].get("subjectId") for body in bodies if body["eventCode"] == "ICA_JOB_001"} == {batch.id}
