"""What the wait logs between polls: failures named at once, no repeated lines, a periodic line.

Each poll is the real :meth:`Wait.poll` driven against :class:`samples.FakeIca`; the wait's
clock is a manual one (:class:`tests.clocks.SleepingClock`), moved by the test.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from samples import BATCH_ID, PROJECT_ID, FakeIca
from test_core_wait import protocol_for

from ica_airflow_provider.core.drive import drive
from ica_airflow_provider.core.progress import (
    NAMED_SAVED,
    PROGRESS_EVERY,
    ProgressLog,
    aborted_line,
    duration,
    left_running_line,
)
from ica_airflow_provider.core.tracker import BatchTracker, ItemRecord
from ica_airflow_provider.core.wait import Wait
from tests.clocks import SleepingClock

LOGGER = "test.progress"
log = logging.getLogger(LOGGER)


class Keep(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture
def lines() -> Iterator[list[logging.LogRecord]]:
    """Every record the wait logs, in order."""
    records: list[logging.LogRecord] = []
    handler = Keep(records)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield records
    log.removeHandler(handler)


def poll(wait: Wait, fake: FakeIca) -> None:
    drive(wait.poll(protocol_for(fake), log), fake.send, lambda seconds: None)


def messages(records: list[logging.LogRecord], since: int = 0) -> list[str]:
    return [r.getMessage() for r in records[since:]]


def new_wait(clock: SleepingClock, wait_for: str = "analyses") -> Wait:
    return Wait(BatchTracker(PROJECT_ID, BATCH_ID, wait_for), clock=clock)  # type: ignore[arg-type]


def test_a_creation_failed_before_the_first_poll_is_named_at_once_and_once(lines: list[logging.LogRecord]) -> None:
    fake = FakeIca()
    fake.put_item("i1", "S1", "FAILED", info="Pipeline not found")
    fake.put_item("i2", "S2", "SUCCEEDED", "a2", "IN_PROGRESS")
    clock = SleepingClock(1000.0)
    wait = new_wait(clock)

    poll(wait, fake)
    warnings = [r.getMessage() for r in lines if r.levelno == logging.WARNING]
    assert warnings == ["ICA sample failed: S1: creation FAILED: Pipeline not found (item i1)"]
    for _ in range(3):
        clock.sleep(60)
        poll(wait, fake)
    assert len([r for r in lines if r.levelno == logging.WARNING]) == 1
    assert sum("S1" in m for m in messages(lines)) == 1


def test_an_analysis_failing_mid_batch_is_named_on_the_poll_that_sees_it(lines: list[logging.LogRecord]) -> None:
    fake = FakeIca()
    fake.put_item("i1", "S1", "SUCCEEDED", "a1", "IN_PROGRESS")
    fake.put_item("i2", "S2", "SUCCEEDED", "a2", "IN_PROGRESS")
    clock = SleepingClock(1000.0)
    wait = new_wait(clock)
    poll(wait, fake)
    assert not [r for r in lines if r.levelno == logging.WARNING]

    fake.set_analysis("a2", "FAILED", summary="Step align exited 137 (out of memory)")
    clock.sleep(60)
    before = len(lines)
    poll(wait, fake)

    assert messages(lines, before)[-1] == (
        "ICA sample failed: S2: analysis FAILED: Step align exited 137 (out of memory) (item i2, analysis a2)"
    )
    assert not wait.tracker.verdict(0).done  # named while S1 still runs


def test_a_batch_standing_still_logs_its_counts_once(lines: list[logging.LogRecord]) -> None:
    fake = FakeIca()
    fake.put_item("i1", "S1", "SUCCEEDED", "a1", "IN_PROGRESS")
    fake.put_item("i2", "S2", "SUCCEEDED", "a2", "SUCCEEDED")
    clock = SleepingClock(1000.0)
    wait = new_wait(clock)
    for _ in range(4):  # 4 polls within PROGRESS_EVERY, nothing changes
        poll(wait, fake)
        clock.sleep(PROGRESS_EVERY / 5)

    assert messages(lines) == [f"ICA batch {BATCH_ID}: 2 items; creation SUCCEEDED=2; analyses IN_PROGRESS=1 SUCCEEDED=1"]

    fake.set_analysis("a1", "GENERATING_OUTPUTS")
    before = len(lines)
    poll(wait, fake)  # a change: the counts again, and the change
    assert messages(lines, before) == [
        f"ICA batch {BATCH_ID}: 2 items; creation SUCCEEDED=2; analyses GENERATING_OUTPUTS=1 SUCCEEDED=1",
        "  S1: analysis IN_PROGRESS -> GENERATING_OUTPUTS",
    ]


def test_the_periodic_line_names_what_still_runs_and_for_how_long(lines: list[logging.LogRecord]) -> None:
    fake = FakeIca()
    fake.put_item("i1", "S1", "SUCCEEDED", "a1", "IN_PROGRESS")
    fake.put_item("i2", "S2", "RUNNING")
    fake.put_item("i3", "S3", "SUCCEEDED", "a3", "SUCCEEDED")
    clock = SleepingClock(1000.0)
    wait = new_wait(clock)
    poll(wait, fake)  # t=0: S1 IN_PROGRESS, S2 being created
    clock.sleep(120)
    fake.put_item("i2", "S2", "SUCCEEDED", "a2", "QUEUED")
    poll(wait, fake)  # t=120: S2's analysis QUEUED
    clock.sleep(PROGRESS_EVERY - 121)
    before = len(lines)
    poll(wait, fake)  # t=PROGRESS_EVERY - 1: not yet
    assert messages(lines, before) == []

    clock.sleep(1)
    poll(wait, fake)  # t=PROGRESS_EVERY
    assert messages(lines, before) == [
        f"ICA batch {BATCH_ID}: 2 of 3 items still running: S1 (analysis IN_PROGRESS for 5 min),"
        " S2 (analysis QUEUED for 3 min)"
    ]
    clock.sleep(PROGRESS_EVERY / 2)
    poll(wait, fake)
    assert len(lines) == before + 1  # the next one is PROGRESS_EVERY later, not every poll
    clock.sleep(PROGRESS_EVERY / 2)
    poll(wait, fake)
    assert messages(lines)[-1].endswith("S1 (analysis IN_PROGRESS for 10 min), S2 (analysis QUEUED for 8 min)")


def test_failures_are_named_twenty_a_poll(lines: list[logging.LogRecord]) -> None:
    fake = FakeIca()
    for n in range(30):
        fake.put_item(f"i{n}", f"S{n}", "FAILED", info="bad input")
    fake.put_item("i-run", "R", "RUNNING")
    clock = SleepingClock(0.0)
    wait = new_wait(clock)
    poll(wait, fake)
    warnings = [r.getMessage() for r in lines if r.levelno == logging.WARNING]
    assert len(warnings) == 21 and warnings[-1] == "… and 10 more failed samples, named in the next polls"
    poll(wait, fake)
    warnings = [r.getMessage() for r in lines if r.levelno == logging.WARNING]
    assert len(warnings) == 31 and "S29" in warnings[-1]


def test_a_rescheduled_wait_keeps_what_it_said(lines: list[logging.LogRecord]) -> None:
    """Each poke is a new Wait: the state saved between pokes keeps lines and names from repeating."""
    fake = FakeIca()
    fake.put_item("i1", "S1", "FAILED", info="bad input")
    fake.put_item("i2", "S2", "SUCCEEDED", "a2", "IN_PROGRESS")
    clock = SleepingClock(1000.0)
    first = new_wait(clock)
    poll(first, fake)
    saved = json.loads(json.dumps(first.progress.state()))  # through JSON, as the task state store keeps it
    count = len(lines)

    clock.sleep(60)
    second = new_wait(clock)
    second.progress = ProgressLog.from_state(saved)
    poll(second, fake)
    assert len(lines) == count  # nothing new to say
    clock.sleep(PROGRESS_EVERY)
    poll(second, fake)
    assert messages(lines)[-1].endswith("1 of 2 items still running: S2 (analysis IN_PROGRESS for 6 min)")


def test_a_refresh_after_another_wait_says_only_what_changed(lines: list[logging.LogRecord]) -> None:
    """The task resumed from its trigger refreshes the records: what the trigger said is not repeated."""
    fake = FakeIca()
    fake.put_item("i1", "S1", "FAILED", info="bad input")
    fake.put_item("i2", "S2", "SUCCEEDED", "a2", "IN_PROGRESS")
    clock = SleepingClock(1000.0)
    trigger_wait = new_wait(clock)
    poll(trigger_wait, fake)
    said = len(lines)

    resumed = new_wait(clock)
    resumed.tracker.load_records(trigger_wait.tracker.dump_records())  # the event's records
    resumed.progress = ProgressLog.said(resumed.tracker)
    poll(resumed, fake)
    assert len(lines) == said
    fake.set_analysis("a2", "SUCCEEDED")
    poll(resumed, fake)
    assert messages(lines, said) == [
        f"ICA batch {BATCH_ID}: 2 items; creation FAILED=1 SUCCEEDED=1; analyses SUCCEEDED=1",
        "  S2: analysis IN_PROGRESS -> SUCCEEDED",
    ]


def test_the_saved_progress_is_bounded() -> None:
    progress = ProgressLog(
        named={f"item-{n:05d}-{'x' * 30}" for n in range(10_000)},
        since={f"item-{n:05d}-{'x' * 30}": ("analysis IN_PROGRESS", 1e9 + n) for n in range(10_000)},
    )
    state = progress.state()
    assert len(state["named"]) == NAMED_SAVED
    assert len(json.dumps(state)) < 8 * 1024
    assert ProgressLog.from_state({"named": 3, "since": [["x"]], "last": 5}) == ProgressLog()  # damage: afresh


def test_duration_is_short() -> None:
    assert [duration(s) for s in (5, 59, 60, 3599, 3600, 36_000 + 65)] == [
        "5 s", "59 s", "1 min", "59 min", "1 h 00 min", "10 h 01 min"
    ]


def records(*specs: tuple[str, str, str | None, str | None]) -> BatchTracker:
    tracker = BatchTracker(PROJECT_ID, "b-1")
    for item_id, item_status, analysis_id, analysis_status in specs:
        tracker.records[item_id] = ItemRecord(item_id, f"ref-{item_id}", None, item_status, analysis_id, analysis_status)
    return tracker


def test_stop_lines() -> None:
    tracker = records(
        ("i1", "SUCCEEDED", "a1", "IN_PROGRESS"),
        ("i2", "SUCCEEDED", "a2", "SUCCEEDED"),
        ("i3", "RUNNING", None, None),
    )
    assert left_running_line(tracker) == (
        "ICA batch b-1: task stopped; leaving 1 analysis running in ICA (abort_on_kill=True would abort them):"
        " ref-i1; 1 item still being created: ref-i3"
    )
    assert aborted_line(tracker, ["a1"]) == (
        "ICA batch b-1: asked ICA to abort 1 running analysis: ref-i1 (a1);"
        " 1 item still being created (their analyses will start: not aborted): ref-i3"
    )
    done = records(("i1", "SUCCEEDED", "a1", "SUCCEEDED"))
    assert left_running_line(done) == "ICA batch b-1: task stopped; no analysis was running at its last poll"
    assert left_running_line(None).startswith("Task stopped before its first poll: the batch's analyses, if any,")
    many = records(*((f"i{n}", "SUCCEEDED", f"a{n}", "IN_PROGRESS") for n in range(50)))
    line = left_running_line(many)
    assert "leaving 50 analyses running" in line and line.endswith("ref-i19 and 30 more")
    assert aborted_line(many, [f"a{n}" for n in range(50)]).endswith("ref-i19 (a19) and 30 more")
