"""The drivers' side of :class:`~ica_airflow_provider.core.messages.AwaitToken`: park until the mint is over.

Each waiter registers a wake-up with the token cache before checking whether the mint
is already over, so a mint that ends in between is never missed. ``action.seconds`` (the
time left on the minter's lease) bounds the wait: a vanished minter cannot hold anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from ica_airflow_provider.core.messages import AwaitToken


def wait_for_token(action: AwaitToken) -> None:
    """The blocking driver's way: this thread sleeps until the mint is over.

    A mint held by this very thread (a task's ``on_kill``, run in a signal handler while
    the task was minting) would never end while we wait: it is given up instead.
    """
    if action.lease.owner == threading.get_ident():
        action.tokens.abandon(action.lease)
        return
    woken = threading.Event()
    with action.tokens.watch(woken.set):
        if not action.settled():
            woken.wait(action.seconds)


async def await_token(action: AwaitToken) -> None:
    """The asyncio driver's way: this task awaits the end of the mint; the loop runs on."""
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    def wake() -> None:
        # The mint usually ends on this very loop; from another thread, hand it over.
        if _running_loop() is loop:
            woken.set()
        else:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody to wake
                loop.call_soon_threadsafe(woken.set)

    with action.tokens.watch(wake):
        if not action.settled():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(woken.wait(), action.seconds)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
