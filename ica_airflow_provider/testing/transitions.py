"""Every status transition of the fake's records, and the ICA event message announcing each.

Statuses are pure functions of time (``lifecycle``), so a record's transitions are found by
evaluating its status at each time where it can change; an abort or a job stop changes the
record, and the next evaluation sees the new timeline. Messages follow the shape ICA sends
to an SQS channel (the body is the event JSON itself): ``{correlationId, timestamp,
eventCode, eventParameters, description, projectId, payloadVersion, payload}``.

``ICA_EXEC_028`` carries the analysis (V4, or V3 for V3 and version-less subscriptions,
whose messages have no ``payloadVersion``, as older ICA events do). ``ICA_JOB_001``'s
``eventParameters`` are the fake's guess (ICA does not document them): ``job``,
``jobPreviousStatus``, ``jobStatus``; its payload is the ``Job``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ica_airflow_provider.testing.entities import V4_TO_V3_STATUS, Batch, Item
from ica_airflow_provider.testing.lifecycle import analysis_state, job_state
from ica_airflow_provider.testing.notifications import (
    ANALYSIS_STATUS_CHANGED,
    EVENT_CODES,
    JOB_STATUS_CHANGED,
)
from ica_airflow_provider.testing.render import Renderer, iso

JSON = dict[str, Any]


def analysis_timeline(item: Item) -> list[tuple[float, str]]:
    """``(time, status)`` of each status the item's analysis takes, first to last as known now."""
    plan, created = item.plan, item.created_at
    if plan.creation_error is not None or math.isinf(created):
        return []
    times = {created + offset for _, offset in plan.phases} | {created + plan.final_offset}
    for moment in (item.abort_requested_at, item.aborted_at):
        if moment is not None and moment >= created:
            times.add(moment)
    return _changes((t, analysis_state(item, t).status) for t in sorted(times))


def job_timeline(batch: Batch) -> list[tuple[float, str]]:
    """``(time, status)`` of each status the batch's job takes, first to last as known now."""
    moments = (batch.created_at, batch.starts_at, batch.running_at, batch.finishes_at, batch.stopped_at)
    times = sorted({t for t in moments if t is not None and not math.isinf(t)})
    return _changes((t, job_state(batch, t).status) for t in times)


def _changes(points: Any) -> list[tuple[float, str]]:
    timeline: list[tuple[float, str]] = []
    for t, status in points:
        if not timeline or timeline[-1][1] != status:
            timeline.append((t, status))
    return timeline


@dataclass(frozen=True, slots=True)
class Transition:
    """One status change of an analysis (``item``) or of a batch's job (``batch``)."""

    at: float
    previous: str | None
    status: str
    item: Item | None = None
    batch: Batch | None = None

    @property
    def event_code(self) -> str:
        return ANALYSIS_STATUS_CHANGED if self.item is not None else JOB_STATUS_CHANGED

    @property
    def project_id(self) -> str:
        record = self.item.batch if self.item is not None else self.batch
        assert record is not None
        return record.project_id


def event_message(
    transition: Transition,
    renderer: Renderer,
    wall_time: float,
    correlation_id: str,
    payload_version: str | None,
    event_code: str | None = None,
) -> JSON:
    """The event ICA publishes for ``transition``; ``payload_version`` ``"V3"``/``"V4"``/None (V3, no field).

    ``event_code``: another code announcing the same transition (``ICA_EXEC_002`` for a success).
    """
    v4 = payload_version == "V4"
    if transition.item is not None:
        item = transition.item
        previous, status = transition.previous, transition.status
        if not v4:
            previous = None if previous is None else V4_TO_V3_STATUS[previous]
            status = V4_TO_V3_STATUS[status]
        parameters: JSON = {
            "pipelineExecution": item.analysis_id,
            "analysisPreviousStatus": previous,
            "analysisStatus": status,
        }
        payload = renderer.analysis(item, transition.at, 4 if v4 else 3)
    else:
        assert transition.batch is not None
        payload = renderer.batch(transition.batch, transition.at)["job"]
        parameters = {"job": payload["id"], "jobPreviousStatus": transition.previous, "jobStatus": transition.status}
    code = event_code or transition.event_code
    return envelope(code, transition.project_id, wall_time, correlation_id, payload_version, payload, parameters)


def envelope(
    event_code: str,
    project_id: str,
    wall_time: float,
    correlation_id: str,
    payload_version: str | None,
    payload: JSON,
    parameters: JSON | None = None,
) -> JSON:
    """An event as ICA sends it to an SQS channel (``eventParameters`` only where the fake knows them)."""
    message: JSON = {"correlationId": correlation_id, "timestamp": iso(wall_time), "eventCode": event_code}
    if parameters is not None:
        message["eventParameters"] = parameters
    message["description"] = EVENT_CODES[event_code]
    message["projectId"] = project_id
    if payload_version is not None:
        message["payloadVersion"] = payload_version.lower()
    message["payload"] = payload
    return message
