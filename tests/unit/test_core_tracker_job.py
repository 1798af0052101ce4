"""A STOPPED or FAILED batch job ends the wait: the items it left uncreated count as FAILED.

``BatchTracker.poll`` driven by the real generators against :class:`samples.FakeIca`,
whose batch answer carries a settable ``job``.
"""

from __future__ import annotations

import logging

import pytest
from samples import BATCH_ID, PROJECT_ID, FakeIca, json_response
from test_core_tracker import BATCH, ITEMS, poll, protocol_for

from ica_airflow_provider.core.drive import drive
from ica_airflow_provider.core.messages import Request, Response
from ica_airflow_provider.core.tracker import BatchTracker

STOPPED_INFO = "Stopped by the user"


def stopped_midway() -> FakeIca:
    """a created (analysis running), b being created, c waiting for resources."""
    fake = FakeIca()
    fake.put_item("i1", "ref-a", "SUCCEEDED", "a1", "IN_PROGRESS")
    fake.put_item("i2", "ref-b", "RUNNING")
    fake.put_item("i3", "ref-c", "WAITING_RESOURCES")
    return fake


@pytest.mark.parametrize(("status", "info", "reason"), [
    ("STOPPED", STOPPED_INFO, "batch job STOPPED: Stopped by the user"),
    ("FAILED", None, "batch job FAILED"),
])
def test_the_poll_after_the_job_ends_fails_the_items_left_uncreated(status: str, info: str | None, reason: str) -> None:
    fake = stopped_midway()
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID, page_size=1)
    poll(tracker, fake, protocol)  # the job is RUNNING
    assert tracker.verdict(0).done is False

    fake.set_job(status, info)
    fake.set_analysis("a1", "SUCCEEDED")
    changes, sent = poll(tracker, fake, protocol)

    assert sent == [BATCH] + [ITEMS] * 3  # the job before the items
    assert changes[-2:] == [
        f"ref-b: creation RUNNING -> FAILED ({reason})",
        f"ref-c: creation WAITING_RESOURCES -> FAILED ({reason})",
    ]
    verdict = tracker.verdict(0)
    assert verdict.done and verdict.failed
    assert verdict.analysis_ids == ["a1"]
    assert [(r.user_reference, r.item_status, r.reason) for r in verdict.failures] == [
        ("ref-b", "FAILED", reason), ("ref-c", "FAILED", reason),
    ]
    assert f"ref-b: creation FAILED: {reason} (item i2)" in verdict.failure_message(BATCH_ID)
    assert tracker.verdict(2).failed is False  # max_failures still decides


def test_a_job_stopped_before_the_first_poll_ends_it_within_that_poll() -> None:
    """First sight: the items, then the job; it has ended: the job again, then the items."""
    fake = stopped_midway()
    fake.set_job("STOPPED", STOPPED_INFO)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)

    changes, sent = poll(tracker, fake, protocol_for(fake))

    assert sent == [ITEMS, BATCH, BATCH, ITEMS]
    assert changes == [
        "ref-b: creation RUNNING -> FAILED (batch job STOPPED: Stopped by the user)",
        "ref-c: creation WAITING_RESOURCES -> FAILED (batch job STOPPED: Stopped by the user)",
    ]
    assert tracker.verdict(0).done is False  # the analysis of a still runs: waited for, as ever
    fake.set_analysis("a1", "SUCCEEDED")
    _, sent = poll(tracker, fake, protocol_for(fake))
    assert sent == [ITEMS]  # nothing creating any more: no job read
    assert tracker.verdict(0).failed is True


def test_an_item_created_just_before_the_stop_is_not_failed() -> None:
    """The first sight read the items before the job: one of them was created in between."""
    fake = stopped_midway()
    path = f"/api/projects/{PROJECT_ID}/analysisCreationBatch/{BATCH_ID}"

    def stop_after_b_is_created(request: Request) -> Response:
        fake.put_item("i2", "ref-b", "SUCCEEDED", "a2", "REQUESTED")
        fake.set_job("STOPPED", STOPPED_INFO)
        return json_response(200, {"id": BATCH_ID, "job": fake.job})

    fake.routes[("GET", path)] = stop_after_b_is_created
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)

    poll(tracker, fake, protocol_for(fake))

    assert tracker.records["i2"].item_status == "SUCCEEDED"
    assert tracker.records["i2"].analysis_id == "a2"
    assert [r.user_reference for r in tracker.verdict(0).failures] == ["ref-c"]


@pytest.mark.parametrize("status", ["SUCCEEDED", "PARTIALLY_SUCCEEDED"])
def test_a_finished_job_does_not_fail_items_still_shown_creating(
    status: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The job says every item was created or failed: the items' view lags; follow the items."""
    caplog.set_level(logging.WARNING, logger="ica_airflow_provider.core.tracker")
    fake = stopped_midway()
    fake.set_job(status)
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)

    poll(tracker, fake, protocol)
    poll(tracker, fake, protocol)

    assert [r.item_status for r in tracker.records.values()] == ["SUCCEEDED", "RUNNING", "WAITING_RESOURCES"]
    assert tracker.verdict(0).done is False
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        f"ICA batch {BATCH_ID}: its job is {status}, yet some items are still shown being created; following them"
    ]
    fake.put_item("i2", "ref-b", "SUCCEEDED", "a2", "SUCCEEDED")
    fake.put_item("i3", "ref-c", "FAILED", info="no capacity")
    fake.set_analysis("a1", "SUCCEEDED")
    poll(tracker, fake, protocol)
    assert tracker.verdict(1).done and tracker.verdict(1).analysis_ids == ["a1", "a2"]


