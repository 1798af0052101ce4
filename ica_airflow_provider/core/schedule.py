"""When to poll next: the poll interval with jitter, so that waits started together drift apart."""

from __future__ import annotations

import math
import os
import random

# Each delay is the interval times a factor drawn uniformly from [1 - POLL_JITTER, 1 + POLL_JITTER]:
# the mean stays the interval, and waits deferred in the same second spread over 40 % of it.
POLL_JITTER = 0.2

# The one generator of the provider's jitter (the poll interval here, the retry backoff in
# ``retry.py``): a Random per wait would cost each of a thousand waits 2.5 KiB and an urandom
# read, for draws that need no independence. Reseeded in a forked child (as ``random`` does
# for its own), or sibling workers would poll and back off in step.
JITTER = random.Random()
os.register_at_fork(after_in_child=JITTER.seed)


def next_poll_delay(interval: float, *, jitter: float = POLL_JITTER, rng: random.Random | None = None) -> float:
    """Seconds until the next poll: ``interval`` ± ``jitter`` of it (the deadline caps it: ``Deadline.cap``)."""
    if not math.isfinite(interval) or interval < 0:
        raise ValueError(f"poll interval {interval!r} must be 0 or more, finite seconds")
    if not 0 <= jitter < 1:
        raise ValueError(f"poll jitter {jitter!r} must be at least 0 and less than 1")
    return interval * (rng or JITTER).uniform(1 - jitter, 1 + jitter)
