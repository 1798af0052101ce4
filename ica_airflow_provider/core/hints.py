"""Notification hints applied to a batch's records: no request, and never over REST's word.

A hint (``core/notifications.py``) may be lost, repeated, reordered, forged or misrouted, so
it only ever moves an open record forward: a terminal status never changes, an analysis
state older than one already applied (by the analysis's ``timeModified``), or behind the
known one in the run (``core/status.moves_back``), is dropped, a duplicate changes nothing,
and a hint for another project is ignored. A job hint that ends the items' creation, or an
analysis the wait does not know, asks for a listing instead, except an analysis that carries
the batch's own technical tag (``core/wake.wait_tag``) and the ``userReference`` of an item
with no analysis yet: that is the item's analysis, and the hint applies to it with no
request. The wait (``core/wait.py``) confirms with a listing before it reports a batch done
on hints: only ICA's REST API decides that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ica_airflow_provider.core.notifications import AnalysisHint, Hint, JobHint, parse_time
from ica_airflow_provider.core.status import (
    JOB_TERMINAL,
    Phase,
    analysis_phase,
    is_known_analysis_status,
    item_phase,
    moves_back,
)
from ica_airflow_provider.core.tracker import BatchTracker, ItemRecord, Log


@dataclass
class Applied:
    """What one batch of hints did: the change lines (as a poll's), and whether a listing is due."""

    changes: list[str] = field(default_factory=list)
    listing: bool = False


@dataclass
class HintLedger:
    """One wait's use of hints: what it follows, the newest state applied per analysis, counts.

    Lives with the wait in one process (the triggerer, a worker); never saved.
    """

    tag: str | None = None  # the technical tag the operator put on the batch's items (None: not tagged)
    counts: dict[str, int] = field(
        default_factory=lambda: {"woken": 0, "applied": 0, "ignored": 0, "listings": 0}
    )
    available: bool = True  # the hint source could be read when last asked
    stale: bool = True  # records changed since the ids were last collected (a poll ran)
    # Hints changed records since the last listing: the next poll lists the batch, so that
    # records only hints moved are checked against ICA (a poll of the open ones would skip them).
    unconfirmed: bool = False
    _analyses: dict[str, ItemRecord] = field(default_factory=dict, repr=False)  # followed, by analysis id
    _jobs: set[str] = field(default_factory=set, repr=False)
    _newest: dict[str, datetime] = field(default_factory=dict, repr=False)  # analysis id -> its newest timeModified
    _job_status: dict[str, str] = field(default_factory=dict, repr=False)
    _said_unavailable: bool = field(default=False, repr=False)
    _tag_followed: bool = field(default=False, repr=False)
    _by_reference: dict[str, ItemRecord] | None = field(default=None, repr=False)  # records by userReference

    def new_ids(self, tracker: BatchTracker) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """``(analysis ids, job ids, tags)`` to follow from now on: those the last poll brought, and the tag.

        A tagged batch's analyses are followed by the tag alone (their notifications carry it):
        one routing entry per wait instead of one per analysis.
        """
        tags: tuple[str, ...] = ()
        if self.tag is not None and not self._tag_followed:
            self._tag_followed, tags = True, (self.tag,)
        if not self.stale:
            return (), (), tags
        self.stale = False
        analyses = []
        for record in tracker.records.values():
            if record.analysis_id and record.analysis_id not in self._analyses:
                self._analyses[record.analysis_id] = record
                analyses.append(record.analysis_id)
        jobs = () if tracker.job_id is None or tracker.job_id in self._jobs else (tracker.job_id,)
        self._jobs.update(jobs)
        return (() if self.tag is not None else tuple(analyses)), jobs, tags

    def listed(self, listing: bool) -> None:
        """A poll succeeded (``listing``: it listed the whole batch)."""
        self.stale = True
        self._by_reference = None  # a listing may have brought new records
        if listing:
            self.unconfirmed = False

    def note_source(self, available: bool, interval: float, logger: Log) -> None:
        """Say once per wait that the queue cannot be read and the wait polls meanwhile."""
        if not available and not self._said_unavailable:
            self._said_unavailable = True
            logger.warning(
                "ICA notifications cannot be read; polling ICA every %g s until they can again", interval
            )
        self.available = available

    def apply(self, tracker: BatchTracker, hints: Iterable[Hint]) -> Applied:
        """Apply each hint to the records it concerns (see the module's rules)."""
        applied = Applied()
        for hint in hints:
            if hint.project_id is not None and hint.project_id != tracker.project_id:
                used = False  # misrouted, or a forged message for another project
            elif isinstance(hint, JobHint):
                used = self._job(tracker, hint, applied)
            else:
                used = self._analysis(tracker, hint, applied)
            self.counts["applied" if used else "ignored"] += 1
        return applied

    def _job(self, tracker: BatchTracker, hint: JobHint, applied: Applied) -> bool:
        if self._job_status.get(hint.job_id) == hint.status or not tracker.creating():
            return False  # a duplicate, or creation is over: the job has nothing left to say
        if hint.status not in JOB_TERMINAL:
            return False  # still creating: a listing now would learn less than the one at its end
        self._job_status[hint.job_id] = hint.status
        applied.listing = True  # which items it created, or left uncreated, only a listing says
        return True

    def _analysis(self, tracker: BatchTracker, hint: AnalysisHint, applied: Applied) -> bool:
        record = self._analyses.get(hint.analysis_id) or self._adopt(tracker, hint, applied)
        if record is None:
            applied.listing = True  # an analysis of the batch not seen yet (a tag routed it)
            return True
        if record.analysis_id != hint.analysis_id:
            return False  # a listing showed the item with another analysis than a tagged hint named
        newest = self._newest.get(hint.analysis_id)
        listed = parse_time(tracker.analysis_modified.get(hint.analysis_id))
        if listed is not None and (newest is None or listed > newest):
            newest = listed  # what ICA's REST API last said counts too: a poll may be newer than any hint
        if hint.time_modified is not None:
            if newest is not None and hint.time_modified <= newest:
                return False  # older than, or the same as, a state already listed or applied
            self._newest[hint.analysis_id] = hint.time_modified
        if (
            item_phase(record.item_status) is not Phase.SUCCEEDED
            or analysis_phase(record.analysis_status or "") is not Phase.RUNNING
            or record.analysis_status == hint.status
        ):
            return False  # terminal statuses never change; a repeat changes nothing
        if not is_known_analysis_status(hint.status):
            return False  # what an unknown status means, only a poll decides (and warns of)
        if moves_back(record.analysis_status, hint.status):
            return False  # older than the state a listing showed (messages wait in the queue)
        if record.analysis_status is None:
            applied.changes.append(f"{record.user_reference}: analysis {hint.analysis_id} {hint.status}")
        else:
            applied.changes.append(f"{record.user_reference}: analysis {record.analysis_status} -> {hint.status}")
        self.unconfirmed = True
        record.analysis_status = hint.status
        if analysis_phase(hint.status) is Phase.FAILED:
            record.reason = hint.summary
        return True

    def _adopt(self, tracker: BatchTracker, hint: AnalysisHint, applied: Applied) -> ItemRecord | None:
        """The record of the item a tagged hint's analysis was created for, if no listing has shown one yet."""
        if (
            self.tag is None
            or self.tag not in hint.technical_tags
            or hint.user_reference is None
            or hint.project_id != tracker.project_id  # a tag is a project's (core/wake.wait_tag)
            or not is_known_analysis_status(hint.status)  # what it means, only a listing says
        ):
            return None
        if self._by_reference is None:
            self._by_reference = {r.user_reference: r for r in tracker.records.values()}
        record = self._by_reference.get(hint.user_reference)
        if record is None or record.analysis_id is not None or item_phase(record.item_status) is Phase.FAILED:
            return None  # not an item of this wait's records, or one whose analysis is known (another's hint)
        # Its analysis exists, so its creation is over; a listing confirms it before the wait ends.
        applied.changes += tracker.place_hinted(record, hint.analysis_id)
        self._analyses[hint.analysis_id] = record
        self.unconfirmed = True
        return record


def hints_line(batch_id: str, counts: Mapping[str, int]) -> str:
    """``ICA batch b: woken 4 times by notifications (9 applied, 2 ignored); 1 listing asked by them``."""
    woken, listings = int(counts.get("woken", 0)), int(counts.get("listings", 0))
    return (
        f"ICA batch {batch_id}: woken {woken} time{'' if woken == 1 else 's'} by notifications"
        f" ({int(counts.get('applied', 0))} applied, {int(counts.get('ignored', 0))} ignored);"
        f" {listings} listing{'' if listings == 1 else 's'} asked by them"
    )