def listing_after_a_hint(tracker: BatchTracker, fake: FakeIca) -> tuple[list[str], list[str]]:
    """The listing a job hint asks for (``job_first=False``); returns (changes, requests)."""
    before = len(fake.api_requests())
    changes = drive(tracker.poll(protocol_for(fake), listing=True, job_first=False), fake.send, lambda s: None)
    return changes, fake.described()[before:]


def test_a_listing_hints_asked_for_reads_the_job_only_if_items_are_still_being_created() -> None:
    fake = stopped_midway()
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)
    poll(tracker, fake, protocol_for(fake))
    fake.put_item("i2", "ref-b", "SUCCEEDED", "a2", "REQUESTED")
    fake.put_item("i3", "ref-c", "SUCCEEDED", "a3", "REQUESTED")
    fake.set_job("SUCCEEDED")

    _, sent = listing_after_a_hint(tracker, fake)

    assert sent == [ITEMS]  # every item created: the job has nothing to add
    assert not tracker.creating()


def test_a_listing_hints_asked_for_still_fails_the_items_an_ended_job_left(caplog: pytest.LogCaptureFixture) -> None:
    """The job read after the items says it stopped: the items again, job first, as on first sight."""
    caplog.set_level(logging.WARNING, logger="ica_airflow_provider.core.tracker")
    fake = stopped_midway()
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)
    poll(tracker, fake, protocol_for(fake))
    fake.set_job("STOPPED", STOPPED_INFO)

    changes, sent = listing_after_a_hint(tracker, fake)

    assert sent == [ITEMS, BATCH, BATCH, ITEMS]
    assert [r.user_reference for r in tracker.verdict(0).failures] == ["ref-b", "ref-c"]
    assert changes[-1] == "ref-c: creation WAITING_RESOURCES -> FAILED (batch job STOPPED: Stopped by the user)"

    fake = stopped_midway()
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)
    poll(tracker, fake, protocol_for(fake))
    fake.set_job("SUCCEEDED")  # read after a listing that still showed items being created: no lag to tell
    _, sent = listing_after_a_hint(tracker, fake)
    assert sent == [ITEMS, BATCH] and tracker.creating() and not caplog.records


def test_the_job_is_not_read_once_every_item_is_created() -> None:
    """A large batch whose items are all created pays nothing extra, listing or not."""
    fake = FakeIca()
    for n in range(1, 7):
        fake.put_item(f"i{n}", f"ref-{n}", "SUCCEEDED", f"a{n}", "IN_PROGRESS")
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID, page_size=2)

    _, first = poll(tracker, fake, protocol)
    _, second = poll(tracker, fake, protocol)  # 6 open analyses >= 3 pages: lists again

    assert first == second == [ITEMS] * 3


def test_items_failed_by_the_job_stay_failed_and_the_job_is_not_read_again() -> None:
    """With failures tolerated the wait goes on; ICA keeps showing the items as they were left."""
    fake = FakeIca()
    for n in range(1, 5):
        fake.put_item(f"i{n}", f"ref-{n}", "SUCCEEDED", f"a{n}", "IN_PROGRESS")
    fake.put_item("i5", "ref-5", "RUNNING")
    fake.set_job("STOPPED", STOPPED_INFO)
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID, page_size=2)
    poll(tracker, fake, protocol)
    assert tracker.verdict(1).done is False  # one failure tolerated; four analyses running

    changes, sent = poll(tracker, fake, protocol)  # 4 open analyses >= 3 pages: lists again

    assert sent == [ITEMS] * 3
    assert changes == []
    record = tracker.records["i5"]
    assert (record.item_status, record.reason) == ("FAILED", "batch job STOPPED: Stopped by the user")
    # What a task hands on (XCom, trigger event, the task state store) keeps the judgement.
    reloaded = BatchTracker(PROJECT_ID, BATCH_ID)
    reloaded.load_records(tracker.dump_records())
    assert [r.user_reference for r in reloaded.verdict(1).failures] == ["ref-5"]


def test_a_batch_without_a_job_answer_waits_as_before() -> None:
    fake = stopped_midway()
    path = f"/api/projects/{PROJECT_ID}/analysisCreationBatch/{BATCH_ID}"
    fake.routes[("GET", path)] = lambda request: json_response(200, {"id": BATCH_ID, "job": None})
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)

    poll(tracker, fake, protocol_for(fake))
    poll(tracker, fake, protocol_for(fake))

    assert tracker.verdict(0).done is False and tracker.verdict(0).failures == []
