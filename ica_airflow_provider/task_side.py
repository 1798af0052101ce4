"""The task side of a wait, the one entry of the operator and the sensor; read top to bottom.

A task builds one :class:`TaskWait` from its own arguments (what a timeout raises, whether
it aborts, its poll interval and timeout), sets this run's deadline (:meth:`TaskWait.begin`),
takes the batch's wait (:meth:`TaskWait.follow`: built here, or the one kept from the last
poke), and calls one of:

- :meth:`TaskWait.poke`: one poll (the sensor's poke);
- :meth:`TaskWait.run`: poll until done in this process (the operator's own wait);
- :meth:`TaskWait.start`: poke once, then conclude or defer to the trigger; back from it,
  :meth:`TaskWait.resume`.

All of them end in :meth:`TaskWait.end`: the finish step (every record, the outputs), then
the summary or the timeout, so the outcome, the XComs and the messages are the same whichever
way the wait ran. The polls themselves are the hook's (:meth:`~ica_airflow_provider.hooks.ica.IcaHook.poll_batch`
and friends) and, below it, the core's (:mod:`ica_airflow_provider.core.wait`). The operator
and the sensor import nothing of the core's wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from ica_airflow_provider._compat import HAS_TRIGGER_ON_KILL, AirflowException, Context
from ica_airflow_provider.core.hints import hints_line
from ica_airflow_provider.core.progress import ProgressLog, left_running_line
from ica_airflow_provider.core.status import Phase
from ica_airflow_provider.core.tracker import (
    BatchTracker,
    ItemRecord,
    Log,
    Verdict,
    WaitFor,
    dump_within,
    listing,
)
from ica_airflow_provider.core.wait import Deadline, Wait
from ica_airflow_provider.core.wake import WakeArgs, WakeOptions
from ica_airflow_provider.exceptions import IcaBatchFailedError, IcaConfigError, IcaError, IcaWaitTimeoutError
from ica_airflow_provider.links import PushedLinks, push_links
from ica_airflow_provider.triggers.events import RECORDS_BUDGET, check_event, tracker_from_event

if TYPE_CHECKING:
    from ica_airflow_provider.hooks.ica import IcaHook
    from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger

ANALYSES_XCOM = "analyses"


class Defer(Protocol):
    """A task's ``defer``."""

    def __call__(self, *, trigger: Any, method_name: str, timeout: Any = None) -> Any: ...


# Records a rescheduled sensor keeps whole in the task state store; above, the open ones. The
# store allows 64 KiB a value, as an event may take: the same budget leaves the same room.
STATE_BUDGET = RECORDS_BUDGET

__all__ = ["IcaBatchFailedError", "IcaWaitTimeoutError", "SavedWait", "TaskWait"]


def check_batch_id(task_id: str, batch_id: Any) -> str:
    """The rendered ``batch_id`` must be one ID (not, say, the list a waiting operator returns)."""
    if not isinstance(batch_id, str) or not batch_id.strip():
        raise IcaConfigError(
            f"{task_id}: batch_id must be one batch ID, got {batch_id!r}; when the create task waits"
            " (wait_for_completion), pull its 'batch_id' XCom instead of its return value"
        )
    return batch_id.strip()


def timeout_message(batch_id: str, records: Iterable[ItemRecord], wait_for: WaitFor, aborted: list[str]) -> str:
    running = [r.user_reference for r in records if r.phase(wait_for) is Phase.RUNNING]
    text = f"ICA batch {batch_id}: timed out with {len(running)} item(s) not finished"
    if running:
        text += ": " + listing(running)
    if aborted:
        text += f"; aborted {len(aborted)} running analyses: {listing(aborted)}"
    return text


