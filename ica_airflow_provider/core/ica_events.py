"""ICA events (an SQS message body) to a compact, bounded payload for asset watchers; no I/O, no Airflow.

The waits read hints (``notifications``); a watcher reads any event ICA publishes about the
project's data, analyses and jobs, and hands on an :class:`IcaEvent`, whose
:meth:`IcaEvent.payload` is what a DAG run sees in ``triggering_asset_events``: a few
fields, never the whole ICA object. :data:`EVENT_CODES` lists the codes it understands;
anything else is a :class:`~ica_airflow_provider.core.notifications.Rejected`.

Payloads as ICA sends them: ``ProjectData`` (``{data: {id, details: {...}}, projectId}``)
for data events, the analysis (V4, or V3 with V3 status spellings, normalized) for analysis
events, the ``Job`` for job events.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ica_airflow_provider.core.notifications import (
    FOREIGN,
    MALFORMED,
    MAX_MESSAGE_BYTES,
    V3_TO_V4,
    Rejected,
    _bounded,
    _identifier,
    _Malformed,
    _mapping,
    _optional_identifier,
    _quote,
    _short,
    _status,
    _time,
    decode_event,
)
from ica_airflow_provider.core.status import ANALYSIS_PHASES, JOB_STATUSES

DATA: Final = "data"
DATA_GROUP: Final = "data_group"  # a watcher's group of files (core/file_groups.py)
ANALYSIS: Final = "analysis"
JOB: Final = "job"

DATA_STATUS_CHANGED: Final = "ICA_DATA_100"
DATA_LINKED: Final = "ICA_DATA_104"
DATA_CREATED: Final = "ICA_DATA_107"
DATA_UPLOADED: Final = "ICA_DATA_108"
ANALYSIS_FAILED: Final = "ICA_EXEC_001"
ANALYSIS_SUCCEEDED: Final = "ICA_EXEC_002"
ANALYSIS_ABORTED: Final = "ICA_EXEC_027"
ANALYSIS_STATUS_CHANGED: Final = "ICA_EXEC_028"
JOB_STATUS_CHANGED: Final = "ICA_JOB_001"

# code -> (what its payload describes, ICA's description)
EVENT_CODES: Final[dict[str, tuple[str, str]]] = {
    DATA_STATUS_CHANGED: (DATA, "Project data status changed"),
    DATA_LINKED: (DATA, "Data linked to a project"),
    DATA_CREATED: (DATA, "Data created"),
    DATA_UPLOADED: (DATA, "Data uploaded"),
    ANALYSIS_FAILED: (ANALYSIS, "Analysis failed"),
    ANALYSIS_SUCCEEDED: (ANALYSIS, "Analysis succeeded"),
    ANALYSIS_ABORTED: (ANALYSIS, "Analysis aborted"),
    ANALYSIS_STATUS_CHANGED: (ANALYSIS, "Analysis status changed"),
    JOB_STATUS_CHANGED: (JOB, "Job status changed"),
}
DATA_STATUSES: Final = frozenset({"PARTIAL", "AVAILABLE", "ARCHIVING", "ARCHIVED", "UNARCHIVING", "DELETING"})
ANALYSIS_STATUSES: Final = frozenset(status for status in ANALYSIS_PHASES if status not in V3_TO_V4)
STATUSES: Final = {DATA: DATA_STATUSES, ANALYSIS: ANALYSIS_STATUSES, JOB: JOB_STATUSES}

# Bounds of the payload: a DAG run's asset event stays a few KiB whatever ICA sends.
MAX_PATH: Final = 4096
MAX_TEXT: Final = 255
MAX_TAGS: Final = 32
_DATA_TAG_LISTS = ("technicalTags", "userTags", "connectorTags", "runInTags", "runOutTags", "referenceTags")


@dataclass(frozen=True, slots=True)
class IcaEvent:
    """One ICA event as a watcher hands it on (see :meth:`payload` for the documented fields)."""

    event_code: str
    kind: str  # DATA, ANALYSIS or JOB
    id: str  # the data, analysis or job id
    project_id: str | None
    status: str | None  # V4 spelling for analyses
    time_modified: str | None  # ISO 8601, UTC offset as sent
    timestamp: str | None  # when ICA published the event
    path: str | None = None  # data: its full path ("/runs/r1/fastq/S1_R1.fastq.gz"; folders end with "/")
    name: str | None = None  # data: the file or folder name
    data_format: str | None = None  # data: the format code (FASTQ, BAM, ...)
    user_reference: str | None = None  # analysis
    pipeline_code: str | None = None  # analysis
    tags: tuple[str, ...] = ()  # every tag of the data or analysis (the filters see all; the payload MAX_TAGS)
    correlation_id: str | None = None
    files: tuple[IcaEvent, ...] = ()  # a group's files (kind DATA_GROUP), each a DATA event

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a delivery a duplicate: the same subject, code and ``timeModified``.

        A job has no ``timeModified``: its status and the event's timestamp stand in.
        """
        moment = self.time_modified or f"{self.status}@{self.timestamp}"
        return (self.id, self.event_code, moment)

    def payload(self) -> dict[str, Any]:
        """The compact payload: every key always present, ``None`` where the event has no value."""
        return {
            "event_code": self.event_code,
            "kind": self.kind,
            "id": self.id,
            "project_id": self.project_id,
            "status": self.status,
            "time_modified": self.time_modified,
            "timestamp": self.timestamp,
            "path": self.path,
            "name": self.name,
            "format": self.data_format,
            "user_reference": self.user_reference,
            "pipeline_code": self.pipeline_code,
            "tags": list(self.tags[:MAX_TAGS]),
            "correlation_id": self.correlation_id,
            "files": [file.payload() for file in self.files],
        }


