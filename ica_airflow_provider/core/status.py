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
