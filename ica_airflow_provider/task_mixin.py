"""What the operator and the sensor share as Airflow tasks: the hook, the wait's ending, the resume.

Cheap to import (a DAG file imports it with every operator): the hook and the task side
load when a task runs.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ica_airflow_provider._compat import Context
    from ica_airflow_provider.core.wake import WakeArgs
    from ica_airflow_provider.hooks.ica import IcaHook
    from ica_airflow_provider.task_side import TaskWait


class IcaWaitingTaskMixin:
    """Mixed into the operator and the sensor, before their Airflow base class.

    How the wait ended (the batch and the records of the ``analyses`` XCom) is kept in this
    process for OpenLineage, never pulled back from XCom (see ``openlineage.task_lineage``).
    """

    ica_conn_id: str
    wake_on_notifications: bool | None = None
    sqs_queue: str | None = None
    aws_conn_id: str | None = None
    reconcile_interval: float | str | None = None
    _batch_id: str | None = None
    _records: list[dict[str, Any]] | None = None

    @cached_property
    def hook(self) -> IcaHook:
        from ica_airflow_provider.hooks.ica import IcaHook

        return IcaHook(self.ica_conn_id)

    if TYPE_CHECKING:

        @property
        def task_wait(self) -> TaskWait: ...  # each task's own (its arguments)

    def _take_wake_args(
        self, wake_on_notifications: bool | None, sqs_queue: str | None, aws_conn_id: str | None,
        reconcile_interval: float | str | None,
    ) -> None:
        """The notification arguments, checked at parse time (templates once rendered)."""
        from ica_airflow_provider.core.wake import check_wake_args

        check_wake_args(wake_on_notifications, sqs_queue, aws_conn_id, reconcile_interval)
        self.wake_on_notifications = wake_on_notifications
        self.sqs_queue = sqs_queue
        self.aws_conn_id = aws_conn_id
        self.reconcile_interval = reconcile_interval

    def _wake_args(self) -> WakeArgs:
        """The rendered notification arguments, for the task side."""
        from ica_airflow_provider.core.wake import WakeArgs

        return WakeArgs(self.wake_on_notifications, self.sqs_queue, self.aws_conn_id, self.reconcile_interval)

    def _ended(self, batch_id: str, records: list[dict[str, Any]]) -> None:
        """``TaskWait.on_end``: the batch and its records, as pushed when the wait ended."""
        self._batch_id, self._records = batch_id, records

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[str]:
        """Back from the trigger: the same ending as a wait in the worker."""
        return self.task_wait.resume(context, event)
