"""The one wait loop, its deadline, tolerated failures and aborts, on canned samples.

:class:`Wait` is driven with the real :func:`drive` and :class:`samples.FakeIca`; its
sleeps are recorded, and its clock is a list of instants, so nothing waits.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

import pytest
from samples import BATCH_ID, PROBLEM_JSON, PROJECT_ID, FakeIca, json_response, problem_body

from ica_airflow_provider.core.auth import TokenCache
from ica_airflow_provider.core.drive import drive
from ica_airflow_provider.core.errors import IcaApiError
from ica_airflow_provider.core.messages import Request, Response
from ica_airflow_provider.core.protocol import IcaProtocol
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.core.tracker import BatchTracker
from ica_airflow_provider.core.wait import Deadline, PollFailures, Wait, abort_running
from tests.clocks import SleepingClock

ITEMS_PATH = f"/api/projects/{PROJECT_ID}/analysisCreationBatch/{BATCH_ID}/items"
log = logging.getLogger("test.wait")


def protocol_for(fake: FakeIca) -> IcaProtocol:
    tokens = TokenCache()
    tokens.store(fake.jwt)
    return IcaProtocol("key", RetryPolicy(max_retries=0), tokens)


def run(wait: Wait, fake: FakeIca, clock: SleepingClock, on_sleep: Callable[[], None] = lambda: None) -> Any:
    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        on_sleep()

    return drive(wait.until_done(protocol_for(fake), log), fake.send, sleep)


def answer(status: int) -> Callable[[Request], Response]:
    return lambda request: json_response(status, problem_body(status, "ICA_X", "boom"), PROBLEM_JSON)


def test_until_done_sleeps_the_poll_interval_between_polls() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
    clock = SleepingClock(1000.0)
    wait = Wait(BatchTracker(PROJECT_ID, BATCH_ID), poll_interval=30, clock=clock, jitter=0)
    polls = iter(range(3))

    def progress() -> None:  # the analysis finishes after the third sleep
        if next(polls) == 2:
            fake.set_analysis("a1", "SUCCEEDED")

    verdict = run(wait, fake, clock, progress)
    assert verdict is not None and verdict.done and verdict.analysis_ids == ["a1"]
    assert clock.sleeps == [30, 30, 30]


def test_until_done_stops_at_the_deadline_with_a_last_short_sleep() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "RUNNING")
    clock = SleepingClock(1000.0)
    wait = Wait(
        BatchTracker(PROJECT_ID, BATCH_ID), poll_interval=30, deadline=Deadline(clock.now + 70), clock=clock, jitter=0
    )
    assert run(wait, fake, clock) is None
    assert clock.sleeps == [30, 30, 10]  # the last sleep ends at the deadline, then one last poll
    assert len(fake.api_requests()) == 4 * 2  # 4 polls: the item, and its batch's job (still creating)


def test_waits_started_together_poll_apart() -> None:
    """The sleeps between polls carry ±20 % jitter, so waits deferred together drift apart."""
    schedules = []
    for seed in range(2):
        fake = FakeIca()
        fake.put_item("i1", "ref-1", "RUNNING")
        clock = SleepingClock(1000.0)
        deadline = Deadline(clock.now + 600)
        wait = Wait(BatchTracker(PROJECT_ID, BATCH_ID), poll_interval=60, deadline=deadline, clock=clock, rng=random.Random(seed))
        assert run(wait, fake, clock) is None
        assert all(48 <= s <= 72 for s in clock.sleeps[:-1])  # the last one is cut at the deadline
        assert sum(clock.sleeps) == pytest.approx(600)
        schedules.append(clock.sleeps)
    assert len(set(schedules[0][:3])) == 3  # not a fixed interval
    assert schedules[0][:3] != schedules[1][:3]  # two waits from the same instant poll at different times


def test_a_passed_deadline_still_polls_once() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
    clock = SleepingClock(1000.0)
    wait = Wait(BatchTracker(PROJECT_ID, BATCH_ID), deadline=Deadline(clock.now - 1), clock=clock)
    assert run(wait, fake, clock).done
    assert clock.sleeps == []


def test_deadline_rule() -> None:
    assert not Deadline().passed(1e12) and Deadline().cap(5, 0) == 5
    deadline = Deadline.after(10, now=100)
    assert deadline.at == 110
    assert not deadline.passed(109.9) and deadline.passed(110)
    assert deadline.cap(60, 105) == 5 and deadline.cap(60, 200) == 0 and deadline.cap(3, 100) == 3


def test_transient_poll_failures_are_tolerated_five_times_in_a_row() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
    fake.routes[("GET", ITEMS_PATH)] = answer(503)
    clock = SleepingClock(1000.0)
    wait = Wait(BatchTracker(PROJECT_ID, BATCH_ID), poll_interval=1, clock=clock)
    with pytest.raises(IcaApiError, match="503"):
        run(wait, fake, clock)
    assert len(fake.api_requests()) == 6  # five tolerated, the sixth fails the wait
    assert wait.failures.in_a_row == 6


def test_a_success_resets_the_failed_polls() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
    fake.routes[("GET", ITEMS_PATH)] = answer(502)
    clock = SleepingClock(1000.0)
    wait = Wait(BatchTracker(PROJECT_ID, BATCH_ID), poll_interval=1, clock=clock)
    sleeps = iter(range(100))

    def recover() -> None:  # four failures, then ICA is back
        if next(sleeps) == 3:
            del fake.routes[("GET", ITEMS_PATH)]

    assert run(wait, fake, clock, recover).done
    assert wait.failures.in_a_row == 0


@pytest.mark.parametrize("status", [400, 404, 501])
def test_other_errors_fail_the_wait_at_once(status: int) -> None:
    fake = FakeIca()
    fake.routes[("GET", ITEMS_PATH)] = answer(status)
    clock = SleepingClock(1000.0)
    with pytest.raises(IcaApiError):
        run(Wait(BatchTracker(PROJECT_ID, BATCH_ID), clock=clock), fake, clock)
    assert clock.sleeps == []


def test_poll_failures_counter() -> None:
    failures = PollFailures(limit=2, in_a_row=1)
    transient = IcaApiError(429, method="GET", path="/x")
    assert failures.tolerate(transient) and not failures.tolerate(transient)
    failures.reset()
    assert not failures.tolerate(IcaApiError(404, method="GET", path="/x"))


def test_abort_running_refreshes_then_aborts_only_running_analyses(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
    fake.put_item("i2", "ref-2", "SUCCEEDED", "a2", "SUCCEEDED")
    fake.put_item("i3", "ref-3", "SUCCEEDED", "a3", "QUEUED")
    fake.put_item("i4", "ref-4", "RUNNING")
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)
    drive(tracker.poll(protocol), fake.send, lambda s: None)
    fake.set_analysis("a3", "SUCCEEDED")  # finished meanwhile: must not be aborted

    aborted = drive(abort_running(tracker, protocol, log), fake.send, lambda s: None)

    assert aborted == ["a1"]
    assert fake.described()[-1] == f"POST /api/projects/{PROJECT_ID}/analyses/a1:abort"
    assert sum(d.endswith(":abort") for d in fake.described()) == 1


def test_abort_running_asks_for_no_outputs_first() -> None:
    """A kill or a timeout aborts at once, not after fetching what every finished analysis wrote."""
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
    for n in range(2, 6):
        fake.put_item(f"i{n}", f"ref-{n}", "SUCCEEDED", f"a{n}", "SUCCEEDED")
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)  # e.g. the trigger's on_kill: no records
    wait = Wait(tracker, early_outputs=True)  # a wait that fetches outputs as analyses succeed

    aborted = drive(abort_running(tracker, protocol_for(fake), log), fake.send, lambda s: None)

    assert aborted == ["a1"]
    assert not any(d.endswith("/outputs") for d in fake.described())
    drive(wait.poll(protocol_for(fake)), fake.send, lambda s: None)  # no side effect on a later poll
    assert sum(d.endswith("/outputs") for d in fake.described()) == 4


def test_abort_running_carries_on_past_one_refused_abort(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeIca()
    for n in range(1, 4):
        fake.put_item(f"i{n}", f"ref-{n}", "SUCCEEDED", f"a{n}", "IN_PROGRESS")
    fake.routes[("POST", f"/api/projects/{PROJECT_ID}/analyses/a2:abort")] = answer(403)
    caplog.set_level(logging.INFO, logger=log.name)

    aborted = drive(abort_running(BatchTracker(PROJECT_ID, BATCH_ID), protocol_for(fake), log), fake.send, print)

    assert aborted == ["a1", "a3"]
    assert "Could not abort 1 analyses: a2" in caplog.text


def test_abort_running_is_best_effort_when_ica_is_down(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeIca()
    fake.routes[("GET", ITEMS_PATH)] = answer(500)
    aborted = drive(abort_running(BatchTracker(PROJECT_ID, BATCH_ID), protocol_for(fake), log), fake.send, print)
    assert aborted == []
    assert f"Could not abort the analyses of ICA batch {BATCH_ID}" in caplog.text
