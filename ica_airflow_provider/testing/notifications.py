"""Notification channels, project subscriptions and event codes of the fake ICA.

The records and rules of ``/api/notificationChannels``, ``/api/projects/{projectId}/
notificationSubscriptions`` and ``/api/eventCodes``, validated as the spec's
``CreateNotificationChannel``/``CreateNotificationSubscription`` schemas say. No HTTP here
(``notification_api`` translates) and nothing is sent (``emitter`` does that).

What the fake leaves out: ``filterExpression`` is stored and echoed but never evaluated
(every event of a subscribed code is sent), and ``application`` is never set.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ica_airflow_provider.testing.entities import Identity
from ica_airflow_provider.testing.problems import IcaProblem, bad_request, not_found

JSON = dict[str, Any]

ANALYSIS_STATUS_CHANGED = "ICA_EXEC_028"
JOB_STATUS_CHANGED = "ICA_JOB_001"
# The codes ICA's help documents for projects (a subset); subscriptions must name one of them.
EVENT_CODES: dict[str, str] = {
    "ICA_EXEC_001": "Analysis failed",
    "ICA_EXEC_002": "Analysis succeeded",
    "ICA_EXEC_027": "Analysis aborted",
    ANALYSIS_STATUS_CHANGED: "Analysis status changed",
    JOB_STATUS_CHANGED: "Job status changed",
    "ICA_DATA_002": "Data linked to project",
    "ICA_DATA_100": "Project data status changed",
    "ICA_DATA_104": "Data linked to a project",
    "ICA_DATA_107": "Data created",
    "ICA_DATA_108": "Data uploaded",
    "ICA_SMP_002": "Sample completed",
}
# An analysis's end, announced besides its ICA_EXEC_028 (ICA sends both to who subscribes both).
ANALYSIS_OUTCOME_CODES = {"SUCCEEDED": "ICA_EXEC_002", "FAILED": "ICA_EXEC_001", "ABORTED": "ICA_EXEC_027"}
# The codes a batch's records emit (see ``emitter``): a project subscribing one of them has its batches followed.
EMITTED_CODES = frozenset({ANALYSIS_STATUS_CHANGED, JOB_STATUS_CHANGED, *ANALYSIS_OUTCOME_CODES.values()})
# The data events, sent when a file is uploaded or linked (``data_events``). Other codes are kept, never served.
DATA_EVENT_CODES = frozenset({"ICA_DATA_100", "ICA_DATA_104", "ICA_DATA_107", "ICA_DATA_108"})
CHANNEL_TYPES = ("MAIL", "SQS", "SNS", "HTTP")
PAYLOAD_VERSIONS = ("V3", "V4")
CREATE_ADDRESS_MAX = 100  # CreateNotificationChannel.address; the read model allows 255
ADDRESS_MAX = 255
FILTER_MAX = 2000
CHANNEL_IN_USE = "ICA_API_010"
VERSION_CONFLICT = "ICA_API_011"


@dataclass(slots=True, eq=False)
class Channel:
    """A delivery target of the tenant."""

    id: str
    type: str
    address: str
    enabled: bool
    aws_region: str | None
    created_at: float
    modified_at: float


@dataclass(slots=True, eq=False)
class Subscription:
    """A project's subscription of one event code on one channel."""

    id: str
    project_id: str
    event_code: str
    channel_id: str
    enabled: bool
    payload_version: str | None
    filter_expression: str | None
    created_at: float
    modified_at: float


@dataclass(frozen=True, slots=True)
class Target:
    """Where one event goes: an SQS queue URL and the payload version its subscription asked for."""

    queue_url: str
    aws_region: str | None
    payload_version: str | None
    subscription_id: str


