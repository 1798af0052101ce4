"""The trigger's event and the rescheduled sensor's saved wait stay small for any batch.

Sizes are measured as Airflow stores them: ``json.dumps`` of the payload (:func:`json_size`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ica_airflow_provider._compat import AIRFLOW_V_3_0_PLUS
from ica_airflow_provider.core.tracker import BatchTracker, ItemRecord, json_size
from ica_airflow_provider.core.wait import Wait
from ica_airflow_provider.task_side import SavedWait
from ica_airflow_provider.triggers.events import (
    EVENT_LIMIT,
    RECORDS_BUDGET,
    event_payload,
    has_records,
    tracker_from_event,
)
from tests.state_store import TaskStateStore

KIB = 1024


def uuid(kind: str, i: int) -> str:
    return f"{i:08x}-{kind:0>4}-4000-8000-{i:012x}"


def tracker(n: int, *, failed_every: int = 0, open_every: int = 0, reason: str = "exit code 1") -> BatchTracker:
    """A batch of ``n`` created items with realistic IDs; some failed, some still running."""
    t = BatchTracker(uuid("proj", 1), uuid("bat", 2))
    for i in range(n):
        status = "SUCCEEDED"
        if failed_every and i % failed_every == 0:
            status = "FAILED"
        elif open_every and i % open_every == 0:
            status = "IN_PROGRESS"
        t.records[uuid("item", i)] = ItemRecord(
            item_id=uuid("item", i), user_reference=f"sample-{i:05d}", pipeline_id=uuid("pipe", 3),
            item_status="SUCCEEDED", analysis_id=uuid("ana", i), analysis_status=status,
            reason=reason if status == "FAILED" else None,
        )
    return t


def stored(value: Any) -> Any:
    """What Airflow keeps of a payload: JSON."""
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("n", [100, 2_000, 10_000])
@pytest.mark.parametrize("status", ["success", "failure", "timeout"])
def test_the_event_stays_within_64_kib_for_any_batch(n: int, status: str) -> None:
    payload = event_payload(status, tracker(n, failed_every=7, open_every=5))
    assert json_size(payload) <= EVENT_LIMIT == 64 * KIB
    assert stored(payload)["items"] == n


def test_small_batches_carry_their_records_big_ones_do_not() -> None:
    small = tracker(100, failed_every=10)
    payload = stored(event_payload("failure", small))
    assert has_records(payload)
    assert payload["records"] == small.dump_records()  # every field, in item order
    assert json_size(payload["records"]) <= RECORDS_BUDGET

    big = stored(event_payload("failure", tracker(10_000, failed_every=1000)))
    assert not has_records(big) and "records" not in big
    assert big["counts"] == {"creation": {"SUCCEEDED": 10_000}, "analyses": {"FAILED": 10, "SUCCEEDED": 9_990}}
    assert big["failed"].startswith("10: sample-00000, sample-01000,")


def test_records_with_extra_fields_are_carried_generically(monkeypatch: pytest.MonkeyPatch) -> None:
    """A field added to ItemRecord (say, outputs) travels without a change here, and counts in the budget."""
    t = tracker(3)

    def with_outputs(record: ItemRecord) -> dict[str, Any]:
        return {**record.__dict__, "outputs": [{"path": f"/out/{record.user_reference}/" + "x" * 200}] * 10}

    monkeypatch.setattr(ItemRecord, "to_xcom", with_outputs)
    payload = stored(event_payload("success", t))
    assert payload["records"][0]["outputs"][0]["path"].startswith("/out/sample-00000/")
    big = tracker(20)  # 20 records of ~2.5 KB each: over the budget
    assert "records" not in event_payload("success", big)
    assert json_size(event_payload("success", big)) <= EVENT_LIMIT


def test_long_names_messages_and_reasons_stay_bounded() -> None:
    t = tracker(2_000, failed_every=1, reason="é" * 50_000)
    for i, record in enumerate(t.records.values()):
        record.user_reference = f"{i}-" + "ü" * 1_000
    assert json_size(event_payload("failure", t)) <= EVENT_LIMIT
    assert json_size(event_payload("error", t, message="boom " * 100_000)) <= EVENT_LIMIT


def test_an_error_event_carries_no_records() -> None:
    payload = event_payload("error", tracker(3), "GET …: 404")
    assert payload["message"] == "GET …: 404" and "records" not in payload


def test_the_logged_event_is_a_summary_not_the_records() -> None:
    """Airflow 3 logs "Trigger fired event … result=<repr(event)>", Airflow 2.10 "fired: <event>"."""
    from airflow.triggers.base import TriggerEvent

    t = tracker(100, failed_every=10)
    payload = event_payload("failure", t)
    assert has_records(payload)  # the records are in the payload ...
    event = TriggerEvent(payload)
    for shown in (repr(event), str(event)):
        assert len(shown) < 1_000, shown  # ... and not in the log line
        assert "<100 records>" in shown and "'status': 'failure'" in shown
        assert "sample-00000" in shown  # the names of the failed items are
        assert uuid("ana", 1) not in shown
    assert event.payload == stored(payload)  # still the whole payload, as plain JSON


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 2's triggerer submits events in its own process")
def test_the_payload_goes_to_airflow_3_as_a_plain_dict() -> None:
    """The triggerer sends events to its supervisor as msgpack; the payload arrives as a dict."""
    import msgspec
    from airflow.sdk.execution_time import comms
    from airflow.triggers.base import TriggerEvent

    payload = event_payload("success", tracker(3))
    decoded = msgspec.msgpack.decode(comms._new_encoder().encode(TriggerEvent(payload)))
    assert decoded["payload"] == stored(payload)


def test_the_payload_goes_to_the_metadata_database_as_a_plain_dict() -> None:
    """What a task instance's ``next_kwargs`` hold (Airflow 2.10 stores the event this way)."""
    from airflow.serialization.serialized_objects import BaseSerialization

    payload = event_payload("success", tracker(3))
    again = BaseSerialization.deserialize(json.loads(json.dumps(BaseSerialization.serialize({"event": payload}))))
    assert type(again["event"]) is dict and again["event"] == stored(payload)


