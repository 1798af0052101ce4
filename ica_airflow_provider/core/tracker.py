"""Following a batch: one record per item, cheap polls, and the verdict.

:meth:`BatchTracker.poll` refreshes the records with as few requests as it can;
:func:`judge` turns them into a :class:`Verdict`. The wait around them (polls until
done, tolerated failures, the deadline, aborts) is in :mod:`.wait`.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ica_airflow_provider.core.status import (
    HELD_ANALYSIS_STATUSES,
    HELD_ITEM_STATUSES,
    JOB_TERMINAL,
    Phase,
    analysis_phase,
    is_known_analysis_status,
    is_known_item_status,
    is_known_job_status,
    item_phase,
    job_ends_creation,
)
from ica_airflow_provider.defaults import DEFAULT_PAGE_SIZE
from ica_airflow_provider.defaults import WaitFor as WaitFor

if TYPE_CHECKING:  # DAG files import this module: pydantic models load on first use only
    from ica_airflow_provider.core.protocol import Call, IcaProtocol
    from ica_airflow_provider.models.response import Analysis, AnalysisCreationBatchItem, Job
    from ica_airflow_provider.models.status_views import AnalysisStatusView, ItemStatusView

log = logging.getLogger(__name__)

SHOWN = 20  # names or changes listed in one log line or message; the rest are counted
HELD_POLLS = 5  # polls in a row WAITING_RESOURCES / AWAITING_INPUT before the progress lines name the item
REASON_SHOWN = 120  # characters of ICA's reason in a log line or message (the XCom keeps it whole)
HELD_SAVED = 200  # held items a rescheduled sensor remembers between pokes (about 60 bytes each)


class Log(Protocol):
    """What the core logs with: a ``logging.Logger``, or a task's ``self.log``."""

    def info(self, msg: str, /, *args: object) -> object: ...

    def warning(self, msg: str, /, *args: object) -> object: ...


def json_size(value: Any) -> int:
    """Bytes of ``value`` as JSON, as Airflow stores it (``json.dumps`` defaults: ASCII, ``", "``)."""
    return len(json.dumps(value))


def dump_within(records: Iterable[ItemRecord], budget: int) -> list[dict[str, Any]] | None:
    """The records' plain JSON if it takes at most ``budget`` bytes, else ``None``.

    Stops at the first record over the budget: the cost is bounded by the budget, not the batch.
    """
    dumped: list[dict[str, Any]] = []
    size = 2  # []
    for record in records:
        data = record.to_xcom()
        size += json_size(data) + (2 if dumped else 0)  # ", " between records
        if size > budget:
            return None
        dumped.append(data)
    return dumped


def listing(names: Iterable[str], shown: int = SHOWN) -> str:
    """``a, b, c and 7 more``: a list of names that stays one short line for any batch."""
    names = list(names)
    text = ", ".join(names[:shown])
    if len(names) > shown:
        text += f" and {len(names) - shown} more"
    return text


@dataclass
class ItemRecord:
    """What the provider knows of one batch item; the ``analyses`` XCom holds these."""

    item_id: str
    user_reference: str
    pipeline_id: str | None
    item_status: str
    analysis_id: str | None = None
    analysis_status: str | None = None
    reason: str | None = None
    # With include_outputs, once the analysis has SUCCEEDED: output_records() of its outputs.
    outputs: list[dict[str, Any]] | None = None

    def to_xcom(self) -> dict[str, Any]:
        data = asdict(self)
        if self.outputs is None:
            del data["outputs"]  # no outputs asked for or none yet: the record keeps its plain shape
        return data

    @classmethod
    def from_xcom(cls, data: Mapping[str, Any]) -> ItemRecord:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]

    def phase(self, wait_for: WaitFor) -> Phase:
        """Where this item stands for the given ``wait_for``."""
        creation = item_phase(self.item_status)
        if creation is not Phase.SUCCEEDED:
            return creation
        if self.analysis_id is None:
            return Phase.RUNNING  # created, but ICA has not shown the analysis yet: no ID to hand on
        if wait_for == "creation":
            return Phase.SUCCEEDED
        return analysis_phase(self.analysis_status or "")


