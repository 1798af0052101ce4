"""What ICA answers: tokens, the creation batch, its items and analyses (errors: core/responses.py).

Lenient by design: unknown fields are kept, statuses are plain strings (ICA adds
values; v4 made the analysis status a free string), and only the fields we rely on
are required. Timestamps stay ISO 8601 strings: we only display them, and parsing
thousands of them per page would cost for nothing. One model serves v3 and v4 bodies.
No Python validators here: a 1,000-item page must parse in pydantic-core alone.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from ica_airflow_provider.models._base import IcaResponseModel

__all__ = [
    "Analysis",
    "AnalysisCreationBatch",
    "AnalysisCreationBatchItem",
    "AnalysisCreationBatchItemPage",
    "AnalysisCreationBatchItemProcessing",
    "AnalysisCreationBatchItemRequest",
    "AnalysisTag",
    "Job",
    "Pipeline",
    "Token",
]


class Token(IcaResponseModel):
    """A JWT from ``POST /api/tokens``; never shown in repr, str or validation errors."""

    model_config = ConfigDict(hide_input_in_errors=True)

    token: str = Field(repr=False)


class Job(IcaResponseModel):
    """The job running a batch; its ``status`` is the batch's state (e.g. ``SUCCEEDED``)."""

    id: str
    status: str
    additional_status_information: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    time_created: str | None = None
    time_started: str | None = None
    time_finished: str | None = None
    owner: dict[str, Any] | None = None
    project: dict[str, Any] | None = None
    bundle: dict[str, Any] | None = None
    application: dict[str, Any] | None = None


class AnalysisCreationBatch(IcaResponseModel):
    """A creation batch; it has no status of its own, see ``job.status``."""

    id: str
    job: Job | None = None


class AnalysisTag(IcaResponseModel):
    """The tags of an analysis."""

    technical_tags: list[str] | None = None
    user_tags: list[str] | None = None
    reference_tags: list[str] | None = None


class Pipeline(IcaResponseModel):
    """The pipeline of an analysis; only the identifying fields are declared."""

    id: str | None = None
    code: str | None = None
    description: str | None = None
    language: str | None = None


class Analysis(IcaResponseModel):
    """An analysis, v4 or v3 shape (v4 has ``owner``/``tenant``, v3 ``ownerId``/``tenantId``)."""

    id: str
    status: str
    reference: str | None = None
    user_reference: str | None = None
    summary: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    time_created: str | None = None
    time_modified: str | None = None
    pipeline: Pipeline | None = None
    tags: AnalysisTag | None = None
    analysis_priority: str | None = None
    analysis_storage: dict[str, Any] | None = None
    workflow_session: dict[str, Any] | None = None
    application: dict[str, Any] | None = None
    owner: dict[str, Any] | None = None
    tenant: dict[str, Any] | None = None
    owner_id: str | None = None
    tenant_id: str | None = None
    tenant_name: str | None = None


class AnalysisCreationBatchItemRequest(IcaResponseModel):
    """The part of the item's request ICA echoes back; ``user_reference`` identifies it."""

    user_reference: str
    pipeline_id: str | None = None
    tags: AnalysisTag | None = None


class AnalysisCreationBatchItemProcessing(IcaResponseModel):
    """Progress of creating one analysis; ``SUCCEEDED`` means created, not finished."""

    status: str
    additional_status_information: str | None = None


class AnalysisCreationBatchItem(IcaResponseModel):
    """One item of a batch, with the analysis once it has been created."""

    id: str
    request: AnalysisCreationBatchItemRequest
    processing: AnalysisCreationBatchItemProcessing
    created_analysis: Analysis | None = None


class AnalysisCreationBatchItemPage(IcaResponseModel):
    """A page of batch items; there are more while ``next_page_token`` is non-empty."""

    items: list[AnalysisCreationBatchItem]
    next_page_token: str | None = None
    remaining_records: int | None = None
    total_item_count: int | None = None
