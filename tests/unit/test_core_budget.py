"""``RequestBudget``: pacing, AIMD on 429, recovery, with a manual clock (times are plain numbers)."""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
import threading

import pytest

from ica_airflow_provider.core.budget import RECOVERY_SECONDS, RequestBudget, pace
from ica_airflow_provider.core.messages import Sleep


def send_times(budget: RequestBudget, arrivals: list[float]) -> list[float]:
    """When each request leaves: its arrival plus the wait the budget tells it."""
    return sorted(t + budget.reserve(t) for t in arrivals)


def most_in_a_window(times: list[float], window: float) -> int:
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


# -- unlimited --------------------------------------------------------------------------------------


def test_zero_is_unlimited() -> None:
    budget = RequestBudget(0)

    assert budget.unlimited
    assert [budget.reserve(5.0) for _ in range(1000)] == [0.0] * 1000
    assert budget.throttled(5.0) is False
    assert budget.reserve(5.0) == 0.0
    assert budget.state(5.0).rate == float("inf")


# -- pacing ---------------------------------------------------------------------------------------------


def test_a_lone_request_does_not_wait() -> None:
    budget = RequestBudget(10)
    assert budget.reserve(100.0) == 0.0
    assert budget.reserve(200.0) == 0.0


def test_concurrent_reservers_are_spread_one_interval_apart() -> None:
    budget = RequestBudget(20)
    waits = [budget.reserve(50.0) for _ in range(40)]
    assert waits == pytest.approx([k / 20 for k in range(40)])


def test_an_idle_budget_saves_up_no_more_than_its_burst() -> None:
    budget = RequestBudget(10, burst=5)
    budget.reserve(0.0)

    waits = [budget.reserve(1000.0) for _ in range(8)]

    assert waits == pytest.approx([0, 0, 0, 0, 0, 0.1, 0.2, 0.3])


@pytest.mark.parametrize(("rate", "burst"), [(40, 1), (20, 1), (5, 3), (0.5, 1)])
@pytest.mark.parametrize("window", [0.25, 1.0, 10.0])
def test_never_more_than_rate_times_window_plus_burst(rate: float, burst: float, window: float) -> None:
    rng = random.Random(7)
    arrivals: list[float] = []
    t = 0.0
    for _ in range(400):  # bursts of up to 50 callers at once, then lulls
        t += rng.expovariate(1.0)
        arrivals += [t] * rng.randint(1, 50)
    budget = RequestBudget(rate, burst=burst)

    times = send_times(budget, arrivals)

    assert most_in_a_window(times, window) <= rate * window + burst + 1e-9
    assert all(w >= 0 for w in (s - a for s, a in zip(times, sorted(arrivals), strict=True)))


