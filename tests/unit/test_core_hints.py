"""Hints applied to a batch's records, and the wait woken by them, on canned samples.

The wait is driven by the real :func:`drive` against :class:`samples.FakeIca`; its hint
source is scripted (each ``AwaitHints`` answered from a list, the manual clock moved by
what it slept), so nothing waits and every outcome is exact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from samples import BATCH_ID, PROJECT_ID, FakeIca

from ica_airflow_provider.core.drive import drive
from ica_airflow_provider.core.hints import HintLedger, hints_line
from ica_airflow_provider.core.messages import AwaitHints, Request, Response, Woken
from ica_airflow_provider.core.notifications import AnalysisHint, JobHint
from ica_airflow_provider.core.tracker import BatchTracker, ItemRecord
from ica_airflow_provider.core.wait import JOB_ALONE_POLLS, Deadline, Wait
from tests.clocks import SleepingClock
from tests.unit.test_core_wait import protocol_for

log = logging.getLogger("test.hints")
T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def hint(analysis_id: str, status: str, minute: int | None = 0, project_id: str | None = PROJECT_ID, **kw: Any) -> AnalysisHint:
    return AnalysisHint(
        analysis_id=analysis_id, status=status, previous_status=None,
        time_modified=None if minute is None else T0 + timedelta(minutes=minute),
        project_id=project_id, payload_version="v4", correlation_id=None, **kw,
    )


def job_hint(status: str, job_id: str = "job-1") -> JobHint:
    return JobHint(job_id, status, None, BATCH_ID, "AnalysisCreationBatch", PROJECT_ID, None)


def tracker_with(*records: tuple[str, str, str | None, str | None]) -> BatchTracker:
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)
    tracker.load_records(
        [ItemRecord(item_id, f"ref-{item_id}", None, item_status, analysis_id, status).to_xcom()
         for item_id, item_status, analysis_id, status in records]
    )
    return tracker


def ledger_for(tracker: BatchTracker) -> HintLedger:
    ledger = HintLedger()
    ledger.new_ids(tracker)
    return ledger


# -- the rules of a hint ----------------------------------------------------------------------


def test_a_hint_moves_an_open_analysis_forward_with_no_request() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "IN_PROGRESS"))
    ledger = ledger_for(tracker)
    applied = ledger.apply(tracker, [hint("a1", "SUCCEEDED", 5)])
    assert applied.changes == ["ref-i1: analysis IN_PROGRESS -> SUCCEEDED"] and not applied.listing
    assert tracker.records["i1"].analysis_status == "SUCCEEDED"
    assert ledger.unconfirmed and ledger.counts["applied"] == 1


def test_a_terminal_status_never_regresses() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "SUCCEEDED"))
    ledger = ledger_for(tracker)
    assert not ledger.apply(tracker, [hint("a1", "IN_PROGRESS", 9)]).changes
    assert tracker.records["i1"].analysis_status == "SUCCEEDED" and ledger.counts["ignored"] == 1


def test_an_older_message_never_overwrites_newer_state() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "QUEUED"))
    ledger = ledger_for(tracker)
    ledger.apply(tracker, [hint("a1", "GENERATING_OUTPUTS", 7), hint("a1", "IN_PROGRESS", 3)])
    assert tracker.records["i1"].analysis_status == "GENERATING_OUTPUTS"
    assert ledger.counts == {"woken": 0, "applied": 1, "ignored": 1, "listings": 0}


def test_a_hint_behind_the_state_a_listing_showed_is_dropped() -> None:
    """A remembered message older than the first listing (no timeModified known yet for it)."""
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "GENERATING_OUTPUTS"))
    ledger = ledger_for(tracker)
    assert not ledger.apply(tracker, [hint("a1", "IN_PROGRESS", 1)]).changes
    assert ledger.apply(tracker, [hint("a1", "ABORTING", 2)]).changes
    assert tracker.records["i1"].analysis_status == "ABORTING"


def test_an_analysis_may_go_back_and_forth_between_in_progress_and_awaiting_input() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "AWAITING_INPUT"))
    ledger = ledger_for(tracker)
    assert ledger.apply(tracker, [hint("a1", "IN_PROGRESS", 1)]).changes
    assert ledger.apply(tracker, [hint("a1", "AWAITING_INPUT", 2)]).changes


def test_a_message_older_than_what_a_listing_showed_moves_nothing_back() -> None:
    # The listing showed INITIALIZING (no timeModified to compare); the creation's REQUESTED arrives late.
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "INITIALIZING"))
    ledger = ledger_for(tracker)
    assert not ledger.apply(tracker, [hint("a1", "REQUESTED", 1), hint("a1", "QUEUED", 2)]).changes
    assert tracker.records["i1"].analysis_status == "INITIALIZING" and not ledger.unconfirmed
    applied = ledger.apply(tracker, [hint("a1", "IN_PROGRESS", 4)])
    assert applied.changes == ["ref-i1: analysis INITIALIZING -> IN_PROGRESS"]


def test_duplicates_change_nothing() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "QUEUED"))
    ledger = ledger_for(tracker)
    first = ledger.apply(tracker, [hint("a1", "IN_PROGRESS", 2)])
    again = ledger.apply(tracker, [hint("a1", "IN_PROGRESS", 2), hint("a1", "IN_PROGRESS", None)])
    assert first.changes and not again.changes and ledger.counts["ignored"] == 2


def test_a_hint_for_another_project_is_ignored() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "IN_PROGRESS"))
    ledger = ledger_for(tracker)
    assert not ledger.apply(tracker, [hint("a1", "FAILED", 4, project_id="other")]).changes
    assert tracker.records["i1"].analysis_status == "IN_PROGRESS"


def test_an_unknown_status_is_left_to_the_next_poll() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "IN_PROGRESS"))
    ledger = ledger_for(tracker)
    assert not ledger.apply(tracker, [hint("a1", "TELEPORTED", 4)]).changes
    assert tracker.records["i1"].analysis_status == "IN_PROGRESS"


def test_a_failure_carries_icas_summary_as_its_reason() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "IN_PROGRESS"))
    ledger_for(tracker).apply(tracker, [hint("a1", "FAILED", 4, summary="Out of memory in step align")])
    assert tracker.records["i1"].reason == "Out of memory in step align"


def test_a_job_hint_asks_for_a_listing_only_when_it_ends_the_creation() -> None:
    creating = tracker_with(("i1", "RUNNING", None, None))
    creating.job_id = "job-1"
    ledger = ledger_for(creating)
    assert not ledger.apply(creating, [job_hint("RUNNING")]).listing  # still creating: nothing to learn yet
    assert ledger.apply(creating, [job_hint("SUCCEEDED")]).listing
    assert not ledger.apply(creating, [job_hint("SUCCEEDED")]).listing  # a duplicate
    created = tracker_with(("i1", "SUCCEEDED", "a1", "IN_PROGRESS"))
    assert not ledger_for(created).apply(created, [job_hint("FAILED")]).listing


def test_an_analysis_the_wait_does_not_know_asks_for_a_listing() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "IN_PROGRESS"))
    assert ledger_for(tracker).apply(tracker, [hint("a9", "SUCCEEDED", 1)]).listing


def test_new_ids_are_those_the_last_poll_brought() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "IN_PROGRESS"), ("i2", "RUNNING", None, None))
    tracker.job_id = "job-1"
    ledger = HintLedger()  # untagged (a sensor given a batch ID): it follows its analyses by id
    assert ledger.new_ids(tracker) == (("a1",), ("job-1",), ())
    assert ledger.new_ids(tracker) == ((), (), ())  # no poll since
    tracker.records["i2"].analysis_id = "a2"
    ledger.listed(False)
    assert ledger.new_ids(tracker) == (("a2",), (), ())


def test_a_tagged_wait_follows_its_tag_and_job_not_each_analysis() -> None:
    tracker = tracker_with(("i1", "SUCCEEDED", "a1", "IN_PROGRESS"), ("i2", "RUNNING", None, None))
    tracker.job_id = "job-1"
    ledger = HintLedger(tag="airflow-wait:t1")
    assert ledger.new_ids(tracker) == ((), ("job-1",), ("airflow-wait:t1",))
    assert ledger.new_ids(tracker) == ((), (), ())  # the tag is followed once
    # Its analyses' hints (the tag routed them) still apply with no request.
    applied = ledger.apply(tracker, [hint("a1", "SUCCEEDED", 4, technical_tags=("airflow-wait:t1",))])
    assert applied.changes and not applied.listing
    assert tracker.records["i1"].analysis_status == "SUCCEEDED"


TAG = "airflow-wait:t1"


def tagged(analysis_id: str, status: str, reference: str, minute: int = 0, tags: tuple[str, ...] = (TAG,)) -> AnalysisHint:
    return hint(analysis_id, status, minute, technical_tags=("other", *tags), user_reference=reference)


def test_a_tagged_hint_finds_its_item_by_user_reference_with_no_request() -> None:
    """The analysis of an item still being created: the batch's tag and its userReference name the item."""
    tracker = tracker_with(("i1", "RUNNING", None, None), ("i2", "RUNNING", None, None))
    ledger = HintLedger(tag=TAG)
    ledger.new_ids(tracker)
    applied = ledger.apply(tracker, [tagged("a2", "IN_PROGRESS", "ref-i2"), tagged("a2", "SUCCEEDED", "ref-i2", 1)])
    assert not applied.listing and ledger.unconfirmed
    assert applied.changes == [
        "ref-i2: creation RUNNING -> SUCCEEDED", "ref-i2: analysis a2 IN_PROGRESS", "ref-i2: analysis IN_PROGRESS -> SUCCEEDED",
    ]
    record = tracker.records["i2"]
    assert (record.item_status, record.analysis_id, record.analysis_status) == ("SUCCEEDED", "a2", "SUCCEEDED")
    assert tracker.records["i1"].analysis_id is None and not tracker.verdict(0).done


