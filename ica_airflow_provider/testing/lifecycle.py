"""Status progression: failure markers, per-item plans, and statuses computed from time.

Every function here is pure: given a record and a time ``t`` it says what the status is.
Nothing is updated in the background, so state is exact and cheap however large a batch is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ica_airflow_provider.testing.config import FakeIcaConfig
from ica_airflow_provider.testing.entities import (
    ABORTED,
    ABORTING,
    AWAITING_INPUT,
    FAILED,
    FAILED_FINAL,
    GENERATING_OUTPUTS,
    IN_PROGRESS,
    INITIALIZING,
    ITEM_FAILED,
    ITEM_RUNNING,
    ITEM_SUCCEEDED,
    ITEM_WAITING_RESOURCES,
    JOB_FAILED,
    JOB_INITIALIZED,
    JOB_PARTIALLY_SUCCEEDED,
    JOB_RUNNING,
    JOB_STOPPED,
    JOB_STOPPED_INFO,
    JOB_SUCCEEDED,
    JOB_WAITING_FOR_RESOURCES,
    PREPARING_INPUTS,
    QUEUED,
    REQUESTED,
    SUCCEEDED,
    TERMINAL_ANALYSIS_STATUSES,
    AnalysisPlan,
    Batch,
    Item,
)

FAIL_CREATION = "fail-creation"
FAIL_ANALYSIS = "fail-analysis"
FAIL_FINAL = "fail-final"
RUN_LONG = "run-long"
AWAITING_INPUT_MARKER = "awaiting-input"
STOP_JOB = "stop-job"
MARKERS = (FAIL_CREATION, FAIL_ANALYSIS, FAIL_FINAL, RUN_LONG, AWAITING_INPUT_MARKER, STOP_JOB)
MARKER_TAG_PREFIX = "ica-fake:"


def markers_of(user_reference: str, technical_tags: Iterable[str]) -> frozenset[str]:
    """Markers named in the user reference (substring) or as ``ica-fake:<marker>`` tags."""
    tags = set(technical_tags)
    return frozenset(
        marker for marker in MARKERS if marker in user_reference or MARKER_TAG_PREFIX + marker in tags
    )


def build_plan(markers: frozenset[str], config: FakeIcaConfig, creation_error: str | None = None) -> AnalysisPlan:
    """Lay out the phases of an analysis with the given markers.

    ``creation_error`` (what the catalogue refuses, see ``catalogue``) fails the creation as the
    ``fail-creation`` marker does, with that reason.
    """
    if creation_error is not None:
        return AnalysisPlan(markers, creation_error, (), FAILED, 0.0, None, 0.0)
    if FAIL_CREATION in markers:
        error = (
            "Pipeline input validation failed: parameter 'input' has no valid value "
            f"(ica-fake marker '{FAIL_CREATION}')"
        )
        return AnalysisPlan(markers, error, (), FAILED, 0.0, None, 0.0)
    step = config.analysis_step_seconds
    durations = [(REQUESTED, step), (QUEUED, step), (INITIALIZING, step), (PREPARING_INPUTS, step)]
    if AWAITING_INPUT_MARKER in markers:
        durations.append((AWAITING_INPUT, config.awaiting_input_seconds))
    durations.append((IN_PROGRESS, config.long_run_seconds if RUN_LONG in markers else step))
    final_status, summary = SUCCEEDED, None
    if FAIL_FINAL in markers or FAIL_ANALYSIS in markers:
        # A failing analysis never gets to generate outputs.
        marker = FAIL_FINAL if FAIL_FINAL in markers else FAIL_ANALYSIS
        final_status = FAILED_FINAL if marker == FAIL_FINAL else FAILED
        summary = f"Step 'main' failed with exit code 1 (ica-fake marker '{marker}')"
    else:
        durations.append((GENERATING_OUTPUTS, step))
    phases: list[tuple[str, float]] = []
    offset = 0.0
    start_offset = 0.0
    for status, duration in durations:
        if status == INITIALIZING:
            start_offset = offset
        phases.append((status, offset))
        offset += duration
    return AnalysisPlan(markers, None, tuple(phases), final_status, offset, summary, start_offset)


@dataclass(frozen=True, slots=True)
class ItemState:
    """An item's processing status at some time."""

    status: str
    info: str | None


@dataclass(frozen=True, slots=True)
class AnalysisState:
    """An analysis's status and dates at some time."""

    status: str
    modified_at: float
    start_date: float | None
    end_date: float | None
    summary: str | None