def test_reservers_on_many_threads_each_get_their_own_slot() -> None:
    budget = RequestBudget(10)
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def reserver() -> None:
        start.wait()
        mine = [budget.reserve(0.0) for _ in range(100)]
        with lock:
            waits.extend(mine)

    threads = [threading.Thread(target=reserver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(waits) == pytest.approx([k / 10 for k in range(800)])


# -- 429: multiplicative decrease, additive increase ----------------------------------------------------------


def test_a_429_halves_the_rate_of_the_whole_connection() -> None:
    budget = RequestBudget(20)
    budget.reserve(10.0)

    assert budget.throttled(10.0) is True

    assert budget.state(10.0).rate == pytest.approx(10)
    assert budget.state(10.0).throttles == 1
    waits = [budget.reserve(10.0) for _ in range(4)]
    assert waits == pytest.approx([0.1, 0.2, 0.3, 0.4])  # 10 per second now, for every caller


def test_429s_of_requests_already_in_flight_cut_once_per_cooldown() -> None:
    budget = RequestBudget(40, cooldown=1.0)

    cuts = [budget.throttled(10.0 + k / 100) for k in range(100)]  # a second of 429s

    assert cuts.count(True) == 1
    climb = 20 / RECOVERY_SECONDS  # per second, from the moment of the cut
    assert budget.state(10.99).rate == pytest.approx(20 + 0.99 * climb)
    assert budget.throttled(11.0) is True
    assert budget.state(11.0).rate == pytest.approx((20 + climb) / 2)


def test_the_rate_never_falls_below_its_floor() -> None:
    budget = RequestBudget(32, recovery_seconds=1e9)
    for k in range(20):
        budget.throttled(float(k))
    assert budget.state(20.0).rate == pytest.approx(2)  # 32 / 16
    assert budget.reserve(20.0) == 0
    assert budget.reserve(20.0) == pytest.approx(0.5)


def test_recovery_is_gradual_and_stops_at_the_configured_rate() -> None:
    budget = RequestBudget(20)
    budget.throttled(100.0)

    rates = [budget.state(100.0 + s).rate for s in range(0, 31)]

    assert rates[0] == pytest.approx(10)
    assert rates[int(RECOVERY_SECONDS / 2)] == pytest.approx(10 + 10 * (int(RECOVERY_SECONDS / 2) / RECOVERY_SECONDS))
    assert rates[int(RECOVERY_SECONDS)] == pytest.approx(20)
    assert rates[-1] == 20
    assert all(a < b for a, b in itertools.pairwise(rates[:16]))  # climbs a little each second
    assert max(rates) == 20


def test_a_429_during_recovery_halves_the_recovered_rate() -> None:
    budget = RequestBudget(20)
    budget.throttled(0.0)
    budget.throttled(RECOVERY_SECONDS / 2)  # recovered to 15 by then
    assert budget.state(RECOVERY_SECONDS / 2).rate == pytest.approx(7.5)


def test_pacing_follows_the_rate_as_it_recovers() -> None:
    budget = RequestBudget(10, recovery_seconds=10)
    budget.throttled(0.0)  # 5/s, back to 10/s at t=10

    times = send_times(budget, [0.0] * 100)

    assert most_in_a_window(times, 1.0) <= 5 + 1  # first second: the halved rate
    late = [t for t in times if t >= 10]
    assert late and most_in_a_window(late, 1.0) <= 10 + 1


# -- pace: the sans-IO wait before each send ---------------------------------------------------------------


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def simulate(budget: RequestBudget, arrivals: list[float], cuts: list[float]) -> list[float]:
    """Run one ``pace`` per arrival on a manual clock, with 429s at ``cuts``; the send times."""
    clock = Clock()
    events: list[tuple[float, int, int]] = [(t, 1, i) for i, t in enumerate(arrivals)]
    events += [(t, 0, -1) for t in cuts]  # a cut before any wake-up at the same instant
    heapq.heapify(events)
    calls = {i: pace(budget, clock) for i in range(len(arrivals))}
    sent: list[float] = []
    while events:
        clock.now, kind, i = heapq.heappop(events)
        if kind == 0:
            budget.throttled(clock.now)
            continue
        try:
            action = next(calls[i])
        except StopIteration:
            sent.append(clock.now)
            continue
        assert isinstance(action, Sleep) and action.seconds > 0
        heapq.heappush(events, (clock.now + action.seconds, 1, i))
    return sorted(sent)


def test_pace_sends_at_once_when_the_budget_allows() -> None:
    with pytest.raises(StopIteration):
        next(pace(RequestBudget(5), Clock(100.0)))


def test_pace_spreads_a_crowd_at_the_rate() -> None:
    sent = simulate(RequestBudget(20), [0.0] * 100, [])
    assert len(sent) == 100
    assert sent == pytest.approx([k / 20 for k in range(100)])


def test_a_429_slows_down_even_the_requests_already_queued() -> None:
    budget = RequestBudget(20, recovery_seconds=1e9)
    sent = simulate(budget, [0.0] * 200, [1.0])  # a 10 s queue at 20/s; a 429 after 1 s

    assert len(sent) == 200
    after = [t for t in sent if t >= 1.0]
    assert most_in_a_window(after, 1.0) <= 10 + 1
    assert most_in_a_window(after, 5.0) <= 50 + 1
    assert sent[-1] == pytest.approx(1.0 + (200 - 21 + 1) / 10, abs=0.2)  # the rest at 10/s


# -- configuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": -1}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"rate": float("inf")}, "rate"),
        ({"rate": 5, "burst": 0.5}, "burst"),
        ({"rate": 5, "min_rate": 0}, "min_rate"),
    ],
)
def test_bad_configuration_is_named(kwargs: dict[str, float], field: str) -> None:
    rate = kwargs.pop("rate")
    with pytest.raises(ValueError, match=field):
        RequestBudget(rate, **kwargs)