def test_a_tagged_hint_a_listing_contradicted_moves_nothing_after() -> None:
    tracker = tracker_with(("i1", "RUNNING", None, None))
    ledger = HintLedger(tag=TAG)
    ledger.new_ids(tracker)
    ledger.apply(tracker, [tagged("a-forged", "IN_PROGRESS", "ref-i1")])
    record = tracker.records["i1"]
    record.analysis_id, record.analysis_status = "a1", "QUEUED"  # what the next listing showed
    applied = ledger.apply(tracker, [tagged("a-forged", "SUCCEEDED", "ref-i1", 1)])
    assert not applied.changes and record.analysis_status == "QUEUED" and ledger.counts["ignored"] == 1


@pytest.mark.parametrize(
    ("ledger_tag", "given", "why"),
    [
        (None, tagged("a9", "SUCCEEDED", "ref-i1"), "the wait has no tag (a sensor's)"),
        (TAG, tagged("a9", "SUCCEEDED", "ref-i1", tags=("airflow-wait:another",)), "another batch's tag"),
        (TAG, tagged("a9", "SUCCEEDED", "ref-unknown"), "no item of the batch has that userReference"),
        (TAG, tagged("a9", "SUCCEEDED", "ref-i2"), "the item's analysis is another one"),
        (TAG, tagged("a9", "SUCCEEDED", "ref-i3"), "the item's creation failed"),
        (TAG, replace(tagged("a9", "SUCCEEDED", "ref-i1"), user_reference=None), "no userReference"),
        (TAG, replace(tagged("a9", "SUCCEEDED", "ref-i1"), project_id=None), "no project: the tag is a project's"),
        (TAG, tagged("a9", "NEWLY_INVENTED", "ref-i1"), "a status only a listing can explain"),
    ],
)
def test_a_hint_that_names_no_item_of_the_batch_asks_for_a_listing(ledger_tag: str | None, given: AnalysisHint, why: str) -> None:
    tracker = tracker_with(("i1", "RUNNING", None, None), ("i2", "SUCCEEDED", "a2", "IN_PROGRESS"), ("i3", "FAILED", None, None))
    ledger = HintLedger(tag=ledger_tag)
    ledger.new_ids(tracker)
    applied = ledger.apply(tracker, [given])
    assert applied.listing and not applied.changes, why
    assert tracker.records["i1"].analysis_id is None and tracker.records["i2"].analysis_id == "a2"


