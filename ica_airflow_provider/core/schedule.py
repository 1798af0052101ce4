"""When to poll next: the poll interval with jitter, so that waits started together drift apart."""

from __future__ import annotations

import math
import os
import random

# Each delay is the interval times a factor drawn uniformly from [1 - POLL_JITTER, 1 + POLL_JITTER]:
# the mean stays the interval, and waits deferred in the same second spread over 40 % of it.
POLL_JITTER = 0.2

_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)  # forked children must not poll in step


def next_poll_delay(
    interval: float,
    *,
    remaining: float | None = None,
    jitter: float = POLL_JITTER,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll: ``interval`` ± ``jitter`` of it, never past ``remaining``.

    ``remaining`` is the time left until the wait's deadline (``None``: no deadline).
    """
    if not math.isfinite(interval) or interval < 0:
        raise ValueError(f"poll interval {interval!r} must be 0 or more, finite seconds")
    if not 0 <= jitter < 1:
        raise ValueError(f"poll jitter {jitter!r} must be at least 0 and less than 1")
    delay = interval * (rng or _rng).uniform(1 - jitter, 1 + jitter)
    if remaining is not None:
        delay = min(delay, max(remaining, 0.0))
    return delay
