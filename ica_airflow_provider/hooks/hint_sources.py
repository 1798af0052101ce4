"""Where a wait's :class:`~ica_airflow_provider.core.messages.AwaitHints` is answered: its
subscription to the queue's one consumer in this process (``hooks/sqs_consumer.py``).

:func:`subscribed` is the triggerer's (the consumer runs on the trigger's event loop);
:func:`blocking_subscribed` a worker's (the operator's own wait, a poking sensor): the
consumers of a worker process run on one event loop in a thread of their own.
Without the Amazon provider (the ``events`` extra) a wait polls, and says why once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from ica_airflow_provider.core.messages import AwaitHints, Woken
from ica_airflow_provider.core.tracker import BatchTracker, Log
from ica_airflow_provider.core.wake import WakeOptions

if TYPE_CHECKING:
    from ica_airflow_provider.hooks.sqs_consumer import ConsumerRegistry, Subscription

T = TypeVar("T")


class SubscriptionHints:
    """:class:`~ica_airflow_provider.core.drive.AsyncHints` over one wait's subscription."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription

    def __repr__(self) -> str:
        return f"SubscriptionHints({self.subscription!r})"

    async def await_hints(self, action: AwaitHints) -> Woken:
        subscription = self.subscription
        if action.analysis_ids or action.job_ids or action.tags:
            subscription.watch(action.analysis_ids, action.job_ids, action.tags)
        if not subscription.woken.is_set() and action.seconds > 0:
            await _until(subscription.woken.wait(), action.seconds)
        available, overflowed = subscription.available, subscription.overflowed
        return Woken(tuple(subscription.take()), available, overflowed)


async def _until(awaitable: Coroutine[Any, Any, object], seconds: float) -> None:
    """Await it for at most ``seconds``. ``asyncio.timeout`` (3.11+) where it exists: unlike
    ``wait_for``, it makes no task of its own, and a woken wait sleeps in this most of its life."""
    if sys.version_info >= (3, 11):
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await awaitable
    else:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(awaitable, seconds)


def _registry(log: Log) -> ConsumerRegistry | None:
    try:
        import airflow.providers.amazon  # noqa: F401  (the queue is read with its SqsHook)

        from ica_airflow_provider.hooks.sqs_consumer import CONSUMERS
    except ImportError:
        log.warning(
            "ICA notifications need the Amazon provider (pip install 'ica-airflow-provider[events]');"
            " polling ICA instead"
        )
        return None
    return CONSUMERS


@contextlib.contextmanager
def _closed_after(subscription: Subscription, tracker: BatchTracker, close: Callable[[bool], object]) -> Iterator[None]:
    """Close the subscription when the wait is over: ``finished`` if it ended with nothing of its
    batch left to change (its later messages are no one's), not if it was interrupted."""
    try:
        yield
    except BaseException:
        close(False)
        raise
    close(tracker.settled())


@contextlib.asynccontextmanager
async def subscribed(
    options: WakeOptions | None, log: Log, tracker: BatchTracker
) -> AsyncIterator[SubscriptionHints | None]:
    """The wait's hints on this event loop, subscribed before its first poll; ``None``: it polls."""
    registry = _registry(log) if options is not None else None
    if options is None or registry is None:
        yield None
        return
    subscription = registry.subscribe(options.sqs_queue, options.aws_conn_id)
    with _closed_after(subscription, tracker, lambda finished: subscription.close(finished=finished)):
        yield SubscriptionHints(subscription)


class BlockingHints:
    """:class:`~ica_airflow_provider.core.drive.Hints` for a blocking wait: its subscription lives on the hint loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, hints: SubscriptionHints) -> None:
        self.loop = loop
        self.hints = hints

    def wait(self, action: AwaitHints) -> Woken:
        return _on_loop(self.hints.await_hints(action), self.loop)


def _on_loop(coroutine: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop) -> T:
    """``coroutine``'s result, run on ``loop``; cancelled there if this thread is interrupted (a kill)."""
    future = None
    try:
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        return future.result()
    except BaseException:
        if future is not None:
            future.cancel()  # else it would sleep on, up to a reconcile interval, for a wait that is gone
        raise


class DaemonCalls(ThreadPoolExecutor):
    """The hint loop's executor: each blocking call (a 20 s long poll) in a daemon thread of its own.

    The default executor's threads are joined when the interpreter exits, so a worker that ran
    a woken wait would wait for the consumer's last long poll, then log that the queue cannot
    be read (no new call is accepted after shutdown). Daemon threads end with the process.
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def call() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the awaiting coroutine, as an executor does
                future.set_exception(exc)

        threading.Thread(target=call, name="ica-notifications-call", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None  # nothing pooled; calls in flight end with the process


_LOOP_LOCK = threading.Lock()
_LOOP: asyncio.AbstractEventLoop | None = None


def hint_loop() -> asyncio.AbstractEventLoop:
    """This process's event loop for consumers of blocking waits, in a daemon thread (started once)."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None or _LOOP.is_closed():
            loop = asyncio.new_event_loop()
            loop.set_default_executor(DaemonCalls(max_workers=1))
            threading.Thread(target=loop.run_forever, name="ica-notifications", daemon=True).start()
            _LOOP = loop
        return _LOOP


def _forget_loop() -> None:
    """In a forked child: the parent's loop thread did not come along (a wait on it would hang forever)."""
    global _LOOP, _LOOP_LOCK
    _LOOP, _LOOP_LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_loop)


@contextlib.contextmanager
def blocking_subscribed(options: WakeOptions | None, log: Log, tracker: BatchTracker) -> Iterator[BlockingHints | None]:
    """:func:`subscribed` for a wait that blocks its thread."""
    registry = _registry(log) if options is not None else None
    if options is None or registry is None:
        yield None
        return
    loop = hint_loop()

    async def subscribe() -> Subscription:
        return registry.subscribe(options.sqs_queue, options.aws_conn_id)

    subscription = _on_loop(subscribe(), loop)
    with _closed_after(
        subscription, tracker, lambda finished: loop.call_soon_threadsafe(lambda: subscription.close(finished=finished))
    ):
        yield BlockingHints(loop, SubscriptionHints(subscription))
