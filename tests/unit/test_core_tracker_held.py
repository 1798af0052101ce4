"""The progress lines name items that stay WAITING_RESOURCES and analyses that stay AWAITING_INPUT."""

from __future__ import annotations

import logging

import pytest
from samples import BATCH_ID, PROJECT_ID, FakeIca
from test_core_tracker import poll, protocol_for

from ica_airflow_provider.core.progress import ProgressLog
from ica_airflow_provider.core.protocol import IcaProtocol
from ica_airflow_provider.core.tracker import HELD_POLLS, BatchTracker


def polls(tracker: BatchTracker, fake: FakeIca, protocol: IcaProtocol, n: int) -> None:
    for _ in range(n):
        poll(tracker, fake, protocol)


def test_items_held_for_a_while_are_named() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "WAITING_RESOURCES")
    fake.put_item("i2", "ref-2", "RUNNING")
    fake.put_item("i3", "ref-3", "SUCCEEDED", "a3", "AWAITING_INPUT")
    fake.put_item("i4", "ref-4", "SUCCEEDED", "a4", "AWAITINGINPUT")  # the v3 spelling
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)

    polls(tracker, fake, protocol, HELD_POLLS - 1)
    assert tracker.held_lines() == []
    poll(tracker, fake, protocol)

    assert tracker.held_lines() == [
        f"items WAITING_RESOURCES for {HELD_POLLS} polls or more (1): ref-1",
        f"analyses AWAITINGINPUT for {HELD_POLLS} polls or more (1): ref-4 (analysis a4)",
        f"analyses AWAITING_INPUT for {HELD_POLLS} polls or more (1): ref-3 (analysis a3)",
    ]


def test_a_change_of_state_starts_the_count_again() -> None:
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "WAITING_RESOURCES")
    fake.put_item("i2", "ref-2", "WAITING_RESOURCES")
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)
    polls(tracker, fake, protocol, HELD_POLLS - 1)

    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "AWAITING_INPUT")
    poll(tracker, fake, protocol)
    assert tracker.held_lines() == [f"items WAITING_RESOURCES for {HELD_POLLS} polls or more (1): ref-2"]

    fake.put_item("i2", "ref-2", "RUNNING")
    polls(tracker, fake, protocol, HELD_POLLS - 2)
    assert tracker.held_lines() == []  # ref-2 moved on; ref-1's analysis is held HELD_POLLS - 1 polls
    poll(tracker, fake, protocol)
    assert tracker.held_lines() == [f"analyses AWAITING_INPUT for {HELD_POLLS} polls or more (1): ref-1 (analysis a1)"]


def test_waiting_for_creation_does_not_name_analyses() -> None:
    """Analyses are not followed after their creation: their status would be stale."""
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "AWAITING_INPUT")
    fake.put_item("i2", "ref-2", "WAITING_RESOURCES")
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID, wait_for="creation")

    polls(tracker, fake, protocol, HELD_POLLS)

    assert tracker.held_lines() == [f"items WAITING_RESOURCES for {HELD_POLLS} polls or more (1): ref-2"]


def test_a_large_batch_names_twenty_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeIca()
    for n in range(1, 2001):
        fake.put_item(f"i{n}", f"ref-{n}", "WAITING_RESOURCES")
    protocol = protocol_for(fake)
    tracker = BatchTracker(PROJECT_ID, BATCH_ID)
    polls(tracker, fake, protocol, HELD_POLLS)
    logger = logging.getLogger("test.held")
    caplog.set_level(logging.INFO, logger="test.held")

    ProgressLog().report(tracker, ["ref-1: creation RUNNING -> WAITING_RESOURCES"], 0.0, logger)

    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == tracker.progress_line()
    held = messages[1]
    assert held.startswith(f"  items WAITING_RESOURCES for {HELD_POLLS} polls or more (2000): ref-1, ref-2, ")
    assert held.endswith(", ref-20 and 1980 more")
    assert messages[2:] == ["  ref-1: creation RUNNING -> WAITING_RESOURCES"]