def test_hints_line() -> None:
    line = hints_line("b1", {"woken": 1, "applied": 3, "ignored": 0, "listings": 2})
    assert line == "ICA batch b1: woken 1 time by notifications (3 applied, 0 ignored); 2 listings asked by them"


# -- the woken wait ------------------------------------------------------------------------------


class ScriptedHints:
    """Answers each AwaitHints with the next scripted reply; a reply is a Woken or seconds to sleep first."""

    def __init__(self, clock: SleepingClock, replies: list[Callable[[AwaitHints], Woken]]) -> None:
        self.clock = clock
        self.replies = replies
        self.actions: list[AwaitHints] = []

    def wait(self, action: AwaitHints) -> Woken:
        self.actions.append(action)
        if not self.replies:  # nothing more comes: the whole sleep passes
            self.clock.sleep(action.seconds)
            return Woken()
        return self.replies.pop(0)(action)


def after(seconds: float, clock: SleepingClock, woken: Woken) -> Callable[[AwaitHints], Woken]:
    def reply(action: AwaitHints) -> Woken:
        clock.sleep(min(seconds, action.seconds))
        return woken

    return reply


def woken_wait(
    fake: FakeIca, clock: SleepingClock, hints: ScriptedHints, tag: str | None = None,
    send: Callable[[Request], Response] | None = None, **kw: Any,
) -> Any:
    """A wait woken by ``hints`` (a tagged batch's with ``tag``), driven to its end through ``send``."""
    wait = Wait(
        BatchTracker(PROJECT_ID, BATCH_ID), poll_interval=60, clock=clock, jitter=0, reconcile_interval=900,
        hints=HintLedger(tag=tag), **kw,
    )
    verdict = drive(wait.until_done(protocol_for(fake), log), send or fake.send, clock.sleep, hints=hints)
    return wait, verdict


