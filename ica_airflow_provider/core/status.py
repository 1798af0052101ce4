"""ICA's status vocabularies and which of them are terminal, in one place."""

from __future__ import annotations

from enum import Enum


class Phase(str, Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# Item ``processing.status``: the *creation* of the analysis.
ITEM_PHASES = {
    "RUNNING": Phase.RUNNING,
    "WAITING_RESOURCES": Phase.RUNNING,
    "SUCCEEDED": Phase.SUCCEEDED,
    "FAILED": Phase.FAILED,
}

# Analysis status, v4 spellings plus the v3 ones (no underscores) for lenience.
ANALYSIS_PHASES = {
    **dict.fromkeys(
        (
            "REQUESTED", "QUEUED", "INITIALIZING", "PREPARING_INPUTS", "IN_PROGRESS",
            "GENERATING_OUTPUTS", "AWAITING_INPUT", "ABORTING", "AWAITINGINPUT", "INPROGRESS",
        ),
        Phase.RUNNING,
    ),
    "SUCCEEDED": Phase.SUCCEEDED,
    **dict.fromkeys(("FAILED", "FAILED_FINAL", "FAILEDFINAL", "ABORTED"), Phase.FAILED),
}

# The batch's ``job.status`` (the batch has no status of its own).
# Only a STOPPED or FAILED job leaves items uncreated for good: those are counted FAILED.
# A SUCCEEDED or PARTIALLY_SUCCEEDED job says every item was created or failed, so an item
# still shown as being created is a read that lags behind; the wait follows the item.
JOB_STATUSES = frozenset(
    ("INITIALIZED", "WAITING_FOR_RESOURCES", "RUNNING", "STOPPED", "SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED")
)
JOB_TERMINAL = frozenset(("STOPPED", "SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED"))
JOB_ENDS_CREATION = frozenset(("STOPPED", "FAILED"))

# States in which an item or analysis waits on something outside the batch (capacity, a
# person's input); the progress lines name the items that stay in them.
HELD_ITEM_STATUSES = frozenset(("WAITING_RESOURCES",))
HELD_ANALYSIS_STATUSES = frozenset(("AWAITING_INPUT", "AWAITINGINPUT"))


def item_phase(status: str) -> Phase:
    """Phase of an item status; an unknown one counts as still running."""
    return ITEM_PHASES.get(status, Phase.RUNNING)


def analysis_phase(status: str) -> Phase:
    """Phase of an analysis status; an unknown one counts as still running."""
    return ANALYSIS_PHASES.get(status, Phase.RUNNING)


def is_known_item_status(status: str) -> bool:
    return status in ITEM_PHASES


def is_known_analysis_status(status: str) -> bool:
    return status in ANALYSIS_PHASES


def is_known_job_status(status: str) -> bool:
    return status in JOB_STATUSES


def job_ends_creation(status: str) -> bool:
    """Whether a job in ``status`` will never create the items it has not created yet."""
    return status in JOB_ENDS_CREATION
