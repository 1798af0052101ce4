"""``IcaNotificationTrigger``: ICA's events from an SQS queue, for Airflow 3's asset watchers.

Each matching ICA event becomes one ``TriggerEvent`` whose payload is the event's compact
form (``core/ica_events.IcaEvent.payload``); Airflow turns it into an asset event that starts
the DAGs scheduled on the asset. Rules (docs/asset-watchers.md):

- The filters are checked in ``__init__`` (when the DAG is parsed): a bad one raises
  ``ValueError`` naming the field. ``__init__`` makes no network call.
- A message is deleted ``SAVED_AFTER_SECONDS`` after its event was yielded: the triggerer
  keeps a yielded event in memory until it hands it to its supervisor, which saves it (about
  once a second), so an earlier delete could lose the event in a crash. A duplicate delivery
  (same subject, code and ``timeModified``) is deleted without an event; the last
  ``recent_keys`` keys are remembered, in memory.
- The watcher owns its event codes on its queue: a message of one of them that does not pass
  the filters, or is malformed, is deleted. A message of another code is left alone, even one
  this watcher could not parse (it reappears after the queue's visibility timeout for the
  reader it belongs to: the waits, or another watcher). Two watchers in one triggerer reading
  the same code on the same queue would take each other's events: the second one waits, and
  says so once, until the first has stopped (as when a DAG edit replaces a watcher).
- With a ``group_pattern``, a file's event is held (its message left on the queue) until
  ``group_size`` files of its group (folder and sample) have come; the group is then one
  event (``core/file_groups.py``). A file that matches the filters but not the pattern is
  deleted like a filtered one.
- Malformed messages without a code, or of this watcher's codes, are logged once per kind
  (bounded) and deleted; they never end the watcher. An unreadable queue is logged once per
  outage and retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, ClassVar

from ica_airflow_provider import _compat
from ica_airflow_provider.core.event_filter import EventFilter
from ica_airflow_provider.core.file_groups import FileGroups, check_grouping
from ica_airflow_provider.core.ica_events import IcaEvent, RecentKeys, parse_event
from ica_airflow_provider.core.notifications import Rejected
from ica_airflow_provider.hooks.sqs_queue import MAX_WAIT_SECONDS, AwsSqsQueue, Received, SqsQueue

if not _compat.HAS_ASSET_WATCHERS:
    raise ImportError(
        "ica_airflow_provider.triggers.watcher needs Airflow 3.0 or later (asset watchers);"
        f" this is Airflow {'.'.join(map(str, _compat.AIRFLOW_VERSION))}. On Airflow 2, schedule the DAG"
        " and wait with IcaAnalysisBatchSensor instead."
    )

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

log = logging.getLogger(__name__)

RECENT_KEYS = 10_000
# Airflow's triggerer hands yielded events to its supervisor (which saves them) about once a
# second; a message is deleted only once its event has surely been saved.
SAVED_AFTER_SECONDS = 2.0
CLAIM_RETRY_SECONDS = 1.0
FIRST_RETRY_SECONDS = 1.0
LAST_RETRY_SECONDS = 60.0
_LOGGED_MAX = 64  # distinct "skipped" lines per watcher; beyond, debug only
_ERROR_MAX = 200

# (queue URL, event code) -> the watcher reading it in this process
_OWNERS: dict[tuple[str, str], int] = {}


class IcaNotificationTrigger(BaseEventTrigger):
    """ICA events from ``sqs_queue`` (read through ``aws_conn_id``) that pass the filters, one event each.

    :param sqs_queue: URL of the SQS queue ICA's notification channel sends to.
    :param event_codes: ICA event codes to read, e.g. ``["ICA_DATA_108"]`` (``core/ica_events.EVENT_CODES``).
    :param aws_conn_id: Airflow AWS connection that reads the queue (endpoint, region, role, keys).
    :param project_id: only events of this ICA project.
    :param statuses: only these statuses (data: AVAILABLE, ...; analyses: SUCCEEDED, ...; V4 spelling).
    :param pipeline_codes: analysis events: only analyses of these pipeline codes.
    :param path_glob: data events: only data whose path matches, e.g. ``/runs/*/fastq/*.fastq.gz``.
    :param data_formats: data events: only these format codes (FASTQ, BAM, ...).
    :param tags: only events whose data or analysis carries every one of these tags.
    :param group_pattern: data events: one event per group of files, the files of one folder whose
        names give the same ``sample`` group of this regular expression (``watchers.FASTQ_NAME``).
    :param group_size: how many files complete a group (2 for a sample's R1 and R2).
    :param wait_time_seconds: long poll of each receive, 1 to 20 seconds.
    :param recent_keys: how many event keys are remembered to drop duplicate deliveries.
    """

    # Tests put a queue of their own here; the default reads SQS through the Amazon provider.
    make_queue: ClassVar[Callable[[str, str | None], SqsQueue]] = AwsSqsQueue
    clock: ClassVar[Callable[[], float]] = time.monotonic

    def __init__(
        self,
        sqs_queue: str,
        event_codes: Iterable[str],
        aws_conn_id: str | None = "aws_default",
        project_id: str | None = None,
        statuses: Iterable[str] = (),
        pipeline_codes: Iterable[str] = (),
        path_glob: str | None = None,
        data_formats: Iterable[str] = (),
        tags: Iterable[str] = (),
        group_pattern: str | None = None,
        group_size: int | None = None,
        wait_time_seconds: int = MAX_WAIT_SECONDS,
        recent_keys: int = RECENT_KEYS,
    ) -> None:
        super().__init__()
        if not isinstance(sqs_queue, str) or not sqs_queue.startswith(("https://", "http://")) or len(sqs_queue) > 2048:
            raise ValueError(f"sqs_queue: must be the queue's URL (https://sqs.<region>.amazonaws.com/...), got {sqs_queue!r}")
        if aws_conn_id is not None and (not isinstance(aws_conn_id, str) or not aws_conn_id):
            raise ValueError(f"aws_conn_id: must be an Airflow connection id or None, got {aws_conn_id!r}")
        if not isinstance(wait_time_seconds, int) or not 1 <= wait_time_seconds <= MAX_WAIT_SECONDS:
            # 0 would turn an empty queue into a loop of receive calls
            raise ValueError(f"wait_time_seconds: must be 1 to {MAX_WAIT_SECONDS}, got {wait_time_seconds!r}")
        if not isinstance(recent_keys, int) or recent_keys < 1:
            raise ValueError(f"recent_keys: must be a positive integer, got {recent_keys!r}")
        self.filter = EventFilter.build(
            event_codes, project_id, statuses, pipeline_codes, path_glob, data_formats, tags
        )
        grouping = check_grouping(group_pattern, group_size, set(self.filter.kinds()))
        self.group_pattern, self.group_size = group_pattern, group_size
        self._groups = None if grouping is None else FileGroups[Received](grouping, int(group_size or 0), recent_keys)
        self.sqs_queue = sqs_queue
        self.aws_conn_id = aws_conn_id
        self.wait_time_seconds = wait_time_seconds
        self.recent_keys = recent_keys
        self._recent = RecentKeys(recent_keys)
        self._logged: set[tuple[str, str | None]] = set()
        self.counts: dict[str, int] = dict.fromkeys(
            ("received", "yielded", "duplicates", "filtered", "held", "left", "rejected", "failures"), 0
        )

    def __repr__(self) -> str:
        return f"IcaNotificationTrigger(sqs_queue={self.sqs_queue!r}, event_codes={list(self.filter.event_codes)!r})"

    def serialize(self) -> tuple[str, dict[str, Any]]:
        f = self.filter
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "sqs_queue": self.sqs_queue,
                "event_codes": list(f.event_codes),
                "aws_conn_id": self.aws_conn_id,
                "project_id": f.project_id,
                "statuses": list(f.statuses),
                "pipeline_codes": list(f.pipeline_codes),
                "path_glob": f.path_glob,
                "data_formats": list(f.data_formats),
                "tags": list(f.tags),
                "group_pattern": self.group_pattern,
                "group_size": self.group_size,
                "wait_time_seconds": self.wait_time_seconds,
                "recent_keys": self.recent_keys,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        claimed = await self._claim()
        queue = type(self).make_queue(self.sqs_queue, self.aws_conn_id)
        retry, unreadable = FIRST_RETRY_SECONDS, False
        handed: deque[tuple[float, Received]] = deque()  # yielded events' messages, not yet deleted
        try:
            while True:
                await self._delete_saved(queue, handed)
                try:
                    connect = getattr(queue, "connect", None)
                    if connect is not None:  # the AWS connection read one lookup at a time (see AwsSqsQueue.connect)
                        await connect()
                    messages = await queue.receive(self._receive_wait(handed))
                except Exception as exc:  # credentials, network, a deleted queue: retried, never the end
                    self.counts["failures"] += 1
                    if not unreadable:
                        log.warning("Cannot read SQS queue %s (retrying in %g s): %s", self.sqs_queue, retry, _short(exc))
                        unreadable = True
                    await asyncio.sleep(retry)
                    retry = min(retry * 2, LAST_RETRY_SECONDS)
                    continue
                if unreadable:
                    log.info("SQS queue %s can be read again", self.sqs_queue)
                    retry, unreadable = FIRST_RETRY_SECONDS, False
                for message in messages:
                    self.counts["received"] += 1
                    event = self._judge(message)
                    if event is _LEAVE:
                        self.counts["left"] += 1
                        continue
                    if event is _DROP:
                        await _settle(queue, message)
                        continue
                    assert isinstance(event, IcaEvent)
                    settled = [message]
                    if self._groups is not None:
                        grouped = self._groups.add(event, message)
                        if grouped is None:  # left on the queue: it comes back, and is held again
                            self.counts["held"] += 1
                            continue
                        event, settled = grouped
                    yield TriggerEvent(event.payload())
                    self.counts["yielded"] += 1
                    for file in event.files or (event,):
                        self._recent.add(file.key)
                    handed.extend((type(self).clock(), m) for m in settled)
        finally:
            # Messages still in ``handed`` come back after the visibility timeout (see the module doc).
            for key in claimed:
                if _OWNERS.get(key) == id(self):
                    del _OWNERS[key]

    async def _delete_saved(self, queue: SqsQueue, handed: deque[tuple[float, Received]]) -> None:
        now = type(self).clock()
        while handed and now - handed[0][0] >= SAVED_AFTER_SECONDS:
            await _settle(queue, handed.popleft()[1])

    def _receive_wait(self, handed: deque[tuple[float, Received]]) -> int:
        """The long poll: shorter while a message waits to be deleted, so that it is deleted in time."""
        if not handed:
            return self.wait_time_seconds
        due = SAVED_AFTER_SECONDS - (type(self).clock() - handed[0][0])
        return max(1, min(self.wait_time_seconds, math.ceil(due)))

    def _judge(self, message: Received) -> IcaEvent | object:
        """The event to yield, ``_DROP`` (delete the message) or ``_LEAVE`` (another reader's)."""
        event = parse_event(message.body)
        if isinstance(event, Rejected):
            if event.event_code and event.event_code not in self.filter.event_codes:
                # Another reader's (the waits' parse what this one cannot): never this watcher's to drop.
                return self._leave(event.event_code, message)
            self.counts["rejected"] += 1
            text = f"Dropping SQS message %.40s ({event.kind}): {event.reason}"
            self._log_once(event.kind, event.event_code, text, message, logging.WARNING)
            return _DROP
        if event.event_code not in self.filter.event_codes:
            return self._leave(event.event_code, message)
        groups = self._groups
        if not self.filter.matches(event) or (groups is not None and (groups.key(event) is None or groups.stale(event))):
            self.counts["filtered"] += 1
            return _DROP
        if event.key in self._recent:
            self.counts["duplicates"] += 1
            return _DROP
        return event

    async def _claim(self) -> list[tuple[str, str]]:
        """This watcher's codes on its queue, once no other watcher in this process reads them."""
        keys = [(self.sqs_queue, code) for code in self.filter.event_codes]
        warned = False
        while taken := [key for key in keys if _OWNERS.get(key, id(self)) != id(self)]:
            if not warned:  # a replaced watcher not yet stopped, or two watchers of one code: wait, say so once
                log.warning(
                    "Another asset watcher in this triggerer reads %s from %s: this one waits until it stops."
                    " Two watchers of one code on one queue would delete events the other needs; give each"
                    " its own queue (docs/asset-watchers.md).", taken[0][1], self.sqs_queue,
                )
                warned = True
            await asyncio.sleep(CLAIM_RETRY_SECONDS)
        for key in keys:
            _OWNERS[key] = id(self)
        return keys

    def _leave(self, code: str, message: Received) -> object:
        text = f"Leaving SQS message %.40s of {code[:40]} on the queue for its reader (not a code of this watcher)"
        self._log_once("left", code, text, message, logging.INFO)
        return _LEAVE

    def _log_once(self, kind: str, code: str | None, text: str, message: Received, level: int) -> None:
        key = (kind, code)
        if key in self._logged or len(self._logged) >= _LOGGED_MAX:
            log.debug(text, message.message_id)
            return
        self._logged.add(key)
        log.log(level, text + " (logged once per kind)", message.message_id)


_DROP = object()
_LEAVE = object()


async def _settle(queue: SqsQueue, message: Received) -> None:
    try:
        await queue.delete(message.receipt)
    except Exception as exc:  # it comes back after its visibility timeout: the recent keys drop it then
        log.debug("Could not delete SQS message %.40s: %s", message.message_id, _short(exc))


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _ERROR_MAX else text[: _ERROR_MAX - 1] + "…"