def item_listings(fake: FakeIca) -> int:
    return sum(1 for r in fake.api_requests() if r.path.endswith("/items"))


def test_hints_end_a_wait_after_one_confirming_listing() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
    fake.put_item("i2", "ref-2", "SUCCEEDED", "a2", "IN_PROGRESS")
    clock = SleepingClock(1000.0)

    def finish_both(action: AwaitHints) -> Woken:
        assert set(action.analysis_ids) == {"a1", "a2"}  # the first listing's analyses are followed
        clock.sleep(5)
        fake.set_analysis("a1", "SUCCEEDED")
        fake.set_analysis("a2", "SUCCEEDED")
        return Woken((hint("a1", "SUCCEEDED", 1), hint("a2", "SUCCEEDED", 1)))

    hints = ScriptedHints(clock, [finish_both])
    wait, verdict = woken_wait(fake, clock, hints)
    assert verdict.done and sorted(verdict.analysis_ids) == ["a1", "a2"]
    assert item_listings(fake) == 2  # the first listing and the confirmation; nothing per status change
    assert len(fake.api_requests()) == 2
    assert clock.now == 1005.0 and wait.hints.counts == {"woken": 1, "applied": 2, "ignored": 0, "listings": 1}


def test_a_message_older_than_the_listed_state_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A backlog of notifications delivered after the first listing: only those newer than it move a record."""
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")  # timeModified 2025-11-03T10:05:00Z
    listed = datetime(2025, 11, 3, 10, 5, tzinfo=timezone.utc)
    clock = SleepingClock(1000.0)
    backlog = (
        replace(hint("a1", "QUEUED"), time_modified=listed - timedelta(minutes=4)),
        replace(hint("a1", "IN_PROGRESS"), time_modified=listed),
    )

    def finish(action: AwaitHints) -> Woken:
        fake.set_analysis("a1", "SUCCEEDED")
        return Woken((replace(hint("a1", "SUCCEEDED"), time_modified=listed + timedelta(minutes=3)),))

    hints = ScriptedHints(clock, [after(1, clock, Woken(backlog)), finish])
    with caplog.at_level(logging.INFO, logger=log.name):
        wait, verdict = woken_wait(fake, clock, hints)
    assert wait.tracker.analysis_modified == {"a1": "2025-11-03T10:05:00Z"}  # from the listing
    assert verdict.done and wait.hints.counts == {"woken": 2, "applied": 1, "ignored": 2, "listings": 1}
    assert "IN_PROGRESS -> QUEUED" not in caplog.text and "IN_PROGRESS -> SUCCEEDED" in caplog.text


def test_a_forged_terminal_hint_never_ends_a_wait() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
    clock = SleepingClock(0.0)
    hints = ScriptedHints(clock, [after(1, clock, Woken((hint("a1", "SUCCEEDED", 1),)))])

    def finish_later(action: AwaitHints) -> Woken:  # then nothing comes until the reconcile poll
        clock.sleep(action.seconds)
        fake.set_analysis("a1", "FAILED", summary="real failure")
        return Woken()

    hints.replies.append(finish_later)
    _, verdict = woken_wait(fake, clock, hints)
    assert verdict.done and verdict.failures[0].reason == "real failure"  # ICA's word, not the forged one
    assert clock.now == pytest.approx(1 + 900)  # the confirmation disagreed: the wait went on


def nothing_comes(clock: SleepingClock, sleeps: int, then: Callable[[], None]) -> ScriptedHints:
    """Every message lost: each AwaitHints sleeps its whole time; ``then`` changes ICA during the ``sleeps``-th."""

    def reply(action: AwaitHints) -> Woken:
        clock.sleep(action.seconds)
        if not hints.replies:
            then()
        return Woken()

    hints = ScriptedHints(clock, [reply] * sleeps)
    return hints


def test_without_hints_the_wait_lists_every_reconcile_interval_and_ends() -> None:
    """Every message lost: the wait still ends, one reconcile interval after its batch at most."""
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
    clock = SleepingClock(0.0)
    _, verdict = woken_wait(fake, clock, nothing_comes(clock, 2, lambda: fake.set_analysis("a1", "SUCCEEDED")))
    assert verdict.done and clock.now == 1800.0
    assert len(fake.api_requests()) == 3  # one poll per reconcile interval


@pytest.mark.parametrize(
    ("tag", "requests"),
    [
        # The first poll (items, then the job), a reconcile poll of the job alone, then the job and its items.
        (TAG, ["items", BATCH_ID, BATCH_ID, BATCH_ID, "items"]),
        # A sensor given a batch ID follows analyses by id, as listings show them: it lists every time.
        (None, ["items", BATCH_ID, BATCH_ID, "items", BATCH_ID, "items"]),
    ],
)
def test_every_message_lost_during_creation_a_tagged_wait_reads_the_job_alone_until_it_ends(
    tag: str | None, requests: list[str]
) -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "RUNNING")
    clock = SleepingClock(0.0)

    def created_and_done() -> None:
        fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
        fake.set_job("SUCCEEDED")

    _, verdict = woken_wait(fake, clock, nothing_comes(clock, 2, created_and_done), tag=tag)
    assert verdict.done and verdict.analysis_ids == ["a1"] and clock.now == 1800.0
    assert paths_of(fake) == requests


def paths_of(fake: FakeIca) -> list[str]:
    """The last part of each request's path: ``items`` (a listing) or the batch ID (the job)."""
    return [r.path.rsplit("/", 1)[-1] for r in fake.api_requests()]


