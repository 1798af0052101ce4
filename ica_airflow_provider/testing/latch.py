"""A latch that parks requests inside the server until a test releases them.

Tests use it instead of sleeping: wait until the request has arrived (``wait_arrived``),
act while it is parked, then ``release()``. The server side awaits without blocking its
event loop, so other requests are served meanwhile.
"""

from __future__ import annotations

import asyncio
import threading


class Latch:
    """One-shot: parked requests wait until ``release()`` (or their timeout); later ones pass."""

    def __init__(self) -> None:
        self._condition = threading.Condition()  # test thread and server thread both use it
        self._open = False
        self._arrived = 0
        self._parked = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @property
    def arrived(self) -> int:
        """How many requests have reached the latch (parked or passed since)."""
        return self._arrived

    @property
    def parked(self) -> int:
        """How many requests are parked right now."""
        return self._parked

    async def park(self, timeout: float | None = None) -> None:
        """Server side: wait here until released or ``timeout`` seconds have passed."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._condition:
            self._arrived += 1
            self._condition.notify_all()
            if self._open:
                return
            self._parked += 1
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._condition:
                self._parked -= 1
                self._waiters.remove(waiter)

    def wait_arrived(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Test side: block until ``count`` requests have arrived; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: self._arrived >= count, timeout)

    def release(self) -> None:
        """Let every parked request go on, and every later one pass straight through."""
        with self._condition:
            self._open = True
            for loop, event in self._waiters:
                loop.call_soon_threadsafe(event.set)
