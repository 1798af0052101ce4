"""The request budget of one connection in one process: paced sends, slowed down by 429s.

A token bucket kept as a schedule (GCRA): each caller reserves the next free slot and
sleeps until it, so concurrent callers are spread ``1 / rate`` apart instead of bunching.
Over any window of ``w`` seconds at most ``rate * w + burst`` requests leave. ICA's
limiter answers 429 without ``Retry-After``: a 429 halves the rate of the whole
connection (once per ``cooldown``, since the requests already in flight get theirs too),
and the rate then climbs back linearly to the configured one (AIMD). Callers that hold a
slot reserved before the cut give it up and queue again at the new rate (:func:`pace`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass

from ica_airflow_provider.core.messages import Action, Outcome, Sleep

DECREASE_FACTOR = 0.5
# Halved at most this many times below the configured rate: 1/16 of it.
MIN_RATE_FRACTION = 1 / 16
# From half the rate back to all of it in this many seconds, when no 429 comes meanwhile.
RECOVERY_SECONDS = 15.0
COOLDOWN_SECONDS = 1.0


@dataclass(frozen=True)
class BudgetState:
    """A snapshot for logs and benchmarks."""

    rate: float  # requests per second allowed now; inf when unlimited
    limit: float  # the configured rate; 0 when unlimited
    throttles: int  # 429s that slowed the connection down


class RequestBudget:
    """Requests per second for everything in a process that uses one connection; thread-safe.

    ``rate`` 0 means unlimited. Times are seconds on one monotonic clock the caller passes in.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        min_rate: float | None = None,
        recovery_seconds: float = RECOVERY_SECONDS,
        cooldown: float = COOLDOWN_SECONDS,
    ) -> None:
        if not math.isfinite(rate) or rate < 0:
            raise ValueError(f"rate={rate!r} must be 0 (unlimited) or more, finite requests per second")
        if not math.isfinite(burst) or burst < 1:
            raise ValueError(f"burst={burst!r} must be at least 1 request")
        if min_rate is not None and not min_rate > 0:
            raise ValueError(f"min_rate={min_rate!r} must be more than 0 requests per second")
        self.limit = float(rate)
        self.burst = float(burst)
        self.min_rate = min(rate, min_rate) if min_rate is not None else rate * MIN_RATE_FRACTION
        # Additive increase, so that half the rate comes back in ``recovery_seconds``.
        self.increase = rate * (1 - DECREASE_FACTOR) / recovery_seconds if recovery_seconds > 0 else math.inf
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._rate = self.limit  # as of ``_since``
        self._since = 0.0
        self._cut_at = -math.inf
        self._next = -math.inf  # theoretical arrival time of the next request
        self._throttles = 0

    def __repr__(self) -> str:
        return f"RequestBudget(limit={self.limit}, burst={self.burst})"

    @property
    def unlimited(self) -> bool:
        return self.limit == 0

    @property
    def epoch(self) -> int:
        """Changes with every cut: a slot reserved in an older epoch is paced too fast."""
        return self._throttles

    def reserve(self, now: float) -> float:
        """Claim the next slot: seconds to wait before sending (0: send now)."""
        if self.unlimited:
            return 0.0
        with self._lock:
            interval = 1 / self._rate_at(now)
            due = max(self._next, now)
            send_at = max(now, due - (self.burst - 1) * interval)
            self._next = due + interval
            return send_at - now

    def throttled(self, now: float) -> bool:
        """ICA answered 429: halve the rate of the connection; ``True`` if it was cut now."""
        if self.unlimited:
            return False
        with self._lock:
            if now - self._cut_at < self.cooldown:
                return False
            self._rate = max(self.min_rate, self._rate_at(now) * DECREASE_FACTOR)
            self._since = self._cut_at = now
            # The slots handed out so far will be queued again (see ``pace``): start the
            # queue afresh, one new interval from now.
            self._next = now + 1 / self._rate
            self._throttles += 1
            return True

    def state(self, now: float) -> BudgetState:
        with self._lock:
            rate = math.inf if self.unlimited else self._rate_at(now)
            return BudgetState(rate=rate, limit=self.limit, throttles=self._throttles)

    def _rate_at(self, now: float) -> float:
        return min(self.limit, self._rate + self.increase * max(now - self._since, 0.0))


def pace(budget: RequestBudget, now: Callable[[], float]) -> Generator[Action, Outcome | None, None]:
    """Sleep until this request's slot; queue again if a 429 slowed the connection meanwhile.

    ``yield from pace(budget, clock)`` right before each ``Send`` (first tries and retries).
    """
    while True:
        epoch = budget.epoch  # read first: a cut in between costs one slot, never speed
        wait = budget.reserve(now())
        if wait <= 0:
            return
        yield Sleep(wait)
        if budget.epoch == epoch:
            return
