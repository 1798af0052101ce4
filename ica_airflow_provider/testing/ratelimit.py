"""The tenant-wide request limiter and the counters tests and benchmarks read.

ICA documents a rate limiter that answers 429 without ``Retry-After``; the fake does the
same for every request under the API base path once ``rate_limit`` requests per second
(all callers together) are used up. Time comes from the backend's clock, so a
``ManualClock`` makes the limiter exact in tests.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any


class RateLimiter:
    """A sliding window: at most ``capacity`` accepted requests in any ``window`` seconds.

    ``capacity / window == rate``: 50 req/s allows 50 per second; 0.5 req/s allows one per
    two seconds. Rejected requests use nothing up, as at a gateway that drops them early.
    Not thread-safe: the backend calls it under its lock.
    """

    def __init__(self, rate: float) -> None:
        if not rate >= 0:  # also refuses NaN
            raise ValueError(f"rate_limit must not be negative, got {rate}")
        self.rate = rate
        self.capacity = max(1, math.floor(rate)) if rate > 0 else 0
        self.window = self.capacity / rate if rate > 0 else 0.0
        self._accepted: deque[float] = deque()

    @property
    def enabled(self) -> bool:
        """Whether any limit applies (``rate`` 0 means unlimited)."""
        return self.rate > 0

    def allow(self, now: float) -> bool:
        """Whether a request at ``now`` is within the limit (and count it if so)."""
        if not self.enabled:
            return True
        accepted = self._accepted
        while accepted and accepted[0] <= now - self.window:
            accepted.popleft()
        if len(accepted) >= self.capacity:
            return False
        accepted.append(now)
        return True


class Counters:
    """Running totals since the server started (``reset()`` leaves them alone).

    Cheap and thread-safe: each bump takes one small lock; reads are plain attributes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0  # every API request received, answered or not
        self.token_mints = 0  # JWTs handed out by POST /api/tokens
        self.rate_limited = 0  # 429s answered by the rate limiter
        self.fault_429s = 0  # 429s answered by fault injection (explicit or random)

    def bump(self, name: str, by: int = 1) -> None:
        """Add ``by`` to the counter ``name``."""
        with self._lock:
            setattr(self, name, getattr(self, name) + by)

    def snapshot(self) -> dict[str, Any]:
        """All counters at one instant, plus ``responses_429`` (both kinds of 429)."""
        with self._lock:
            return {
                "requests": self.requests,
                "token_mints": self.token_mints,
                "rate_limited": self.rate_limited,
                "fault_429s": self.fault_429s,
                "responses_429": self.rate_limited + self.fault_429s,
            }