def test_a_job_left_running_after_its_items_delays_a_wait_with_no_messages_a_bounded_time() -> None:
    """ICA leaves the job RUNNING though every item was created and its analysis ended: after
    JOB_ALONE_POLLS reconcile polls of the job alone, one lists the items, and the wait ends."""
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "RUNNING")
    clock = SleepingClock(0.0)
    hints = nothing_comes(clock, 1, lambda: fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED"))
    # The job stays RUNNING.
    _, verdict = woken_wait(fake, clock, hints, deadline=Deadline(10 * 900.0), tag=TAG)
    assert verdict is not None and verdict.done and verdict.analysis_ids == ["a1"]
    assert clock.now == 900.0 * (JOB_ALONE_POLLS + 1)
    assert paths_of(fake) == ["items", BATCH_ID, *[BATCH_ID] * JOB_ALONE_POLLS, BATCH_ID, "items"]


def test_a_reconcile_poll_at_the_deadline_lists_the_items_though_the_job_runs() -> None:
    """A timeout names the items as ICA shows them, as a polled wait's does."""
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "RUNNING")
    clock = SleepingClock(0.0)
    _, verdict = woken_wait(fake, clock, ScriptedHints(clock, []), tag=TAG, deadline=Deadline(600.0))
    assert verdict is None and clock.now == 600.0 and paths_of(fake) == ["items", BATCH_ID, BATCH_ID, "items"]


