"""ICA notification messages (an SQS message body) to typed hints; no I/O, no Airflow.

ICA sends each event's JSON as the message body (``{correlationId, timestamp, eventCode,
eventParameters, description, projectId, payloadVersion, payload}``); through an SNS topic
without raw delivery the body is SNS's envelope, whose ``Message`` holds that JSON.
``ICA_EXEC_028`` (analysis status changed) becomes an :class:`AnalysisHint`, ``ICA_JOB_001``
(job status changed) a :class:`JobHint`; anything else a :class:`Rejected` with a short reason
that never quotes more than a few characters of the message.

A hint is never a verdict: messages can be lost, repeated, reordered or forged, and only
ICA's REST API decides that a wait is done. Statuses are given in V4 spelling: V3 payloads
(``payloadVersion`` "v3", or none at all as older events have) spell some without
underscores, and :data:`V3_TO_V4` maps them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

ANALYSIS_STATUS_CHANGED: Final = "ICA_EXEC_028"
JOB_STATUS_CHANGED: Final = "ICA_JOB_001"
HINT_EVENT_CODES: Final = frozenset({ANALYSIS_STATUS_CHANGED, JOB_STATUS_CHANGED})
MAX_MESSAGE_BYTES: Final = 256 * 1024  # SQS's largest message
V3_TO_V4: Final = {"INPROGRESS": "IN_PROGRESS", "AWAITINGINPUT": "AWAITING_INPUT", "FAILEDFINAL": "FAILED_FINAL"}

_REASON_MAX = 200
SUMMARY_MAX: Final = 500
USER_REFERENCE_MAX: Final = 255  # as ICA's batch items
_QUOTE_MAX = 40
_ID_MAX = 128
_STATUS = re.compile(r"[A-Za-z_]{1,40}")
# ISO 8601 as ICA writes it; any number of fraction digits (Python 3.10's fromisoformat takes 3 or 6).
_DATE = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?", re.IGNORECASE)

# Rejection kinds, for counters.
NOT_JSON: Final = "not-json"
OVERSIZED: Final = "oversized"
FOREIGN: Final = "foreign"
MALFORMED: Final = "malformed"


@dataclass(frozen=True, slots=True)
class AnalysisHint:
    """An analysis changed status (``ICA_EXEC_028``)."""

    analysis_id: str
    status: str  # V4 spelling
    previous_status: str | None  # V4 spelling; None when the event has none
    time_modified: datetime | None  # the analysis's timeModified: newer state wins
    project_id: str | None
    payload_version: str | None  # "v3" or "v4" as sent or inferred from the payload; None if unknown
    correlation_id: str | None
    technical_tags: tuple[str, ...] = ()
    event_code: str = ANALYSIS_STATUS_CHANGED
    summary: str | None = None  # ICA's word on the analysis (why it failed), at most SUMMARY_MAX characters
    user_reference: str | None = None  # the batch item's, which the analysis carries; None if unusable


@dataclass(frozen=True, slots=True)
class JobHint:
    """A job changed status (``ICA_JOB_001``); a batch's job names the batch as its subject."""

    job_id: str
    status: str
    previous_status: str | None
    subject_id: str | None
    subject_type: str | None
    project_id: str | None
    correlation_id: str | None
    event_code: str = JOB_STATUS_CHANGED


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that is no hint: ``kind`` (one of the module's kinds) and a bounded ``reason``."""

    kind: str
    reason: str
    event_code: str | None = None


Hint = AnalysisHint | JobHint


class _Malformed(Exception):
    pass


def parse_message(body: str | bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> AnalysisHint | JobHint | Rejected:
    """The hint an SQS message body carries, or why it carries none."""
    event = decode_event(body, max_bytes)
    if isinstance(event, Rejected):
        return event
    code = event["eventCode"]
    if code not in HINT_EVENT_CODES:
        return Rejected(FOREIGN, f"event code {_quote(code)} is not one a wait follows", _short(code))
    try:
        return _analysis_hint(event) if code == ANALYSIS_STATUS_CHANGED else _job_hint(event)
    except _Malformed as exc:
        return Rejected(MALFORMED, _bounded(f"{code}: {exc}"), code)


def decode_event(body: str | bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any] | Rejected:
    """The ICA event an SQS message body holds (an SNS envelope unwrapped), with a string ``eventCode``."""
    size = len(body.encode() if isinstance(body, str) else body)
    if size > max_bytes:
        return Rejected(OVERSIZED, f"message of {size} bytes, more than {max_bytes}")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return Rejected(NOT_JSON, _bounded(f"not JSON: {exc}"))
    except RecursionError:
        return Rejected(MALFORMED, "JSON nested too deeply")
    if isinstance(event, dict) and event.get("Type") == "Notification" and isinstance(event.get("Message"), str):
        try:  # an SNS envelope (a topic fanned out to queues without raw delivery)
            event = json.loads(event["Message"])
        except ValueError as exc:
            return Rejected(NOT_JSON, _bounded(f"SNS message is not JSON: {exc}"))
        except RecursionError:
            return Rejected(MALFORMED, "SNS message nested too deeply")
    if not isinstance(event, dict):
        return Rejected(MALFORMED, f"the event is a JSON {type(event).__name__}, not an object")
    if not isinstance(event.get("eventCode"), str):
        return Rejected(MALFORMED, "no eventCode")
    return event


def normalize_status(status: str) -> str:
    """A status in V4 spelling: upper case, V3's run-together names split (``INPROGRESS`` -> ``IN_PROGRESS``)."""
    upper = status.upper()
    return V3_TO_V4.get(upper, upper)


def _analysis_hint(event: dict[str, Any]) -> AnalysisHint:
    payload = _mapping(event, "payload")
    parameters = _optional_mapping(event, "eventParameters")
    analysis_id = _identifier(payload, "id", "payload.id")
    execution = parameters.get("pipelineExecution")
    if execution is not None and execution != analysis_id:
        raise _Malformed("eventParameters.pipelineExecution and payload.id name different analyses")
    raw_status = payload.get("status", parameters.get("analysisStatus"))
    previous = parameters.get("analysisPreviousStatus")
    tags = payload.get("tags")
    technical = tags.get("technicalTags") if isinstance(tags, dict) else None
    return AnalysisHint(
        analysis_id=analysis_id,
        status=_status(raw_status, "payload.status"),
        previous_status=None if previous is None else _status(previous, "analysisPreviousStatus"),
        time_modified=_time(payload.get("timeModified"), "payload.timeModified"),
        project_id=_optional_identifier(event, "projectId"),
        payload_version=_version(event, payload),
        correlation_id=_optional_identifier(event, "correlationId"),
        technical_tags=tuple(t for t in technical if isinstance(t, str)) if isinstance(technical, list) else (),
        summary=_summary(payload.get("summary")),
        user_reference=_user_reference(payload.get("userReference")),
    )


def _user_reference(value: Any) -> str | None:
    """A usable ``userReference`` (only a hint's routing reads it: a bad one is no reason to drop the hint)."""
    if isinstance(value, str) and 0 < len(value) <= USER_REFERENCE_MAX and value.isprintable():
        return value
    return None


def _summary(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value if len(value) <= SUMMARY_MAX else value[: SUMMARY_MAX - 1] + "…"


def _job_hint(event: dict[str, Any]) -> JobHint:
    payload = _mapping(event, "payload")
    parameters = _optional_mapping(event, "eventParameters")
    job_id = _identifier(payload, "id", "payload.id")
    previous = parameters.get("jobPreviousStatus")
    return JobHint(
        job_id=job_id,
        status=_status(payload.get("status", parameters.get("jobStatus")), "payload.status"),
        previous_status=None if previous is None else _status(previous, "jobPreviousStatus"),
        subject_id=_optional_identifier(payload, "subjectId"),
        subject_type=_optional_identifier(payload, "subjectType"),
        project_id=_optional_identifier(event, "projectId"),
        correlation_id=_optional_identifier(event, "correlationId"),
    )


def _mapping(event: dict[str, Any], name: str) -> dict[str, Any]:
    value = event.get(name)
    if not isinstance(value, dict):
        raise _Malformed(f"{name} is missing or not an object")
    return value


def _optional_mapping(event: dict[str, Any], name: str) -> dict[str, Any]:
    value = event.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Malformed(f"{name} is not an object")
    return value


def _identifier(fields: dict[str, Any], name: str, where: str) -> str:
    value = _optional_identifier(fields, name, where)
    if value is None:
        raise _Malformed(f"{where} is missing")
    return value


def _optional_identifier(fields: dict[str, Any], name: str, where: str | None = None) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _ID_MAX or not value.isprintable():
        raise _Malformed(f"{where or name} is not an identifier of 1 to {_ID_MAX} printable characters")
    return value


def _status(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _STATUS.fullmatch(value):
        raise _Malformed(f"{where} is missing or not a status name")
    return normalize_status(value)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 date with a time zone, as ICA writes them; ``None`` if it is not one."""
    try:
        return _time(value, "time")
    except _Malformed:
        return None


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    match = _DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _Malformed(f"{where} is not an ISO 8601 date")
    seconds, fraction, zone = match.groups()
    if zone is None:
        raise _Malformed(f"{where} has no time zone")
    zone = "+00:00" if zone.upper() == "Z" else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        return datetime.fromisoformat(f"{seconds}.{(fraction or '').ljust(6, '0')[:6]}{zone}")
    except ValueError:
        raise _Malformed(f"{where} is not a valid date") from None


def _version(event: dict[str, Any], payload: dict[str, Any]) -> str | None:
    declared = event.get("payloadVersion")
    if declared is not None:
        if not isinstance(declared, str) or declared.lower() not in ("v3", "v4"):
            raise _Malformed("payloadVersion is neither v3 nor v4")
        return declared.lower()
    if isinstance(payload.get("owner"), dict):  # V4 identifies owners by object, V3 by ownerId
        return "v4"
    return "v3" if "ownerId" in payload else None


def _short(text: str) -> str:
    return text if len(text) <= _QUOTE_MAX else text[:_QUOTE_MAX] + "…"


def _quote(text: str) -> str:
    return repr(_short(text))


def _bounded(text: str) -> str:
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"