@dataclass
class TaskWait:
    """One task's wait for batches, with its hook, its logger and its rules."""

    task_id: str
    ica_conn_id: str
    hook: IcaHook
    log: Log
    wait_for: WaitFor
    max_failures: int
    page_size: int
    # The sensor raises Airflow's sensor timeout (so soft_fail skips); the operator its own.
    timeout_error: type[Exception] = IcaWaitTimeoutError
    # Only the operator, which created the batch, aborts it when its wait times out.
    abort_on_timeout: bool = False
    # Fetch each succeeded analysis's outputs into its record (one request per analysis).
    include_outputs: bool = False
    # Told the batch ID and the records pushed as the 'analyses' XCom when the wait ends:
    # the task keeps them for OpenLineage, which must not pull XComs (see openlineage.py).
    on_end: Callable[[str, list[dict[str, Any]]], None] | None = None
    # The task's own, so that its pokes in one process push each link only when it changes.
    pushed_links: PushedLinks | None = None
    poll_interval: float = 60.0  # between the polls of a wait in this process, or on the triggerer
    timeout: float | None = None  # seconds the wait may take (None: no limit)
    # The records stay in this process until the wait ends (a poke-mode sensor, the operator's
    # own wait), so outputs are fetched as analyses succeed; elsewhere (the poke before
    # deferring: the trigger starts afresh; a rescheduled sensor's compact save) only the
    # finish step fetches them.
    in_memory: bool = False
    # The task's notification arguments (rendered); resolved over the connection's when the wait starts.
    wake: WakeArgs = field(default_factory=WakeArgs)
    deadline: Deadline = field(default_factory=Deadline)  # this run's: see begin()
    current: Wait | None = None  # the wait in this process: kept from poke to poke, and for on_kill

    def project_id(self, given: str | None) -> str:
        """The task's ``project_id``, or else the connection's."""
        project_id = given or self.hook.settings.project_id
        if not project_id:
            raise IcaConfigError(
                f"{self.task_id}: project_id is not set and connection {self.ica_conn_id!r} has no"
                " project_id extra"
            )
        return str(project_id)

    def wake_options(self) -> WakeOptions | None:
        """The queue whose notifications wake this wait (the task's over the connection's), or ``None``."""
        try:
            return self.wake.resolve(self.hook.settings.notifications)
        except ValueError as exc:
            raise IcaConfigError(f"{self.task_id}: {exc}") from None

    def woken(self) -> bool:
        """Whether notifications wake this wait (a task that can choose: a poking sensor)."""
        return self.wake_options() is not None

    def begin(self, first_poke: float | None = None, *, afresh: bool = False) -> None:
        """This run's deadline: ``timeout`` from now, or from ``first_poke`` (epoch seconds: a
        rescheduled sensor's run began at its first poke, as Airflow's sensor timeout counts).

        ``afresh``: forget the wait an earlier run of this object kept (the operator's retry).
        """
        if afresh:
            self.current = None
        if self.timeout is None:
            self.deadline = Deadline()
        elif first_poke is None:
            self.deadline = Deadline.after(self.timeout)
        else:
            self.deadline = Deadline(first_poke + self.timeout)

    def follow(
        self, project_id: str, batch_id: str, saved: SavedWait | None = None, *, tag: str | None = None
    ) -> Wait:
        """The batch's wait: the one this process kept (poke to poke), else a new one (from ``saved``).

        It has this run's deadline (a retry on the same object, as ``dag.test`` runs it, gets its own).
        ``tag``: the technical tag the operator put on the batch's items (see ``core/wake.wait_tag``).
        """
        wait = self.current
        if wait is None or (wait.tracker.project_id, wait.tracker.batch_id) != (project_id, batch_id):
            tracker = BatchTracker(project_id, batch_id, self.wait_for, self.page_size)
            early_outputs = self.include_outputs and self.in_memory
            wait = self.current = Wait(tracker, self.max_failures, self.poll_interval, early_outputs=early_outputs)
            if saved is not None:
                saved.load(wait)
        wait.hints.tag = tag or wait.hints.tag
        wait.deadline = self.deadline
        return wait

    # -- the three ways to wait ------------------------------------------------------------

    def poke(
        self, context: Context, wait: Wait, saved: SavedWait | None = None, *, times_out: bool = True
    ) -> list[str] | None:
        """One poll: the analysis IDs when the batch is done, else ``None`` (or the timeout).

        ``saved``: where a rescheduled sensor keeps the wait until its next poke.
        ``times_out``: whether this poke applies the deadline (the poke before deferring does not:
        the trigger owns it).
        """
        tracker = wait.tracker
        verdict = self.hook.poll_batch(wait, self.log)
        if verdict is not None and verdict.done:
            return self.end(context, tracker, saved=saved)
        self.push_links(context, tracker)
        if saved is not None:
            saved.save(wait)
        if times_out and wait.timed_out():
            self.end(context, tracker, timed_out=True)
        return None

    def start(
        self, context: Context, wait: Wait, saved: SavedWait | None = None, *, abort_on_kill: bool, defer: Defer
    ) -> list[str]:
        """Poke once: a finished batch is concluded here; else defer to the trigger (``defer``: the task's)."""
        ids = self.poke(context, wait, saved, times_out=False)
        if ids is not None:
            return ids
        # timeout=None: the trigger owns the wall-clock deadline and reports it as an
        # event, so that the timeout path can still abort and push XComs.
        defer(trigger=self.trigger(wait, abort_on_kill=abort_on_kill), method_name="execute_complete", timeout=None)
        raise AssertionError("defer() returned")

    def run(self, context: Context, wait: Wait) -> list[str]:
        """Poll in this process until done or ``wait.deadline`` (woken by notifications, if they are on)."""
        from ica_airflow_provider.hooks.hint_sources import blocking_subscribed

        options = self.wake_options()
        counts = None
        with blocking_subscribed(options, self.log, wait.tracker) as hints:
            if hints is not None and options is not None:
                wait.reconcile_interval, counts = options.reconcile_interval, wait.hints.counts
            verdict = self.hook.wait_for_batch(wait, self.log, hints)
        return self.end(context, wait.tracker, timed_out=verdict is None, notifications=counts)

    def trigger(self, wait: Wait, *, abort_on_kill: bool) -> IcaAnalysisBatchTrigger:
        """The trigger that does :meth:`run` on the triggerer; it owns the wall-clock deadline."""
        from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger

        if abort_on_kill and not HAS_TRIGGER_ON_KILL:
            self.log.warning(
                "abort_on_kill: killing a deferred task aborts its analyses on Airflow 3.3+ only"
                " (triggers have no on_kill before); while deferred, they are left running"
            )
        options = self.wake_options()
        return IcaAnalysisBatchTrigger(
            project_id=wait.tracker.project_id,
            batch_id=wait.tracker.batch_id,
            ica_conn_id=self.ica_conn_id,
            wait_for=self.wait_for,
            max_failures=self.max_failures,
            poll_interval=wait.poll_interval,
            end_time=wait.deadline.at,
            page_size=self.page_size,
            abort_on_kill=abort_on_kill,
            include_outputs=self.include_outputs,
            sqs_queue=options.sqs_queue if options else None,
            aws_conn_id=options.aws_conn_id if options else None,
            reconcile_interval=options.reconcile_interval if options else None,
            notification_tag=wait.hints.tag if options else None,
        )

    def resume(self, context: Context, event: Mapping[str, Any] | None) -> list[str]:
        """Back from the trigger: the same ending as a wait in this process."""
        event = check_event(event)
        status, batch_id = event["status"], str(event.get("batch_id"))
        if status == "error":
            raise IcaError(f"ICA batch {batch_id}: waiting failed: {event.get('message')}")
        # A big batch's event has no room for the records: the finish step lists the batch once.
        tracker = tracker_from_event(event, self.wait_for, self.page_size)
        counts = event.get("notifications")
        return self.end(
            context, tracker, timed_out=status == "timeout", reported=status,
            notifications=counts if isinstance(counts, Mapping) else None,
        )

    # -- how every wait ends -----------------------------------------------------------------

    def end(
        self,
        context: Context,
        tracker: BatchTracker,
        *,
        timed_out: bool = False,
        reported: str = "",
        saved: SavedWait | None = None,
        notifications: Mapping[str, int] | None = None,
    ) -> list[str]:
        """The one ending of every wait: the finish step, the links, then the summary or the timeout.

        ``saved``: a rescheduled sensor's saved wait, cleared once the finish step has succeeded.
        ``notifications``: a woken wait's counts, said in one line.
        """
        if notifications is not None:
            self.log.info("%s", hints_line(tracker.batch_id, notifications))
        self.hook.finish_batch(tracker, self.log, outputs=self.include_outputs)
        if saved is not None:
            saved.clear()
        self.push_links(context, tracker)
        if timed_out:
            self.timed_out(context, tracker)
        verdict = tracker.verdict(self.max_failures)
        if not verdict.done:  # only a trigger's event can claim that
            raise AirflowException(
                f"The ICA trigger reported {reported!r} for batch {tracker.batch_id}, which is not finished"
            )
        return self.conclude(context, verdict, tracker.batch_id)

    def conclude(self, context: Context, verdict: Verdict, batch_id: str) -> list[str]:
        """Log one summary, push the ``analyses`` XCom; fail if too many failed; return the analysis IDs."""
        self.log.info("%s", verdict.summary(batch_id))
        self.push_records(context, batch_id, [r.to_xcom() for r in verdict.records])
        if verdict.failed:
            raise IcaBatchFailedError(verdict.failure_message(batch_id))
        return verdict.analysis_ids

    def timed_out(self, context: Context, tracker: BatchTracker) -> NoReturn:
        """Abort what the task owns, push the records, and fail saying what was unfinished."""
        aborted = self.abort_running(tracker) if self.abort_on_timeout else []
        self.push_records(context, tracker.batch_id, tracker.dump_records())
        raise self.timeout_error(timeout_message(tracker.batch_id, tracker.records.values(), self.wait_for, aborted))

    def push_records(self, context: Context, batch_id: str, records: list[dict[str, Any]]) -> None:
        """The ``analyses`` XCom, and the task told (``on_end``) what it ended with."""
        context["ti"].xcom_push(key=ANALYSES_XCOM, value=records)
        if self.on_end is not None:
            self.on_end(batch_id, records)

    def lineage(
        self,
        given_project_id: str | None,
        batch_id: str | None,
        records: list[dict[str, Any]] | None,
        batch_request: Mapping[str, Any] | None = None,
    ) -> Any:
        """The task's ``get_openlineage_facets_on_complete``: what it kept in memory, as lineage.

        ``None`` without a batch, or without the OpenLineage provider (imported only here).
        """
        from ica_airflow_provider.openlineage import task_lineage

        if batch_id is None:
            return None
        return task_lineage(
            base_url=self.hook.settings.base_url,
            project_id=self.project_id(given_project_id),
            batch_id=batch_id,
            records=records,
            batch_request=batch_request,
        )

    def push_links(self, context: Context, tracker: BatchTracker) -> None:
        """The URLs the extra links show (the connection is read only if needed)."""
        push_links(
            context, lambda: self.hook.settings.web_url, tracker.project_id, tracker.records.values(), self.pushed_links
        )

    def abort_running(self, tracker: BatchTracker) -> list[str]:
        """Best effort (the task is going away, or failing): abort the batch's running analyses."""
        return self.hook.abort_running(tracker, self.log)

    def on_kill(self, *, abort: bool) -> list[str]:
        """The task is killed: abort what the wait in this process follows, or say what it leaves running.

        One line either way (:func:`~.core.progress.aborted_line`, :func:`~.core.progress.left_running_line`).
        """
        tracker = self.current.tracker if self.current is not None else None
        if not abort:
            self.log.info("%s", left_running_line(tracker))
            return []
        if tracker is None:
            self.log.info("Task stopped before its first poll: no analysis known to abort")
            return []
        return self.abort_running(tracker)


