"""``next_poll_delay``: jitter around the interval, capped by the deadline, spreading waits apart."""

from __future__ import annotations

import json
import os
import random
import statistics
from collections import Counter

import pytest

from ica_airflow_provider.core.schedule import JITTER, POLL_JITTER, next_poll_delay
from ica_airflow_provider.core.wait import Deadline


def test_delays_stay_within_the_jitter_and_average_the_interval() -> None:
    rng = random.Random(1)
    delays = [next_poll_delay(30.0, rng=rng) for _ in range(5000)]

    assert min(delays) >= 30 * (1 - POLL_JITTER)
    assert max(delays) <= 30 * (1 + POLL_JITTER)
    assert statistics.fmean(delays) == pytest.approx(30, rel=0.01)  # no drift: the mean rate of polls holds
    assert max(delays) - min(delays) > 30 * 2 * POLL_JITTER * 0.95  # the whole range is used


def test_the_rng_is_injectable_and_deterministic() -> None:
    one = [next_poll_delay(10, rng=random.Random(42)) for _ in range(3)]
    two = [next_poll_delay(10, rng=random.Random(42)) for _ in range(3)]
    assert one == two


@pytest.mark.parametrize(("remaining", "expected"), [(0.0, 0.0), (-5.0, 0.0), (3.0, 3.0)])
def test_the_deadline_caps_the_delay(remaining: float, expected: float) -> None:
    delay = next_poll_delay(60, rng=random.Random(0))
    assert Deadline(1000.0 + remaining).cap(delay, now=1000.0) == expected


def test_a_far_deadline_changes_nothing() -> None:
    delay = next_poll_delay(60, rng=random.Random(3))
    assert Deadline(1e6).cap(delay, now=0.0) == delay == next_poll_delay(60, rng=random.Random(3))


def test_polls_and_retries_draw_from_one_generator() -> None:
    from ica_airflow_provider.core.retry import RetryPolicy

    assert RetryPolicy().rng is JITTER


def test_zero_jitter_and_zero_interval() -> None:
    assert next_poll_delay(60, jitter=0) == 60
    assert next_poll_delay(0, rng=random.Random(0)) == 0


@pytest.mark.parametrize(("interval", "jitter"), [(-1, 0.2), (float("nan"), 0.2), (float("inf"), 0.2), (10, 1), (10, -0.1)])
def test_bad_arguments_are_named(interval: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="poll"):
        next_poll_delay(interval, jitter=jitter)


def test_waits_deferred_together_stop_polling_in_lockstep() -> None:
    # 1,000 waits deferred in the same instant, polling every 30 s: without jitter each
    # poll would be 1,000 requests in the same instant.
    rng = random.Random(5)
    waits, interval = 1000, 30.0
    clocks = [0.0] * waits
    busiest = []
    for _ in range(4):
        clocks = [t + next_poll_delay(interval, rng=rng) for t in clocks]
        busiest.append(max(Counter(int(t) for t in clocks).values()))

    # The first poll already spreads over 12 s (about 83 waits a second); later ones wider.
    assert all(b < 0.12 * waits for b in busiest)
    assert busiest[-1] < busiest[0]
    assert max(clocks) - min(clocks) > 20


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_children_draw_their_own_jitter() -> None:
    """The shared generators are reseeded after a fork: sibling workers do not poll or retry in step."""
    from ica_airflow_provider.core.retry import RetryPolicy

    def draws() -> list[float]:
        return [next_poll_delay(60) for _ in range(3)] + [RetryPolicy().backoff(3) for _ in range(3)]

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its draws and leave without pytest's teardown
        os.write(write, json.dumps(draws()).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = json.loads(pipe.read())
    assert child != draws()
