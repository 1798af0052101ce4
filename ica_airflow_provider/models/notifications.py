"""What ICA answers about notifications: event codes, channels and project subscriptions (lenient)."""

from __future__ import annotations

from pydantic import Field

from ica_airflow_provider.models._base import IcaResponseModel

__all__ = [
    "EventCode",
    "EventCodeList",
    "NotificationChannel",
    "NotificationChannelList",
    "NotificationSubscription",
    "NotificationSubscriptionList",
]


class EventCode(IcaResponseModel):
    event_code: str
    description: str | None = None


class EventCodeList(IcaResponseModel):
    items: list[EventCode] = Field(default_factory=list)


class NotificationChannel(IcaResponseModel):
    """A delivery target: ``type`` SQS, SNS, MAIL or HTTP; ``address`` the queue URL for SQS."""

    id: str
    type: str
    address: str
    enabled: bool


class NotificationChannelList(IcaResponseModel):
    items: list[NotificationChannel] = Field(default_factory=list)


class NotificationSubscription(IcaResponseModel):
    """A project's subscription of one event code on one channel."""

    id: str
    event_code: str
    enabled: bool
    payload_version: str | None = None
    notification_channel: NotificationChannel


class NotificationSubscriptionList(IcaResponseModel):
    items: list[NotificationSubscription] = Field(default_factory=list)