class NotificationStore:
    """The tenant's channels and every project's subscriptions; thread-safe."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.channels: dict[str, Channel] = {}
        self.subscriptions: dict[str, Subscription] = {}

    # --- channels -------------------------------------------------------------------------

    def create_channel(self, body: Any) -> Channel:
        """``POST /api/notificationChannels``: a ``CreateNotificationChannel``."""
        fields = _object(body)
        now = self._clock()
        channel = Channel(
            id=str(uuid.uuid4()),
            type=_choice(fields, "type", CHANNEL_TYPES),
            address=_text(fields, "address", CREATE_ADDRESS_MAX),
            enabled=_flag(fields, "enabled"),
            aws_region=_optional_text(fields, "awsRegion", ADDRESS_MAX),
            created_at=now,
            modified_at=now,
        )
        with self._lock:
            self.channels[channel.id] = channel
        return channel

    def channel(self, channel_id: str) -> Channel:
        """One channel; 404 problem if unknown."""
        channel = self.channels.get(channel_id)
        if channel is None:
            raise not_found("Notification channel", channel_id)
        return channel

    def update_channel(self, channel_id: str, body: Any, if_match: str | None) -> Channel:
        """``PUT``: only ``enabled``, ``address`` and ``awsRegion`` change (for every subscription)."""
        fields = _object(body)
        with self._lock:
            channel = self.channel(channel_id)
            _check_version(if_match, channel_etag(channel))
            enabled = _flag(fields, "enabled")
            address = _text(fields, "address", ADDRESS_MAX)
            region = _optional_text(fields, "awsRegion", ADDRESS_MAX)
            channel.enabled, channel.address, channel.aws_region = enabled, address, region
            channel.modified_at = self._clock()
            return channel

    def delete_channel(self, channel_id: str) -> None:
        """``DELETE``: refused while a subscription uses the channel."""
        with self._lock:
            self.channel(channel_id)
            users = sum(1 for sub in self.subscriptions.values() if sub.channel_id == channel_id)
            if users:
                raise IcaProblem(
                    409, CHANNEL_IN_USE, f"Notification channel '{channel_id}' is used by {users} subscription(s)"
                )
            del self.channels[channel_id]

    # --- subscriptions --------------------------------------------------------------------

    def create_subscription(self, project_id: str, body: Any) -> Subscription:
        """``POST …/notificationSubscriptions``: a ``CreateNotificationSubscription``."""
        fields = _object(body)
        code = _event_code(fields)
        channel_id = _text(fields, "notificationChannelId", 36)
        enabled = _flag(fields, "enabled")
        version = _payload_version(fields)
        expression = _optional_text(fields, "filterExpression", FILTER_MAX)
        now = self._clock()
        with self._lock:
            self._known_channel(channel_id)
            subscription = Subscription(
                str(uuid.uuid4()), project_id, code, channel_id, enabled, version, expression, now, now
            )
            self.subscriptions[subscription.id] = subscription
        return subscription

    def project_subscriptions(self, project_id: str) -> list[Subscription]:
        """The project's subscriptions, oldest first."""
        return [sub for sub in list(self.subscriptions.values()) if sub.project_id == project_id]

    def subscription(self, project_id: str, subscription_id: str) -> Subscription:
        """One subscription of the project; 404 problem if unknown there."""
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None or subscription.project_id != project_id:
            raise not_found("Notification subscription", subscription_id)
        return subscription

    def update_subscription(
        self, project_id: str, subscription_id: str, body: Any, if_match: str | None
    ) -> Subscription:
        """``PUT``: ``enabled``, ``eventCode``, ``filterExpression`` and ``notificationChannel`` change."""
        fields = _object(body)
        code = _event_code(fields)
        enabled = _flag(fields, "enabled")
        expression = _optional_text(fields, "filterExpression", FILTER_MAX)
        channel = fields.get("notificationChannel")
        if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
            raise bad_request("notificationChannel must be an object with an id", {"notificationChannel": "required"})
        with self._lock:
            subscription = self.subscription(project_id, subscription_id)
            _check_version(if_match, subscription_etag(subscription))
            self._known_channel(channel["id"])
            subscription.event_code, subscription.enabled = code, enabled
            subscription.filter_expression, subscription.channel_id = expression, channel["id"]
            subscription.modified_at = self._clock()
            return subscription

    def delete_subscription(self, project_id: str, subscription_id: str) -> None:
        """``DELETE``: the subscription is gone; its channel stays."""
        with self._lock:
            self.subscription(project_id, subscription_id)
            del self.subscriptions[subscription_id]

    # --- what the emitter asks ------------------------------------------------------------

    def has_subscriptions(self, project_id: str) -> bool:
        """Whether the project has any enabled subscription of a code the fake emits."""
        return any(
            sub.enabled and sub.event_code in EMITTED_CODES for sub in self.project_subscriptions(project_id)
        )

    def targets(self, project_id: str, event_code: str) -> list[Target]:
        """The SQS queues an event goes to: enabled subscriptions on enabled SQS channels."""
        found: list[Target] = []
        for sub in self.project_subscriptions(project_id):
            channel = self.channels.get(sub.channel_id)
            if not sub.enabled or sub.event_code != event_code or channel is None:
                continue
            if channel.enabled and channel.type == "SQS":
                found.append(Target(channel.address, channel.aws_region, sub.payload_version, sub.id))
        return found

    def _known_channel(self, channel_id: str) -> None:
        if channel_id not in self.channels:
            raise bad_request(
                f"Notification channel '{channel_id}' does not exist", {"notificationChannelId": "unknown channel"}
            )


