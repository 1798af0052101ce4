"""The fake's notification sender: every transition of a subscribed project's batches, to SQS.

``watch(batch)`` (called by the backend when a batch is created) does nothing unless the
batch's project has an enabled subscription of a code the fake emits; then the batch's job
and analyses are followed. ``pump()`` turns the transitions that are due on the backend's
clock into messages, applies the faults, and hands the messages that are due to a
background sender through a bounded queue (a full queue drops the message and counts it:
request handling never waits for SQS). A ticker thread pumps every ``notify_tick_seconds``;
tests call ``flush()``, which pumps and returns once the sender has handled what was due.

Faults, drawn from one seeded generator in transition order (so a seed repeats a run
whatever the pump timing; four draws and a correlation id per message, used or not):
``notify_drop_rate`` (lost), ``notify_duplicate_rate`` (sent twice),
``notify_delay_seconds`` (every message that much later), ``notify_reorder_seconds``
(each message up to that much later again, so neighbours swap), ``notify_v3_rate`` (a V3
payload whatever the subscription asked), and an outage (messages due in
``[notify_outage_start_seconds, + notify_outage_seconds)`` after the server started fail).

boto3 is imported by the sender only when a message is due, so the fake needs it only for
projects that subscribe.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import math
import queue
import random
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ica_airflow_provider.testing.config import FakeIcaConfig
from ica_airflow_provider.testing.entities import (
    JOB_FAILED,
    JOB_PARTIALLY_SUCCEEDED,
    JOB_STOPPED,
    JOB_SUCCEEDED,
    Batch,
    Item,
)
from ica_airflow_provider.testing.lifecycle import is_terminal
from ica_airflow_provider.testing.notifications import ANALYSIS_OUTCOME_CODES, NotificationStore, Target
from ica_airflow_provider.testing.render import Renderer
from ica_airflow_provider.testing.transitions import (
    Transition,
    analysis_timeline,
    event_message,
    job_timeline,
)

log = logging.getLogger(__name__)

COUNTERS = (
    "transitions", "data_events", "messages", "sent", "dropped", "duplicated", "delayed", "v3", "failed", "overflowed",
)
_JOB_TERMINAL = frozenset({JOB_SUCCEEDED, JOB_PARTIALLY_SUCCEEDED, JOB_FAILED, JOB_STOPPED})
_STOP = object()
# Messages sent in one SendMessageBatch (SQS's most), their bodies within its 256 KiB a request.
SEND_BATCH = 10
SEND_BATCH_BYTES = 256 * 1024
# What builds one message: (payload version or None, wall time, correlation id) -> the event JSON.
Build = Callable[[str | None, float, str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message due at ``due`` (backend clock) for one queue."""

    due: float
    target: Target
    body: str


