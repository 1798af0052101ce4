"""The event the trigger fires, and how the task reads it back: plain JSON, defined here only.

Cheap to import (no httpx, no pydantic): the operator and the sensor check events with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ica_airflow_provider._compat import AirflowException
from ica_airflow_provider.core.tracker import BatchTracker, WaitFor

EVENT_STATUSES = ("success", "failure", "timeout", "error")


def event_payload(status: str, tracker: BatchTracker, message: str = "") -> dict[str, Any]:
    """The trigger's event: ``status``, the batch, its records, and for ``error`` a message."""
    return {
        "status": status,
        "project_id": tracker.project_id,
        "batch_id": tracker.batch_id,
        "records": tracker.dump_records(),
        "message": message,
    }


def check_event(event: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """An event from the trigger, checked (a lost payload or a version skew shows here)."""
    if not isinstance(event, Mapping) or event.get("status") not in EVENT_STATUSES:
        raise AirflowException(f"Unexpected event from the ICA trigger: {event!r}")
    return event


def tracker_from_event(event: Mapping[str, Any], wait_for: WaitFor, page_size: int) -> BatchTracker:
    """The batch's tracker with the records the event carried."""
    tracker = BatchTracker(str(event.get("project_id")), str(event.get("batch_id")), wait_for, page_size)
    tracker.load_records(event.get("records") or [])
    return tracker