def test_a_deadline_that_passes_during_a_poll_of_the_job_alone_lists_the_items_too() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "RUNNING")
    clock = SleepingClock(0.0)

    def slow_job_read(request: Request) -> Response:
        if clock.now == 900.0 and request.path.endswith(BATCH_ID):
            clock.sleep(100)  # the reconcile poll's job read outlasts the deadline
        return fake.send(request)

    _, verdict = woken_wait(fake, clock, ScriptedHints(clock, []), tag=TAG, send=slow_job_read, deadline=Deadline(950.0))
    # The first poll; at 900 the job alone, and, the deadline passed meanwhile, a full poll.
    assert verdict is None and clock.now == 1000.0
    assert paths_of(fake) == ["items", BATCH_ID, BATCH_ID, BATCH_ID, "items"]


def test_an_unreadable_queue_falls_back_to_the_poll_interval_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
    clock = SleepingClock(0.0)
    down = Woken(available=False)
    hints = ScriptedHints(clock, [after(0, clock, down), after(60, clock, down), after(60, clock, down)])

    def back(action: AwaitHints) -> Woken:
        fake.set_analysis("a1", "SUCCEEDED")
        clock.sleep(action.seconds)
        return Woken(available=False)

    hints.replies.append(back)
    with caplog.at_level(logging.WARNING):
        _, verdict = woken_wait(fake, clock, hints)
    assert verdict.done and clock.now == 180.0  # polled every 60 s meanwhile, not every 900 s
    assert caplog.text.count("notifications cannot be read") == 1


def test_a_job_hint_costs_one_listing_that_learns_the_analyses() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "RUNNING")
    clock = SleepingClock(0.0)

    def created(action: AwaitHints) -> Woken:
        assert action.job_ids == ("job-1",) and action.analysis_ids == ()
        fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
        fake.set_job("SUCCEEDED")
        clock.sleep(2)
        return Woken((job_hint("SUCCEEDED"),))

    def followed(action: AwaitHints) -> Woken:
        assert action.analysis_ids == ("a1",)
        fake.set_analysis("a1", "SUCCEEDED")
        clock.sleep(3)
        return Woken((hint("a1", "SUCCEEDED", 2),))

    _, verdict = woken_wait(fake, clock, ScriptedHints(clock, [created, followed]))
    assert verdict.done and clock.now == 5.0
    assert item_listings(fake) == 3  # the first, the one the job hint asked for, the confirmation
    # The first poll read the job after its listing (items were being created); the listing the
    # job hint asked for did not read it again: the items it showed were all created.
    assert len(fake.api_requests()) == 4


def test_tagged_hints_end_a_wait_started_during_creation_in_three_requests() -> None:
    """The benchmark's target: the first poll (items, then the job), and the confirming listing."""
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "RUNNING")
    fake.put_item("i2", "ref-2", "RUNNING")
    clock = SleepingClock(0.0)

    def created_and_done(action: AwaitHints) -> Woken:
        assert action.tags == (TAG,) and action.job_ids == ("job-1",)
        fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
        fake.put_item("i2", "ref-2", "SUCCEEDED", "a2", "SUCCEEDED")
        fake.set_job("SUCCEEDED")
        clock.sleep(2)
        return Woken((tagged("a1", "SUCCEEDED", "ref-1"), tagged("a2", "SUCCEEDED", "ref-2"), job_hint("SUCCEEDED")))

    hints = ScriptedHints(clock, [created_and_done])
    wait = Wait(BatchTracker(PROJECT_ID, BATCH_ID), poll_interval=60, clock=clock, jitter=0, reconcile_interval=900)
    wait.hints.tag = TAG
    verdict = drive(wait.until_done(protocol_for(fake), log), fake.send, clock.sleep, hints=hints)
    assert verdict.done and sorted(verdict.analysis_ids) == ["a1", "a2"] and clock.now == 2.0
    assert len(fake.api_requests()) == 3 and item_listings(fake) == 2
    assert wait.hints.counts == {"woken": 1, "applied": 2, "ignored": 1, "listings": 1}  # the job hint came too late


