"""How long each woken wait went on past its batch's end: the fake ICA's clock and request times.

A batch ends when its last analysis reaches a terminal status (the fake's own timeline). A
woken wait ends with its confirming listing, which a notification asks for at once, or, if
the notification went to the other triggerer or was lost, the next reconcile (at most
``reconcile_interval * (1 + POLL_JITTER)`` after the wait's last listing). The task ends
once a worker has resumed it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class RequestTimes:
    """Wall-clock times of the fake's requests (wraps ``backend.log_request``, as it is called)."""

    def __init__(self, backend: Any) -> None:
        self.entries: list[tuple[float, str, str]] = []  # (epoch seconds, method, path)
        log_request = backend.log_request

        def timed(method: str, path: str, query: str) -> None:
            self.entries.append((time.time(), method, path))
            log_request(method, path, query)

        backend.log_request = timed

    def last(self, method: str, path_suffix: str) -> float | None:
        return max((at for at, m, path in list(self.entries) if m == method and path.endswith(path_suffix)), default=None)


@dataclass(frozen=True)
class WaitLag:
    run_id: str
    batch_id: str
    batch_end: float  # epoch seconds: the batch's last terminal transition at the fake
    wait_end: float  # the wait's last listing of the batch (its confirming one)
    task_end: float  # the wait task's end_date (a worker resumed it)

    @property
    def wait_lag_s(self) -> float:
        return self.wait_end - self.batch_end

    @property
    def task_lag_s(self) -> float:
        return self.task_end - self.batch_end


def batch_end(backend: Any, batch_id: str) -> float:
    from ica_airflow_provider.testing.transitions import analysis_timeline

    ends = [timeline[-1][0] for item in backend.batches[batch_id].items if (timeline := analysis_timeline(item))]
    return float(backend.to_wall(max(ends)))


def wait_lag(backend: Any, times: RequestTimes, run_id: str, batch_id: str, wait_ti: dict[str, Any]) -> WaitLag:
    listing = times.last("GET", f"/analysisCreationBatch/{batch_id}/items")
    assert listing is not None, f"{run_id}: no listing of batch {batch_id} was timed"
    ended = datetime.fromisoformat(str(wait_ti["end_date"]).replace("Z", "+00:00")).timestamp()
    return WaitLag(run_id, batch_id, batch_end(backend, batch_id), listing, ended)
