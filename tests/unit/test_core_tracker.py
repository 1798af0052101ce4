"""``judge``, ``ItemRecord``, ``Verdict`` and ``BatchTracker`` driven by the real generators.

``BatchTracker.poll`` is run with :func:`ica_airflow_provider.core.drive.drive` and a fake
``send`` (:class:`samples.FakeIca`) that answers the core's requests from memory, so the
real protocol generators, request builders and response models are exercised.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from samples import (
    BATCH_ID,
    PIPELINE_ID,
    PROBLEM_JSON,
    PROJECT_ID,
    V3,
    FakeIca,
    json_response,
    make_jwt,
    outputs_body,
    problem_body,
)

from ica_airflow_provider.core.auth import TokenCache
from ica_airflow_provider.core.drive import drive
from ica_airflow_provider.core.errors import IcaApiError
from ica_airflow_provider.core.protocol import IcaProtocol
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.core.tracker import REASON_SHOWN, BatchTracker, ItemRecord, judge, listing
from ica_airflow_provider.core.wait import PollFailures, Wait, finish

BATCH = f"GET /api/projects/{PROJECT_ID}/analysisCreationBatch/{BATCH_ID}"
ITEMS = f"{BATCH}/items"


def rec(
    item_status: str,
    analysis_status: str | None = None,
    *,
    n: int = 1,
    analysis_id: str | None = "auto",
    reason: str | None = None,
) -> ItemRecord:
    if analysis_id == "auto":
        analysis_id = f"a{n}" if analysis_status is not None else None
    return ItemRecord(f"i{n}", f"ref-{n}", PIPELINE_ID, item_status, analysis_id, analysis_status, reason)


def protocol_for(fake: FakeIca) -> IcaProtocol:
    """A protocol holding a valid JWT already, so that every request counted is an API call."""
    tokens = TokenCache()
    tokens.store(fake.jwt)
    return IcaProtocol("key", RetryPolicy(max_retries=0), tokens)


def poll(tracker: BatchTracker, fake: FakeIca, protocol: IcaProtocol) -> tuple[list[str], list[str]]:
    """Run one poll; returns (changes, the requests it made)."""
    before = len(fake.api_requests())
    changes = drive(tracker.poll(protocol), fake.send, lambda s: None)
    return changes, fake.described()[before:]


# -- ItemRecord.phase and judge ------------------------------------------------------------------------

PHASES = [
    # item status, analysis status, wait_for, phase
    ("RUNNING", None, "analyses", "running"),
    ("WAITING_RESOURCES", None, "analyses", "running"),
    ("RUNNING", None, "creation", "running"),
    ("FAILED", None, "analyses", "failed"),
    ("FAILED", None, "creation", "failed"),
    ("SUCCEEDED", None, "creation", "running"),  # created, but no analysis ID to hand on yet
    ("SUCCEEDED", None, "analyses", "running"),  # created, analysis not shown yet
    ("SUCCEEDED", "REQUESTED", "analyses", "running"),
    ("SUCCEEDED", "IN_PROGRESS", "analyses", "running"),
    ("SUCCEEDED", "AWAITING_INPUT", "analyses", "running"),
    ("SUCCEEDED", "ABORTING", "analyses", "running"),
    ("SUCCEEDED", "INPROGRESS", "analyses", "running"),
    ("SUCCEEDED", "SUCCEEDED", "analyses", "succeeded"),
    ("SUCCEEDED", "FAILED", "analyses", "failed"),
    ("SUCCEEDED", "FAILED_FINAL", "analyses", "failed"),
    ("SUCCEEDED", "FAILEDFINAL", "analyses", "failed"),
    ("SUCCEEDED", "ABORTED", "analyses", "failed"),
    ("SUCCEEDED", "FAILED", "creation", "succeeded"),  # creation ignores the analysis
    ("SUCCEEDED", "SOME_NEW_STATUS", "analyses", "running"),
    ("SOME_NEW_ITEM_STATUS", None, "creation", "running"),
    ("SOME_NEW_ITEM_STATUS", None, "analyses", "running"),
]


@pytest.mark.parametrize(("item_status", "analysis_status", "wait_for", "phase"), PHASES)
def test_record_phase(item_status: str, analysis_status: str | None, wait_for: Any, phase: str) -> None:
    assert rec(item_status, analysis_status).phase(wait_for).value == phase


@pytest.mark.parametrize(
    ("records", "wait_for", "max_failures", "done", "failed", "failure_refs", "ids"),
    [
        ([], "analyses", 0, False, False, [], []),
        ([], "creation", 0, False, False, [], []),
        ([rec("SUCCEEDED", "SUCCEEDED", n=1), rec("SUCCEEDED", "SUCCEEDED", n=2)],
         "analyses", 0, True, False, [], ["a1", "a2"]),
        ([rec("SUCCEEDED", "SUCCEEDED", n=1), rec("SUCCEEDED", "IN_PROGRESS", n=2)],
         "analyses", 0, False, False, [], ["a1"]),
        ([rec("SUCCEEDED", "SUCCEEDED", n=1), rec("SUCCEEDED", "IN_PROGRESS", n=2)],
         "creation", 0, True, False, [], ["a1", "a2"]),
        ([rec("SUCCEEDED", n=1), rec("RUNNING", n=2)], "creation", 0, False, False, [], []),
        ([rec("SUCCEEDED", n=1)], "analyses", 0, False, False, [], []),
        ([rec("FAILED", n=1), rec("SUCCEEDED", "SUCCEEDED", n=2)], "creation", 0, True, True, ["ref-1"], ["a2"]),
        ([rec("FAILED", n=1), rec("SUCCEEDED", "SUCCEEDED", n=2)], "creation", 1, True, False, ["ref-1"], ["a2"]),
        ([rec("SUCCEEDED", "FAILED", n=1), rec("SUCCEEDED", "SUCCEEDED", n=2)],
         "analyses", 0, True, True, ["ref-1"], ["a2"]),
        ([rec("SUCCEEDED", "FAILED_FINAL", n=1), rec("SUCCEEDED", "SUCCEEDED", n=2)],
         "analyses", 0, True, True, ["ref-1"], ["a2"]),
        ([rec("SUCCEEDED", "ABORTED", n=1), rec("SUCCEEDED", "SUCCEEDED", n=2)],
         "analyses", 0, True, True, ["ref-1"], ["a2"]),
        ([rec("SUCCEEDED", "ABORTED", n=1), rec("FAILED", n=2), rec("SUCCEEDED", "SUCCEEDED", n=3)],
         "analyses", 1, True, True, ["ref-1", "ref-2"], ["a3"]),
        ([rec("SUCCEEDED", "ABORTED", n=1), rec("FAILED", n=2), rec("SUCCEEDED", "SUCCEEDED", n=3)],
         "analyses", 2, True, False, ["ref-1", "ref-2"], ["a3"]),
        # a failure while others still run: not done, so not failed yet
        ([rec("FAILED", n=1), rec("RUNNING", n=2)], "analyses", 0, False, False, ["ref-1"], []),
        ([rec("SUCCEEDED", "SUCCEEDED", n=1), rec("SUCCEEDED", "MYSTERY", n=2)],
         "analyses", 0, False, False, [], ["a1"]),
        ([rec("MYSTERY", n=1)], "creation", 0, False, False, [], []),
        ([rec("FAILED", n=1), rec("FAILED", n=2)], "creation", 0, True, True, ["ref-1", "ref-2"], []),
    ],
)
def test_judge(
    records: list[ItemRecord],
    wait_for: Any,
    max_failures: int,
    done: bool,
    failed: bool,
    failure_refs: list[str],
    ids: list[str],
) -> None:
    verdict = judge(records, wait_for, max_failures)

    assert verdict.done is done
    assert verdict.failed is failed
    assert [r.user_reference for r in verdict.failures] == failure_refs
    assert verdict.analysis_ids == ids
    assert verdict.records == records
    assert (verdict.max_failures, verdict.wait_for) == (max_failures, wait_for)


def test_judge_accepts_any_iterable() -> None:
    verdict = judge((r for r in [rec("SUCCEEDED", "SUCCEEDED")]), "analyses", 0)
    assert verdict.done and verdict.analysis_ids == ["a1"]


def test_failure_message_lists_reference_ids_status_and_reason() -> None:
    records = [
        rec("FAILED", n=1, reason="Pipeline pipe-cwl-1 not found"),
        rec("SUCCEEDED", "FAILED_FINAL", n=2, reason="Out of memory"),
        rec("SUCCEEDED", "ABORTED", n=3),
        rec("SUCCEEDED", "SUCCEEDED", n=4),
    ]
    verdict = judge(records, "analyses", 1)

    message = verdict.failure_message("batch-9")
    lines = message.splitlines()
    # The sample and ICA's reason first (the line a log view shows beside the error's type), the IDs after.
    assert lines == [
        "ref-1: creation FAILED: Pipeline pipe-cwl-1 not found (item i1)",
        "ref-2: analysis FAILED_FINAL: Out of memory (item i2, analysis a2)",
        "ref-3: analysis ABORTED (item i3, analysis a3)",
        "ICA batch batch-9: 3 of 4 items failed (max_failures=1)",
    ]
    assert "ref-4" not in message


def test_failure_message_for_creation() -> None:
    verdict = judge([rec("FAILED", n=1, reason="bad input")], "creation", 0)
    message = verdict.failure_message("b")
    assert message.splitlines() == ["ref-1: creation FAILED: bad input (item i1)", "ICA batch b: 1 of 1 item creations failed (max_failures=0)"]


def test_failure_message_cuts_a_long_reason_to_one_readable_line() -> None:
    reason = "Step align exited 137.\n" + "x" * 500
    line = judge([rec("SUCCEEDED", "FAILED", n=1, reason=reason)], "analyses", 0).failure_message("b").splitlines()[0]
    assert line.startswith("ref-1: analysis FAILED: Step align exited 137. xxx")
    assert line.endswith("… (item i1, analysis a1)")
    assert len(line) < REASON_SHOWN + 60


def test_record_xcom_round_trip() -> None:
    record = rec("SUCCEEDED", "FAILED", reason="why")
    data = record.to_xcom()
    assert data == {
        "item_id": "i1", "user_reference": "ref-1", "pipeline_id": PIPELINE_ID, "item_status": "SUCCEEDED",
        "analysis_id": "a1", "analysis_status": "FAILED", "reason": "why",
    }
    assert ItemRecord.from_xcom(data) == record
    assert ItemRecord.from_xcom({**data, "unknown": 1}) == record
    partial = ItemRecord.from_xcom({"item_id": "i9", "user_reference": "r", "pipeline_id": "p", "item_status": "RUNNING"})
    assert partial.analysis_id is None and partial.reason is None


# -- BatchTracker.plan --------------------------------------------------------------------------------------


def tracker_with(records: list[ItemRecord], page_size: int = 1000, wait_for: Any = "analyses") -> BatchTracker:
    tracker = BatchTracker(PROJECT_ID, BATCH_ID, wait_for=wait_for, page_size=page_size)
    tracker.records = {r.item_id: r for r in records}
    return tracker


def test_plan_lists_everything_on_the_first_poll() -> None:
    assert BatchTracker(PROJECT_ID, BATCH_ID).plan() is None


def test_plan_targets_the_few_open_ones() -> None:
    records = [rec("SUCCEEDED", "SUCCEEDED", n=i) for i in range(1, 11)]
    records[0] = rec("RUNNING", n=1)
    records[1] = rec("SUCCEEDED", "IN_PROGRESS", n=2)
    records[2] = rec("FAILED", n=3)
    records[3] = rec("SUCCEEDED", "FAILED", n=4)
    tracker = tracker_with(records, page_size=2)  # listing costs 5 requests

    assert tracker.plan() == (["i1"], ["a2"])


def test_plan_lists_everything_when_many_are_open() -> None:
    records = [rec("RUNNING", n=i) for i in range(1, 6)] + [rec("SUCCEEDED", "QUEUED", n=i) for i in range(6, 11)]
    tracker = tracker_with(records, page_size=2)  # 10 open, listing costs 5

    assert tracker.plan() is None


def test_plan_lists_when_targeting_costs_as_much() -> None:
    records = [rec("RUNNING", n=1), rec("SUCCEEDED", "QUEUED", n=2), rec("SUCCEEDED", "SUCCEEDED", n=3)]
    assert tracker_with(records, page_size=2).plan() is None  # 2 open vs 2 pages
    assert tracker_with(records, page_size=1).plan() == (["i1"], ["a2"])  # 2 open vs 3 pages


def test_plan_for_creation_ignores_analyses() -> None:
    records = [rec("RUNNING", n=1), rec("SUCCEEDED", "IN_PROGRESS", n=2), rec("SUCCEEDED", "QUEUED", n=3)]
    assert tracker_with(records, page_size=1, wait_for="creation").plan() == (["i1"], [])


def test_plan_refetches_items_created_without_an_analysis_yet() -> None:
    """An item that SUCCEEDED before ICA showed its analysis must be fetched again."""
    records = [rec("SUCCEEDED", n=1), rec("SUCCEEDED", "SUCCEEDED", n=2), rec("SUCCEEDED", "SUCCEEDED", n=3)]
    for wait_for in ("analyses", "creation"):
        assert tracker_with(records, page_size=1, wait_for=wait_for).plan() == (["i1"], [])


# -- BatchTracker.poll with the real generators ------------------------------------------------------------------


def five_item_fake() -> FakeIca:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
    fake.put_item("i2", "ref-2", "SUCCEEDED", "a2", "IN_PROGRESS")
    fake.put_item("i3", "ref-3", "RUNNING")
    fake.put_item("i4", "ref-4", "FAILED", info="Pipeline pipe-cwl-1 not found")
    fake.put_item("i5", "ref-5", "SUCCEEDED", "a5", "FAILED", summary="Out of memory")
    return fake


def test_poll_follows_a_batch_to_the_end() -> None:
    fake = five_item_fake()
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID, wait_for="analyses", page_size=2)

    # 1st poll: nothing known yet, list every item (5 items / 2 per page = 3 pages);
    # i3 is being created: then its job (RUNNING).
    changes, sent = poll(tracker, fake, protocol)
    assert sent == [ITEMS] * 3 + [BATCH]
    page_params = [dict(r.params) for r in fake.api_requests()[:3]]
    assert [p.get("pageToken") for p in page_params] == [None, "2", "4"]
    assert all(p["pageSize"] == "2" for p in page_params)
    assert changes == []
    assert list(tracker.records) == ["i1", "i2", "i3", "i4", "i5"]
    assert tracker.records["i1"] == ItemRecord("i1", "ref-1", PIPELINE_ID, "SUCCEEDED", "a1", "SUCCEEDED")
    assert tracker.records["i3"] == ItemRecord("i3", "ref-3", PIPELINE_ID, "RUNNING")
    assert tracker.records["i4"].reason == "Pipeline pipe-cwl-1 not found"
    assert tracker.records["i5"].reason == "Out of memory"
    assert tracker.verdict(1).done is False

    # 2nd poll: 2 open (i3 creating, a2 running) < 3 pages: the job first, then those two only.
    fake.put_item("i3", "ref-3", "SUCCEEDED", "a3", "REQUESTED")
    fake.set_analysis("a2", "SUCCEEDED")
    changes, sent = poll(tracker, fake, protocol)
    assert sent == [
        BATCH,
        f"GET /api/projects/{PROJECT_ID}/analysisCreationBatch/{BATCH_ID}/items/i3",
        f"GET /api/projects/{PROJECT_ID}/analyses/a2",
    ]
    assert changes == ["ref-3: creation RUNNING -> SUCCEEDED", "ref-2: analysis IN_PROGRESS -> SUCCEEDED"]
    assert (tracker.records["i3"].analysis_id, tracker.records["i3"].analysis_status) == ("a3", "REQUESTED")
    assert tracker.records["i2"].analysis_status == "SUCCEEDED"

    # 3rd poll: only a3 is open.
    fake.set_analysis("a3", "SUCCEEDED")
    changes, sent = poll(tracker, fake, protocol)
    assert sent == [f"GET /api/projects/{PROJECT_ID}/analyses/a3"]
    assert changes == ["ref-3: analysis REQUESTED -> SUCCEEDED"]

    verdict = tracker.verdict(1)
    assert verdict.done is True
    assert verdict.analysis_ids == ["a1", "a2", "a3"]
    assert [r.item_id for r in verdict.failures] == ["i4", "i5"]
    assert verdict.failed is True
    assert tracker.verdict(2).failed is False
    message = verdict.failure_message(BATCH_ID)
    assert f"ICA batch {BATCH_ID}: 2 of 5 items failed (max_failures=1)" in message
    assert "ref-4: creation FAILED: Pipeline pipe-cwl-1 not found (item i4)" in message
    assert "ref-5: analysis FAILED: Out of memory (item i5, analysis a5)" in message

    # 4th poll: nothing open, nothing to ask.
    changes, sent = poll(tracker, fake, protocol)
    assert (changes, sent) == ([], [])


def test_poll_lists_again_when_many_are_open() -> None:
    fake = FakeIca()
    for n in range(1, 7):
        fake.put_item(f"i{n}", f"ref-{n}", "RUNNING")
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID, page_size=4)

    _, sent = poll(tracker, fake, protocol)
    assert sent == [ITEMS] * 2 + [BATCH]

    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "QUEUED")
    fake.put_item("i2", "ref-2", "FAILED", info="quota")
    changes, sent = poll(tracker, fake, protocol)  # 6 open >= 2 pages: list again
    assert sent == [BATCH] + [ITEMS] * 2
    assert changes == ["ref-1: creation RUNNING -> SUCCEEDED", "ref-2: creation RUNNING -> FAILED"]
    assert tracker.records["i1"].analysis_status == "QUEUED"
    assert tracker.records["i2"].reason == "quota"


def test_poll_for_creation_never_fetches_analyses() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "IN_PROGRESS")
    fake.put_item("i2", "ref-2", "RUNNING")
    fake.put_item("i3", "ref-3", "SUCCEEDED", "a3", "QUEUED")
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID, wait_for="creation", page_size=1)

    poll(tracker, fake, protocol)
    fake.put_item("i2", "ref-2", "SUCCEEDED", "a2", "REQUESTED")
    _, sent = poll(tracker, fake, protocol)

    assert sent == [BATCH, f"{BATCH}/items/i2"]
    verdict = tracker.verdict(0)
    assert verdict.done is True
    assert verdict.analysis_ids == ["a1", "a2", "a3"]


def test_poll_picks_up_an_analysis_shown_after_creation() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED")  # created; analysis not in the answer yet
    fake.put_item("i2", "ref-2", "SUCCEEDED", "a2", "SUCCEEDED")
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)

    poll(tracker, fake, protocol)
    assert tracker.verdict(0).done is False
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
    poll(tracker, fake, protocol)

    assert tracker.records["i1"].analysis_id == "a1"
    assert tracker.verdict(0).done is True


def test_poll_warns_once_per_unknown_status(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ica_airflow_provider.core.tracker")
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "PAUSED")
    fake.put_item("i2", "ref-2", "PAUSED")
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID, page_size=1)

    poll(tracker, fake, protocol)
    poll(tracker, fake, protocol)

    warnings = [r for r in caplog.records if "unknown item status 'PAUSED'" in r.getMessage()]
    assert len(warnings) == 1
    assert tracker.verdict(0).done is False


def test_poll_mints_a_token_when_none_is_cached() -> None:
    fake = FakeIca()
    fake.jwt = make_jwt()
    fake.put_item("i1", "ref-1", "RUNNING")
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)

    drive(tracker.poll(IcaProtocol("key", RetryPolicy(max_retries=0))), fake.send, lambda s: None)

    assert [r.describe() for r in fake.requests] == ["POST /api/tokens", ITEMS, BATCH]
    assert fake.requests[1].headers["Authorization"] == f"Bearer {fake.jwt}"


# -- include_outputs ---------------------------------------------------------------------------------------------


def poll_outputs(tracker: BatchTracker, fake: FakeIca, protocol: IcaProtocol) -> tuple[list[str], list[str]]:
    """One poll of a wait that fetches outputs as analyses succeed (``Wait.early_outputs``)."""
    before = len(fake.api_requests())
    wait = Wait(tracker, early_outputs=True, failures=PollFailures(limit=0))
    drive(wait.poll(protocol), fake.send, lambda s: None)
    return [], fake.described()[before:]

OUTPUTS = f"GET /api/projects/{PROJECT_ID}/analyses/{{}}/outputs"


def folder_of(analysis_id: str) -> list[dict[str, Any]]:
    """The ``outputs`` of a record, as output_records() makes them from samples.outputs_body."""
    return [{"code": "output", "data_id": f"fol.{analysis_id}", "name": f"out-{analysis_id}", "data_type": "FOLDER"}]


def test_record_outputs_round_trip_and_only_when_fetched() -> None:
    record = rec("SUCCEEDED", "SUCCEEDED")
    assert "outputs" not in record.to_xcom()  # the XCom keeps its shape without include_outputs
    record.outputs = folder_of("a1")
    data = record.to_xcom()
    assert data["outputs"] == folder_of("a1")
    assert ItemRecord.from_xcom(data) == record
    record.outputs = []  # fetched, and ICA listed nothing: still a key, so never fetched again
    assert ItemRecord.from_xcom(record.to_xcom()).outputs == []


def test_poll_fetches_outputs_once_per_succeeded_analysis() -> None:
    fake = five_item_fake()
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID, page_size=2)

    _, sent = poll_outputs(tracker, fake, protocol)
    # a1 SUCCEEDED; a2 running; a5 FAILED; i3 still being created: the job is read too
    assert sent == [ITEMS] * 3 + [BATCH, OUTPUTS.format("a1")]
    assert tracker.records["i1"].outputs == folder_of("a1")

    fake.put_item("i3", "ref-3", "SUCCEEDED", "a3", "REQUESTED")
    fake.set_analysis("a2", "SUCCEEDED")
    _, sent = poll_outputs(tracker, fake, protocol)
    assert sent[-1:] == [OUTPUTS.format("a2")]  # a2 only: a1's are known
    fake.set_analysis("a3", "SUCCEEDED")
    _, sent = poll_outputs(tracker, fake, protocol)
    assert sent == [f"GET /api/projects/{PROJECT_ID}/analyses/a3", OUTPUTS.format("a3")]
    _, sent = poll_outputs(tracker, fake, protocol)
    assert sent == []  # done: never asked again

    xcom = {r["item_id"]: r for r in tracker.dump_records()}
    assert {i: r.get("outputs") for i, r in xcom.items()} == {
        "i1": folder_of("a1"), "i2": folder_of("a2"), "i3": folder_of("a3"), "i4": None, "i5": None
    }
    assert "outputs" not in xcom["i4"] and "outputs" not in xcom["i5"]  # failed: no outputs at all
    assert tracker.verdict(2).done is True


def test_poll_without_include_outputs_never_asks() -> None:
    fake = five_item_fake()
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)

    _, sent = poll(tracker, fake, protocol_for(fake))

    assert not any(s.endswith("/outputs") for s in sent)
    assert all("outputs" not in r for r in tracker.dump_records())


def test_outputs_fetched_before_a_failed_poll_are_kept() -> None:
    fake = FakeIca()
    for n in (1, 2, 3):
        fake.put_item(f"i{n}", f"ref-{n}", "SUCCEEDED", f"a{n}", "SUCCEEDED")
    failing = ["once"]

    def flaky(request: Any) -> Any:
        if failing:
            failing.clear()
            return json_response(503, problem_body(503, "ICA_UNAVAILABLE", "later"), PROBLEM_JSON)
        return json_response(200, outputs_body("a2"), V3)

    fake.routes[("GET", f"/api/projects/{PROJECT_ID}/analyses/a2/outputs")] = flaky
    protocol = protocol_for(fake)  # no retries: the 503 fails the poll
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)

    with pytest.raises(IcaApiError):
        poll_outputs(tracker, fake, protocol)
    assert tracker.records["i1"].outputs == folder_of("a1")
    assert tracker.records["i2"].outputs is None

    _, sent = poll_outputs(tracker, fake, protocol)  # the next poll asks only for what is missing
    assert sent == [OUTPUTS.format("a2"), OUTPUTS.format("a3")]
    assert [r.outputs for r in tracker.records.values()] == [folder_of(f"a{n}") for n in (1, 2, 3)]


def test_loaded_records_with_outputs_are_not_fetched_again() -> None:
    """A rescheduled sensor's saved records, or a trigger event's: the outputs travel with them."""
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
    fake.put_item("i2", "ref-2", "SUCCEEDED", "a2", "IN_PROGRESS")
    protocol = protocol_for(fake)
    first = BatchTracker(PROJECT_ID, BATCH_ID)
    poll_outputs(first, fake, protocol)

    again = BatchTracker(PROJECT_ID, BATCH_ID, page_size=1)
    again.load_records(first.dump_records())
    fake.set_analysis("a2", "SUCCEEDED")
    _, sent = poll_outputs(again, fake, protocol)

    assert sent == [f"GET /api/projects/{PROJECT_ID}/analyses/a2", OUTPUTS.format("a2")]
    assert again.records["i1"].outputs == folder_of("a1")


def run_finish(tracker: BatchTracker, fake: FakeIca, *, outputs: bool) -> list[str]:
    before = len(fake.api_requests())
    drive(finish(tracker, protocol_for(fake), outputs=outputs), fake.send, lambda s: None)
    return fake.described()[before:]


def test_the_finish_step_completes_a_partial_record_set_with_one_listing_then_fetches_outputs() -> None:
    fake = FakeIca()
    for n in (1, 2, 3):
        fake.put_item(f"i{n}", f"ref-{n}", "SUCCEEDED", f"a{n}", "SUCCEEDED")
    fake.put_item("i4", "ref-4", "SUCCEEDED", "a4", "FAILED")
    first = BatchTracker(PROJECT_ID, BATCH_ID)
    poll(first, fake, protocol_for(fake))
    compact = BatchTracker(PROJECT_ID, BATCH_ID)  # a compact save: only i3 was open
    compact.load_records([first.records["i3"].to_xcom()], item_count=4)

    sent = run_finish(compact, fake, outputs=True)

    assert sent[0] == ITEMS  # one listing, then each succeeded analysis's outputs once
    assert sorted(sent[1:]) == [OUTPUTS.format(f"a{n}") for n in (1, 2, 3)]
    assert not compact.partial and len(compact.records) == 4
    assert run_finish(compact, fake, outputs=True) == []  # whole, with outputs: nothing more to ask


def test_the_finish_step_costs_nothing_for_whole_records_without_outputs() -> None:
    fake = five_item_fake()
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)
    poll(tracker, fake, protocol_for(fake))
    assert run_finish(tracker, fake, outputs=False) == []
    unknown = BatchTracker(PROJECT_ID, BATCH_ID)
    unknown.load_records([], item_count=5)  # an event without records: none known of five
    assert run_finish(unknown, fake, outputs=False)[0] == ITEMS


# -- progress_line ----------------------------------------------------------------------------------------------


def _counts(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"([A-Z_]+)=(\d+)", text)}


def test_progress_line_counts() -> None:
    tracker = tracker_with([
        rec("RUNNING", n=1),
        rec("SUCCEEDED", "IN_PROGRESS", n=2),
        rec("SUCCEEDED", "IN_PROGRESS", n=3),
        rec("SUCCEEDED", "SUCCEEDED", n=4),
        rec("FAILED", n=5),
    ])

    line = tracker.progress_line()

    assert line.startswith(f"ICA batch {BATCH_ID}: 5 items; creation ")
    creation, analyses = line.split("; analyses ")
    assert _counts(creation) == {"FAILED": 1, "RUNNING": 1, "SUCCEEDED": 3}
    assert _counts(analyses) == {"IN_PROGRESS": 2, "SUCCEEDED": 1}


def test_progress_line_without_analyses() -> None:
    line = tracker_with([rec("RUNNING", n=1), rec("WAITING_RESOURCES", n=2)]).progress_line()
    assert "analyses" not in line
    assert _counts(line) == {"RUNNING": 1, "WAITING_RESOURCES": 1}
    assert "2 items" in line


def test_listing_stays_short_for_any_batch() -> None:
    assert listing(["a", "b"]) == "a, b"
    assert listing([]) == ""
    long = listing(f"x{n}" for n in range(10_000))
    assert long.endswith(", x19 and 9980 more") and long.count(",") == 19


@pytest.mark.parametrize(
    ("wait_for", "records", "max_failures", "line"),
    [
        ("analyses", [rec("SUCCEEDED", "SUCCEEDED", n=n) for n in (1, 2, 3)], 0,
         "3 of 3 analyses SUCCEEDED; returning 3 analysis IDs"),
        ("creation", [rec("SUCCEEDED", "IN_PROGRESS", n=1), rec("FAILED", n=2)], 1,
         "1 of 2 item creations SUCCEEDED, 1 FAILED (max_failures=1); returning 1 analysis IDs"),
        ("analyses", [rec("SUCCEEDED", "SUCCEEDED", n=1), rec("SUCCEEDED", "FAILED", n=2)], 0,
         "1 of 2 analyses SUCCEEDED, 1 FAILED (max_failures=0); failing the task"),
    ],
)
def test_summary_is_one_line_of_counts(wait_for: Any, records: list[ItemRecord], max_failures: int, line: str) -> None:
    assert judge(records, wait_for, max_failures).summary("b-1") == f"ICA batch b-1: {line}"


def test_failure_message_of_a_large_batch_stays_short() -> None:
    records = [rec("SUCCEEDED", "FAILED", n=n, reason="Out of memory") for n in range(1, 10_001)]
    message = judge(records, "analyses", 0).failure_message("b-1")
    lines = message.splitlines()
    assert len(lines) == 20 + 1 + 1
    assert lines[0] == "ref-1: analysis FAILED: Out of memory (item i1, analysis a1)"
    assert lines[-2] == "… and 9980 more (see the 'analyses' XCom)"
    assert lines[-1] == "ICA batch b-1: 10000 of 10000 items failed (max_failures=0)"
