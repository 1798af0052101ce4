"""``IcaAnalysisBatchSensor``: wait until every item of a batch is terminal."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ica_airflow_provider._compat import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseOperator,
    BaseSensorOperator,
    Context,
    PokeReturnValue,
    conf,
)
from ica_airflow_provider.core.errors import PollFailures
from ica_airflow_provider.core.progress import BatchTracker, WaitFor
from ica_airflow_provider.defaults import DEFAULT_CONN_ID, DEFAULT_PAGE_SIZE
from ica_airflow_provider.links import WAIT_LINKS, push_links
from ica_airflow_provider.waiting import BatchWaitMixin, check_batch_id, check_wait_args, conclude

if TYPE_CHECKING:
    from ica_airflow_provider.hooks.ica import IcaHook

# Where a rescheduled sensor keeps its records between pokes (Airflow 3.3+).
RECORDS_STATE_KEY = "ica_batch_records"


def _state_store(context: Context | None) -> Any:
    """Airflow 3.3's per-task-instance store (``None`` before 3.3 or outside a task)."""
    return context.get("task_state_store") if isinstance(context, dict) else None


class IcaAnalysisBatchSensor(BatchWaitMixin, BaseSensorOperator):
    """Waits for an analysis creation batch; returns the IDs of the analyses that succeeded.

    :param batch_id: the batch (usually ``{{ ti.xcom_pull('create', key='batch_id') }}``
        or the create task's ``return_value``).
    :param project_id: ICA project; default: the connection's ``project_id`` extra.
    :param wait_for: ``"analyses"`` (creation and every created analysis terminal) or
        ``"creation"`` (every item's creation terminal).
    :param max_failures: failed items or analyses tolerated before the task fails.
    :param page_size: items per page when listing the batch.
    :param ica_conn_id: the ``ica`` connection.
    :param deferrable: wait on the triggerer; default ``[operators] default_deferrable``.
    :param abort_on_kill: abort running analyses when the task is killed (off: a watcher
        does not touch what it watches).
    """

    template_fields: Sequence[str] = ("batch_id", "project_id", "ica_conn_id")
    ui_color = "#e0f2fe"
    operator_extra_links = WAIT_LINKS
    # A sensor timeout, so that soft_fail skips the task as for any sensor.
    timeout_error = AirflowSensorTimeout

    def __init__(
        self,
        *,
        batch_id: str,
        project_id: str | None = None,
        wait_for: WaitFor = "analyses",
        max_failures: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        ica_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        abort_on_kill: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_id = batch_id
        self.project_id = project_id
        self.wait_for = check_wait_args(wait_for, max_failures, page_size)
        self.max_failures = max_failures
        self.page_size = page_size
        self.ica_conn_id = ica_conn_id
        self.deferrable = deferrable
        self.abort_on_kill = abort_on_kill
        self._tracker: BatchTracker | None = None
        self._failures = PollFailures()
        self._deadline: float | None = None

    @cached_property
    def hook(self) -> IcaHook:
        from ica_airflow_provider.hooks.ica import IcaHook

        return IcaHook(self.ica_conn_id)

    def tracker(self, context: Context | None = None) -> BatchTracker:
        """The records survive between pokes, so later pokes are cheap.

        In one process (poke mode) they stay on the sensor; across reschedules they go to
        Airflow's task state store (Airflow 3.3+), where there is one.
        """
        batch_id = check_batch_id(self.task_id, self.batch_id)
        project_id = self.resolve_project_id()
        if self._tracker is None or (self._tracker.project_id, self._tracker.batch_id) != (project_id, batch_id):
            self._tracker = self.new_tracker(project_id, batch_id)
            store = _state_store(context) if self.mode == "reschedule" else None
            saved = store.get(RECORDS_STATE_KEY) if store is not None else None
            if isinstance(saved, dict) and saved.get("batch_id") == batch_id:
                self._tracker.load_records(saved.get("records") or [])
        return self._tracker

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            if self.mode == "poke":
                # Our own deadline, just before Airflow's: the timeout then pushes the
                # records and says what was unfinished, as in deferred mode.
                self._deadline = time.time() + float(self.timeout)
            return super().execute(context)
        result = self.poke(context)  # finished batches are not deferred
        if isinstance(result, PokeReturnValue) and result.is_done:
            return result.xcom_value
        self._defer_wait(
            tracker=self.tracker(),
            poll_interval=float(self.poke_interval),
            end_time=time.time() + float(self.timeout),
            abort_on_kill=self.abort_on_kill,
        )
        return None

    def poke(self, context: Context) -> PokeReturnValue | bool:
        tracker = self.tracker(context)
        verdict = self.hook.run(tracker.step(self.hook.protocol, self._failures, self.max_failures, self.log))
        push_links(context, self.hook.settings.web_url, tracker.project_id, tracker.records.values())
        store = _state_store(context) if self.mode == "reschedule" else None
        if verdict is not None and verdict.done:
            if store is not None:
                store.delete(RECORDS_STATE_KEY)
            return PokeReturnValue(is_done=True, xcom_value=conclude(context, verdict, tracker.batch_id))
        if store is not None:
            store.set(RECORDS_STATE_KEY, {"batch_id": tracker.batch_id, "records": tracker.dump_records()})
        if self._deadline is not None and time.time() >= self._deadline:
            self._timed_out(context, tracker)
        return False

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Back from the trigger. ``soft_fail`` skips only on a timeout, as in poke mode

        (Airflow's deferred-sensor default would also skip a batch that failed).
        """
        event = (next_kwargs or {}).get("event")
        if isinstance(event, dict):
            records = event.get("records") or ()
            push_links(context, lambda: self.hook.settings.web_url, event.get("project_id"), records)
        try:
            return BaseOperator.resume_execution(self, next_method, next_kwargs, context)  # type: ignore[arg-type]
        except AirflowSensorTimeout as exc:
            if self.soft_fail:
                raise AirflowSkipException(str(exc)) from exc
            raise

    def on_kill(self) -> None:
        if self.abort_on_kill and self._tracker is not None:
            self._abort_running(self._tracker)
