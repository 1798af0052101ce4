"""A clock for the deployment's fake ICA that a check can stop and start again.

While it is held, every batch and analysis of the fake stands still (their statuses are
computed from this clock), so a check can see all its waits deferred at once before
letting them finish. Only the fake's progression uses it; JWTs keep the wall clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class HeldClock:
    """``time.monotonic`` minus the time spent held; called from the fake's threads and the check's."""

    def __init__(self, source: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._held_at: float | None = None
        self._paused = 0.0  # seconds held in all, released holds only

    def __call__(self) -> float:
        with self._lock:
            now = self._source() if self._held_at is None else self._held_at
            return now - self._paused

    @property
    def is_held(self) -> bool:
        return self._held_at is not None

    def hold(self) -> None:
        with self._lock:
            if self._held_at is None:
                self._held_at = self._source()

    def release(self) -> None:
        with self._lock:
            if self._held_at is not None:
                self._paused += self._source() - self._held_at
                self._held_at = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Held inside the block, released however it is left."""
        self.hold()
        try:
            yield
        finally:
            self.release()
