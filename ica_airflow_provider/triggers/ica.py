"""``IcaAnalysisBatchTrigger``: the sensor's wait, on the triggerer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ica_airflow_provider.core.errors import IcaError, PollFailures
from ica_airflow_provider.core.progress import BatchTracker, WaitFor
from ica_airflow_provider.defaults import DEFAULT_CONN_ID, DEFAULT_PAGE_SIZE
from ica_airflow_provider.hooks.ica_async import IcaAsyncClient
from ica_airflow_provider.waiting import event_payload

ABORTS_AT_ONCE = 8


class IcaAnalysisBatchTrigger(BaseTrigger):
    """Polls a batch until every item is terminal, then yields one event.

    The event's ``status`` is ``success``, ``failure`` (too many failures),
    ``timeout`` (``end_time``, wall clock, passed) or ``error``; it carries the records.
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
        self._tracker: BatchTracker | None = None  # what run() knows, for on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "project_id": self.project_id,
                "batch_id": self.batch_id,
                "ica_conn_id": self.ica_conn_id,
                "wait_for": self.wait_for,
                "max_failures": self.max_failures,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "page_size": self.page_size,
                "abort_on_kill": self.abort_on_kill,
            },
        )

    def _new_tracker(self) -> BatchTracker:
        return BatchTracker(self.project_id, self.batch_id, self.wait_for, self.page_size)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        tracker = self._tracker = self._new_tracker()
        try:
            client = await IcaAsyncClient.for_connection(self.ica_conn_id)
        except Exception as exc:  # a missing or unusable connection: tell the task why
            yield TriggerEvent(event_payload("error", tracker, f"{type(exc).__name__}: {exc}"))
            return
        async with client:
            failures = PollFailures()
            while True:
                try:
                    verdict = await client.run(tracker.step(client.protocol, failures, self.max_failures, self.log))
                except Exception as exc:  # whatever it was, the task is told, not left waiting
                    message = str(exc) if isinstance(exc, IcaError) else f"{type(exc).__name__}: {exc}"
                    yield TriggerEvent(event_payload("error", tracker, message))
                    return
                if verdict is not None and verdict.done:
                    yield TriggerEvent(event_payload("failure" if verdict.failed else "success", tracker))
                    return
                now = time.time()
                if self.end_time is not None and now >= self.end_time:
                    yield TriggerEvent(event_payload("timeout", tracker))
                    return
                wait = self.poll_interval if self.end_time is None else min(self.poll_interval, self.end_time - now)
                await asyncio.sleep(max(wait, 0.0))

    async def on_kill(self) -> None:
        """Airflow 3.3+: the user killed the deferred task; abort what still runs."""
        if not self.abort_on_kill:
            return
        client = await IcaAsyncClient.for_connection(self.ica_conn_id)
        tracker = self._tracker or self._new_tracker()
        async with client:
            await client.run(tracker.poll(client.protocol))
            running = tracker.running_analyses()
            # Concurrently, but bounded: Airflow gives on_kill 30 s, and ICA rate-limits.
            slots = asyncio.Semaphore(ABORTS_AT_ONCE)

            async def abort(analysis_id: str) -> None:
                async with slots:
                    await client.run(client.protocol.abort_analysis(self.project_id, analysis_id))

            results = await asyncio.gather(*(abort(a) for a in running), return_exceptions=True)
        failed = [a for a, r in zip(running, results, strict=True) if isinstance(r, BaseException)]
        self.log.info("Asked ICA to abort %d running analyses: %s", len(running), ", ".join(running))
        if failed:
            self.log.warning("Could not abort %d analyses: %s", len(failed), ", ".join(failed))