def parse_event(body: str | bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> IcaEvent | Rejected:
    """The ICA event an SQS message body carries, or why it carries none a watcher can read."""
    event = decode_event(body, max_bytes)
    if isinstance(event, Rejected):
        return event
    code = event["eventCode"]
    if code not in EVENT_CODES:
        return Rejected(FOREIGN, f"event code {_quote(code)} is not one a watcher reads", _short(code))
    kind = EVENT_CODES[code][0]
    try:
        payload = _mapping(event, "payload")
        common = {
            "event_code": code,
            "kind": kind,
            "timestamp": _iso(event.get("timestamp"), "timestamp"),
            "correlation_id": _optional_identifier(event, "correlationId"),
        }
        if kind == DATA:
            return _data_event(event, payload, common)
        if kind == ANALYSIS:
            return _analysis_event(event, payload, common)
        return IcaEvent(
            id=_identifier(payload, "id", "payload.id"),
            project_id=_optional_identifier(event, "projectId"),
            status=_status(payload.get("status"), "payload.status"),
            time_modified=None,
            **common,
        )
    except _Malformed as exc:
        return Rejected(MALFORMED, _bounded(f"{code}: {exc}"), code)


def _data_event(event: dict[str, Any], payload: dict[str, Any], common: dict[str, Any]) -> IcaEvent:
    data = _mapping(payload, "data")
    details = data.get("details")
    if not isinstance(details, dict):
        raise _Malformed("payload.data.details is missing or not an object")
    name = _text(details.get("name"), "payload.data.details.name", MAX_TEXT)
    form = details.get("format")
    return IcaEvent(
        id=_identifier(data, "id", "payload.data.id"),
        project_id=_optional_identifier(event, "projectId") or _optional_identifier(payload, "projectId"),
        status=_status(details.get("status"), "payload.data.details.status"),
        time_modified=_iso(details.get("timeModified"), "payload.data.details.timeModified"),
        path=_full_path(details.get("path"), name, details.get("dataType")),
        name=name,
        data_format=_optional_text(form.get("code"), "format.code") if isinstance(form, dict) else None,
        tags=_tags(details.get("tags"), _DATA_TAG_LISTS),
        **common,
    )


def _analysis_event(event: dict[str, Any], payload: dict[str, Any], common: dict[str, Any]) -> IcaEvent:
    pipeline = payload.get("pipeline")
    return IcaEvent(
        id=_identifier(payload, "id", "payload.id"),
        project_id=_optional_identifier(event, "projectId"),
        status=_status(payload.get("status"), "payload.status"),
        time_modified=_iso(payload.get("timeModified"), "payload.timeModified"),
        user_reference=_optional_text(payload.get("userReference"), "payload.userReference"),
        pipeline_code=_optional_text(pipeline.get("code"), "pipeline.code") if isinstance(pipeline, dict) else None,
        tags=_tags(payload.get("tags"), ("technicalTags", "userTags", "referenceTags")),
        **common,
    )


def _full_path(path: Any, name: str, data_type: Any) -> str:
    """The data's full path: ICA's ``details.path`` is the full path in practice, the spec says the parent's."""
    given = "/" if path is None else _text(path, "payload.data.details.path", MAX_PATH)
    folder = data_type == "FOLDER"
    if given.rstrip("/").endswith("/" + name) or given.rstrip("/") == name:
        full = given
    else:
        full = given.rstrip("/") + "/" + name
    full = full if full.startswith("/") else "/" + full
    if folder and not full.endswith("/"):
        full += "/"
    if len(full) > MAX_PATH:
        raise _Malformed(f"the data's path is longer than {MAX_PATH} characters")
    return full


def _tags(tags: Any, lists: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(tags, dict):
        return ()
    found: dict[str, None] = {}
    for name in lists:
        values = tags.get(name)
        for tag in values if isinstance(values, list) else ():
            if isinstance(tag, str) and 0 < len(tag) <= MAX_TEXT:
                found[tag] = None
    return tuple(found)


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _Malformed(f"{where} is missing or not a text of 1 to {limit} characters")
    return str(value)


def _optional_text(value: Any, where: str) -> str | None:
    return None if value is None else _text(value, where, MAX_TEXT)


def _iso(value: Any, where: str) -> str | None:
    moment: datetime | None = _time(value, where)
    return None if moment is None else moment.isoformat()


class RecentKeys:
    """The last ``size`` keys seen, oldest forgotten first: duplicate deliveries in bounded memory."""

    def __init__(self, size: int = 10_000) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.size = size
        self._keys: OrderedDict[tuple[str, ...], None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: tuple[str, ...]) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)
