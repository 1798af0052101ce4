"""Turn the fake's records into JSON bodies that conform to the ICA OpenAPI schemas.

Records keep times on the backend clock's axis; ``Renderer`` turns them into wall-clock
ISO dates with the backend's ``to_wall``. ``version`` is the negotiated media type version
(3 or 4): V4 uses identifier objects (``owner: {id}``) and the long status list, V3 uses
``ownerId``/``tenantId`` and the V3 status enum.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ica_airflow_provider.testing.entities import V4_TO_V3_STATUS, Batch, Identity, Item
from ica_airflow_provider.testing.lifecycle import (
    AnalysisState,
    analysis_exists,
    analysis_state,
    item_state,
    job_state,
)
from ica_airflow_provider.testing.outputs import OutputData

JSON = dict[str, Any]
_FAKE_NAMESPACE = uuid.UUID("6f1c3a52-0f0e-4d1e-9a51-3c2b8e0f7a10")
_LANGUAGE_VERSIONS = {"CWL": "v1.2", "NEXTFLOW": "22.04.3"}


def iso(timestamp: float) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``, as ICA writes dates."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=4096)
def stable_uuid(name: str) -> str:
    """A UUID derived from ``name`` (a UUID stays itself), for IDs the fake makes up."""
    try:
        return str(uuid.UUID(name))
    except ValueError:
        return str(uuid.uuid5(_FAKE_NAMESPACE, name))


def user(identity: Identity) -> JSON:
    """A full ``User`` (all 11 required fields)."""
    created = iso(identity.created_at)
    return {
        "id": identity.user_id,
        "timeCreated": created,
        "timeModified": created,
        "ownerId": identity.user_id,
        "tenantId": identity.tenant_id,
        "tenantName": identity.tenant_name,
        "username": identity.username,
        "email": identity.email,
        "firstname": "Fake",
        "lastname": "User",
        "active": True,
        "tenantAdministrator": False,
        "emailVerified": True,
        "twoFactorAuthentication": False,
    }


class Renderer:
    """Builds response bodies, dating them on the wall clock."""

    def __init__(self, to_wall: Callable[[float], float]) -> None:
        self._to_wall = to_wall

    def iso(self, t: float) -> str:
        """A backend time as an ISO date."""
        return iso(self._to_wall(t))

    def iso_or_none(self, t: float | None) -> str | None:
        """``iso`` for optional dates."""
        return None if t is None else self.iso(t)

    def batch(self, record: Batch, t: float) -> JSON:
        """An ``AnalysisCreationBatch`` with its job as of ``t``."""
        state = job_state(record, t)
        job: JSON = {
            "id": record.job_id,
            "status": state.status,
            "additionalStatusInformation": state.info,
            "subjectType": "AnalysisCreationBatch",
            "subjectId": record.id,
            "timeCreated": self.iso(record.created_at),
            "timeStarted": self.iso_or_none(state.started_at),
            "timeFinished": self.iso_or_none(state.finished_at),
            "owner": user(record.owner),
        }
        return {"id": record.id, "job": job}

    def item(self, record: Item, t: float, version: int) -> JSON:
        """An ``AnalysisCreationBatchItemV4``/``V3`` as of ``t``."""
        state = item_state(record, t)
        body: JSON = {
            "id": record.id,
            "request": {
                "userReference": record.user_reference,
                "pipelineId": record.pipeline_id,
                "tags": _tags(record),
            },
            "processing": {"status": state.status, "additionalStatusInformation": state.info},
        }
        if analysis_exists(record, t):
            body["createdAnalysis"] = self.analysis(record, t, version)
        return body

    def analysis(self, record: Item, t: float, version: int, state: AnalysisState | None = None) -> JSON:
        """An ``AnalysisV4``/``V3`` as of ``t`` (the caller checks that it exists)."""
        state = state or analysis_state(record, t)
        identity = record.batch.owner
        body: JSON = {
            "id": record.analysis_id,
            "timeCreated": self.iso(record.created_at),
            "timeModified": self.iso(state.modified_at),
            "reference": record.reference,
            "userReference": record.user_reference,
            "pipeline": pipeline(record, version),
            "status": state.status if version >= 4 else V4_TO_V3_STATUS[state.status],
            "startDate": self.iso_or_none(state.start_date),
            "endDate": self.iso_or_none(state.end_date),
            "summary": state.summary,
            "analysisStorage": storage(identity, version),
            "analysisPriority": "MEDIUM",
            "tags": _tags(record),
        }
        body.update(_ownership(identity, version))
        return body

    def outputs(self, record: Item, outputs: tuple[tuple[str, tuple[OutputData, ...]], ...]) -> JSON:
        """An ``AnalysisOutputList`` (v3): per output parameter its code and data."""
        identity = record.batch.owner
        project_id = _uuid_or_none(record.batch.project_id)
        items: list[JSON] = []
        for code, data in outputs:
            entry: JSON = {"code": code, "data": [_analysis_data(element, identity) for element in data]}
            if project_id is not None:  # the spec's projectId is a UUID; the fake's may not be
                entry["projectId"] = project_id
            items.append(entry)
        return {"items": items}


def _analysis_data(element: OutputData, identity: Identity) -> JSON:
    body: JSON = {
        "dataId": element.data_id,
        "name": element.name,
        "dataType": element.data_type,
        "format": None if element.format_code is None else data_format(element.format_code, identity),
    }
    if element.children:
        body["children"] = [_analysis_data(child, identity) for child in element.children]
    return body


def data_format(code: str, identity: Identity) -> JSON:
    """A ``DataFormat`` (FASTQ, BAM, ...) owned by the fake tenant."""
    created = iso(identity.created_at)
    return {
        "id": stable_uuid(f"format:{code}"),
        "timeCreated": created,
        "timeModified": created,
        "ownerId": identity.user_id,
        "tenantId": identity.tenant_id,
        "tenantName": identity.tenant_name,
        "code": code,
        "description": f"{code} files",
    }


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def etag(record: Item, state: AnalysisState) -> str:
    """A strong ETag that changes whenever the analysis does."""
    digest = hashlib.sha256(f"{record.analysis_id}|{state.status}|{state.modified_at}".encode())
    return f'"{digest.hexdigest()[:32]}"'


def pipeline(record: Item, version: int) -> JSON:
    """A ``PipelineV4``/``V3``: the catalogue's record of the item's pipeline."""
    if record.pipeline is None:  # an unknown pipeline fails the creation: no analysis shows it
        raise ValueError(f"the item {record.id} has no pipeline in the catalogue")
    identity = record.batch.owner
    spec = record.pipeline
    created = iso(identity.created_at)
    body: JSON = {
        "id": spec.id,
        "urn": f"urn:ilmn:ica:pipeline:{spec.id}#{spec.code}",
        "timeCreated": created,
        "timeModified": created,
        "code": spec.code,
        "description": spec.description,
        "status": "RELEASED",
        "language": spec.language,
        "languageVersion": {
            "id": stable_uuid(f"language:{spec.language}"),
            "name": _LANGUAGE_VERSIONS[spec.language],
            "language": spec.language,
        },
        "pipelineTags": {"technicalTags": []},
        "analysisStorage": storage(identity, version),
        "proprietary": False,
    }
    if version >= 4:
        body["statusAsString"] = "Released"
    body.update(_ownership(identity, version))
    return body


def pipeline_code(record: Item) -> str:
    """The code of the item's pipeline (``-`` when it is not in the catalogue), for web pages."""
    return record.pipeline.code if record.pipeline is not None else "-"


def storage(identity: Identity, version: int) -> JSON:
    """The one analysis storage size of the fake tenant."""
    body: JSON = {"id": identity.storage_id, "name": "Small", "description": "1.2TB"}
    if version < 4:
        created = iso(identity.created_at)
        body.update(timeCreated=created, timeModified=created)
        body.update(_ownership(identity, version))
    return body


def problem(
    status: int,
    title: str,
    detail: str,
    parameters: dict[str, str],
    instance: str,
    method: str,
    now: float,
) -> JSON:
    """An RFC 7807 ``Problem`` with ICA's extras (``parameters``, ``timestamp``, ``method``)."""
    return {
        "id": str(uuid.uuid4()),
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "parameters": parameters,
        "timestamp": iso(now),
        "method": method,
    }


def _tags(record: Item) -> JSON:
    return {kind: list(values) for kind, values in record.tags.items()}


def _ownership(identity: Identity, version: int) -> JSON:
    if version >= 4:
        return {
            "owner": {"id": identity.user_id},
            "tenant": {"id": identity.tenant_id, "name": identity.tenant_name},
        }
    return {
        "ownerId": identity.user_id,
        "tenantId": identity.tenant_id,
        "tenantName": identity.tenant_name,
    }