@dataclass(frozen=True, slots=True)
class JobState:
    """A batch job's status and dates at some time."""

    status: str
    started_at: float | None
    finished_at: float | None
    info: str | None


def item_state(item: Item, t: float) -> ItemState:
    """Processing status of ``item`` at ``t``."""
    if t < item.running_at:
        return ItemState(ITEM_WAITING_RESOURCES, None)
    if t < item.created_at:
        return ItemState(ITEM_RUNNING, None)
    if item.plan.creation_error is not None:
        return ItemState(ITEM_FAILED, item.plan.creation_error)
    return ItemState(ITEM_SUCCEEDED, None)


def item_status(item: Item, t: float) -> str:
    """Processing status only; the hot path of filtered listings."""
    if t < item.running_at:
        return ITEM_WAITING_RESOURCES
    if t < item.created_at:
        return ITEM_RUNNING
    return ITEM_FAILED if item.plan.creation_error is not None else ITEM_SUCCEEDED


def analysis_exists(item: Item, t: float) -> bool:
    """Whether the item's analysis has been created by ``t``."""
    return item.plan.creation_error is None and t >= item.created_at


def natural_analysis_state(item: Item, t: float) -> AnalysisState:
    """Status of the analysis at ``t`` ignoring any abort (caller checks it exists)."""
    plan = item.plan
    created = item.created_at
    offset = t - created
    start = created + plan.start_offset if offset >= plan.start_offset else None
    if offset >= plan.final_offset:
        end = created + plan.final_offset
        return AnalysisState(plan.final_status, end, start, end, plan.summary)
    status, status_offset = plan.phases[0]
    for phase_status, phase_offset in plan.phases:
        if offset < phase_offset:
            break
        status, status_offset = phase_status, phase_offset
    return AnalysisState(status, created + status_offset, start, None, None)


def analysis_state(item: Item, t: float) -> AnalysisState:
    """Status of the analysis at ``t``, including the effect of an abort."""
    abort_at, aborted_at = item.abort_requested_at, item.aborted_at
    if abort_at is None or aborted_at is None or t < abort_at:
        return natural_analysis_state(item, t)
    before = natural_analysis_state(item, abort_at)
    summary = "Analysis aborted by user"
    if t < aborted_at:
        return AnalysisState(ABORTING, abort_at, before.start_date, None, None)
    return AnalysisState(ABORTED, aborted_at, before.start_date, aborted_at, summary)


def is_terminal(status: str) -> bool:
    """Whether an analysis status is final."""
    return status in TERMINAL_ANALYSIS_STATUSES


def stop_job(batch: Batch, at: float) -> bool:
    """Stop the batch's job at ``at``: items not created by then stay as they are for good.

    False (and nothing changes) if the job has finished by ``at`` or was stopped already.
    """
    if batch.stopped_at is not None or at >= batch.finishes_at:
        return False
    batch.stopped_at = at
    never = float("inf")
    for item in batch.items:
        if item.created_at > at:  # still WAITING_RESOURCES or RUNNING: frozen there
            item.created_at = never
            if item.running_at > at:
                item.running_at = never
    return True


def job_stop_time(batch: Batch, config: FakeIcaConfig) -> float | None:
    """When the ``stop-job`` marker stops the job: midway through creating the first marked item."""
    marked = [item.running_at for item in batch.items if STOP_JOB in item.plan.markers]
    return min(marked) + config.item_creation_seconds / 2 if marked else None


def job_state(batch: Batch, t: float) -> JobState:
    """Status of a batch's job at ``t``: aggregated from its items' creation, or STOPPED."""
    if batch.stopped_at is not None and t >= batch.stopped_at:
        started = batch.starts_at if batch.stopped_at >= batch.starts_at else None
        return JobState(JOB_STOPPED, started, batch.stopped_at, JOB_STOPPED_INFO)
    if t < batch.starts_at:
        return JobState(JOB_INITIALIZED, None, None, None)
    if t < batch.finishes_at:
        waiting = t < batch.running_at  # only reachable when items wait for resources
        return JobState(JOB_WAITING_FOR_RESOURCES if waiting else JOB_RUNNING, batch.starts_at, None, None)
    total, failed = len(batch.items), batch.failed_creations
    if failed == 0:
        return JobState(JOB_SUCCEEDED, batch.starts_at, batch.finishes_at, None)
    info = f"{failed} of {total} analyses could not be created"
    status = JOB_FAILED if failed == total else JOB_PARTIALLY_SUCCEEDED
    return JobState(status, batch.starts_at, batch.finishes_at, info)
