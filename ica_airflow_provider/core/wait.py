"""The wait, written once: poll until the batch is done, the deadline, the finish step, aborts.

:meth:`Wait.until_done` is a :data:`~.protocol.Call` like any ICA operation: it yields
its requests *and its sleeps between polls*, so the sync hook (``time.sleep``) and the
async client (``asyncio.sleep``) drive the same loop. A sensor's poke is one
:meth:`Wait.poll`. :func:`finish` is the one step that ends a wait (every record, and the
outputs); :func:`abort_running` the one way running analyses are aborted (a timeout, a
kill). Nothing here reads a clock except through ``Wait.clock``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ica_airflow_provider.core.errors import IcaError
from ica_airflow_provider.core.hints import HintLedger
from ica_airflow_provider.core.messages import AwaitHints, Sleep, Woken
from ica_airflow_provider.core.progress import ProgressLog, aborted_line
from ica_airflow_provider.core.schedule import POLL_JITTER, next_poll_delay
from ica_airflow_provider.core.tracker import BatchTracker, Log, Verdict, listing
from ica_airflow_provider.core.transient import is_transient

if TYPE_CHECKING:
    from ica_airflow_provider.core.protocol import Call, IcaProtocol

log = logging.getLogger(__name__)

POLL_FAILURES_TOLERATED = 5
# A woken wait's reconcile polls read only the job while it creates items, at most this many
# in a row: a job ICA leaves running after its last item bounds how late the wait sees its end.
JOB_ALONE_POLLS = 3


class PollFailures:
    """Counts polls in a row that failed on transient errors (each already retried).

    A wait tolerates up to ``limit`` of them before it gives up, so one long outage
    of ICA fails the task, but a passing one does not.
    """

    def __init__(self, limit: int = POLL_FAILURES_TOLERATED, in_a_row: int = 0) -> None:
        self.limit = limit
        self.in_a_row = in_a_row

    def __repr__(self) -> str:
        return f"PollFailures(in_a_row={self.in_a_row}, limit={self.limit})"

    def tolerate(self, exc: BaseException) -> bool:
        """Record a failed poll; ``True`` when the wait should carry on."""
        self.in_a_row += 1
        return is_transient(exc) and self.in_a_row <= self.limit

    def reset(self) -> None:
        self.in_a_row = 0


@dataclass(frozen=True)
class Deadline:
    """The one deadline rule: the wait is over once the wall clock reaches ``at``.

    ``at`` is in seconds since the epoch (it travels in the trigger's arguments);
    ``None`` never passes. It is checked after a poll that did not find the batch done,
    so a wait always polls at least once.
    """

    at: float | None = None

    @classmethod
    def after(cls, seconds: float, now: float | None = None) -> Deadline:
        return cls((time.time() if now is None else now) + seconds)

    def passed(self, now: float) -> bool:
        return self.at is not None and now >= self.at

    def cap(self, seconds: float, now: float) -> float:
        """A sleep of ``seconds``, cut short so that it ends at the deadline."""
        return seconds if self.at is None else max(0.0, min(seconds, self.at - now))


@dataclass
class Wait:
    """One wait for one batch: its records, its rules, and what it counts between polls."""

    tracker: BatchTracker
    max_failures: int = 0
    poll_interval: float = 60.0
    deadline: Deadline = field(default_factory=Deadline)
    failures: PollFailures = field(default_factory=PollFailures)
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    jitter: float = POLL_JITTER  # each sleep between polls is poll_interval ± this fraction of it
    rng: random.Random | None = field(default=None, repr=False, compare=False)
    progress: ProgressLog = field(default_factory=ProgressLog, repr=False, compare=False)  # what the log said
    # The records last in this process until the wait ends (a poke-mode sensor, the operator's
    # own wait): each poll fetches the outputs of the analyses that succeeded since, with the
    # finish step's rule. Elsewhere the finish step alone fetches them.
    early_outputs: bool = False
    # Woken by notification hints (see core/hints.py): between polls the wait sleeps until a
    # hint or this many seconds. None: it polls every poll_interval, as without notifications.
    reconcile_interval: float | None = None
    hints: HintLedger = field(default_factory=HintLedger, repr=False, compare=False)
    _jobs_alone: int = field(default=0, init=False, repr=False, compare=False)  # polls of the job alone in a row

    def poll(self, protocol: IcaProtocol, logger: Log = log, *, listing: bool = False) -> Call[Verdict | None]:
        """One poll: refresh, log, judge. ``None`` when a transient failure is let pass.

        ``listing``: list the whole batch, however few items are open (what hints ask for).
        """
        # A listing hints asked for need not read the job first: the job is read after the items
        # if some are still being created (a job hint may have said it ended; REST confirms).
        job_first = not listing
        # A tagged woken wait's reconcile poll, with nothing hints moved to confirm, reads only
        # the job while it creates items: one request, not two; the analyses' news comes through
        # the tag. At the deadline it polls in full: a timeout names the items as ICA shows them.
        # And after JOB_ALONE_POLLS such polls: the items alone say the batch is done.
        job_alone = (
            not listing and not self.hints.unconfirmed and self.woken() and self.hints.tag is not None
            and not self.timed_out() and self._jobs_alone < JOB_ALONE_POLLS
        )
        listing = listing or self.hints.unconfirmed
        try:
            item_polls = self.tracker.item_polls
            changes = yield from self.tracker.poll(protocol, listing=listing, job_first=job_first, job_alone=job_alone)
            if self.tracker.item_polls == item_polls and self.timed_out():
                changes += yield from self.tracker.poll(protocol)  # the deadline came during it
            self._jobs_alone = self._jobs_alone + 1 if self.tracker.item_polls == item_polls else 0
            self.hints.listed(listing)
            if self.early_outputs:
                yield from self.tracker.fetch_outputs(protocol)
        except IcaError as exc:
            if not self.failures.tolerate(exc):
                raise
            logger.warning("ICA poll failed (%s); polling again later", exc)
            return None
        self.failures.reset()
        self.progress.report(self.tracker, changes, self.clock(), logger)
        return self.tracker.verdict(self.max_failures)

    def until_done(self, protocol: IcaProtocol, logger: Log = log) -> Call[Verdict | None]:
        """Poll until the batch is done (its verdict) or the deadline (``None``).

        Every ``poll_interval`` (± 20 %); with a ``reconcile_interval``, whenever hints ask
        for a listing, at the latest every ``reconcile_interval``. Only a poll's verdict ends
        the wait: hints that leave nothing open are confirmed by a listing first.
        """
        listing = False
        while True:
            verdict = yield from self.poll(protocol, logger, listing=listing)
            if verdict is not None and verdict.done:
                return verdict
            if self.deadline.passed(self.clock()):
                return None
            if self.reconcile_interval is None:
                # Jittered: waits deferred together drift apart instead of polling in lockstep.
                yield Sleep(self.deadline.cap(self._delay(self.poll_interval), self.clock()))
                listing = False
            else:
                listing = yield from self.until_hinted(logger)
                self.hints.counts["listings"] += listing

    def until_hinted(self, logger: Log = log) -> Call[bool]:
        """Between two polls of a woken wait: apply hints until a listing is due (``True``) or a poll (``False``).

        A poll is due ``reconcile_interval`` (± jitter) after the last one, or ``poll_interval``
        while the queue cannot be read, and at the deadline.
        """
        started, factor = self.clock(), self._delay(1.0)
        while True:
            interval = self.reconcile_interval if self.hints.available else self.poll_interval
            now = self.clock()
            due = started + factor * float(interval if interval is not None else self.poll_interval)
            if now >= due or self.deadline.passed(now):
                return False
            analysis_ids, job_ids, tags = self.hints.new_ids(self.tracker)
            woken = yield AwaitHints(self.deadline.cap(due - now, now), analysis_ids, job_ids, tags)
            if not isinstance(woken, Woken):
                return False  # a driver without hints slept instead: poll
            self.hints.note_source(woken.available, self.poll_interval, logger)
            if woken.hints:
                self.hints.counts["woken"] += 1
                applied = self.hints.apply(self.tracker, woken.hints)
                if applied.changes:
                    self.progress.report(self.tracker, applied.changes, self.clock(), logger)
                    if self.tracker.verdict(self.max_failures).done:
                        return True  # hints left nothing open: a listing confirms it (only REST ends a wait)
                if applied.listing:
                    return True
            if woken.overflowed:
                return True

    def woken(self) -> bool:
        """Whether notifications wake this wait now (it has a reconcile interval and can read its queue)."""
        return self.reconcile_interval is not None and self.hints.available

    def _delay(self, interval: float) -> float:
        return next_poll_delay(interval, jitter=self.jitter, rng=self.rng)

    def timed_out(self) -> bool:
        """The deadline rule, for a wait polled one poke at a time."""
        return self.deadline.passed(self.clock())


def finish(tracker: BatchTracker, protocol: IcaProtocol, logger: Log = log, *, outputs: bool = False) -> Call[None]:
    """The step that ends a wait (success, failure or timeout), run by the task once.

    A partial record set (a compact saved wait, an event with no room for the records) is
    completed by one listing of the batch; with ``outputs``, each succeeded analysis
    without outputs gets them (one request each, never twice). Any failure raises: the
    task must not end with records it cannot stand behind. A record set that is already
    whole, with its outputs, costs nothing.
    """
    if tracker.partial:
        said = ProgressLog.said(tracker)  # what the wait before this step reported is not repeated
        changes = yield from tracker.poll(protocol, listing=True)
        said.report(tracker, changes, time.time(), logger)
    if outputs:
        yield from tracker.fetch_outputs(protocol)


def finish_needed(tracker: BatchTracker, *, outputs: bool) -> bool:
    """Whether :func:`finish` has anything to ask ICA (else a task need not even read its connection)."""
    return tracker.partial or (outputs and bool(tracker.outputs_due()))


def abort_running(tracker: BatchTracker, protocol: IcaProtocol, logger: Log = log) -> Call[list[str]]:
    """Refresh, then ask ICA to abort every analysis still running; returns those ICA accepted.

    Best effort (the task is going away, or failing): an error is logged, not raised.
    One abort at a time: the request budget of the connection is shared with other waits.
    """
    try:
        yield from tracker.poll(protocol)
    except IcaError as exc:
        logger.warning("Could not abort the analyses of ICA batch %s: %s", tracker.batch_id, exc)
        return []
    aborted: list[str] = []
    failed: list[str] = []
    for analysis_id in tracker.running_analyses():
        try:
            yield from protocol.abort_analysis(tracker.project_id, analysis_id)
        except IcaError:
            failed.append(analysis_id)
        else:
            aborted.append(analysis_id)
    logger.info("%s", aborted_line(tracker, aborted))
    if failed:
        logger.warning("Could not abort %d analyses: %s", len(failed), listing(failed))
    return aborted
