"""One notification consumer per (queue URL, AWS connection, event loop), however many waits.

A :class:`Consumer` long-polls its queue in a task of its own (no wait owns it: cancelling
a wait never stops it), parses each message once (``core/notifications.parse_message``)
and hands each hint to every :class:`Subscription` it concerns (by analysis id, job id or
technical tag), then deletes it. A hint no subscription wants is remembered (bounded, the
newest per id) for a wait that learns its ids later, and made visible again for another
process's consumer; after ``MAX_RECEIVES`` receives it is deleted. One that concerns a batch
whose wait here saw every analysis end (a subscription closed ``finished``) is not remembered,
but goes round for other processes all the same. Malformed, oversized or
foreign messages are logged (one bounded line) and deleted, except the events an asset watcher
reads (``core/ica_events.EVENT_CODES``, the data events and analysis outcomes): those are
left untouched for the watcher sharing the queue (they come back after the visibility
timeout). A queue that cannot be read marks every subscription unavailable (its wait polls
meanwhile), is logged once per outage, and is retried with backoff. ``IDLE_SECONDS`` after its last subscription closed the
consumer stops and leaves the registry. The waits subscribe through ``hooks/hint_sources.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from collections.abc import Set as AbstractSet
from datetime import datetime
from types import TracebackType
from typing import Final

from ica_airflow_provider.core.ica_events import EVENT_CODES as WATCHER_CODES
from ica_airflow_provider.core.notifications import (
    FOREIGN,
    AnalysisHint,
    Hint,
    JobHint,
    Rejected,
    parse_message,
)
from ica_airflow_provider.hooks.sqs_queue import MAX_WAIT_SECONDS, AwsSqsQueue, Received, SqsQueue

log = logging.getLogger(__name__)

# A consumer with no subscription stops after this long on its clock: a triggerer's waits
# come and go, and the next one would otherwise pay a new client and an empty first poll.
IDLE_SECONDS: Final = 60.0
# A message no subscription in this process wants is made visible again this many times
# (for a consumer in another process), then deleted: SQS would keep it for days otherwise.
MAX_RECEIVES: Final = 3
# Hints remembered for ids no subscription has claimed yet (newest per id).
REMEMBERED: Final = 4096
# Ids and tags of batches whose waits here saw every analysis end: their later messages
# (duplicates, the job's last word) are not remembered; they still go round for other processes.
FINISHED_KEYS: Final = 16384
# Hints a subscription holds until its wait takes them; beyond, the oldest go and the
# subscription says it overflowed (its wait must list the batch to catch up).
SUBSCRIPTION_BUFFER: Final = 1024
FIRST_RETRY_SECONDS: Final = 1.0
LAST_RETRY_SECONDS: Final = 60.0
_ERROR_MAX = 200
_NONE: Final[frozenset[str]] = frozenset()
DELETE: Final = "delete"
RELEASE: Final = "release"


class Signal:
    """``asyncio.Event`` for a subscription, its waiters in a tuple: the Event's deque is 760 bytes.

    A triggerer holds one per woken wait, and that deque alone was more than the rest of the
    subscription; a tuple of the usual one waiter is 48.
    """

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: tuple[asyncio.Future[None], ...] = ()

    def __repr__(self) -> str:
        return f"Signal({'set' if self._set else 'clear'}, waiters={len(self._waiters)})"

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        for future in self._waiters:
            if not future.done():
                future.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        """Until :meth:`set` (at once if it is); ``True``, as ``asyncio.Event.wait``. One event loop only."""
        if self._set:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters = (*self._waiters, future)
        try:
            await future
        finally:
            self._waiters = tuple(f for f in self._waiters if f is not future)
        return True


class Subscription:
    """One wait's interest in a consumer's hints; close it (or leave its ``with``) when the wait ends.

    ``woken`` is set whenever something changed (a hint arrived, the queue became
    unreadable or readable again); :meth:`take` returns the pending hints and clears it.
    Small on purpose (a triggerer holds one per woken wait): what it follows starts as an
    empty frozenset (one for all), its pending hints as ``None``.
    """

    __slots__ = (
        "_buffer", "_pending", "analysis_ids", "available", "closed", "consumer", "job_ids", "overflowed", "tags", "woken",
    )

    def __init__(self, consumer: Consumer, buffer: int = SUBSCRIPTION_BUFFER) -> None:
        self.consumer = consumer
        self.analysis_ids: AbstractSet[str] = _NONE
        self.job_ids: AbstractSet[str] = _NONE
        self.tags: AbstractSet[str] = _NONE
        self.woken = Signal()
        self.available = consumer.available
        self.overflowed = False
        self.closed = False
        self._buffer = buffer
        self._pending: deque[Hint] | None = None
        if not self.available:
            self.woken.set()  # its wait must hear it at once, and poll, not sleep a reconcile interval

    def __repr__(self) -> str:
        return (
            f"Subscription(analyses={len(self.analysis_ids)}, jobs={len(self.job_ids)}, tags={len(self.tags)}, "
            f"pending={len(self._pending or ())}, available={self.available})"
        )

    def watch(
        self, analysis_ids: Iterable[str] = (), job_ids: Iterable[str] = (), tags: Iterable[str] = ()
    ) -> None:
        """Add ids to follow; hints remembered for them are pending at once."""
        self.consumer._watch(self, set(analysis_ids), set(job_ids), set(tags))

    def take(self) -> list[Hint]:
        """The hints delivered since the last call, oldest first; clears ``woken`` and ``overflowed``."""
        hints, self._pending = list(self._pending or ()), None
        self.overflowed = False
        self.woken.clear()
        return hints

    def close(self, *, finished: bool = False) -> None:
        """Stop receiving hints (idempotent); the consumer carries on for the others.

        ``finished``: every analysis the wait followed has ended (``BatchTracker.settled``):
        the consumer does not remember the later messages of its ids and tags.
        """
        if not self.closed:
            self.closed = True
            if finished:
                self.consumer._finish(self)
            self.consumer._unsubscribe(self)
            self.woken.set()  # a sleep still on it (its wait was interrupted) ends now

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _deliver(self, hint: Hint) -> None:
        if self._pending is None:
            self._pending = deque(maxlen=self._buffer)
        if len(self._pending) == self._pending.maxlen:
            self.overflowed = True
        self._pending.append(hint)
        self.woken.set()

    def _set_available(self, available: bool) -> None:
        self.available = available
        self.woken.set()


class Consumer:
    """A queue's long poll and its routing table, on one event loop."""

    def __init__(
        self,
        queue: SqsQueue,
        *,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        idle_seconds: float = IDLE_SECONDS,
        wait_seconds: int = MAX_WAIT_SECONDS,
        max_receives: int = MAX_RECEIVES,
        remembered: int = REMEMBERED,
        on_stop: Callable[[Consumer], None] | None = None,
    ) -> None:
        self.queue = queue
        self.name = name or repr(queue)
        self.clock = clock
        self.sleep = sleep
        self.idle_seconds = idle_seconds
        self.wait_seconds = min(wait_seconds, MAX_WAIT_SECONDS)
        self.max_receives = max_receives
        self.available = True
        self.stopped = asyncio.Event()
        self.counts: dict[str, int] = {
            "receives": 0, "messages": 0, "delivered": 0, "released": 0, "dropped": 0, "rejected": 0, "left": 0,
            "finished": 0, "failures": 0,
        }
        self._remembered_max = remembered
        self._remembered: OrderedDict[tuple[str, str], Hint] = OrderedDict()
        self._finished: dict[str, None] = {}  # "analysis:<id>", "job:<id>", "tag:<tag>", oldest first
        self._subscriptions: set[Subscription] = set()
        # Who follows each id: a tuple (48 bytes for the usual one subscription; a set is 216).
        self._by_analysis: dict[str, tuple[Subscription, ...]] = {}
        self._by_job: dict[str, tuple[Subscription, ...]] = {}
        self._by_tag: dict[str, tuple[Subscription, ...]] = {}
        self._idle_since: float | None = clock()
        self._on_stop = on_stop
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Consumer({self.name}, subscriptions={len(self._subscriptions)}, available={self.available})"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the long poll in a task of its own on the running loop (no wait's task owns it)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"ica-sqs-consumer {self.name}")

    async def aclose(self) -> None:
        """Stop at once (tests; a process shutting down)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._stop()

    def subscribe(
        self, analysis_ids: Iterable[str] = (), job_ids: Iterable[str] = (), tags: Iterable[str] = ()
    ) -> Subscription:
        """A new subscription; hints remembered for its ids are pending in it at once."""
        subscription = Subscription(self)
        self._subscriptions.add(subscription)
        self._idle_since = None
        subscription.watch(analysis_ids, job_ids, tags)
        return subscription

    # -- routing ----------------------------------------------------------------------------

    def _watch(self, subscription: Subscription, analysis_ids: set[str], job_ids: set[str], tags: set[str]) -> None:
        if subscription.closed:
            return
        analysis_ids -= subscription.analysis_ids  # hints for ids already followed were delivered then
        job_ids -= subscription.job_ids
        tags -= subscription.tags
        for ids, index, kind in (
            (analysis_ids, self._by_analysis, "analysis_ids"),
            (job_ids, self._by_job, "job_ids"),
            (tags, self._by_tag, "tags"),
        ):
            if not ids:
                continue
            for key in ids:
                index[key] = (*index.get(key, ()), subscription)
            mine = getattr(subscription, kind)
            if mine is _NONE:
                setattr(subscription, kind, set(ids))  # its first
            else:
                mine |= ids
        for (kind, key), hint in list(self._remembered.items()):
            if (
                (kind == "analysis" and key in analysis_ids)
                or (kind == "job" and key in job_ids)
                or (isinstance(hint, AnalysisHint) and not tags.isdisjoint(hint.technical_tags))
            ):
                subscription._deliver(hint)

    def _unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        for ids, index in (
            (subscription.analysis_ids, self._by_analysis),
            (subscription.job_ids, self._by_job),
            (subscription.tags, self._by_tag),
        ):
            for key in ids:
                others = tuple(s for s in index.get(key, ()) if s is not subscription)
                if others:
                    index[key] = others
                else:
                    index.pop(key, None)
        if not self._subscriptions:
            self._idle_since = self.clock()

    def _finish(self, subscription: Subscription) -> None:
        # A batch's tag stands for all its analyses: only an untagged wait's analysis ids are kept.
        analyses = () if subscription.tags else subscription.analysis_ids
        for kind, keys in (("analysis", analyses), ("job", subscription.job_ids), ("tag", subscription.tags)):
            for key in keys:
                self._finished.pop(f"{kind}:{key}", None)
                self._finished[f"{kind}:{key}"] = None
        while len(self._finished) > FINISHED_KEYS:
            del self._finished[next(iter(self._finished))]

    def _of_finished(self, hint: Hint) -> bool:
        if isinstance(hint, JobHint):
            return f"job:{hint.job_id}" in self._finished
        return f"analysis:{hint.analysis_id}" in self._finished or any(
            f"tag:{tag}" in self._finished for tag in hint.technical_tags
        )

    def _concerned(self, hint: Hint) -> set[Subscription]:
        if isinstance(hint, JobHint):
            return set(self._by_job.get(hint.job_id, ()))
        found = set(self._by_analysis.get(hint.analysis_id, ()))
        for tag in hint.technical_tags:
            found.update(self._by_tag.get(tag, ()))
        return found

    def _remember(self, hint: Hint) -> None:
        key = ("job", hint.job_id) if isinstance(hint, JobHint) else ("analysis", hint.analysis_id)
        known = self._remembered.get(key)
        if isinstance(known, AnalysisHint) and isinstance(hint, AnalysisHint) and _older(hint, known):
            return  # a late duplicate or a reordered message: the newer state stays
        self._remembered[key] = hint
        self._remembered.move_to_end(key)
        while len(self._remembered) > self._remembered_max:
            self._remembered.popitem(last=False)

    # -- the long poll ----------------------------------------------------------------------

    def _idle_over(self) -> bool:
        return self._idle_since is not None and self.clock() - self._idle_since >= self.idle_seconds

    async def _run(self) -> None:
        retry = FIRST_RETRY_SECONDS
        try:
            while not self._idle_over():
                try:
                    messages = await self.queue.receive(self.wait_seconds)
                except Exception as exc:  # credentials, network, a deleted queue: the waits poll meanwhile
                    self.counts["failures"] += 1
                    self._unreadable(exc, retry)
                    await self.sleep(retry)
                    retry = min(retry * 2, LAST_RETRY_SECONDS)
                    continue
                retry = FIRST_RETRY_SECONDS
                self.counts["receives"] += 1
                if not self.available:
                    self._readable()
                deletes: list[Received] = []
                releases: list[Received] = []
                for message in messages:
                    decision = self._handle(message)
                    if decision is not None:
                        (deletes if decision == DELETE else releases).append(message)
                # One call each for the whole receive: an SQS call per message would cost more
                # than the long poll itself when a burst comes.
                await self._settle(self.queue.delete_batch, deletes)
                await self._settle(self.queue.release_batch, releases)
        finally:
            self._stop()

    def _handle(self, message: Received) -> str | None:
        """Deliver or remember the message's hint; whether to delete the message or release it."""
        self.counts["messages"] += 1
        hint = parse_message(message.body)
        if isinstance(hint, Rejected):
            if hint.kind == FOREIGN and hint.event_code in WATCHER_CODES:
                # An asset watcher's event on a shared queue: left for it (back after the visibility timeout).
                self.counts["left"] += 1
                return None
            self.counts["rejected"] += 1
            log.warning("Dropping SQS message %.40s from %s (%s): %s", message.message_id, self.name, hint.kind, hint.reason)
            return DELETE
        concerned = self._concerned(hint)
        if concerned:
            for subscription in concerned:
                subscription._deliver(hint)
            self.counts["delivered"] += 1
            return DELETE
        if self._of_finished(hint):
            self.counts["finished"] += 1  # no wait here will want it: not remembered (room for those that may)
        else:
            self._remember(hint)
        if message.receive_count > self.max_receives:
            self.counts["dropped"] += 1
            return DELETE
        self.counts["released"] += 1
        return RELEASE

    async def _settle(self, call: Callable[[list[str]], Awaitable[int]], messages: list[Received]) -> None:
        if not messages:
            return
        try:
            failed = await call([m.receipt for m in messages])
        except Exception as exc:  # the messages come back after their visibility timeout: duplicates at worst
            log.debug("Could not settle %d SQS messages from %s: %s", len(messages), self.name, _short(exc))
        else:
            if failed:
                log.debug("Could not settle %d of %d SQS messages from %s", failed, len(messages), self.name)

    def _unreadable(self, exc: BaseException, retry: float) -> None:
        if self.available:
            log.warning(
                "Cannot read SQS queue %s; waits poll ICA until it can be read again (retrying in %g s): %s",
                self.name, retry, _short(exc),
            )
            self.available = False
            for subscription in self._subscriptions:
                subscription._set_available(False)
        else:
            log.debug("SQS queue %s still unreadable: %s", self.name, _short(exc))

    def _readable(self) -> None:
        log.info("SQS queue %s can be read again; notifications wake waits again", self.name)
        self.available = True
        for subscription in self._subscriptions:
            subscription._set_available(True)

    def _stop(self) -> None:
        if not self.stopped.is_set():
            self.stopped.set()
            if self._on_stop is not None:
                self._on_stop(self)


