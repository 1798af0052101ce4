"""Data events gathered into one event per complete group of files (a sample's reads); no I/O.

A watcher with a ``group_pattern`` holds each matching file's event until its group (the same
folder, the same ``sample`` of the pattern on the file's name) has ``group_size`` distinct
files, then hands the group on as one ``DATA_GROUP`` event whose ``files`` are the files'
events. The watcher leaves the held messages on the queue, undeleted: they come back after the
queue's visibility timeout (a restarted triggerer gathers the groups again from them), and a
message received again replaces the one held for that file.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import replace
from typing import Final, Generic, TypeVar

from ica_airflow_provider.core.ica_events import DATA, DATA_GROUP, IcaEvent

H = TypeVar("H")
MAX_GROUP_SIZE: Final = 100
MAX_HELD_FILES: Final = 10_000


def check_grouping(pattern: str | None, size: int | None, kinds: set[str]) -> re.Pattern[str] | None:
    """The compiled ``group_pattern``; ``ValueError`` naming ``group_pattern`` or ``group_size``."""
    if pattern is None:
        if size is not None:
            raise ValueError("group_size: needs a group_pattern (which files belong together)")
        return None
    if kinds != {DATA}:
        raise ValueError("group_pattern: only data events (files) can be grouped, and event_codes names others")
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise ValueError(f"group_pattern: not a regular expression ({exc}), got {pattern!r}") from None
    if "sample" not in compiled.groupindex:
        raise ValueError(f"group_pattern: needs a group named 'sample' (the files' common name), got {pattern!r}")
    if not isinstance(size, int) or isinstance(size, bool) or not 2 <= size <= MAX_GROUP_SIZE:
        raise ValueError(f"group_size: how many files make a group, 2 to {MAX_GROUP_SIZE}, got {size!r}")
    return compiled


class FileGroups(Generic[H]):
    """The groups still missing files: per group, the newest event of each file and its message's handle."""

    def __init__(self, pattern: re.Pattern[str], size: int, max_files: int = MAX_HELD_FILES) -> None:
        self.pattern = pattern
        self.size = size
        self.max_files = max_files
        self._groups: OrderedDict[tuple[str, str], dict[str, tuple[IcaEvent, H]]] = OrderedDict()

    def key(self, event: IcaEvent) -> tuple[str, str] | None:
        """(folder, sample) of a file's event; ``None`` when its name does not match the pattern."""
        match = self.pattern.fullmatch(event.name or "")
        if event.kind != DATA or match is None:
            return None
        return (event.path or "").rpartition("/")[0], match.group("sample")

    def stale(self, event: IcaEvent) -> bool:
        """Whether a newer version of this file is held (a late message: drop it)."""
        key = self.key(event)
        known = None if key is None else self._groups.get(key, {}).get(event.name or "")
        return known is not None and (event.time_modified or "") < (known[0].time_modified or "")

    def held(self) -> int:
        return sum(len(files) for files in self._groups.values())

    def add(self, event: IcaEvent, handle: H) -> tuple[IcaEvent, list[H]] | None:
        """The group's event and its messages' handles once ``event`` completes it; ``None`` while held."""
        key = self.key(event)
        if key is None:
            raise ValueError(f"{event.name!r} is no file of a group: check key() first")
        files = self._groups.setdefault(key, {})
        self._groups.move_to_end(key)
        if not self.stale(event):
            files[event.name or ""] = (event, handle)  # a redelivery (or a newer upload) replaces the one held
        if len(files) < self.size:
            while self.held() > self.max_files and len(self._groups) > 1:
                self._groups.popitem(last=False)  # forgotten, not lost: their messages come back
            return None
        del self._groups[key]
        ordered = [files[name] for name in sorted(files)]
        return group_event(key, [e for e, _ in ordered]), [h for _, h in ordered]


def group_event(key: tuple[str, str], files: list[IcaEvent]) -> IcaEvent:
    """One event for a group's files: ``id`` folder/sample, the newest times, what the files share."""
    folder, sample = key
    first = files[0]

    def shared(values: set[str | None]) -> str | None:
        return values.pop() if len(values) == 1 else None

    return replace(
        first,
        kind=DATA_GROUP,
        id=f"{folder}/{sample}",
        status=shared({f.status for f in files}),
        time_modified=max((f.time_modified for f in files if f.time_modified), default=None),
        timestamp=max((f.timestamp for f in files if f.timestamp), default=None),
        path=folder + "/",
        name=sample,
        data_format=shared({f.data_format for f in files}),
        tags=(),
        correlation_id=None,
        files=tuple(files),
    )
