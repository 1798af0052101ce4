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
from ica_airflow_provider.arguments import check_wait_args, rendered_max_failures
from ica_airflow_provider.defaults import DEFAULT_CONN_ID, DEFAULT_PAGE_SIZE, WaitFor
from ica_airflow_provider.links import WAIT_LINKS, PushedLinks
from ica_airflow_provider.task_mixin import IcaWaitingTaskMixin

# DAG files import this module: what only a running task needs is imported when it runs.
if TYPE_CHECKING:
    from ica_airflow_provider.task_side import SavedWait, TaskWait

# Where a rescheduled sensor keeps its records between pokes (Airflow 3.3+).
RECORDS_STATE_KEY = "ica_batch_records"


class IcaAnalysisBatchSensor(IcaWaitingTaskMixin, BaseSensorOperator):
    """Waits for an analysis creation batch; returns the IDs of the analyses that succeeded.

    :param batch_id: the batch (usually ``{{ ti.xcom_pull('create', key='batch_id') }}``
        or the create task's ``return_value``).
    :param project_id: ICA project; default: the connection's ``project_id`` extra.
    :param wait_for: ``"analyses"`` (creation and every created analysis terminal) or
        ``"creation"`` (every item's creation terminal).
    :param max_failures: failed items or analyses tolerated before the task fails; templated
        (e.g. ``"{{ params.max_failures }}"``).
    :param page_size: items per page when listing the batch.
    :param ica_conn_id: the ``ica`` connection.
    :param deferrable: wait on the triggerer; default ``[operators] default_deferrable``.
    :param abort_on_kill: abort running analyses when the task is killed (off: a watcher
        does not touch what it watches).
    :param include_outputs: add to each succeeded analysis's record in the ``analyses`` XCom
        its ``outputs`` (``code``, ``data_id``, ``name``, ``data_type`` of each top-level
        output folder or file): one more request per succeeded analysis, made once.
    :param wake_on_notifications: sleep between listings until ICA's notifications
        wake the wait (see docs/notifications.md). ``None`` (default): when the connection (or
        ``sqs_queue``) names a queue; ``False``: always poll; ``True``: require a queue.
    :param sqs_queue: the SQS queue of ICA's notifications; default: the connection's ``sqs_queue`` extra.
    :param aws_conn_id: the Airflow AWS connection that reads it; default: the connection's
        ``aws_conn_id`` extra, else ``aws_default``.
    :param reconcile_interval: seconds; a woken wait polls ICA at least this often; default:
        the connection's ``reconcile_interval`` extra, else 900.
    """

    template_fields: Sequence[str] = (
        "batch_id", "project_id", "ica_conn_id", "max_failures", "sqs_queue", "aws_conn_id", "reconcile_interval",
    )
    ui_color = "#e0f2fe"
    operator_extra_links = WAIT_LINKS

    def __init__(
        self,
        *,
        batch_id: str,
        project_id: str | None = None,
        wait_for: WaitFor = "analyses",
        max_failures: int | str = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        ica_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        abort_on_kill: bool = False,
        include_outputs: bool = False,
        wake_on_notifications: bool | None = None,
        sqs_queue: str | None = None,
        aws_conn_id: str | None = None,
        reconcile_interval: float | str | None = None,
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
        self._take_wake_args(wake_on_notifications, sqs_queue, aws_conn_id, reconcile_interval)
        # How the wait ended, for OpenLineage (set in this process; never pulled back from XCom).
        self._batch_id: str | None = None
        self._records: list[dict[str, Any]] | None = None
        self._pushed_links = PushedLinks()

    @cached_property
    def task_wait(self) -> TaskWait:
        """The wait's task side; in poke mode it keeps the records from poke to poke (later pokes are cheap)."""
        from ica_airflow_provider.task_side import TaskWait

        # A sensor timeout, so that soft_fail skips the task as for any sensor; a
        # watcher does not abort what it watches when it times out. Only a poke-mode sensor
        # keeps every record from poke to poke: not into the trigger (deferrable: the poke
        # before deferring), nor across reschedules (a compact save may keep only the open items).
        return TaskWait(
            self.task_id, self.ica_conn_id, self.hook, self.log, self.wait_for, rendered_max_failures(self.max_failures), self.page_size,
            timeout_error=AirflowSensorTimeout, include_outputs=self.include_outputs, on_end=self._ended,
            pushed_links=self._pushed_links, poll_interval=float(self.poke_interval), timeout=float(self.timeout),
            in_memory=not self.deferrable and self.mode == "poke",
            wake=self._wake_args(),
        )

    def _follow(self, saved: SavedWait | None) -> Any:
        """This batch's wait: kept on the sensor in poke mode, in the task state store across reschedules."""
        from ica_airflow_provider.task_side import check_batch_id

        batch_id = check_batch_id(self.task_id, self.batch_id)
        return self.task_wait.follow(self.task_wait.project_id(self.project_id), batch_id, saved)

    def execute(self, context: Context) -> Any:
        # Each run (try or reschedule) starts with the task's XComs cleared, the links included,
        # even where it reuses this object (dag.test): push them afresh.
        self._pushed_links.last = None
        woken = self.task_wait.woken()  # before any request: a bad notification setting fails here, named
        if self.deferrable:  # finished batches are not deferred
            self.task_wait.begin()
            saved = self._saved(context)
            wait = self._follow(saved)
            return self.task_wait.start(context, wait, saved, abort_on_kill=self.abort_on_kill, defer=self.defer)
        # Our own deadline, reached no later than Airflow's: the timeout then pushes the
        # records and says what was unfinished, as in deferred mode. A rescheduled sensor's
        # counts from the run's first poke, as Airflow's own sensor timeout reads it.
        first_poke = first_reschedule_date(context, self.retries) if self.mode == "reschedule" else None
        self.task_wait.begin(first_poke.timestamp() if first_poke is not None else None)
        if self.mode == "poke" and woken:
            return self._wait_woken(context)
        return super().execute(context)

    def _wait_woken(self, context: Context) -> Any:
        """Poke mode woken by notifications: one wait in this process, sleeping until a hint or a poll is due.

        (A rescheduled sensor polls: no process lives between its pokes to receive them.)
        """
        try:
            return self.task_wait.run(context, self._follow(None))
        except AirflowSensorTimeout as exc:
            if self.soft_fail:
                raise AirflowSkipException(str(exc)) from exc
            raise

    def poke(self, context: Context) -> PokeReturnValue | bool:
        saved = self._saved(context)
        ids = self.task_wait.poke(context, self._follow(saved), saved)
        return False if ids is None else PokeReturnValue(is_done=True, xcom_value=ids)

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
        self.task_wait.on_kill(abort=self.abort_on_kill)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (its provider installed): the data the analyses read and wrote, the batch facet."""
        return self.task_wait.lineage(self.project_id, self._batch_id, self._records)

    def _saved(self, context: Context | None) -> SavedWait | None:
        """Where a rescheduled sensor keeps its wait until the next poke (``None``: nowhere)."""
        from ica_airflow_provider.task_side import SavedWait

        if self.mode != "reschedule":
            return None
        saved = SavedWait.of(context, RECORDS_STATE_KEY)
        if saved is None:
            self.log.info(
                "No task state store (Airflow 3.3+): this poke lists the whole batch;"
                " deferrable=True waits more cheaply"
            )
        return saved