@pytest.mark.parametrize("wait_for", ["analyses", "creation"])
def test_a_tagged_hint_gives_way_to_a_listing_that_shows_no_analysis_yet(wait_for: str) -> None:
    """A forged or misrouted message names an analysis REST never shows: the confirming listing
    (the item created, no analysis shown yet) takes it back, and the wait goes on to the real one."""
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "RUNNING")
    clock = SleepingClock(0.0)

    def forged(action: AwaitHints) -> Woken:
        fake.put_item("i1", "ref-1", "SUCCEEDED")  # created; ICA does not show its analysis yet
        clock.sleep(1)
        return Woken((tagged("a-forged", "SUCCEEDED", "ref-1"),))

    def real(action: AwaitHints) -> Woken:
        clock.sleep(action.seconds)
        fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
        return Woken()

    wait = Wait(BatchTracker(PROJECT_ID, BATCH_ID, wait_for), poll_interval=60, clock=clock, jitter=0, reconcile_interval=900)  # type: ignore[arg-type]
    wait.hints.tag = TAG
    verdict = drive(wait.until_done(protocol_for(fake), log), fake.send, clock.sleep, hints=ScriptedHints(clock, [forged, real]))
    assert verdict.done and verdict.analysis_ids == ["a1"] and clock.now == pytest.approx(1 + 900)
    assert not wait.tracker.hinted


def test_a_tagged_hint_the_listing_contradicts_does_not_end_the_wait() -> None:
    """A forged or early message: ICA's listing still shows the item being created, so the wait goes on."""
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "RUNNING")
    clock = SleepingClock(0.0)
    hints = ScriptedHints(clock, [after(1, clock, Woken((tagged("a1", "SUCCEEDED", "ref-1"),)))])

    def created_later(action: AwaitHints) -> Woken:
        clock.sleep(action.seconds)
        fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "FAILED")
        fake.set_job("SUCCEEDED")
        return Woken()

    hints.replies.append(created_later)
    wait = Wait(BatchTracker(PROJECT_ID, BATCH_ID), poll_interval=60, clock=clock, jitter=0, reconcile_interval=900)
    wait.hints.tag = TAG
    verdict = drive(wait.until_done(protocol_for(fake), log), fake.send, clock.sleep, hints=hints)
    assert verdict.done and verdict.failed and clock.now == pytest.approx(1 + 900)


def test_an_overflowed_subscription_lists_to_catch_up() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
    clock = SleepingClock(0.0)

    def overflowed(action: AwaitHints) -> Woken:
        fake.set_analysis("a1", "SUCCEEDED")
        clock.sleep(1)
        return Woken(overflowed=True)

    _, verdict = woken_wait(fake, clock, ScriptedHints(clock, [overflowed]))
    assert verdict.done and clock.now == 1.0


def test_the_deadline_caps_the_sleep_for_hints() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
    clock = SleepingClock(0.0)
    hints = ScriptedHints(clock, [])
    _, verdict = woken_wait(fake, clock, hints, deadline=Deadline(100.0))
    assert verdict is None and [a.seconds for a in hints.actions] == [100.0]


def test_a_driver_without_hints_sleeps_the_reconcile_interval() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
    clock = SleepingClock(0.0)
    wait = Wait(BatchTracker(PROJECT_ID, BATCH_ID), clock=clock, jitter=0, reconcile_interval=900)
    verdict = drive(wait.until_done(protocol_for(fake), log), fake.send, clock.sleep)
    assert verdict.done and clock.sleeps == []


def test_a_batch_is_settled_once_every_creation_and_analysis_has_ended() -> None:
    """What lets the consumer delete its later messages: nothing of the batch can change any more."""
    ended = tracker_with(("i1", "SUCCEEDED", "a1", "SUCCEEDED"), ("i2", "FAILED", None, None), ("i3", "SUCCEEDED", "a3", "ABORTED"))
    assert ended.settled()
    running = tracker_with(("i1", "SUCCEEDED", "a1", "SUCCEEDED"), ("i2", "SUCCEEDED", "a2", "IN_PROGRESS"))
    running.wait_for = "creation"
    assert running.verdict(0).done and not running.settled()  # a creation wait ends with analyses running
    assert not tracker_with(("i1", "SUCCEEDED", None, None)).settled()  # created, its analysis not shown yet
    partial = tracker_with(("i1", "SUCCEEDED", "a1", "SUCCEEDED"))
    partial.item_count = 2
    assert not partial.settled() and not BatchTracker(PROJECT_ID, BATCH_ID).settled()
