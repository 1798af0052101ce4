"""Subscribing a project to ICA's notifications on an SQS queue, idempotently (one :data:`Call`).

:func:`ensure_notifications` checks that the event codes exist (``GET /api/eventCodes``),
finds the tenant's enabled SQS channel for the queue or creates it, and finds each code's
enabled V4 subscription of the project on that channel or creates it. Running it again
finds everything and changes nothing. ICA sends to the queue only once the queue's policy
lets ICA's AWS account send to it: :func:`queue_policy_statement` is the statement to add.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ica_airflow_provider.core import operations as ops
from ica_airflow_provider.core.errors import IcaConfigError, IcaError
from ica_airflow_provider.core.notifications import ANALYSIS_STATUS_CHANGED, JOB_STATUS_CHANGED
from ica_airflow_provider.core.protocol import Call, IcaProtocol, parse
from ica_airflow_provider.models.notifications import (
    EventCodeList,
    NotificationChannel,
    NotificationChannelList,
    NotificationSubscription,
    NotificationSubscriptionList,
)

# What a wait woken by notifications needs: analysis transitions, and the batch's job.
WAIT_EVENT_CODES = (ANALYSIS_STATUS_CHANGED, JOB_STATUS_CHANGED)
PAYLOAD_VERSION = "V4"
# The AWS account ICA sends SQS notifications from (ICA's help on notifications).
ICA_AWS_ACCOUNT = "079623148045"
ADDRESS_MAX = 100  # CreateNotificationChannel.address
EVENT_CODE_MAX = 20
_AWS_QUEUE = re.compile(r"sqs[.-](?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


@dataclass(frozen=True)
class SubscriptionState:
    """One event code's subscription: its ID and whether this call created it."""

    event_code: str
    subscription_id: str
    created: bool


@dataclass(frozen=True)
class NotificationSetup:
    """What :func:`ensure_notifications` found or made, and what is left to the user."""

    project_id: str
    queue_url: str
    channel_id: str
    channel_created: bool
    subscriptions: tuple[SubscriptionState, ...]
    warnings: tuple[str, ...]
    policy_statement: dict[str, Any]

    @property
    def changed(self) -> bool:
        """Whether this call created anything."""
        return self.channel_created or any(sub.created for sub in self.subscriptions)

    def describe(self) -> list[str]:
        """Lines for a person: what exists now, and what was created this time."""
        lines = [f"SQS channel {self.channel_id} for {self.queue_url}: {_verb(self.channel_created)}"]
        lines += [
            f"project {self.project_id}: {sub.event_code} subscription {sub.subscription_id}"
            f" ({PAYLOAD_VERSION}): {_verb(sub.created)}"
            for sub in self.subscriptions
        ]
        lines += [f"warning: {warning}" for warning in self.warnings]
        return lines


def check_setup(project_id: str, queue_url: str, event_codes: Iterable[str]) -> tuple[str, ...]:
    """The event codes, deduplicated; :class:`IcaConfigError` naming the bad argument, before any request."""
    if not isinstance(project_id, str) or not project_id.strip():
        raise IcaConfigError(f"project_id: {project_id!r} is empty; give the ICA project's ID")
    if not isinstance(queue_url, str) or not queue_url:
        raise IcaConfigError(f"queue_url: {queue_url!r} is empty; give the SQS queue's URL")
    parts = urlsplit(queue_url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path.count("/") != 2:
        raise IcaConfigError(
            f"queue_url: {queue_url!r} is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)"
        )
    if len(queue_url) > ADDRESS_MAX:
        raise IcaConfigError(
            f"queue_url: {len(queue_url)} characters; ICA accepts channel addresses of at most {ADDRESS_MAX}"
        )
    codes = tuple(dict.fromkeys(event_codes))
    if not codes:
        raise IcaConfigError("event_codes: empty; give at least one, e.g. " + ", ".join(WAIT_EVENT_CODES))
    for code in codes:
        if not isinstance(code, str) or not 0 < len(code) <= EVENT_CODE_MAX:
            raise IcaConfigError(f"event_codes: {code!r} is not an event code of 1 to {EVENT_CODE_MAX} characters")
    return codes


def ensure_notifications(
    protocol: IcaProtocol, project_id: str, queue_url: str, event_codes: Iterable[str] = WAIT_EVENT_CODES
) -> Call[NotificationSetup]:
    """Find or create the SQS channel and the project's V4 subscriptions; see the module docstring."""
    codes = check_setup(project_id, queue_url, event_codes)
    request = ops.get_event_codes()
    offered = {code.event_code for code in parse(EventCodeList, request, (yield from protocol.call(request))).items}
    missing = [code for code in codes if code not in offered]
    if missing:
        raise IcaError(f"event_codes: ICA does not offer {', '.join(missing)} (GET /api/eventCodes)")
    warnings: list[str] = []
    channel, channel_created = yield from _channel(protocol, queue_url, warnings)
    request = ops.get_notification_subscriptions(project_id)
    existing = parse(NotificationSubscriptionList, request, (yield from protocol.call(request))).items
    states: list[SubscriptionState] = []
    for code in codes:
        found = _usable_subscription(existing, code, channel.id, warnings)
        if found is not None:
            states.append(SubscriptionState(code, found.id, False))
            continue
        request = ops.create_notification_subscription(project_id, code, channel.id, PAYLOAD_VERSION)
        created = parse(NotificationSubscription, request, (yield from protocol.call(request)))
        states.append(SubscriptionState(code, created.id, True))
    return NotificationSetup(
        project_id, queue_url, channel.id, channel_created, tuple(states), tuple(warnings), queue_policy_statement(queue_url)
    )


def _channel(protocol: IcaProtocol, queue_url: str, warnings: list[str]) -> Call[tuple[NotificationChannel, bool]]:
    request = ops.get_notification_channels()
    channels = parse(NotificationChannelList, request, (yield from protocol.call(request))).items
    same = [channel for channel in channels if channel.type == "SQS" and channel.address == queue_url]
    enabled = [channel for channel in same if channel.enabled]
    if enabled:
        return enabled[0], False
    if same:
        warnings.append(f"SQS channel {same[0].id} for this queue is disabled; created an enabled one beside it")
    request = ops.create_notification_channel("SQS", queue_url)
    return parse(NotificationChannel, request, (yield from protocol.call(request))), True


def _usable_subscription(
    existing: list[NotificationSubscription], code: str, channel_id: str, warnings: list[str]
) -> NotificationSubscription | None:
    """The enabled V4 subscription of ``code`` on the channel; warns of the ones that are not usable."""
    usable = None
    for sub in existing:
        if sub.event_code != code or sub.notification_channel.id != channel_id:
            continue
        version = (sub.payload_version or "none").upper()
        if sub.enabled and version == PAYLOAD_VERSION:
            usable = usable or sub
        elif sub.enabled:  # it sends the same events in another shape to the same queue
            warnings.append(f"subscription {sub.id} sends {code} with payload version {version}; delete it")
    return usable


def queue_policy_statement(queue_url: str, region: str | None = None) -> dict[str, Any]:
    """The SQS queue policy statement that lets ICA send to ``queue_url``."""
    parts = urlsplit(queue_url)
    match = _AWS_QUEUE.match(parts.hostname or "")
    region = region or (match["region"] if match else "us-east-1")
    _, account, name = parts.path.split("/", 2)
    return {
        "Sid": "AllowIcaNotifications",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ICA_AWS_ACCOUNT}:root"},
        "Action": "sqs:SendMessage",
        "Resource": f"arn:aws:sqs:{region}:{account}:{name}",
    }


def _verb(created: bool) -> str:
    return "created" if created else "already there"
