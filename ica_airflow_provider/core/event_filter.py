"""Which ICA events a watcher hands on: the filters a user writes in a DAG file; no I/O, no Airflow.

:meth:`EventFilter.build` checks every field when the DAG is parsed and raises a
``ValueError`` naming the field (an unknown event code, a malformed glob, a status that
does not exist). An event passes when it passes every filter that is set; a filter that
concerns another kind of event (a path glob for an analysis event) does not apply to it.

Path globs match the data's full path: ``*`` and ``?`` stay within one folder, ``**``
crosses folders, ``[...]`` is a character class (``[!...]`` negated), e.g.
``/runs/*/fastq/*.fastq.gz`` or ``/runs/**/*.fastq.gz``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ica_airflow_provider.core.ica_events import ANALYSIS, DATA, EVENT_CODES, STATUSES, IcaEvent
from ica_airflow_provider.core.notifications import normalize_status

_MAX_GLOB = 1024
_ID_MAX = 128


@dataclass(frozen=True, slots=True)
class EventFilter:
    """The checked filters of a watcher (build it with :meth:`build`)."""

    event_codes: tuple[str, ...]
    project_id: str | None = None
    statuses: tuple[str, ...] = ()
    pipeline_codes: tuple[str, ...] = ()
    path_glob: str | None = None
    data_formats: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        event_codes: Iterable[str],
        project_id: str | None = None,
        statuses: Iterable[str] = (),
        pipeline_codes: Iterable[str] = (),
        path_glob: str | None = None,
        data_formats: Iterable[str] = (),
        tags: Iterable[str] = (),
    ) -> EventFilter:
        """The filter, every field checked; ``ValueError`` naming the first bad field."""
        codes = _texts(event_codes, "event_codes")
        if not codes:
            raise ValueError("event_codes: give at least one ICA event code, e.g. ICA_DATA_108")
        for code in codes:
            if code not in EVENT_CODES:
                raise ValueError(f"event_codes: unknown ICA event code {code!r} (known: {', '.join(EVENT_CODES)})")
        kinds = _kinds(codes)
        if project_id is not None and (not isinstance(project_id, str) or not 0 < len(project_id) <= _ID_MAX):
            raise ValueError(f"project_id: must be an ICA project id (1 to {_ID_MAX} characters), got {project_id!r}")
        known = set().union(*(STATUSES[kind] for kind in kinds))
        wanted = tuple(normalize_status(status) for status in _texts(statuses, "statuses"))
        for status in wanted:
            if status not in known:
                raise ValueError(
                    f"statuses: {status!r} is no status of the events of {', '.join(codes)}"
                    f" (known: {', '.join(sorted(known))})"
                )
        pipelines = _texts(pipeline_codes, "pipeline_codes")
        if pipelines and ANALYSIS not in kinds:
            raise ValueError("pipeline_codes: only analysis events have a pipeline, and event_codes names none")
        formats = tuple(code.upper() for code in _texts(data_formats, "data_formats"))
        if path_glob is not None:
            compile_glob(path_glob)
        for name, value in (("path_glob", path_glob), ("data_formats", formats)):
            if value and DATA not in kinds:
                raise ValueError(f"{name}: only data events have a path and a format, and event_codes names none")
        return cls(codes, project_id, wanted, pipelines, path_glob, formats, _texts(tags, "tags"))

    def kinds(self) -> frozenset[str]:
        """What the events of its codes describe (``DATA``, ``ANALYSIS``, ``JOB``)."""
        return _kinds(self.event_codes)

    def matches(self, event: IcaEvent) -> bool:
        """Whether the event passes every filter that applies to it."""
        if event.event_code not in self.event_codes:
            return False
        if self.project_id is not None and event.project_id != self.project_id:
            return False
        if self.statuses and event.status not in self.statuses:
            return False
        if self.tags and not set(self.tags) <= set(event.tags):
            return False
        if event.kind == ANALYSIS and self.pipeline_codes and event.pipeline_code not in self.pipeline_codes:
            return False
        if event.kind == DATA:
            if self.data_formats and (event.data_format or "").upper() not in self.data_formats:
                return False
            if self.path_glob is not None and not compile_glob(self.path_glob).fullmatch(event.path or ""):
                return False
        return True


def _kinds(codes: Iterable[str]) -> frozenset[str]:
    return frozenset(EVENT_CODES[code][0] for code in codes)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression of a path glob (see the module doc); ``ValueError`` naming ``path_glob``."""
    if not isinstance(pattern, str) or not pattern.startswith("/") or len(pattern) > _MAX_GLOB:
        raise ValueError(
            f"path_glob: must be an absolute path pattern of at most {_MAX_GLOB} characters"
            f" such as /runs/*/fastq/*.fastq.gz, got {pattern!r}"
        )
    return _compiled(pattern)


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _CACHE.get(pattern)
    if found is not None:
        return found
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            if pattern.startswith("***", i):
                raise ValueError(f"path_glob: '***' at position {i} of {pattern!r}; use '*' or '**'")
            # "/**/" also matches a single "/", so /runs/**/x finds /runs/x
            if pattern.startswith("**/", i) and i > 0 and pattern[i - 1] == "/":
                parts.append("(?:.*/)?")
                i += 3
            else:
                parts.append(".*")
                i += 2
        elif char == "*":
            parts.append("[^/]*")
            i += 1
        elif char == "?":
            parts.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0:
                raise ValueError(f"path_glob: '[' at position {i} of {pattern!r} is never closed")
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            if not body or "/" in body:
                raise ValueError(f"path_glob: the class at position {i} of {pattern!r} is empty or holds a '/'")
            parts.append(f"[{'^/' if negate else ''}{re.escape(body).replace(chr(92) + '-', '-')}]")
            i = end + 1
        elif char == "]":
            raise ValueError(f"path_glob: ']' at position {i} of {pattern!r} closes no '['")
        else:
            parts.append(re.escape(char))
            i += 1
    try:
        compiled = re.compile("".join(parts))
    except re.error as exc:  # a range such as [z-a]
        raise ValueError(f"path_glob: {pattern!r} is not a valid pattern ({exc})") from None
    if len(_CACHE) < 256:
        _CACHE[pattern] = compiled
    return compiled


def _texts(values: Any, name: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    if values is None:
        return ()
    try:
        items = tuple(values)
    except TypeError:
        raise ValueError(f"{name}: must be a list of texts, got {type(values).__name__}") from None
    for value in items:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name}: every entry must be a non-empty text, got {value!r}")
    return tuple(dict.fromkeys(value.strip() for value in items))