@dataclass
class Verdict:
    """The judgement of a batch at one moment."""

    done: bool
    analysis_ids: list[str]
    failures: list[ItemRecord]
    records: list[ItemRecord]
    max_failures: int
    wait_for: WaitFor

    @property
    def failed(self) -> bool:
        return self.done and len(self.failures) > self.max_failures

    def summary(self, batch_id: str) -> str:
        """One line once the wait is over, e.g. ``3 of 3 analyses SUCCEEDED; returning 3 analysis IDs``."""
        what = "item creations" if self.wait_for == "creation" else "analyses"
        text = f"ICA batch {batch_id}: {len(self.analysis_ids)} of {len(self.records)} {what} SUCCEEDED"
        if self.failures:
            text += f", {len(self.failures)} FAILED (max_failures={self.max_failures})"
        if self.failed:
            return text + "; failing the task"
        return text + f"; returning {len(self.analysis_ids)} analysis IDs"

    def failure_message(self, batch_id: str) -> str:
        """Each failure, sample and ICA's reason first, one per line; at most :data:`SHOWN` (all are in the XCom).

        The counts come last: the first line, the one a log view shows beside the error's
        type, is the first failed sample and why.
        """
        what = "item creations" if self.wait_for == "creation" else "items"
        lines = [describe_failure(r) for r in self.failures[:SHOWN]]
        if len(self.failures) > SHOWN:
            lines.append(f"… and {len(self.failures) - SHOWN} more (see the 'analyses' XCom)")
        lines.append(
            f"ICA batch {batch_id}: {len(self.failures)} of {len(self.records)} {what} failed"
            f" (max_failures={self.max_failures})"
        )
        return "\n".join(lines)


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_failure(record: ItemRecord) -> str:
    """``S1: analysis FAILED: <ICA's reason> (item …, analysis …)``: what a person reads first, first."""
    if item_phase(record.item_status) is Phase.FAILED:
        status = f"creation {record.item_status}"
    else:
        status = f"analysis {record.analysis_status}"
    reason = f": {shorten(record.reason, REASON_SHOWN)}" if record.reason else ""
    ids = f"item {record.item_id}" + (f", analysis {record.analysis_id}" if record.analysis_id else "")
    return f"{record.user_reference}: {status}{reason} ({ids})"


def judge(records: Iterable[ItemRecord], wait_for: WaitFor, max_failures: int) -> Verdict:
    """Done when every item is terminal for ``wait_for``; no item seen yet is not done."""
    records = list(records)
    phases = [r.phase(wait_for) for r in records]
    ids = [
        r.analysis_id
        for r, p in zip(records, phases, strict=True)
        if p is Phase.SUCCEEDED and r.analysis_id
    ]
    failures = [r for r, p in zip(records, phases, strict=True) if p is Phase.FAILED]
    done = bool(records) and Phase.RUNNING not in phases
    return Verdict(done, ids, failures, records, max_failures, wait_for)


