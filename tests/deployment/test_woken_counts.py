"""How the deployment checks read a woken wait's cost (no deployment needed)."""

from __future__ import annotations

from typing import Any

from deploy.airflow_distributed.wait_lags import RequestTimes
from deploy.airflow_e2e.woken import BatchRequests, hints_counts
from ica_airflow_provider.core.hints import hints_line


def test_the_waits_own_line_is_read_back() -> None:
    for counts in ({"woken": 1, "applied": 1, "ignored": 0, "listings": 1}, {"woken": 14, "applied": 12, "ignored": 2, "listings": 0}):
        assert hints_counts(["other line", f"[info] {hints_line('b-1', counts)}"]) == counts
    assert hints_counts(["ICA batch b-1: 3 of 3 analyses SUCCEEDED"]) is None


def test_requests_per_transition_are_named() -> None:
    assert BatchRequests("b", listings=6, job_transitions=3).per_transition() == ""
    assert "7 listings, more than 6" in BatchRequests("b", listings=7, job_transitions=3).per_transition()
    assert BatchRequests("b", listings=3, analysis_reads=2).per_transition() == "2 GETs of single analyses"


def test_request_times_keep_the_backends_log() -> None:
    logged: list[tuple[str, str, str]] = []

    class Backend:
        def log_request(self, method: str, path: str, query: str) -> None:
            logged.append((method, path, query))

    backend: Any = Backend()
    times = RequestTimes(backend)
    backend.log_request("GET", "/ica/rest/api/projects/p/analysisCreationBatch/b/items", "pageSize=100")
    backend.log_request("GET", "/ica/rest/api/projects/p/analysisCreationBatch/b", "")
    assert logged == [("GET", "/ica/rest/api/projects/p/analysisCreationBatch/b/items", "pageSize=100"), ("GET", "/ica/rest/api/projects/p/analysisCreationBatch/b", "")]
    items = times.last("GET", "/analysisCreationBatch/b/items")
    assert items is not None and items <= times.entries[-1][0]
    assert times.last("POST", "/analysisCreationBatch/b/items") is None
