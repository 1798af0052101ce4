"""The event the trigger fires, and how the task reads it back: plain JSON, defined here only.

The event stays small for any batch: it goes to the metadata database, and the triggerer
logs it whole. It carries the status, the batch, counts per status and the names of
failed or unfinished items; the records ride along only while they fit
:data:`RECORDS_BUDGET` (about a hundred items). Without them, the task lists the batch
once when it resumes (:meth:`~ica_airflow_provider.task_side.TaskWait.resume`).

Cheap to import (no httpx, no pydantic): the operator and the sensor check events with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ica_airflow_provider._compat import AirflowException
from ica_airflow_provider.core.status import Phase
from ica_airflow_provider.core.tracker import BatchTracker, WaitFor, dump_within, json_size, listing

EVENT_STATUSES = ("success", "failure", "timeout", "error")
EVENT_LIMIT = 64 * 1024  # bytes of JSON an event may take, whatever the batch
RECORDS_BUDGET = 32 * 1024  # the records go along up to this; everything else is bounded by TEXT_LIMIT
TEXT_LIMIT = 4096  # bytes of JSON of a message or of a list of names


class EventPayload(dict[str, Any]):
    """The event's payload: a plain ``dict`` (JSON as it is) whose repr leaves out the records.

    Airflow logs each event whole (Airflow 3: "Trigger fired event … result=TriggerEvent<…>",
    Airflow 2.10: "Trigger … fired: TriggerEvent<…>"), and ``TriggerEvent``'s repr is the
    payload's: the triggerer's log shows this summary, not the records.
    """

    def __repr__(self) -> str:
        shown: dict[str, Any] = {k: v for k, v in self.items() if k != "records"}
        if isinstance(self.get("records"), list):
            count = len(self["records"])
            shown["records"] = f"<{count} record{'' if count == 1 else 's'}>"
        return repr(shown)


def event_payload(
    status: str, tracker: BatchTracker, message: str = "", notifications: Mapping[str, int] | None = None
) -> EventPayload:
    """The trigger's event for ``tracker``; the benchmark measures it with :func:`json_size`.

    ``status``, ``project_id``, ``batch_id``, ``message`` (for ``error``), ``items`` (how many),
    ``counts`` (items per creation and per analysis status), ``failed`` and ``unfinished``
    (names, at most 20 each), ``notifications`` (a woken wait's counts: ``woken``, ``applied``,
    ``ignored``, ``listings``), and ``records`` only when they fit :data:`RECORDS_BUDGET`.
    """
    payload = EventPayload(
        status=status,
        project_id=tracker.project_id,
        batch_id=tracker.batch_id,
        message=_clip(message),
        items=tracker.size(),
        counts=tracker.status_counts(),
    )
    for key, phase in (("failed", Phase.FAILED), ("unfinished", Phase.RUNNING)):
        names = [r.user_reference for r in tracker.records.values() if r.phase(tracker.wait_for) is phase]
        if names:
            payload[key] = _clip(f"{len(names)}: {listing(names)}")
    if notifications is not None:
        payload["notifications"] = {k: int(v) for k, v in notifications.items()}
    records = dump_within(tracker.records.values(), RECORDS_BUDGET) if status != "error" else None
    if records is not None and not tracker.partial:
        payload["records"] = records
        if json_size(payload) > EVENT_LIMIT:  # only with unusually long IDs or many unknown statuses
            del payload["records"]
    return payload


def check_event(event: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """An event from the trigger, checked (a lost payload or a version skew shows here)."""
    if not isinstance(event, Mapping) or event.get("status") not in EVENT_STATUSES:
        raise AirflowException(f"Unexpected event from the ICA trigger: {_clip(repr(event))}")
    return event


def tracker_from_event(event: Mapping[str, Any], wait_for: WaitFor, page_size: int) -> BatchTracker:
    """The batch's tracker with the records the event carried.

    A big batch's event carries none (see :func:`has_records`): the tracker is then partial
    (it knows none of the ``items``), and the task's finish step lists the batch once.
    """
    tracker = BatchTracker(str(event.get("project_id")), str(event.get("batch_id")), wait_for, page_size)
    if has_records(event):
        tracker.load_records(event["records"])
    else:
        items = event.get("items")
        tracker.load_records([], item_count=items if isinstance(items, int) and items > 0 else 1)
    return tracker


def has_records(event: Mapping[str, Any]) -> bool:
    """Did the event carry the batch's records? (A big batch's does not: the task lists it.)"""
    return isinstance(event.get("records"), list)


def _clip(text: str) -> str:
    """At most :data:`TEXT_LIMIT` bytes of JSON (escaped characters count as they are stored)."""
    while (size := json_size(text)) > TEXT_LIMIT:
        text = text[: max(0, min(len(text) - 2, len(text) * TEXT_LIMIT // size - 8))] + "…"
    return text
