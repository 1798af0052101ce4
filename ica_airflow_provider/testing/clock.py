"""A manually driven clock, so tests can move the fake's time forward deterministically."""

from __future__ import annotations

import threading


class ManualClock:
    """Callable clock that only moves when told to.

    Pass it as ``FakeIcaConfig(clock=ManualClock())``; then ``clock.advance(0.5)``.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        # The server thread reads while the test thread advances.
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Jump to an absolute time (must not be earlier than the current one)."""
        with self._lock:
            if now < self._now:
                raise ValueError("time cannot go backwards")
            self._now = now
