"""A watcher's groups of files: held until complete, then one event whose files are the files' events."""

from __future__ import annotations

import re

import pytest

from ica_airflow_provider.core.file_groups import FileGroups, check_grouping
from ica_airflow_provider.core.ica_events import DATA, DATA_GROUP, IcaEvent
from ica_airflow_provider.watchers import FASTQ_NAME


def upload(path: str, data_id: str, modified: str = "2026-01-01T00:00:05+00:00") -> IcaEvent:
    return IcaEvent(
        event_code="ICA_DATA_108", kind=DATA, id=data_id, project_id="p", status="AVAILABLE",
        time_modified=modified, timestamp=modified, path=path, name=path.rsplit("/", 1)[-1], data_format="FASTQ",
    )


def groups(size: int = 2, max_files: int = 100) -> FileGroups[str]:
    return FileGroups(re.compile(FASTQ_NAME), size, max_files)


def test_a_group_is_held_until_its_files_came_then_one_event_with_the_newest_handles() -> None:
    held = groups()
    assert held.add(upload("/runs/r1/fastq/S1_R2.fastq.gz", "fil.2"), "m2") is None
    assert held.add(upload("/runs/r1/fastq/S2_R1.fastq.gz", "fil.3"), "m3") is None
    assert held.add(upload("/runs/r1/fastq/S1_R2.fastq.gz", "fil.2"), "m2-again") is None  # redelivered
    assert held.held() == 2
    older = upload("/runs/r1/fastq/S1_R2.fastq.gz", "fil.2", "2026-01-01T00:00:01+00:00")
    assert held.stale(older) and not held.stale(upload("/runs/r1/fastq/S1_R2.fastq.gz", "fil.2"))
    done = held.add(upload("/runs/r1/fastq/S1_R1.fastq.gz", "fil.1", "2026-01-01T00:00:09+00:00"), "m1")
    assert done is not None
    event, handles = done
    assert handles == ["m1", "m2-again"]  # the files in name order, each with the message last received
    assert (event.kind, event.id, event.path, event.name) == (DATA_GROUP, "/runs/r1/fastq/S1", "/runs/r1/fastq/", "S1")
    assert event.time_modified == "2026-01-01T00:00:09+00:00" and event.status == "AVAILABLE"
    payload = event.payload()
    assert [f["id"] for f in payload["files"]] == ["fil.1", "fil.2"] and payload["kind"] == "data_group"
    assert held.held() == 1  # S2 still waits for its R2


def test_the_same_sample_in_two_folders_is_two_groups_and_other_names_none() -> None:
    held = groups()
    assert held.add(upload("/runs/r1/fastq/S1_R1.fastq.gz", "fil.1"), "a") is None
    assert held.add(upload("/runs/r2/fastq/S1_R2.fastq.gz", "fil.2"), "b") is None
    assert held.key(upload("/runs/r1/fastq/notes.txt", "fil.9")) is None
    with pytest.raises(ValueError, match="no file of a group"):
        held.add(upload("/runs/r1/fastq/notes.txt", "fil.9"), "c")


def test_beyond_max_files_the_oldest_groups_are_forgotten_their_messages_come_back() -> None:
    held = groups(max_files=2)
    for i in range(3):
        assert held.add(upload(f"/runs/r1/fastq/S{i}_R1.fastq.gz", f"fil.{i}"), f"m{i}") is None
    assert held.held() == 2
    assert held.add(upload("/runs/r1/fastq/S0_R2.fastq.gz", "fil.9"), "m9") is None  # S0 was forgotten


@pytest.mark.parametrize(
    ("pattern", "size", "kinds", "field"),
    [
        (None, 2, {DATA}, "group_size"),
        ("(?P<sample>.+", 2, {DATA}, "group_pattern"),
        (r"(.+)_R\d", 2, {DATA}, "group_pattern"),
        (FASTQ_NAME, 1, {DATA}, "group_size"),
        (FASTQ_NAME, None, {DATA}, "group_size"),
        (FASTQ_NAME, 2, {"analysis"}, "group_pattern"),
    ],
)
def test_bad_grouping_names_the_field(pattern: str | None, size: int | None, kinds: set[str], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        check_grouping(pattern, size, kinds)
    assert check_grouping(None, None, {DATA}) is None