def test_the_task_reads_events_with_and_without_records() -> None:
    small = stored(event_payload("success", tracker(5)))
    assert list(tracker_from_event(small, "analyses", 1000).records.values()) == list(tracker(5).records.values())
    big = stored(event_payload("success", tracker(200)))
    assert not has_records(big) and tracker_from_event(big, "analyses", 1000).records == {}
    old = {"status": "success", "project_id": "p", "batch_id": "b", "records": small["records"], "message": ""}
    assert has_records(old)  # an event from an earlier version of the trigger


@pytest.mark.parametrize("n", [100, 2_000, 10_000])
@pytest.mark.parametrize("open_every", [0, 1_000, 50, 1])
def test_the_saved_wait_stays_within_64_kib(n: int, open_every: int) -> None:
    saved = SavedWait(TaskStateStore(), "k")
    saved.save(Wait(tracker(n, open_every=open_every)))  # Store checks the size
    assert saved.store.data["k"]["items"] == n


def test_a_big_batch_saves_its_open_items_and_reloads_them_partial() -> None:
    t = tracker(10_000, open_every=2_000)  # 5 analyses still running
    saved = SavedWait(TaskStateStore(), "k")
    saved.save(Wait(t, failures=type(Wait(t).failures)(in_a_row=2)))
    again = Wait(BatchTracker(t.project_id, t.batch_id))
    saved.load(again)
    assert sorted(again.tracker.records) == sorted(r.item_id for r in t.open_records())
    assert again.tracker.partial and again.tracker.size() == 10_000
    assert again.failures.in_a_row == 2
    # The next poll plans as with every record: the 5 open analyses, not the 10 pages.
    assert again.tracker.plan() == ([], [r.analysis_id for r in t.open_records()])


def test_a_small_batch_saves_every_record() -> None:
    t = tracker(50, open_every=10)
    saved = SavedWait(TaskStateStore(), "k")
    saved.save(Wait(t))
    again = Wait(BatchTracker(t.project_id, t.batch_id))
    saved.load(again)
    assert again.tracker.records == t.records and not again.tracker.partial


def test_an_older_save_without_items_still_loads() -> None:
    store = TaskStateStore()
    store.data["k"] = {"batch_id": "b", "records": tracker(2).dump_records(), "failed_polls": 1}
    wait = Wait(BatchTracker("p", "b"))
    SavedWait(store, "k").load(wait)
    assert len(wait.tracker.records) == 2 and not wait.tracker.partial and wait.failures.in_a_row == 1


def test_a_partial_tracker_says_how_many_items_it_follows() -> None:
    t = BatchTracker("p", "b")
    t.load_records(tracker(3, open_every=1).dump_records(), item_count=10_000)
    assert "10000 items (3 open followed)" in t.progress_line()
