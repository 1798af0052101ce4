"""In-memory records of the fake: batches and their items (each item carries its analysis).

Record times are floats on the backend's clock (``FakeIcaConfig.clock``), turned into
dates only when rendered. Statuses are never stored; ``lifecycle`` computes them from these
times when asked, so a 10,000-item batch costs nothing until read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ica_airflow_provider.testing.catalogue import Pipeline

# Item processing statuses (AnalysisCreationBatchItemProcessing.status).
ITEM_WAITING_RESOURCES = "WAITING_RESOURCES"
ITEM_RUNNING = "RUNNING"
ITEM_SUCCEEDED = "SUCCEEDED"
ITEM_FAILED = "FAILED"
ITEM_STATUSES = (ITEM_RUNNING, ITEM_WAITING_RESOURCES, ITEM_SUCCEEDED, ITEM_FAILED)

# Job statuses (Job.status), the batch's only status.
JOB_INITIALIZED = "INITIALIZED"
JOB_WAITING_FOR_RESOURCES = "WAITING_FOR_RESOURCES"
JOB_RUNNING = "RUNNING"
JOB_SUCCEEDED = "SUCCEEDED"
JOB_PARTIALLY_SUCCEEDED = "PARTIALLY_SUCCEEDED"
JOB_FAILED = "FAILED"
JOB_STOPPED = "STOPPED"
JOB_STOPPED_INFO = "Stopped by the user"

# Analysis statuses (AnalysisV4.status), in lifecycle order.
REQUESTED = "REQUESTED"
QUEUED = "QUEUED"
INITIALIZING = "INITIALIZING"
PREPARING_INPUTS = "PREPARING_INPUTS"
IN_PROGRESS = "IN_PROGRESS"
GENERATING_OUTPUTS = "GENERATING_OUTPUTS"
AWAITING_INPUT = "AWAITING_INPUT"
ABORTING = "ABORTING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
FAILED_FINAL = "FAILED_FINAL"
ABORTED = "ABORTED"
TERMINAL_ANALYSIS_STATUSES = frozenset({SUCCEEDED, FAILED, FAILED_FINAL, ABORTED})

# AnalysisV3.status has fewer values; each V4 status maps to the nearest V3 one.
V4_TO_V3_STATUS = {
    REQUESTED: "REQUESTED",
    QUEUED: "REQUESTED",  # not started yet
    INITIALIZING: "INPROGRESS",
    PREPARING_INPUTS: "INPROGRESS",
    IN_PROGRESS: "INPROGRESS",
    GENERATING_OUTPUTS: "INPROGRESS",
    AWAITING_INPUT: "AWAITINGINPUT",
    ABORTING: "INPROGRESS",  # V3 has no ABORTING; the analysis still runs
    SUCCEEDED: "SUCCEEDED",
    FAILED: "FAILED",
    FAILED_FINAL: "FAILEDFINAL",
    ABORTED: "ABORTED",
}


@dataclass(frozen=True, slots=True)
class AnalysisPlan:
    """How an item and its analysis will play out; shared by items with the same markers.

    ``phases`` are (status, start offset in seconds after the analysis is created).
    """

    markers: frozenset[str]
    creation_error: str | None  # set when the item's creation fails (no analysis)
    phases: tuple[tuple[str, float], ...]
    final_status: str
    final_offset: float
    summary: str | None  # the analysis summary once terminal (the failure reason)
    start_offset: float  # when the analysis counts as started (startDate)


@dataclass(frozen=True, slots=True)
class Identity:
    """The single user and tenant behind the configured API key."""

    user_id: str
    tenant_id: str
    tenant_name: str
    username: str
    email: str
    storage_id: str
    created_at: float  # epoch seconds (wall clock), unlike the other records' times


@dataclass(slots=True, eq=False)
class Item:
    """One requested analysis: its request echo, its timings and its analysis."""

    id: str
    batch: Batch
    index: int
    language: str  # pipeline language: CWL or NEXTFLOW
    user_reference: str
    pipeline_id: str
    tags: dict[str, list[str]]  # technicalTags, userTags, referenceTags
    plan: AnalysisPlan
    analysis_id: str
    reference: str
    running_at: float  # WAITING_RESOURCES -> RUNNING
    created_at: float  # RUNNING -> SUCCEEDED/FAILED; the analysis exists from here
    abort_requested_at: float | None = None
    aborted_at: float | None = None
    pipeline: Pipeline | None = None  # the catalogue's record; None if unknown (creation fails)


@dataclass(slots=True, eq=False)
class Batch:
    """An analysis creation batch and the job that processes it."""

    id: str
    project_id: str
    job_id: str
    owner: Identity
    created_at: float
    starts_at: float  # job INITIALIZED -> WAITING_FOR_RESOURCES/RUNNING
    running_at: float  # job WAITING_FOR_RESOURCES -> RUNNING
    finishes_at: float  # the last item's creation ends
    failed_creations: int = 0
    stopped_at: float | None = None  # job STOPPED from here; unfinished items never finish
    items: list[Item] = field(default_factory=list)
    items_by_id: dict[str, Item] = field(default_factory=dict)