class StateStore(Protocol):
    """What a task uses of Airflow 3.3's task state store."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> Any: ...

    def delete(self, key: str) -> Any: ...


@dataclass
class SavedWait:
    """A rescheduled sensor's records and failed-polls count, kept between pokes.

    In Airflow 3.3's task state store, when there is one (``None``: nothing is kept), as
    ``{"batch_id", "failed_polls", "items", "records", "held", "progress"}``, at most 64 KiB for any batch:
    ``records`` holds every record while they fit :data:`STATE_BUDGET`, else only the
    open ones (what the next poke fetches one by one), else none (over a hundred open: the
    next poke lists the batch, fewer requests at the default page size). ``items`` is the
    batch's size; a poke that finds the open ones done lists the batch once for the XCom.
    """

    store: StateStore
    key: str

    @classmethod
    def of(cls, context: Context | None, key: str) -> SavedWait | None:
        store = context.get("task_state_store") if isinstance(context, dict) else None
        return cls(store, key) if store is not None else None

    def load(self, wait: Wait) -> None:
        saved = self.store.get(self.key)
        if isinstance(saved, dict) and saved.get("batch_id") == wait.tracker.batch_id:
            wait.tracker.load_records(saved.get("records") or [], _count(saved.get("items")))
            wait.failures.in_a_row = _count(saved.get("failed_polls"))
            wait.tracker.load_held(saved.get("held"))
            wait.progress = ProgressLog.from_state(saved.get("progress"))

    def save(self, wait: Wait) -> None:
        tracker = wait.tracker
        records = dump_within(tracker.records.values(), STATE_BUDGET)
        if records is None:
            records = dump_within(tracker.open_records(), STATE_BUDGET) or []
        self.store.set(
            self.key,
            {
                "batch_id": tracker.batch_id,
                "items": tracker.size(),
                "records": records,
                "failed_polls": wait.failures.in_a_row,
                "held": tracker.held_state(),
                "progress": wait.progress.state(),
            },
        )

    def clear(self) -> None:
        self.store.delete(self.key)


def _count(value: Any) -> int:
    """A count read back from the store; anything else (an older save, damage) counts 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