class NotificationEmitter:
    """Follows subscribed batches and publishes their transitions; see the module docstring."""

    def __init__(
        self,
        config: FakeIcaConfig,
        store: NotificationStore,
        now: Callable[[], float],
        to_wall: Callable[[float], float],
    ) -> None:
        for name in ("notify_drop_rate", "notify_duplicate_rate", "notify_v3_rate"):
            if not 0.0 <= getattr(config, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(config, name)}")
        if min(config.notify_delay_seconds, config.notify_reorder_seconds, config.notify_outage_seconds) < 0:
            raise ValueError("notify_delay_seconds, notify_reorder_seconds and notify_outage_seconds must not be negative")
        if config.notify_queue_size < 1:
            raise ValueError(f"notify_queue_size must be at least 1, got {config.notify_queue_size}")
        self._config = config
        self._store = store
        self._now = now
        self._to_wall = to_wall
        self._renderer = Renderer(to_wall)
        self.seed = config.notify_seed if config.notify_seed is not None else random.randrange(2**32)
        self._rng = random.Random(self.seed)
        start = now() + config.notify_outage_start_seconds
        self.outage: tuple[float, float] = (start, start + config.notify_outage_seconds)
        self._lock = threading.RLock()
        self._order = itertools.count()  # unique heap tie-breaker
        # A record's rank (its registration order) orders transitions of one instant: stable
        # however often the record was looked at, so the fault draws do not depend on pumping.
        self._rank: dict[int, int] = {}
        self._ranks = itertools.count()
        self._subjects: list[tuple[float, int, int, Item | Batch]] = []  # (next check, rank, order, record)
        self._next: dict[int, float] = {}  # id(record) -> its live entry in _subjects
        self._last: dict[int, tuple[float, str]] = {}  # id(record) -> last transition published
        self._pending: list[tuple[float, int, Outgoing]] = []
        self._inbox: deque[tuple[Item | Batch, float, bool]] = deque()  # (record, when, new batch?)
        self._queue: queue.Queue[Any] = queue.Queue(config.notify_queue_size)
        self._done = threading.Condition()
        self._handed = 0  # messages put on the queue
        self._handled = 0  # messages the sender finished with
        self._clients: dict[tuple[str, str], Any] = {}
        self.counts: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self.last_error: str | None = None
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        self._start_lock = threading.Lock()

    # --- what the backend calls ---------------------------------------------------------------

    # Both only note the record for the next pump: a request never waits for a pump in progress.

    def watch(self, batch: Batch) -> None:
        """Follow a new batch if its project subscribes (cheap and silent otherwise)."""
        if not self._store.has_subscriptions(batch.project_id):
            return
        self._inbox.append((batch, self._now(), True))
        self._start()

    def changed(self, record: Item | Batch) -> None:
        """A record's timeline changed now (an abort, a job stop): look at it on the next pump."""
        if self._threads:  # else nothing is followed (no batch was watched), and nothing would drain it
            self._inbox.append((record, self._now(), False))

    def clear(self) -> None:
        """Forget every followed record and pending message (the backend's ``reset``)."""
        with self._lock:
            self._subjects, self._next, self._last, self._pending, self._rank = [], {}, {}, [], {}
            self._inbox.clear()

    # --- pumping ---------------------------------------------------------------------------

    def pump(self) -> int:
        """Publish what is due on the backend's clock; returns how many messages went to the sender."""
        with self._lock:
            now = self._now()
            self._take_inbox()
            transitions = self._due_transitions(now)
            for transition in transitions:
                self._publish(transition)
            return self._release(now)

    def flush(self, timeout: float = 10.0) -> bool:
        """Pump, then wait until the sender has handled every message handed to it; False on timeout."""
        self.pump()
        with self._done:
            return self._done.wait_for(lambda: self._handled >= self._handed, timeout)

    @property
    def running(self) -> bool:
        """Whether the ticker and sender threads run (only once a subscribed project ran a batch)."""
        return bool(self._threads)

    def stats(self) -> dict[str, Any]:
        """Counters (see ``COUNTERS``), messages still pending or queued, the seed and the last send error."""
        with self._lock:
            return {
                **self.counts,
                "pending": len(self._pending),
                "queued": self._handed - self._handled,
                "seed": self.seed,
                "last_error": self.last_error,
            }

    def close(self) -> None:
        """Stop the ticker and the sender (messages not sent yet are lost, as in a crash)."""
        with self._start_lock:
            self._closing.set()
            if self._threads:
                with contextlib.suppress(queue.Full):  # full: the sender sees _closing after its next message
                    self._queue.put_nowait(_STOP)
            for thread in self._threads:
                thread.join(timeout=5)
            self._threads = []
            self._closing = threading.Event()  # a later watch() starts them again

    def _take_inbox(self) -> None:
        while self._inbox:
            record, at, new = self._inbox.popleft()
            if new:
                assert isinstance(record, Batch)
                self._schedule(record, at)
                for item in record.items:
                    if not math.isinf(item.created_at):  # a stop-job marker's item may never be created
                        self._schedule(item, item.created_at)
            elif id(record) in self._next or id(record) in self._last:
                self._schedule(record, at)

    def _schedule(self, record: Item | Batch, at: float) -> None:
        key = id(record)
        if key in self._next and self._next[key] <= at:
            return  # already looked at no later than that
        self._next[key] = at
        rank = self._rank.get(key)
        if rank is None:
            rank = self._rank[key] = next(self._ranks)
        heapq.heappush(self._subjects, (at, rank, next(self._order), record))

    def _due_transitions(self, now: float) -> list[tuple[float, int, Transition]]:
        found: list[tuple[float, int, Transition]] = []
        while self._subjects and self._subjects[0][0] <= now:
            at, rank, _, record = heapq.heappop(self._subjects)
            key = id(record)
            if self._next.get(key) != at:
                continue  # superseded by an earlier or later entry
            del self._next[key]
            terminal: Callable[[str], bool] = is_terminal if isinstance(record, Item) else _JOB_TERMINAL.__contains__
            timeline = analysis_timeline(record) if isinstance(record, Item) else job_timeline(record)
            last = self._last.get(key)
            upcoming: float | None = None
            for t, status in timeline:
                if t > now:
                    upcoming = t
                    break
                if last is not None and (t < last[0] or (t == last[0] and status == last[1])):
                    continue
                previous = None if last is None else last[1]
                if isinstance(record, Item):
                    transition = Transition(t, previous, status, item=record)
                else:
                    transition = Transition(t, previous, status, batch=record)
                found.append((t, rank, transition))
                last = (t, status)
            if upcoming is not None and not (last is not None and terminal(last[1])):
                if last is not None:
                    self._last[key] = last
                self._schedule(record, upcoming)
            else:  # terminal, or never to exist (a failed creation, a stopped job): forget it
                self._last.pop(key, None)
                self._rank.pop(key, None)
        found.sort(key=lambda entry: (entry[0], entry[1]))
        return found

    def _publish(self, entry: tuple[float, int, Transition]) -> None:
        t, _, transition = entry
        self.counts["transitions"] += 1
        codes = [transition.event_code]
        if transition.item is not None and transition.status in ANALYSIS_OUTCOME_CODES:
            codes.append(ANALYSIS_OUTCOME_CODES[transition.status])  # ICA_EXEC_002 and co., as ICA sends both
        for code in codes:
            self._send_event(
                t,
                transition.project_id,
                code,
                lambda version, wall, correlation, code=code: event_message(  # type: ignore[misc]
                    transition, self._renderer, wall, correlation, version, code
                ),
            )

    def announce(self, project_id: str, event_code: str, build: Build) -> bool:
        """Publish one event now (the data events): the same faults, the same sender; False if no queue subscribes."""
        with self._lock:
            if not self._store.targets(project_id, event_code):
                return False
            self.counts["data_events"] += 1
            self._send_event(self._now(), project_id, event_code, build)
        self._start()
        return True

    def _send_event(self, t: float, project_id: str, event_code: str, build: Build) -> None:
        config = self._config
        for target in self._store.targets(project_id, event_code):
            rng = self._rng
            drop, duplicate, jitter, v3 = rng.random(), rng.random(), rng.random(), rng.random()
            correlation = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            self.counts["messages"] += 1
            if drop < config.notify_drop_rate:
                self.counts["dropped"] += 1
                continue
            version = target.payload_version
            if v3 < config.notify_v3_rate or version != "V4":
                version = "V3" if version is not None or v3 < config.notify_v3_rate else None
                self.counts["v3"] += 1
            message = build(version, self._to_wall(t), correlation)
            delay = config.notify_delay_seconds + jitter * config.notify_reorder_seconds
            if delay > 0:
                self.counts["delayed"] += 1
            outgoing = Outgoing(t + delay, target, json.dumps(message, separators=(",", ":")))
            copies = 2 if duplicate < config.notify_duplicate_rate else 1
            self.counts["duplicated"] += copies - 1
            for _ in range(copies):
                heapq.heappush(self._pending, (outgoing.due, next(self._order), outgoing))

    def _release(self, now: float) -> int:
        released = 0
        start, end = self.outage
        while self._pending and self._pending[0][0] <= now:
            due, _, outgoing = heapq.heappop(self._pending)
            if start <= due < end:
                self.counts["failed"] += 1
                self.last_error = "outage (notify_outage_start_seconds/notify_outage_seconds)"
                continue
            try:
                self._queue.put_nowait(outgoing)
            except queue.Full:
                self.counts["overflowed"] += 1
                continue
            with self._done:
                self._handed += 1
            released += 1
        return released

    # --- threads ---------------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._threads or self._closing.is_set():
                return
            closing = self._closing  # each generation of threads stops on its own event
            self._threads = [
                threading.Thread(target=self._tick, args=(closing,), name="fake-ica-notify-ticker", daemon=True),
                threading.Thread(target=self._send_loop, args=(closing,), name="fake-ica-notify-sender", daemon=True),
            ]
            for thread in self._threads:
                thread.start()

    def _tick(self, closing: threading.Event) -> None:
        while not closing.wait(self._config.notify_tick_seconds):
            try:
                self.pump()
            except Exception:  # a bug here must not kill the ticker; the sender reports sends
                log.exception("fake ICA: pumping notifications failed")

    def _send_loop(self, closing: threading.Event) -> None:
        while True:
            outgoing = self._queue.get()
            if closing.is_set():
                return
            if outgoing is _STOP:
                continue  # left by an earlier generation's close()
            batch, stop = self._more(outgoing, SEND_BATCH)
            for target, entries in _sends(batch):
                self._send(target, entries)
            with self._done:
                self._handled += len(batch)
                self._done.notify_all()
            if stop and closing.is_set():
                return

    def _more(self, first: Outgoing, most: int) -> tuple[list[Outgoing], bool]:
        """``first`` and what else waits to be sent, without waiting for more; whether a stop came too."""
        batch = [first]
        while len(batch) < most:
            try:
                outgoing = self._queue.get_nowait()
            except queue.Empty:
                break
            if outgoing is _STOP:
                return batch, True
            batch.append(outgoing)
        return batch, False

    def _send(self, target: Target, entries: list[Outgoing]) -> None:
        """One ``SendMessageBatch`` (a burst of transitions costs a tenth of the calls); each failure counted."""
        try:
            answer = self._client(target).send_message_batch(
                QueueUrl=target.queue_url,
                Entries=[{"Id": str(i), "MessageBody": o.body} for i, o in enumerate(entries)],
            )
        except Exception as exc:  # any failure is a failed delivery, as ICA lists them
            with self._lock:
                self.counts["failed"] += len(entries)
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return
        failed = answer.get("Failed") or []
        with self._lock:
            self.counts["sent"] += len(answer.get("Successful") or [])
            self.counts["failed"] += len(failed)
            if failed:
                self.last_error = f"{failed[0].get('Code')}: {failed[0].get('Message')}"

    def _client(self, target: Target) -> Any:
        endpoint, region = sqs_endpoint(target.queue_url, self._config.sqs_endpoint_url, target.aws_region)
        client = self._clients.get((endpoint, region))
        if client is None:
            try:
                import boto3
            except ImportError:
                raise RuntimeError(
                    "boto3 is not installed: the fake ICA needs it to send notifications to SQS"
                    " (pip install 'ica-airflow-provider[fake-sqs]')"
                ) from None
            session = boto3.session.Session()
            keys: dict[str, str] = {}
            if session.get_credentials() is None:  # a local SQS (moto) takes any key
                keys = {"aws_access_key_id": "fake", "aws_secret_access_key": "fake"}
            client = session.client("sqs", endpoint_url=endpoint, region_name=region, **keys)
            self._clients[(endpoint, region)] = client
        return client


def _sends(batch: list[Outgoing]) -> list[tuple[Target, list[Outgoing]]]:
    """The batch as sends: one queue each, in order, each request's bodies within SQS's limit."""
    by_queue: dict[Target, list[Outgoing]] = {}
    for outgoing in batch:
        by_queue.setdefault(outgoing.target, []).append(outgoing)
    sends: list[tuple[Target, list[Outgoing]]] = []
    for target, queued in by_queue.items():
        entries: list[Outgoing] = []
        size = 0
        for outgoing in queued:
            body = len(outgoing.body.encode())
            if entries and size + body > SEND_BATCH_BYTES:
                sends.append((target, entries))
                entries, size = [], 0
            entries.append(outgoing)
            size += body
        sends.append((target, entries))
    return sends


def sqs_endpoint(queue_url: str, endpoint_url: str | None, region: str | None) -> tuple[str, str]:
    """The SQS endpoint and region to send to ``queue_url`` (the channel's address)."""
    parts = urlsplit(queue_url)
    host = parts.hostname or ""
    if region is None and host.startswith("sqs.") and host.endswith(".amazonaws.com"):
        region = host.split(".")[1]
    return endpoint_url or f"{parts.scheme}://{parts.netloc}", region or "us-east-1"
