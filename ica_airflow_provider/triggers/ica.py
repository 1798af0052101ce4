"""``IcaAnalysisBatchTrigger``: the sensor's and the operator's wait, on the triggerer.

``run`` drives the core's one wait loop (:meth:`~ica_airflow_provider.core.wait.Wait.until_done`)
with the async client and turns how it ended into one event (:mod:`.events`).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

from ica_airflow_provider._compat import BaseTrigger, TriggerEvent
from ica_airflow_provider.core.errors import IcaError
from ica_airflow_provider.core.progress import left_running_line
from ica_airflow_provider.core.tracker import BatchTracker, WaitFor
from ica_airflow_provider.core.wait import Deadline, Wait
from ica_airflow_provider.core.wake import DEFAULT_AWS_CONN_ID, DEFAULT_RECONCILE_INTERVAL, WakeOptions
from ica_airflow_provider.defaults import DEFAULT_CONN_ID, DEFAULT_PAGE_SIZE
from ica_airflow_provider.hooks.async_client import IcaAsyncClient
from ica_airflow_provider.hooks.hint_sources import subscribed
from ica_airflow_provider.triggers.events import event_payload


class IcaAnalysisBatchTrigger(BaseTrigger):
    """Polls a batch until every item is terminal, then yields one event.

    The event's ``status`` is ``success``, ``failure`` (too many failures),
    ``timeout`` (``end_time``, wall clock, passed) or ``error``; small: see :mod:`.events`.
    With an ``sqs_queue``, the wait sleeps between listings until ICA's notifications on it
    wake it, or ``reconcile_interval`` seconds (see :mod:`ica_airflow_provider.core.hints`);
    ``notification_tag``, the technical tag on the batch's items, routes its analyses'
    notifications to it before a listing has shown their ids.
    """

    def __init__(
        self,
        *,
        project_id: str,
        batch_id: str,
        ica_conn_id: str = DEFAULT_CONN_ID,
        wait_for: WaitFor = "analyses",
        max_failures: int = 0,
        poll_interval: float = 60.0,
        end_time: float | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        abort_on_kill: bool = False,
        include_outputs: bool = False,
        sqs_queue: str | None = None,
        aws_conn_id: str | None = None,
        reconcile_interval: float | None = None,
        notification_tag: str | None = None,
    ) -> None:
        super().__init__()
        self.project_id = project_id
        self.batch_id = batch_id
        self.ica_conn_id = ica_conn_id
        self.wait_for: WaitFor = wait_for
        self.max_failures = max_failures
        self.poll_interval = float(poll_interval)
        self.end_time = end_time
        self.page_size = page_size
        self.abort_on_kill = abort_on_kill
        self.include_outputs = include_outputs
        # Woken by ICA's notifications on this queue (resolved by the task); None: polls.
        self.sqs_queue = sqs_queue
        self.aws_conn_id = aws_conn_id
        self.reconcile_interval = reconcile_interval
        self.notification_tag = notification_tag  # the technical tag on the batch's items (the operator's)
        self._tracker: BatchTracker | None = None  # what run() knows, for on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        # The arguments are those of __init__, written once: each is kept as the attribute of its name.
        return f"{type(self).__module__}.{type(self).__qualname__}", {name: getattr(self, name) for name in ARGUMENTS}

    def _new_tracker(self) -> BatchTracker:
        # Outputs are the resumed task's finish step's: a big batch's event has no room for
        # records, so outputs fetched here could be lost and fetched again there.
        return BatchTracker(self.project_id, self.batch_id, self.wait_for, self.page_size)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        tracker = self._tracker = self._new_tracker()
        options = self._wake_options()
        wait = Wait(tracker, self.max_failures, self.poll_interval, Deadline(self.end_time))
        wait.hints.tag = self.notification_tag
        try:
            client = await IcaAsyncClient.for_connection(self.ica_conn_id)
        except Exception as exc:  # a missing or unusable connection: tell the task why
            yield TriggerEvent(event_payload("error", tracker, f"{type(exc).__name__}: {exc}"))
            return
        counts = None
        try:
            # Subscribed before the first listing: no notification between the two is missed.
            async with client, subscribed(options, self.log, tracker) as hints:
                if hints is not None and options is not None:
                    wait.reconcile_interval, counts = options.reconcile_interval, wait.hints.counts
                verdict = await client.wait_for_batch(wait, self.log, hints)
        except Exception as exc:  # whatever it was, the task is told, not left waiting
            message = str(exc) if isinstance(exc, IcaError) else f"{type(exc).__name__}: {exc}"
            yield TriggerEvent(event_payload("error", tracker, message, counts))
            return
        if verdict is None:
            yield TriggerEvent(event_payload("timeout", tracker, notifications=counts))
        else:
            yield TriggerEvent(event_payload("failure" if verdict.failed else "success", tracker, notifications=counts))

    def _wake_options(self) -> WakeOptions | None:
        if not self.sqs_queue:
            return None
        return WakeOptions(
            self.sqs_queue,
            self.aws_conn_id or DEFAULT_AWS_CONN_ID,
            self.reconcile_interval or DEFAULT_RECONCILE_INTERVAL,
        )

    async def on_kill(self) -> None:
        """Airflow 3.3+: the user killed the deferred task; abort what still runs."""
        if not self.abort_on_kill:
            self.log.info("%s", left_running_line(self._tracker))
            return
        client = await IcaAsyncClient.for_connection(self.ica_conn_id)
        async with client:
            await client.abort_running(self._tracker or self._new_tracker(), self.log)


ARGUMENTS = tuple(name for name in inspect.signature(IcaAnalysisBatchTrigger.__init__).parameters if name != "self")
