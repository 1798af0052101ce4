"""Request builders, one per ICA operation, with the media type the spec gives each."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from ica_airflow_provider.core.errors import IcaConfigError
from ica_airflow_provider.core.messages import Request
from ica_airflow_provider.defaults import IDEMPOTENCY_KEY_MAX

V3 = "application/vnd.illumina.v3+json"
V4 = "application/vnd.illumina.v4+json"

# Item statuses the items endpoint accepts as a filter (spec enum).
ITEM_STATUS_FILTERS = frozenset({"RUNNING", "WAITING_RESOURCES", "SUCCEEDED", "FAILED"})


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _project(project_id: str) -> str:
    return f"/api/projects/{_segment(project_id)}"


def _batch(project_id: str, batch_id: str) -> str:
    return f"{_project(project_id)}/analysisCreationBatch/{_segment(batch_id)}"


def create_token(api_key: str) -> Request:
    """``POST /api/tokens`` (createJwtToken): exchange the API key for a JWT."""
    return Request("POST", "/api/tokens", headers={"Accept": V3, "X-API-Key": api_key}, secret_answer=True)


def create_analysis_creation_batch(
    project_id: str, batch: Mapping[str, Any], idempotency_key: str | None = None
) -> Request:
    """``POST …/analysisCreationBatch``: v3 only; retried only when it carries a key."""
    headers = {"Accept": V3, "Content-Type": V3}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = check_idempotency_key(idempotency_key)
    body = json.dumps(batch, separators=(",", ":")).encode()
    return Request(
        "POST",
        f"{_project(project_id)}/analysisCreationBatch",
        headers=headers,
        body=body,
        retryable=idempotency_key is not None,
    )


def check_idempotency_key(key: str) -> str:
    """The one check of an ``Idempotency-Key``: 1 to 255 characters (the spec's limit)."""
    if not key:
        raise IcaConfigError(f"idempotency_key: empty, ICA needs 1 to {IDEMPOTENCY_KEY_MAX} characters")
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise IcaConfigError(f"idempotency_key: {len(key)} characters, ICA allows {IDEMPOTENCY_KEY_MAX}")
    return key


def get_analysis_creation_batch(project_id: str, batch_id: str) -> Request:
    """``GET …/analysisCreationBatch/{batchId}``: v3 only."""
    return Request("GET", _batch(project_id, batch_id), headers={"Accept": V3})


def get_analysis_creation_batch_items(
    project_id: str,
    batch_id: str,
    *,
    statuses: Iterable[str] | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> Request:
    """``GET …/items``: v4; ``status`` repeated, cursor paging by ``pageToken``."""
    params: list[tuple[str, str]] = []
    for status in statuses or ():
        if status not in ITEM_STATUS_FILTERS:
            raise ValueError(
                f"statuses: {status!r} is not an item status; use one of"
                f" {', '.join(sorted(ITEM_STATUS_FILTERS))}"
            )
        params.append(("status", status))
    if page_size is not None:
        params.append(("pageSize", str(page_size)))
    if page_token:
        params.append(("pageToken", page_token))
    return Request(
        "GET", f"{_batch(project_id, batch_id)}/items", tuple(params), {"Accept": V4}
    )


def get_analysis_creation_batch_item(project_id: str, batch_id: str, item_id: str) -> Request:
    """``GET …/items/{itemId}``: v4."""
    path = f"{_batch(project_id, batch_id)}/items/{_segment(item_id)}"
    return Request("GET", path, headers={"Accept": V4})


def get_analysis(project_id: str, analysis_id: str) -> Request:
    """``GET /api/projects/{projectId}/analyses/{analysisId}``: v4."""
    path = f"{_project(project_id)}/analyses/{_segment(analysis_id)}"
    return Request("GET", path, headers={"Accept": V4})


def abort_analysis(project_id: str, analysis_id: str) -> Request:
    """``POST …/analyses/{analysisId}:abort``: 204; asking twice is harmless."""
    path = f"{_project(project_id)}/analyses/{_segment(analysis_id)}:abort"
    return Request("POST", path, headers={"Accept": V3})


def get_analysis_outputs(project_id: str, analysis_id: str) -> Request:
    """``GET …/analyses/{analysisId}/outputs`` (getAnalysisOutputs): v3 only."""
    path = f"{_project(project_id)}/analyses/{_segment(analysis_id)}/outputs"
    return Request("GET", path, headers={"Accept": V3})


def get_event_codes() -> Request:
    """``GET /api/eventCodes`` (getEventCodes): v3."""
    return Request("GET", "/api/eventCodes", headers={"Accept": V3})


def get_notification_channels() -> Request:
    """``GET /api/notificationChannels`` (getNotificationChannels): the tenant's channels, v3."""
    return Request("GET", "/api/notificationChannels", headers={"Accept": V3})


def create_notification_channel(channel_type: str, address: str, enabled: bool = True) -> Request:
    """``POST /api/notificationChannels`` (createNotificationChannel): 201; never retried (no key)."""
    body = json.dumps({"type": channel_type, "address": address, "enabled": enabled}).encode()
    headers = {"Accept": V3, "Content-Type": V3}
    return Request("POST", "/api/notificationChannels", headers=headers, body=body, retryable=False)


def get_notification_subscriptions(project_id: str) -> Request:
    """``GET …/notificationSubscriptions`` (getNotificationSubscriptions): v3."""
    return Request("GET", f"{_project(project_id)}/notificationSubscriptions", headers={"Accept": V3})


def create_notification_subscription(
    project_id: str, event_code: str, channel_id: str, payload_version: str = "V4", enabled: bool = True
) -> Request:
    """``POST …/notificationSubscriptions`` (createNotificationSubscription): 200; never retried (no key)."""
    fields = {
        "eventCode": event_code,
        "notificationChannelId": channel_id,
        "enabled": enabled,
        "payloadVersion": payload_version,
    }
    headers = {"Accept": V3, "Content-Type": V3}
    path = f"{_project(project_id)}/notificationSubscriptions"
    return Request("POST", path, headers=headers, body=json.dumps(fields).encode(), retryable=False)