class ConsumerRegistry:
    """The process's consumers by (queue URL, AWS connection id, event loop)."""

    def __init__(self, make_queue: Callable[[str, str | None], SqsQueue] = AwsSqsQueue, **consumer_options: object) -> None:
        self.make_queue = make_queue
        self.consumer_options = consumer_options
        self._consumers: dict[tuple[str, str | None, asyncio.AbstractEventLoop], Consumer] = {}

    def __repr__(self) -> str:
        return f"ConsumerRegistry(consumers={len(self._consumers)})"

    def consumer(self, queue_url: str, aws_conn_id: str | None) -> Consumer:
        """The running consumer of the queue on this loop, started if there is none."""
        loop = asyncio.get_running_loop()
        for closed in [key for key in self._consumers if key[2].is_closed()]:
            del self._consumers[closed]
        key = (queue_url, aws_conn_id, loop)
        consumer = self._consumers.get(key)
        if consumer is None or consumer.stopped.is_set():
            consumer = Consumer(
                self.make_queue(queue_url, aws_conn_id),
                name=f"{queue_url} ({aws_conn_id})",
                on_stop=lambda stopped: self._forget(key, stopped),
                **self.consumer_options,  # type: ignore[arg-type]
            )
            self._consumers[key] = consumer
            consumer.start()
        return consumer

    def subscribe(
        self,
        queue_url: str,
        aws_conn_id: str | None,
        analysis_ids: Iterable[str] = (),
        job_ids: Iterable[str] = (),
        tags: Iterable[str] = (),
    ) -> Subscription:
        """A subscription to the queue's shared consumer (see :meth:`Consumer.subscribe`)."""
        return self.consumer(queue_url, aws_conn_id).subscribe(analysis_ids, job_ids, tags)

    def __len__(self) -> int:
        return len(self._consumers)

    async def aclose(self) -> None:
        """Stop every consumer (tests; a process shutting down)."""
        for consumer in list(self._consumers.values()):
            await consumer.aclose()
        self._consumers.clear()

    def _forget(self, key: tuple[str, str | None, asyncio.AbstractEventLoop], consumer: Consumer) -> None:
        if self._consumers.get(key) is consumer:
            del self._consumers[key]


CONSUMERS = ConsumerRegistry()


def _older(hint: AnalysisHint, than: AnalysisHint) -> bool:
    new, known = hint.time_modified, than.time_modified
    return isinstance(new, datetime) and isinstance(known, datetime) and new < known


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _ERROR_MAX else text[: _ERROR_MAX - 1] + "…"
