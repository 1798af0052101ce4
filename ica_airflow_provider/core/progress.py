"""What a wait's log says between polls, and when its task is stopped.

Sans-IO and Airflow-free: :class:`ProgressLog` is handed the tracker and the wait's clock
reading after each poll, and logs through a :class:`~.tracker.Log`:

- a sample is named (warning, with ICA's reason) the first time the wait sees it failed,
  in creation or in its analysis;
- the counts line (and the held-items lines) only when they changed, or when the poll
  brought changes: a batch that stands still for hours logs nothing new each poll;
- every :data:`PROGRESS_EVERY` seconds of the wait's clock, one line naming the samples
  still running and for how long (as seen by this wait).

:func:`aborted_line` and :func:`left_running_line`: the one line a task logs about the
analyses when it is stopped (or its wait times out and it aborts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ica_airflow_provider.core.status import Phase, item_phase
from ica_airflow_provider.core.tracker import SHOWN, BatchTracker, ItemRecord, Log, describe_failure, listing

PROGRESS_EVERY = 300.0  # seconds between "still running" lines (every few minutes, not every poll)
# What a rescheduled sensor keeps between pokes (beside records and held items, within the
# store's 64 KiB): the failed items named (beyond these, a failure may be named again) and
# the start times of the first running items (the periodic line names the first SHOWN).
NAMED_SAVED = 100
SINCE_SAVED = 2 * SHOWN


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``: short, for a log line."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``1 analysis``, ``2 analyses``."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def current_status(record: ItemRecord) -> str:
    """``creation RUNNING`` or ``analysis IN_PROGRESS``: where an unfinished item stands."""
    if item_phase(record.item_status) is Phase.RUNNING or record.analysis_status is None:
        return f"creation {record.item_status}"
    return f"analysis {record.analysis_status}"


@dataclass
class ProgressLog:
    """What the progress log has said so far, so that it says each thing once."""

    named: set[str] = field(default_factory=set)  # item IDs whose failure was logged
    last: str | None = None  # digest of the last counts block logged
    periodic_at: float | None = None  # the wait's clock at the last "still running" line (or first poll)
    # item ID -> (where it stands, when this wait first saw it there): unfinished items only.
    since: dict[str, tuple[str, float]] = field(default_factory=dict)

    @classmethod
    def said(cls, tracker: BatchTracker) -> ProgressLog:
        """A log that has already said what ``tracker`` holds (its failures, its counts).

        For a refresh of records that another wait reported on (the trigger, before the task
        resumed): it logs only what the refresh changes.
        """
        block = [tracker.progress_line(), *(f"  {line}" for line in tracker.held_lines())]
        failed = {r.item_id for r in tracker.records.values() if r.phase(tracker.wait_for) is Phase.FAILED}
        return cls(named=failed, last=_digest(block))

    def report(self, tracker: BatchTracker, changes: list[str], now: float, logger: Log) -> None:
        """Log what this poll brought: new failures, changed counts, and the periodic line when due."""
        running = self._note_running(tracker, now)
        block = [tracker.progress_line(), *(f"  {line}" for line in tracker.held_lines())]
        digest = _digest(block)
        if changes or digest != self.last:
            self.last = digest
            for line in block:
                logger.info("%s", line)
            for change in changes[:SHOWN]:
                logger.info("  %s", change)
            if len(changes) > SHOWN:
                logger.info("  … and %d more changes", len(changes) - SHOWN)
        self._name_failures(tracker, logger)
        if self.periodic_at is None:
            self.periodic_at = now
        elif now - self.periodic_at >= PROGRESS_EVERY:
            self.periodic_at = now
            if running:
                logger.info("%s", self.running_line(tracker, running, now))

    def running_line(self, tracker: BatchTracker, running: list[ItemRecord], now: float) -> str:
        """``ICA batch b: 2 of 5 items still running: S1 (analysis IN_PROGRESS for 35 min), …``."""
        shown = [
            f"{r.user_reference} ({self.since[r.item_id][0]} for {duration(now - self.since[r.item_id][1])})"
            for r in running[:SHOWN]
        ]
        more = f" and {len(running) - SHOWN} more" if len(running) > SHOWN else ""
        return (
            f"ICA batch {tracker.batch_id}: {len(running)} of {plural(tracker.size(), 'item')} still running: "
            + ", ".join(shown) + more
        )

    def _note_running(self, tracker: BatchTracker, now: float) -> list[ItemRecord]:
        running = tracker.open_records()
        since: dict[str, tuple[str, float]] = {}
        for record in running:
            status = current_status(record)
            seen = self.since.get(record.item_id)
            since[record.item_id] = seen if seen is not None and seen[0] == status else (status, now)
        self.since = since
        return running

    def _name_failures(self, tracker: BatchTracker, logger: Log) -> None:
        """Each failed item once, at most :data:`SHOWN` a poll (the rest in the next polls)."""
        new = [
            r for r in tracker.records.values()
            if r.item_id not in self.named and r.phase(tracker.wait_for) is Phase.FAILED
        ]
        for record in new[:SHOWN]:
            logger.warning("ICA sample failed: %s", describe_failure(record))
            self.named.add(record.item_id)
        if len(new) > SHOWN:
            logger.warning("… and %d more failed samples, named in the next polls", len(new) - SHOWN)

    # -- a rescheduled sensor keeps this between pokes ----------------------------------------

    def state(self) -> dict[str, Any]:
        """Plain JSON, bounded (about 7 KiB at most): see :data:`NAMED_SAVED`, :data:`SINCE_SAVED`."""
        since = list(self.since.items())[:SINCE_SAVED]
        return {
            "named": sorted(self.named)[:NAMED_SAVED],
            "last": self.last,
            "periodic_at": self.periodic_at,
            "since": [[item_id, status, round(t, 1)] for item_id, (status, t) in since],
        }

    @classmethod
    def from_state(cls, data: Any) -> ProgressLog:
        """Back from :meth:`state`; anything malformed starts afresh (a failure may be named again)."""
        progress = cls()
        if not isinstance(data, Mapping):
            return progress
        named, since = data.get("named"), data.get("since")
        progress.named = {i for i in named if isinstance(i, str)} if isinstance(named, list) else set()
        progress.last = data["last"] if isinstance(data.get("last"), str) else None
        at = data.get("periodic_at")
        progress.periodic_at = float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None
        for entry in since if isinstance(since, list) else ():
            if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], int | float):
                progress.since[str(entry[0])] = (str(entry[1]), float(entry[2]))
        return progress


def _digest(lines: list[str]) -> str:
    """A short fingerprint of logged lines: what a rescheduled sensor keeps instead of the lines."""
    return hashlib.sha1("\n".join(lines).encode()).hexdigest()[:16]


def aborted_line(tracker: BatchTracker, aborted: Iterable[str]) -> str:
    """``ICA batch b: asked ICA to abort 2 running analyses: S1 (a1), S2 (a2)``, and what it cannot abort."""
    by_id = {r.analysis_id: r.user_reference for r in tracker.records.values() if r.analysis_id}
    names = [f"{by_id.get(a, '?')} ({a})" for a in aborted]
    what = plural(len(names), "running analysis", "running analyses")
    text = f"ICA batch {tracker.batch_id}: asked ICA to abort {what}" + (f": {listing(names)}" if names else "")
    return text + _creating(tracker, " (their analyses will start: not aborted)")


def left_running_line(tracker: BatchTracker | None) -> str:
    """What a task stopped with ``abort_on_kill=False`` leaves running, as of its last poll."""
    if tracker is None or not tracker.records:
        return (
            "Task stopped before its first poll: the batch's analyses, if any, are left running in ICA"
            " (abort_on_kill=True would abort them)"
        )
    running_ids = set(tracker.running_analyses())
    running = [r.user_reference for r in tracker.records.values() if r.analysis_id in running_ids]
    creating = _creating(tracker)
    if not running and not creating:
        return f"ICA batch {tracker.batch_id}: task stopped; no analysis was running at its last poll"
    return (
        f"ICA batch {tracker.batch_id}: task stopped; leaving {plural(len(running), 'analysis', 'analyses')}"
        " running in ICA (abort_on_kill=True would abort them)"
        + (f": {listing(running)}" if running else "") + creating
    )


def _creating(tracker: BatchTracker, note: str = "") -> str:
    """``; 2 items still being created: S3, S4``, or nothing."""
    creating = [r.user_reference for r in tracker.records.values() if item_phase(r.item_status) is Phase.RUNNING]
    if not creating:
        return ""
    return f"; {plural(len(creating), 'item')} still being created{note}: {listing(creating)}"
