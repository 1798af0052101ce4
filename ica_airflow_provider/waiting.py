"""The wait shared by the sensor, the operator and their deferred resumption.

Poke mode, the operator's own loop and the trigger all end here, so the outcome, the
XComs and the messages are the same whichever way the wait ran.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from ica_airflow_provider._compat import AirflowException, Context
from ica_airflow_provider.core.errors import IcaConfigError, IcaError, PollFailures
from ica_airflow_provider.core.progress import (
    WAIT_FOR_CHOICES,
    BatchTracker,
    ItemRecord,
    Verdict,
    WaitFor,
)
from ica_airflow_provider.core.status import Phase

ANALYSES_XCOM = "analyses"
EVENT_STATUSES = ("success", "failure", "timeout", "error")


class IcaBatchFailedError(IcaError):
    """More items or analyses failed than ``max_failures`` allows."""


class IcaWaitTimeoutError(IcaError):
    """The batch was not finished by the wait's deadline."""


def check_wait_args(wait_for: str, max_failures: int, page_size: int, **seconds: float) -> WaitFor:
    """Validate the wait parameters at DAG-parse time; no network."""
    if wait_for not in WAIT_FOR_CHOICES:
        raise ValueError(f"wait_for: {wait_for!r} is not one of {', '.join(map(repr, WAIT_FOR_CHOICES))}")
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 0:
        raise ValueError(f"max_failures: must be a whole number of 0 or more, got {max_failures!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValueError(f"page_size: must be a whole number of 1 or more, got {page_size!r}")
    for name, value in seconds.items():
        if not value >= 0:
            raise ValueError(f"{name}: must be 0 or more seconds, got {value!r}")
    return wait_for  # type: ignore[return-value]


def check_batch_id(task_id: str, batch_id: Any) -> str:
    """The rendered ``batch_id`` must be one ID (not, say, the list a waiting operator returns)."""
    if not isinstance(batch_id, str) or not batch_id.strip():
        raise IcaConfigError(
            f"{task_id}: batch_id must be one batch ID, got {batch_id!r}; when the create task waits"
            " (wait_for_completion), pull its 'batch_id' XCom instead of its return value"
        )
    return batch_id.strip()


def conclude(context: Context, verdict: Verdict, batch_id: str) -> list[str]:
    """Push the ``analyses`` XCom; fail if too many failed; return the analysis IDs."""
    context["ti"].xcom_push(key=ANALYSES_XCOM, value=[r.to_xcom() for r in verdict.records])
    if verdict.failed:
        raise IcaBatchFailedError(verdict.failure_message(batch_id))
    return verdict.analysis_ids


def timeout_message(batch_id: str, records: Iterable[ItemRecord], wait_for: WaitFor, aborted: list[str]) -> str:
    running = [r for r in records if r.phase(wait_for) is Phase.RUNNING]
    text = f"ICA batch {batch_id}: timed out with {len(running)} item(s) not finished"
    if running:
        text += ": " + ", ".join(r.user_reference for r in running[:20])
        if len(running) > 20:
            text += f" and {len(running) - 20} more"
    if aborted:
        text += f"; aborted {len(aborted)} running analyses: {', '.join(aborted)}"
    return text


def event_payload(status: str, tracker: BatchTracker, message: str = "") -> dict[str, Any]:
    """The trigger's event: plain JSON."""
    return {
        "status": status,
        "project_id": tracker.project_id,
        "batch_id": tracker.batch_id,
        "records": tracker.dump_records(),
        "message": message,
    }


def check_event(event: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """An event from the trigger, checked (a lost payload or a version skew shows here)."""
    if not isinstance(event, Mapping) or event.get("status") not in EVENT_STATUSES:
        raise AirflowException(f"Unexpected event from the ICA trigger: {event!r}")
    return event


def wait_in_process(
    hook: Any,
    tracker: BatchTracker,
    *,
    poll_interval: float,
    deadline: float,
    max_failures: int,
    logger: Any,
) -> Verdict | None:
    """Poll with the hook until the batch is done (its verdict) or ``deadline`` (``None``)."""
    failures = PollFailures()
    while True:
        verdict = hook.run(tracker.step(hook.protocol, failures, max_failures, logger))
        if verdict is not None and verdict.done:
            return verdict  # type: ignore[no-any-return]
        if time.time() >= deadline:
            return None
        time.sleep(max(0.0, min(poll_interval, deadline - time.time())))


class BatchWaitMixin:
    """Project resolution, deferral, resumption, timeout and abort shared by the operator and the sensor."""

    task_id: str
    ica_conn_id: str
    project_id: str | None
    wait_for: WaitFor
    max_failures: int
    page_size: int
    log: Any
    hook: Any
    timeout_error: type[Exception] = IcaWaitTimeoutError

    def resolve_project_id(self) -> str:
        project_id = self.project_id or self.hook.settings.project_id
        if not project_id:
            raise IcaConfigError(
                f"{self.task_id}: project_id is not set and connection {self.ica_conn_id!r} has no"
                " project_id extra"
            )
        return str(project_id)

    def new_tracker(self, project_id: str, batch_id: str) -> BatchTracker:
        return BatchTracker(project_id, batch_id, self.wait_for, self.page_size)

    def _abort_running(self, tracker: BatchTracker) -> list[str]:
        """Best effort (the task is going away, or failing): abort the batch's running analyses."""
        try:
            aborted: list[str] = self.hook.run(tracker.abort_running(self.hook.protocol))
        except Exception:
            self.log.exception("Could not abort the analyses of ICA batch %s", tracker.batch_id)
            return []
        self.log.info("Asked ICA to abort %d running analyses: %s", len(aborted), ", ".join(aborted))
        return aborted

    def _abort_after_timeout(self, tracker: BatchTracker) -> list[str]:
        """What a timed-out wait aborts: nothing here; the operator that owns the batch overrides."""
        return []

    def _timed_out(self, context: Context, tracker: BatchTracker) -> NoReturn:
        """Abort what the task owns, push the records, and fail saying what was unfinished."""
        aborted = self._abort_after_timeout(tracker)
        context["ti"].xcom_push(key=ANALYSES_XCOM, value=tracker.dump_records())
        raise self.timeout_error(timeout_message(tracker.batch_id, tracker.records.values(), self.wait_for, aborted))

    def _defer_wait(self, *, tracker: BatchTracker, poll_interval: float, end_time: float, abort_on_kill: bool) -> None:
        from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger

        trigger = IcaAnalysisBatchTrigger(
            project_id=tracker.project_id,
            batch_id=tracker.batch_id,
            ica_conn_id=self.ica_conn_id,
            wait_for=self.wait_for,
            max_failures=self.max_failures,
            poll_interval=poll_interval,
            end_time=end_time,
            page_size=self.page_size,
            abort_on_kill=abort_on_kill,
        )
        # timeout=None: the trigger owns the wall-clock deadline and reports it as an
        # event, so that the timeout path can still abort and push XComs.
        self.defer(trigger=trigger, method_name="execute_complete", timeout=None)  # type: ignore[attr-defined]

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> list[str]:
        event = check_event(event)
        status, batch_id = event["status"], str(event.get("batch_id"))
        if status == "error":
            raise IcaError(f"ICA batch {batch_id}: waiting failed: {event.get('message')}")
        tracker = self.new_tracker(str(event.get("project_id")), batch_id)
        tracker.load_records(event.get("records") or [])
        if status == "timeout":
            self._timed_out(context, tracker)
        verdict = tracker.verdict(self.max_failures)
        if not verdict.done:
            raise AirflowException(f"The ICA trigger reported {status!r} for batch {batch_id}, which is not finished")
        return conclude(context, verdict, batch_id)
