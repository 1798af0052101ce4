"""``IcaCreateAnalysisBatchOperator``: create an analysis creation batch, optionally wait."""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ica_airflow_provider._compat import BaseOperator, Context, conf
from ica_airflow_provider.arguments import check_wait_args, rendered_max_failures
from ica_airflow_provider.defaults import DEFAULT_CONN_ID, DEFAULT_PAGE_SIZE, IDEMPOTENCY_KEY_MAX, WaitFor
from ica_airflow_provider.links import ANALYSES_URL_XCOM, WAIT_LINKS, analyses_url
from ica_airflow_provider.task_mixin import IcaWaitingTaskMixin

ITEM_LISTS = ("cwl_items", "nextflow_items", "nextflow_json_items")


# DAG files import this module: what only a running task needs is imported when it runs.
if TYPE_CHECKING:
    from ica_airflow_provider.task_side import TaskWait


class IcaCreateAnalysisBatchOperator(IcaWaitingTaskMixin, BaseOperator):
    """Create an ICA analysis creation batch; returns its ID (or, when waiting, the analysis IDs).

    :param project_id: ICA project; default: the connection's ``project_id`` extra.
    :param cwl_items: CWL analyses, as dicts in ICA's field names or models.
    :param nextflow_items: Nextflow analyses.
    :param nextflow_json_items: Nextflow JSON-form analyses.
    :param idempotency_key: sent as ``Idempotency-Key``; default: derived from the task
        instance and the request, so a retried task gets the same batch back.
    :param ica_conn_id: the ``ica`` connection.
    :param wait_for_completion: also wait, with the sensor's rules, and return the analysis IDs.
    :param wait_for: ``"analyses"`` or ``"creation"`` (when waiting).
    :param max_failures: failures tolerated before the task fails (when waiting); templated.
    :param poll_interval: seconds between polls (when waiting).
    :param timeout: wall-clock limit of the wait (when waiting).
    :param deferrable: wait on the triggerer; default ``[operators] default_deferrable``.
    :param abort_on_timeout: abort still-running analyses when the wait times out.
    :param abort_on_kill: abort still-running analyses when the waiting task is killed
        (marked failed or success, or cleared; deferred: Airflow 3.3+).
    :param page_size: items per page when listing the batch.
    :param include_outputs: (when waiting) add to each succeeded analysis's record in the
        ``analyses`` XCom its ``outputs``, as the sensor does: one more request per
        succeeded analysis, made once.
    :param wake_on_notifications: (when waiting) sleep between listings until ICA's notifications
        wake the wait (see docs/notifications.md). ``None`` (default): when the connection (or
        ``sqs_queue``) names a queue; ``False``: always poll; ``True``: require a queue.
    :param sqs_queue: the SQS queue of ICA's notifications; default: the connection's ``sqs_queue`` extra.
    :param aws_conn_id: the Airflow AWS connection that reads it; default: the connection's
        ``aws_conn_id`` extra, else ``aws_default``.
    :param reconcile_interval: seconds; a woken wait polls ICA at least this often; default:
        the connection's ``reconcile_interval`` extra, else 900.
    """

    template_fields: Sequence[str] = (
        "project_id",
        "cwl_items",
        "nextflow_items",
        "nextflow_json_items",
        "idempotency_key",
        "ica_conn_id",
        "max_failures",
        "sqs_queue",
        "aws_conn_id",
        "reconcile_interval",
    )
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers = {name: "json" for name in ITEM_LISTS}
    operator_extra_links = WAIT_LINKS
    ui_color = "#dbeafe"

    def __init__(
        self,
        *,
        project_id: str | None = None,
        cwl_items: Any = None,
        nextflow_items: Any = None,
        nextflow_json_items: Any = None,
        idempotency_key: str | None = None,
        ica_conn_id: str = DEFAULT_CONN_ID,
        wait_for_completion: bool = False,
        wait_for: WaitFor = "analyses",
        max_failures: int | str = 0,
        poll_interval: float = 60.0,
        timeout: timedelta | float = timedelta(days=7),
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        abort_on_timeout: bool = True,
        abort_on_kill: bool = True,
        page_size: int = DEFAULT_PAGE_SIZE,
        include_outputs: bool = False,
        wake_on_notifications: bool | None = None,
        sqs_queue: str | None = None,
        aws_conn_id: str | None = None,
        reconcile_interval: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project_id = project_id
        self.cwl_items = cwl_items
        self.nextflow_items = nextflow_items
        self.nextflow_json_items = nextflow_json_items
        self.idempotency_key = idempotency_key
        self.ica_conn_id = ica_conn_id
        self.wait_for_completion = wait_for_completion
        self.wait_timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        self.wait_for = check_wait_args(
            wait_for, max_failures, page_size, include_outputs=include_outputs,
            poll_interval=poll_interval, timeout=self.wait_timeout,
        )
        if include_outputs and not wait_for_completion:
            raise ValueError(
                "include_outputs: needs wait_for_completion=True (outputs exist once the analyses have"
                " succeeded); or set include_outputs on the IcaAnalysisBatchSensor that waits"
            )
        self.max_failures = max_failures
        self.poll_interval = float(poll_interval)
        self.deferrable = deferrable
        self.abort_on_timeout = abort_on_timeout
        self.abort_on_kill = abort_on_kill
        self.page_size = page_size
        self.include_outputs = include_outputs
        self._take_wake_args(wake_on_notifications, sqs_queue, aws_conn_id, reconcile_interval)
        # The batch and how its wait ended, for OpenLineage (kept in this process, never pulled
        # back from XCom: see ica_airflow_provider.openlineage.task_lineage).
        self._batch_id: str | None = None
        self._records: list[dict[str, Any]] | None = None
        self._request: dict[str, Any] | None = None  # the request as validated once (lineage; the wire gets it tagged)

    # -- building the request -------------------------------------------------------------

    def build_batch(self) -> dict[str, Any]:
        """The rendered request as ICA's JSON; every invalid field named by its path."""
        from pydantic import ValidationError

        from ica_airflow_provider.exceptions import IcaConfigError
        from ica_airflow_provider.models.request import CreateAnalysisCreationBatch, format_validation_error

        given = {name: _coerce_items(name, getattr(self, name)) for name in ITEM_LISTS}
        try:
            batch = CreateAnalysisCreationBatch.model_validate(given)
        except ValidationError as exc:
            problems = format_validation_error(exc, batch=given)
            raise IcaConfigError(
                f"{self.task_id}: the batch request is invalid ({len(problems)} problem(s)):\n  "
                + "\n  ".join(problems)
            ) from None
        return batch.to_ica()

    # -- running --------------------------------------------------------------------------

    @cached_property
    def task_wait(self) -> TaskWait:
        from ica_airflow_provider.task_side import TaskWait

        # The operator created the batch: its timeout aborts what still runs (abort_on_timeout).
        return TaskWait(
            self.task_id, self.ica_conn_id, self.hook, self.log, self.wait_for, rendered_max_failures(self.max_failures), self.page_size,
            abort_on_timeout=self.abort_on_timeout, include_outputs=self.include_outputs, on_end=self._ended,
            poll_interval=self.poll_interval, timeout=self.wait_timeout, in_memory=not self.deferrable,
            wake=self._wake_args(),
        )

    def execute(self, context: Context) -> Any:
        from ica_airflow_provider.core.operations import check_idempotency_key
        from ica_airflow_provider.core.progress import plural
        from ica_airflow_provider.core.wake import wait_tag, with_wait_tag

        batch = self._request = self.build_batch()
        task_wait = self.task_wait
        project_id = task_wait.project_id(self.project_id)
        key = check_idempotency_key(self.idempotency_key or derive_idempotency_key(context, batch))
        tag = None
        if self.wait_for_completion:
            task_wait.wake_options()  # a bad notification setting fails before the batch is created
            # The batch the task waits for carries its tag, so that the notifications of its analyses
            # find a woken wait at once. Whether the wait is woken is not asked: a retry sends the same
            # body under the same Idempotency-Key, whatever the connection says by then.
            tag = wait_tag(project_id, key)
        total = sum(len(items) for items in batch.values())  # the three item lists
        created = self.hook.create_analysis_creation_batch(project_id, with_wait_tag(batch, tag) if tag else batch, key)
        requested = plural(total, "analysis", "analyses")
        self.log.info("ICA batch %s: %s requested in project %s", created.id, requested, project_id)
        self._batch_id = created.id
        ti = context["ti"]
        ti.xcom_push(key="batch_id", value=created.id)
        ti.xcom_push(key="project_id", value=project_id)
        ti.xcom_push(key=ANALYSES_URL_XCOM, value=analyses_url(self.hook.settings.web_url, project_id))
        if not self.wait_for_completion:
            return created.id
        task_wait.begin(afresh=True)  # a retry on this object waits anew, as in a new process
        wait = task_wait.follow(project_id, created.id, tag=tag)
        if not self.deferrable:
            return task_wait.run(context, wait)
        return task_wait.start(context, wait, abort_on_kill=self.abort_on_kill, defer=self.defer)

    def on_kill(self) -> None:
        """Abort the batch's running analyses when the task is killed while waiting."""
        if self.task_wait.current is None:
            return  # not waiting (yet): nothing of this task's is running
        self.task_wait.on_kill(abort=self.abort_on_kill)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (its provider installed): the data the batch read and, after a wait, wrote."""
        if self._batch_id is None:  # failed before creating one: no request to build either
            return None
        # Resumed from the trigger, this is a new process: the request is rendered again, once.
        request = self._request if self._request is not None else self.build_batch()
        return self.task_wait.lineage(self.project_id, self._batch_id, self._records, request)


def derive_idempotency_key(context: Context, batch: dict[str, Any]) -> str:
    """A key stable across retries of one task instance and unique to its request.

    Made of dag_id, task_id, run_id, map_index and a hash of the request; at most 255
    characters (a long prefix is replaced by its own hash).
    """
    ti = context["ti"]
    digest = hashlib.sha256(json.dumps(batch, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    prefix = f"airflow:{ti.dag_id}:{ti.task_id}:{ti.run_id}:{getattr(ti, 'map_index', -1)}"
    key = f"{prefix}:{digest[:32]}"
    if len(key) > IDEMPOTENCY_KEY_MAX:
        key = f"airflow:{hashlib.sha256(prefix.encode()).hexdigest()}:{digest[:32]}"
    return key


def _coerce_items(name: str, value: Any) -> Any:
    """Item lists may arrive as text (a rendered ``.json`` file or template): parse them."""
    if hasattr(value, "model_dump"):
        return value
    if isinstance(value, list | tuple):
        return [v.model_dump(by_alias=True, exclude_none=True) if hasattr(v, "model_dump") else v for v in value]
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as json_error:
        try:
            return ast.literal_eval(text)  # a rendered Python list, e.g. "{{ params.items }}"
        except (ValueError, SyntaxError):
            from ica_airflow_provider.exceptions import IcaConfigError

            raise IcaConfigError(f"{name}: not valid JSON ({json_error}): {text[:80]!r}") from None
