"""Slim views of batch items, for following a batch: only the fields the tracker reads.

A poll of a 10,000-item batch parses every item; ignoring the rest of each analysis
(pipeline, owner, storage, ...) makes that several times cheaper in CPU and memory.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class _View(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True, defer_build=True)


class AnalysisStatusView(_View):
    id: str
    status: str
    summary: str | None = None
    time_modified: str | None = None  # how new this state is: an older notification must not undo it


class ItemRequestView(_View):
    user_reference: str
    pipeline_id: str | None = None


class ItemProcessingView(_View):
    status: str
    additional_status_information: str | None = None


class ItemStatusView(_View):
    """An item's identity, creation status and analysis status."""

    id: str
    request: ItemRequestView
    processing: ItemProcessingView
    created_analysis: AnalysisStatusView | None = None


class ItemStatusPage(_View):
    items: list[ItemStatusView]
    next_page_token: str | None = None
