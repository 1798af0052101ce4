"""``IcaAnalysisBatchSensor``: wait until every item of a batch is terminal."""

from __future__ import annotations

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
    first_reschedule_date,
)
from ica_airflow_provider.core.tracker import WaitFor
from ica_airflow_provider.core.wait import Deadline, Wait
from ica_airflow_provider.defaults import DEFAULT_CONN_ID, DEFAULT_PAGE_SIZE
from ica_airflow_provider.links import WAIT_LINKS, PushedLinks
from ica_airflow_provider.waiting import SavedWait, TaskWait, check_batch_id, check_wait_args

if TYPE_CHECKING:
    from ica_airflow_provider.hooks.ica import IcaHook

# Where a rescheduled sensor keeps its records between pokes (Airflow 3.3+).
RECORDS_STATE_KEY = "ica_batch_records"


class IcaAnalysisBatchSensor(BaseSensorOperator):
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
    :param include_outputs: add to each succeeded analysis's record in the ``analyses`` XCom
        its ``outputs`` (``code``, ``data_id``, ``name``, ``data_type`` of each top-level
        output folder or file): one more request per succeeded analysis, made once.
    """

    template_fields: Sequence[str] = ("batch_id", "project_id", "ica_conn_id")
    ui_color = "#e0f2fe"
    operator_extra_links = WAIT_LINKS

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
        include_outputs: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_id = batch_id
        self.project_id = project_id
        self.wait_for = check_wait_args(wait_for, max_failures, page_size, include_outputs=include_outputs)
        self.max_failures = max_failures
        self.page_size = page_size
        self.ica_conn_id = ica_conn_id
        self.deferrable = deferrable
        self.abort_on_kill = abort_on_kill
        self.include_outputs = include_outputs
        self._wait: Wait | None = None  # poke mode: the records and counts, from poke to poke
        self._deadline = Deadline()  # poke mode: set by execute
        # How the wait ended, for OpenLineage (set in this process; never pulled back from XCom).
        self._batch_id: str | None = None
        self._records: list[dict[str, Any]] | None = None
        self._pushed_links = PushedLinks()

    @cached_property
    def hook(self) -> IcaHook:
        from ica_airflow_provider.hooks.ica import IcaHook

        return IcaHook(self.ica_conn_id)

    def task_wait(self) -> TaskWait:
        # A sensor timeout, so that soft_fail skips the task as for any sensor; a
        # watcher does not abort what it watches when it times out.
        return TaskWait(
            self.task_id, self.ica_conn_id, self.hook, self.log, self.wait_for, self.max_failures, self.page_size,
            timeout_error=AirflowSensorTimeout, include_outputs=self.include_outputs, on_end=self._ended,
            pushed_links=self._pushed_links,
        )

    def _ended(self, batch_id: str, records: list[dict[str, Any]]) -> None:
        self._batch_id, self._records = batch_id, records

    def wait(self, context: Context | None = None) -> Wait:
        """This batch's wait; its records survive between pokes, so later pokes are cheap.

        In one process (poke mode) they stay on the sensor; across reschedules they go to
        Airflow's task state store (Airflow 3.3+), where there is one.
        """
        batch_id = check_batch_id(self.task_id, self.batch_id)
        task_wait = self.task_wait()
        project_id = task_wait.project_id(self.project_id)
        wait = self._wait
        if wait is None or (wait.tracker.project_id, wait.tracker.batch_id) != (project_id, batch_id):
            # Only a poke-mode sensor keeps every record from poke to poke: not into the trigger
            # (deferrable: this is the poke before deferring), nor across reschedules (a compact
            # save may keep only the open items).
            wait = self._wait = task_wait.wait(
                task_wait.tracker(project_id, batch_id),
                poll_interval=float(self.poke_interval),
                deadline=self._deadline,
                in_memory=not self.deferrable and self.mode == "poke",
            )
            if (saved := self._saved(context)) is not None:
                saved.load(wait)
        wait.deadline = self._deadline  # this run's (a retry on the same object: dag.test)
        return wait

    def execute(self, context: Context) -> Any:
        # Each run (try or reschedule) starts with the task's XComs cleared, the links included,
        # even where it reuses this object (dag.test): push them afresh.
        self._pushed_links.last = None
        if not self.deferrable:
            # Our own deadline, reached no later than Airflow's: the timeout then pushes the
            # records and says what was unfinished, as in deferred mode.
            self._deadline = self._timeout_deadline(context)
            return super().execute(context)
        result = self.poke(context)  # finished batches are not deferred
        if isinstance(result, PokeReturnValue) and result.is_done:
            return result.xcom_value
        wait = self.wait()
        wait.deadline = Deadline.after(float(self.timeout))
        # timeout=None: the trigger owns the wall-clock deadline and reports it as an
        # event, so that the timeout path can still abort and push XComs.
        trigger = self.task_wait().trigger(wait, abort_on_kill=self.abort_on_kill)
        self.defer(trigger=trigger, method_name="execute_complete", timeout=None)
        return None

    def poke(self, context: Context) -> PokeReturnValue | bool:
        saved = self._saved(context)
        if self.mode == "reschedule" and saved is None:
            self.log.info(
                "No task state store (Airflow 3.3+): this poke lists the whole batch;"
                " deferrable=True waits more cheaply"
            )
        ids = self.task_wait().poke(context, self.wait(context), saved)
        return False if ids is None else PokeReturnValue(is_done=True, xcom_value=ids)

    def _timeout_deadline(self, context: Context) -> Deadline:
        """Airflow's sensor timeout as a deadline: from now, or from the first poke if rescheduled."""
        timeout = float(self.timeout)
        if self.mode != "reschedule":
            return Deadline.after(timeout)
        # Airflow's own sensor timeout reads the same date, right after this poke.
        first_poke = first_reschedule_date(context, self.retries)
        return Deadline.after(timeout) if first_poke is None else Deadline(first_poke.timestamp() + timeout)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[str]:
        return self.task_wait().resume(context, event)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Back from the trigger. ``soft_fail`` skips only on a timeout, as in poke mode

        (Airflow's deferred-sensor default would also skip a batch that failed).
        """
        try:
            return BaseOperator.resume_execution(self, next_method, next_kwargs, context)  # type: ignore[arg-type]
        except AirflowSensorTimeout as exc:
            if self.soft_fail:
                raise AirflowSkipException(str(exc)) from exc
            raise

    def on_kill(self) -> None:
        if self.abort_on_kill and self._wait is not None:
            self.task_wait().abort_running(self._wait.tracker)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (its provider installed): the data the analyses read and wrote, the batch facet."""
        return self.task_wait().lineage(self.project_id, self._batch_id, self._records)

    def _saved(self, context: Context | None) -> SavedWait | None:
        return SavedWait.of(context, RECORDS_STATE_KEY) if self.mode == "reschedule" else None