# --- rendering ------------------------------------------------------------------------------


def render_channel(channel: Channel, identity: Identity, iso: Callable[[float], str]) -> JSON:
    """A ``NotificationChannel``."""
    return {
        "id": channel.id,
        "timeCreated": iso(channel.created_at),
        "timeModified": iso(channel.modified_at),
        "ownerId": identity.user_id,
        "tenantId": identity.tenant_id,
        "tenantName": identity.tenant_name,
        "enabled": channel.enabled,
        "type": channel.type,
        "address": channel.address,
        "awsRegion": channel.aws_region,
    }


def render_subscription(
    subscription: Subscription, channel: Channel, identity: Identity, iso: Callable[[float], str]
) -> JSON:
    """A ``NotificationSubscription`` with its channel embedded."""
    return {
        "id": subscription.id,
        "timeCreated": iso(subscription.created_at),
        "timeModified": iso(subscription.modified_at),
        "ownerId": identity.user_id,
        "tenantId": identity.tenant_id,
        "tenantName": identity.tenant_name,
        "eventCode": subscription.event_code,
        "payloadVersion": subscription.payload_version,
        "filterExpression": subscription.filter_expression,
        "enabled": subscription.enabled,
        "notificationChannel": render_channel(channel, identity, iso),
    }


def render_event_codes() -> JSON:
    """An ``EventCodeList``."""
    return {"items": [{"eventCode": code, "description": text} for code, text in EVENT_CODES.items()]}


def channel_etag(channel: Channel) -> str:
    """A strong ETag that changes whenever the channel does."""
    return _etag(channel.id, channel.enabled, channel.address, channel.aws_region, channel.modified_at)


def subscription_etag(subscription: Subscription) -> str:
    """A strong ETag that changes whenever the subscription does."""
    sub = subscription
    return _etag(sub.id, sub.enabled, sub.event_code, sub.channel_id, sub.filter_expression, sub.modified_at)


def _etag(*parts: object) -> str:
    return '"' + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32] + '"'


def _check_version(if_match: str | None, current: str) -> None:
    if if_match is not None and if_match != current:
        raise IcaProblem(409, VERSION_CONFLICT, "The resource was changed since the ETag in If-Match")


# --- validation -----------------------------------------------------------------------------


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object", {"body": "must be an object"})
    return body


def _text(fields: Mapping[str, Any], name: str, max_length: int) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise bad_request(f"{name} is required and must be a non-empty string", {name: "required"})
    if len(value) > max_length:
        raise bad_request(
            f"{name} has {len(value)} characters; at most {max_length} are allowed", {name: "too long"}
        )
    return value


def _optional_text(fields: Mapping[str, Any], name: str, max_length: int) -> str | None:
    return None if fields.get(name) is None else _text(fields, name, max_length)


def _flag(fields: Mapping[str, Any], name: str) -> bool:
    value = fields.get(name)
    if not isinstance(value, bool):
        raise bad_request(f"{name} is required and must be true or false", {name: "must be a boolean"})
    return value


def _choice(fields: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = fields.get(name)
    if value not in allowed:
        raise bad_request(f"{name} must be one of {', '.join(allowed)}, got {value!r}", {name: "unknown value"})
    return str(value)


def _event_code(fields: Mapping[str, Any]) -> str:
    code = _text(fields, "eventCode", 20)
    if code not in EVENT_CODES:
        raise bad_request(f"Unknown event code '{code}' (see GET /api/eventCodes)", {"eventCode": "unknown"})
    return code


def _payload_version(fields: Mapping[str, Any]) -> str | None:
    value = fields.get("payloadVersion")
    if value is None:
        return None
    if not isinstance(value, str) or value.upper() not in PAYLOAD_VERSIONS:
        raise bad_request(f"payloadVersion must be V3 or V4, got {value!r}", {"payloadVersion": "unknown"})
    return value.upper()