@dataclass
class BatchTracker:
    """The records of one batch, updated by polls that cost as few requests as they can."""

    project_id: str
    batch_id: str
    wait_for: WaitFor = "analyses"
    page_size: int = DEFAULT_PAGE_SIZE
    records: dict[str, ItemRecord] = field(default_factory=dict)
    # Items in the batch when only some of their records were loaded (a compact save): 0 = all known.
    item_count: int = 0
    job_id: str | None = None  # the batch's job, once read: notifications of it concern this batch
    _warned: set[tuple[str, str]] = field(default_factory=set, repr=False)
    _polls: int = field(default=0, repr=False)
    # item id -> (held status, poll it was first seen in): only the items held now.
    _held_since: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)
    # analysis id -> the timeModified ICA gave with its status (ISO text), as last read:
    # notifications as old or older say nothing new (core/hints.py). Lives with this process.
    analysis_modified: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # Item ids whose analysis only a notification named (core/hints.py), until a listing shows the item.
    hinted: set[str] = field(default_factory=set, repr=False, compare=False)

    def place_hinted(self, record: ItemRecord, analysis_id: str) -> list[str]:
        """A notification names the analysis of an item no listing has shown one for; the change lines.

        Its creation counts as over, until a listing says otherwise: what REST then shows replaces it.
        """
        changes = []
        if item_phase(record.item_status) is Phase.RUNNING:
            changes.append(f"{record.user_reference}: creation {record.item_status} -> SUCCEEDED")
            record.item_status = "SUCCEEDED"
        record.analysis_id = analysis_id
        self.hinted.add(record.item_id)
        return changes

    def dump_records(self) -> list[dict[str, Any]]:
        """The records as plain JSON: the ``analyses`` XCom, trigger events, the task state store."""
        return [r.to_xcom() for r in self.records.values()]

    def load_records(self, data: Iterable[Any], item_count: int = 0) -> None:
        """Take records dumped by :meth:`dump_records` (elsewhere, or in an earlier process).

        ``item_count``: the batch's size when ``data`` holds only some of its records (the
        open ones): polls stay as cheap as with every record, but the verdict needs a listing.
        """
        loaded = (ItemRecord.from_xcom(d) for d in data if isinstance(d, Mapping))
        self.records = {r.item_id: r for r in loaded}
        self.item_count = item_count

    @property
    def partial(self) -> bool:
        """Only some of the batch's records are known (a listing fills in the rest)."""
        return len(self.records) < self.item_count

    def size(self) -> int:
        """Items in the batch, as far as known."""
        return max(len(self.records), self.item_count)

    def settled(self) -> bool:
        """Every item's creation and analysis has ended: no status of this batch can change any more."""
        return bool(self.records) and not self.partial and all(
            r.phase("analyses") is not Phase.RUNNING for r in self.records.values()
        )

    def open_records(self) -> list[ItemRecord]:
        """Records not terminal yet for ``wait_for``: what the next cheap poll fetches."""
        return [r for r in self.records.values() if r.phase(self.wait_for) is Phase.RUNNING]

    def status_counts(self) -> dict[str, dict[str, int]]:
        """Items per creation status and per analysis status, e.g. ``{"creation": {"SUCCEEDED": 3}, ...}``."""
        creation = Counter(r.item_status for r in self.records.values())
        analyses = Counter(r.analysis_status for r in self.records.values() if r.analysis_status)
        return {"creation": dict(sorted(creation.items())), "analyses": dict(sorted(analyses.items()))}

    def verdict(self, max_failures: int) -> Verdict:
        return judge(self.records.values(), self.wait_for, max_failures)

    def plan(self) -> tuple[list[str], list[str]] | None:
        """``(item ids, analysis ids)`` to fetch one by one, or ``None`` to list every item."""
        if not self.records:
            return None
        # Items still being created, and items whose creation succeeded before ICA showed
        # the analysis: both are fetched item by item.
        creating = [
            r.item_id
            for r in self.records.values()
            if item_phase(r.item_status) is Phase.RUNNING
            or (r.analysis_id is None and item_phase(r.item_status) is Phase.SUCCEEDED)
        ]
        open_analyses = self.running_analyses() if self.wait_for == "analyses" else []
        listing_cost = math.ceil(self.size() / self.page_size)
        if len(creating) + len(open_analyses) < listing_cost:
            return creating, open_analyses
        return None

    def poll(
        self, protocol: IcaProtocol, *, listing: bool = False, job_first: bool = True, job_alone: bool = False
    ) -> Call[list[str]]:
        """Fetch what changed and update the records; returns the change descriptions.

        ``listing``: list every item, however few are open (what completes a partial record set).
        ``job_first``: read the job before the items while some are being created; else only
        after them, if some still are (one request less when the creation is over).
        ``job_alone``: while some are being created, read the job, and the items only once it
        has ended (a woken wait's reconcile: notifications bring the items' news meanwhile).
        """
        changes: list[str] = []
        # The job before the items: an item still shown being created after its job ended never will be.
        job = (yield from self._read_job(protocol)) if (job_first or job_alone) and self.creating() else None
        if job_alone and job is not None and job.status not in JOB_TERMINAL:
            return changes  # the job still creates items: the wait cannot end before it has
        targets = None if listing else self.plan()
        if targets is None:
            # Page by page, each applied and dropped: memory stays one page deep.
            listed: list[str] = []
            for page_call in protocol.item_status_pages(self.project_id, self.batch_id, page_size=self.page_size):
                page = yield from page_call
                for view in page.items:
                    self._apply_item(view, changes)
                    listed.append(view.id)
            if listing:  # completing a partial set: the records in the batch's order, as a listing gives
                self.records = {i: self.records[i] for i in listed} | self.records
        else:
            item_ids, analysis_ids = targets
            for item_id in item_ids:
                item = yield from protocol.get_analysis_creation_batch_item(self.project_id, self.batch_id, item_id)
                self._apply_item(item, changes)
            by_analysis = {r.analysis_id: r for r in self.records.values() if r.analysis_id}
            for analysis_id in analysis_ids:
                analysis = yield from protocol.get_analysis(self.project_id, analysis_id)
                self._apply_analysis(by_analysis[analysis_id], analysis, changes)
        if job is None and self.creating():
            # First sight of the batch (nothing was known to be creating), or a listing hints
            # asked for: the job is read after the items, so an ended job means polling again,
            # job first, not failing an item that was created in between.
            job = yield from self._read_job(protocol)
            if job is not None and job_ends_creation(job.status):
                changes += yield from self.poll(protocol)
                return changes
            job = None  # read after the items: an ended job may have created them since (no lag to tell)
        self._end_creation(job, changes)
        self._note_held()
        return changes

    @property
    def item_polls(self) -> int:
        """Polls that read the items (a poll of the job alone is not one)."""
        return self._polls

    def creating(self) -> bool:
        """Whether some item is still being created (so the batch's job is worth reading)."""
        return any(item_phase(r.item_status) is Phase.RUNNING for r in self.records.values())

    def fetch_outputs(self, protocol: IcaProtocol) -> Call[None]:
        """The outputs of each analysis that has SUCCEEDED and has none yet: one request each.

        Kept on the record as soon as fetched, so a step that fails halfway leaves only the
        rest for the next; a record with outputs is never asked again, even when ICA listed
        none (``[]``).
        """
        from ica_airflow_provider.models.outputs import output_records

        for record in self.outputs_due():
            outputs = yield from protocol.get_analysis_outputs(self.project_id, str(record.analysis_id))
            record.outputs = output_records(outputs)

    def outputs_due(self) -> list[ItemRecord]:
        """Records of succeeded analyses whose outputs were not fetched yet."""
        return [
            r
            for r in self.records.values()
            if r.outputs is None and r.analysis_id and analysis_phase(r.analysis_status or "") is Phase.SUCCEEDED
        ]

    def running_analyses(self) -> list[str]:
        """IDs of created analyses that are not terminal yet."""
        return [
            r.analysis_id
            for r in self.records.values()
            if r.analysis_id and item_phase(r.item_status) is Phase.SUCCEEDED
            and r.phase("analyses") is Phase.RUNNING
        ]

    def progress_line(self) -> str:
        """One line: counts per status, creation and analyses."""
        counts = self.status_counts()
        # A compact save keeps only the open items: the counts are theirs until the next listing.
        known = f" ({len(self.records)} open followed)" if self.partial else ""
        text = f"ICA batch {self.batch_id}: {self.size()} items{known}; creation " + _counts(counts["creation"])
        if counts["analyses"]:
            text += "; analyses " + _counts(counts["analyses"])
        return text

    def held_lines(self) -> list[str]:
        """Per status, the items held in it for :data:`HELD_POLLS` polls or more (at most :data:`SHOWN` named)."""
        names: dict[str, list[str]] = {}
        for item_id, (status, since) in self._held_since.items():
            if self._polls - since + 1 >= HELD_POLLS:
                record = self.records[item_id]
                name = record.user_reference
                if status in HELD_ANALYSIS_STATUSES:
                    name += f" (analysis {record.analysis_id})"
                names.setdefault(status, []).append(name)
        ordered = sorted(names.items(), key=lambda kv: (kv[0] in HELD_ANALYSIS_STATUSES, kv[0]))  # items first
        return [
            f"{'analyses' if status in HELD_ANALYSIS_STATUSES else 'items'} {status}"
            f" for {HELD_POLLS} polls or more ({len(held)}): {listing(held)}"
            for status, held in ordered
        ]

    # -- applying answers -------------------------------------------------------------

    def _apply_item(self, item: AnalysisCreationBatchItem | ItemStatusView, changes: list[str]) -> None:
        record = self.records.get(item.id)
        if record is None:
            record = ItemRecord(
                item_id=item.id,
                user_reference=item.request.user_reference,
                pipeline_id=item.request.pipeline_id,
                item_status=item.processing.status,
            )
            self.records[item.id] = record
            old_status = None
        else:
            old_status = record.item_status
            if item_phase(old_status) is Phase.FAILED and item_phase(item.processing.status) is Phase.RUNNING:
                return  # counted FAILED when its job ended (see _end_creation); ICA leaves it as it was
            if item.id in self.hinted:
                # What a notification alone said gives way to what ICA's REST API shows (no change line:
                # the notification's were said).
                self.hinted.discard(item.id)
                old_status = item.processing.status
                if item.created_analysis is None:
                    record.analysis_id = record.analysis_status = record.reason = None
        self._check_known("item", item.processing.status, is_known_item_status(item.processing.status))
        if old_status is not None and old_status != item.processing.status:
            changes.append(f"{record.user_reference}: creation {old_status} -> {item.processing.status}")
        record.item_status = item.processing.status
        if item_phase(record.item_status) is Phase.FAILED:
            record.reason = item.processing.additional_status_information
        if item.created_analysis is not None:
            self._apply_analysis(record, item.created_analysis, changes)

    def _apply_analysis(
        self, record: ItemRecord, analysis: Analysis | AnalysisStatusView, changes: list[str]
    ) -> None:
        self._check_known("analysis", analysis.status, is_known_analysis_status(analysis.status))
        old = record.analysis_status
        if old is not None and old != analysis.status:
            changes.append(f"{record.user_reference}: analysis {old} -> {analysis.status}")
        record.analysis_id = analysis.id
        record.analysis_status = analysis.status
        if analysis.time_modified:
            self.analysis_modified[analysis.id] = analysis.time_modified
        if analysis_phase(analysis.status) is Phase.FAILED:
            record.reason = analysis.summary

    def _read_job(self, protocol: IcaProtocol) -> Call[Job | None]:
        batch = yield from protocol.get_analysis_creation_batch(self.project_id, self.batch_id)
        if batch.job is not None:
            self.job_id = batch.job.id
            self._check_known("job", batch.job.status, is_known_job_status(batch.job.status))
        return batch.job

    def _end_creation(self, job: Job | None, changes: list[str]) -> None:
        """After a STOPPED or FAILED job, count the items it left uncreated as FAILED, naming why."""
        if job is None or not self.creating():
            return
        if not job_ends_creation(job.status):
            if job.status in JOB_TERMINAL and ("lag", job.status) not in self._warned:
                self._warned.add(("lag", job.status))
                log.warning(
                    "ICA batch %s: its job is %s, yet some items are still shown being created; following them",
                    self.batch_id, job.status,
                )
            return
        reason = f"batch job {job.status}" + (
            f": {job.additional_status_information}" if job.additional_status_information else ""
        )
        for record in self.records.values():
            if item_phase(record.item_status) is Phase.RUNNING:
                changes.append(f"{record.user_reference}: creation {record.item_status} -> FAILED ({reason})")
                record.item_status = "FAILED"
                record.reason = reason

    def _note_held(self) -> None:
        """Count this poll; note since which poll each item is held (WAITING_RESOURCES, AWAITING_INPUT)."""
        self._polls += 1
        held: dict[str, tuple[str, int]] = {}
        for record in self.records.values():
            status = self._held_status(record)
            if status is not None:
                since = self._held_since.get(record.item_id)
                held[record.item_id] = since if since is not None and since[0] == status else (status, self._polls)
        self._held_since = held

    def held_state(self, most: int = HELD_SAVED) -> dict[str, Any]:
        """The poll count and up to ``most`` held items, for a rescheduled sensor's saved wait."""
        held = [[item_id, status, since] for item_id, (status, since) in list(self._held_since.items())[:most]]
        return {"polls": self._polls, "held": held}

    def load_held(self, data: Any) -> None:
        """Take :meth:`held_state` back (anything malformed is ignored: the count starts again)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("polls"), int):
            return
        self._polls = data["polls"]
        for entry in data.get("held") or ():
            if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], int):
                self._held_since[str(entry[0])] = (str(entry[1]), entry[2])

    def _held_status(self, record: ItemRecord) -> str | None:
        if record.item_status in HELD_ITEM_STATUSES:
            return record.item_status
        analysis_held = record.analysis_status in HELD_ANALYSIS_STATUSES
        if self.wait_for == "analyses" and item_phase(record.item_status) is Phase.SUCCEEDED and analysis_held:
            return record.analysis_status
        return None

    def _check_known(self, kind: str, status: str, known: bool) -> None:
        if not known and (kind, status) not in self._warned:
            self._warned.add((kind, status))
            log.warning("ICA reported an unknown %s status %r; treating it as still running", kind, status)


def _counts(counts: Mapping[str, int]) -> str:
    return " ".join(f"{status}={n}" for status, n in sorted(counts.items()))
