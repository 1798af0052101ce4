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

# How far along its run an open analysis is: a notification that would move one back is older
# than what is known (a state REST showed may be newer than a message still in the queue).
# AWAITING_INPUT shares IN_PROGRESS's rank: an analysis goes back and forth between them.
ANALYSIS_PROGRESS = {
    "REQUESTED": 0, "QUEUED": 1, "INITIALIZING": 2, "PREPARING_INPUTS": 3, "IN_PROGRESS": 4, "INPROGRESS": 4,
    "AWAITING_INPUT": 4, "AWAITINGINPUT": 4, "GENERATING_OUTPUTS": 5, "ABORTING": 6,
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


def moves_back(old: str | None, new: str) -> bool:
    """Whether an open analysis going from ``old`` to ``new`` would go back in its run (an end never does)."""
    return old is not None and new in ANALYSIS_PROGRESS and ANALYSIS_PROGRESS[new] < ANALYSIS_PROGRESS.get(old, 0)
