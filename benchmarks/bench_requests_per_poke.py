"""Requests per poke of ``IcaAnalysisBatchSensor`` over a whole batch lifecycle.

An in-process fake ICA (``FakeIcaServer``) runs on a ``ManualClock``, so every phase is
reached in a bounded number of pokes and the run is deterministic. The server counts
the requests of each poke (``backend.request_log``). Timeline in clock units: the job
starts at 1, item creations are spread over 40 units, each analysis phase lasts 5 (a
normal analysis ends 30 after its creation), and three stragglers (``run-long`` marker:
IN_PROGRESS for 60) keep a few analyses open long after the rest, which is the
"near the end" phase. The sensor pokes every 10 units (14 pokes in all).

Bound per poke: ``min(ceil(N / page_size) + 1, open + 1)`` where ``open`` is the number of
items not terminal (creation running, or analysis not terminal) as of the previous poke,
i.e. what the sensor has to look at (N before the first poke). The ``+ 1`` leaves room
for the token mint; one more (the batch's job, ``GET`` of the batch) while items are being
created as of the previous poke (the first poke: as of itself). In the table, ``pages`` is ``ceil(N / page_size)``; a poke is in the
"listing" phase while ``open + 1 >= pages + 1`` (listing is the cheaper bound) and "near
end" after that.

Scenarios: poke mode (one sensor instance, so its records survive between pokes) for
N = 10, 1,000 and 10,000 at the default page size 1000, N = 1,000 at page size 100
(10 pages, so the near-end switch happens), and the same N = 1,000 / 100 batch in
reschedule mode (a fresh sensor every poke, as each reschedule is a new process; the
records carried over in a stand-in for Airflow 3.3's task state store). When the saved
wait holds only the open items (the records do not fit it), the poke that finds them done
lists the batch once more to build the ``analyses`` XCom (the finish step): its bound
adds the pages, and the table shows it on a row of its own.

    .venv/bin/python benchmarks/bench_requests_per_poke.py
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from _common import API_KEY, PROJECT_ID, Report, apply_bench_env, batch_items, finish, ica_connection_json

apply_bench_env()

STAGGER_SPAN = 40.0
STEP = 5.0
LONG_RUN = 60.0
POKE_EVERY = 10.0
MAX_POKES = 100  # a bound on the loop; the lifecycle needs 14 pokes
QUIET = logging.getLogger("ica_bench.quiet")
QUIET.setLevel(logging.WARNING)


@dataclass
class Poke:
    index: int
    t: float
    open_before: int
    requests: int
    bound: int
    listing_bound: int
    kinds: Counter[str]
    done: bool
    # A rescheduled sensor's saved wait held only the open items: the poke that finds them
    # done lists the batch once more for the XCom (the finish step); its bound has the pages.
    relists: bool = False

    @property
    def phase(self) -> str:
        if self.relists:
            return "last, lists for the XCom"
        return "listing" if self.open_before + 1 >= self.listing_bound else "near end"


class _TI:
    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


class _StateStore:
    """Airflow 3.3's task state store as a rescheduled sensor sees it (values kept as JSON)."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self.data[key]) if key in self.data else default

    def set(self, key: str, value: Any) -> None:
        self.data[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def compact(self) -> bool:
        """Whether a saved wait holds fewer records than its batch has items."""
        saved = [json.loads(value) for value in self.data.values()]
        return any(len(s.get("records") or []) < int(s.get("items") or 0) for s in saved if isinstance(s, dict))


def kind_of(method: str, path: str, query: str) -> str:
    if path.endswith("/api/tokens"):
        return "token"
    if path.endswith("/items"):
        return "list page"
    if "/items/" in path:
        return "item"
    if "/analyses/" in path:
        return "analysis"
    if method == "GET" and "/analysisCreationBatch/" in path:
        return "job"
    return f"{method} other"


def open_count(backend: Any, batch_id: str, t: float) -> tuple[int, bool]:
    """Items not terminal at ``t`` (creation running, or analysis not terminal), and whether
    some item is still being created: server truth."""
    from ica_airflow_provider.testing.lifecycle import analysis_state, is_terminal, item_status

    count, creating = 0, False
    for item in backend.batches[batch_id].items:
        status = item_status(item, t)
        creating = creating or status in ("WAITING_RESOURCES", "RUNNING")
        if status in ("WAITING_RESOURCES", "RUNNING") or (
            status == "SUCCEEDED" and not is_terminal(analysis_state(item, t).status)
        ):
            count += 1
    return count, creating


def run_scenario(n: int, page_size: int, fresh_sensor_each_poke: bool) -> tuple[list[Poke], float, float]:
    """Create an ``n``-item batch and poke until done; returns the pokes, POST seconds, poke seconds."""
    from ica_airflow_provider.hooks.clients import isolated_registry
    from ica_airflow_provider.hooks.ica import IcaHook
    from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
    from ica_airflow_provider.testing import FakeIcaConfig, FakeIcaServer, ManualClock

    clock = ManualClock()
    config = FakeIcaConfig(
        api_key=API_KEY,
        clock=clock,
        batch_start_seconds=1.0,
        item_waiting_seconds=0.0,
        item_creation_seconds=2.0,
        item_stagger_seconds=STAGGER_SPAN / n,
        analysis_step_seconds=STEP,
        long_run_seconds=LONG_RUN,
    )
    stragglers = sorted({0, n // 2, n - 1})
    # Each scenario has a server of its own: ica_default must not stay shared with the last one.
    with FakeIcaServer(config) as server, isolated_registry():
        os.environ["AIRFLOW_CONN_ICA_DEFAULT"] = ica_connection_json(server.url)
        backend = server.backend
        start = time.perf_counter()
        batch_id = (
            IcaHook()
            .create_analysis_creation_batch(PROJECT_ID, {"nextflowItems": batch_items(n, stragglers)})
            .id
        )
        post_seconds = time.perf_counter() - start

        class QuietSensor(IcaAnalysisBatchSensor):
            @property
            def log(self) -> Any:  # the progress lines of each poke are not what is measured here
                return QUIET

        def new_sensor() -> Any:
            return QuietSensor(
                task_id=f"wait_{n}_{page_size}", batch_id=batch_id, project_id=PROJECT_ID, page_size=page_size,
                mode="reschedule" if fresh_sensor_each_poke else "poke",
            )

        store = _StateStore()  # survives the fresh sensors of reschedule mode

        sensor = new_sensor()
        listing_bound = math.ceil(n / page_size) + 1
        pokes: list[Poke] = []
        open_before = n  # nothing known before the first poke
        creating_before = True  # the first poke reads the job if items are being created: they are
        poke_seconds = 0.0
        for index in range(MAX_POKES):
            if fresh_sensor_each_poke and index:
                sensor = new_sensor()
            t = clock()
            compact = store.compact()
            backend.reset_request_log()
            start = time.perf_counter()
            result = sensor.poke({"ti": _TI(), "task_state_store": store})
            poke_seconds += time.perf_counter() - start
            log = list(backend.request_log)
            done = result is not False and bool(getattr(result, "is_done", result))
            relists = done and compact
            pokes.append(
                Poke(
                    index + 1,
                    t - 1000.0,
                    open_before,
                    len(log),
                    min(listing_bound, open_before + 1) + creating_before + (listing_bound - 1 if relists else 0),
                    listing_bound,
                    Counter(kind_of(*entry) for entry in log),
                    done,
                    relists,
                )
            )
            if done:
                break
            open_before, creating_before = open_count(backend, batch_id, t)
            clock.advance(POKE_EVERY)
        os.environ.pop("AIRFLOW_CONN_ICA_DEFAULT", None)
    return pokes, post_seconds, poke_seconds


def describe(p: Poke) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(p.kinds.items()))
    flag = "" if p.requests <= p.bound else "  <-- over the bound"
    return (
        f"  poke {p.index:>3} t={p.t:>6.1f} open={p.open_before:>6} requests={p.requests:>4}"
        f" bound={p.bound:>4} [{p.phase}] ({kinds}){' done' if p.done else ''}{flag}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json")
    parser.add_argument("--sizes", default="10,1000,10000", help="N values at page size 1000")
    args = parser.parse_args()
    started = time.perf_counter()
    logging.getLogger("airflow").setLevel(logging.WARNING)
    logging.getLogger("ica_airflow_provider").setLevel(logging.WARNING)
    report = Report("requests_per_poke")

    scenarios = [(int(n), 1000, False) for n in args.sizes.split(",")]
    scenarios += [(1000, 100, False), (1000, 100, True)]
    detail = ["### 2. Requests per poke, poke by poke", ""]
    for n, page_size, fresh in scenarios:
        mode = "reschedule (fresh sensor each poke)" if fresh else "poke mode"
        title = f"N={n:,} page_size={page_size} {mode}"
        pokes, post_seconds, poke_seconds = run_scenario(n, page_size, fresh)
        lines = [describe(p) for p in pokes]
        over = [p for p in pokes if p.requests > p.bound]
        finished = pokes[-1].done
        print(
            f"\n{title}: batch POST {post_seconds:.2f} s, {len(pokes)} pokes in {poke_seconds:.1f} s"
            f"{'' if finished else ' (NOT finished within the poke limit)'}"
        )
        print("\n".join(lines), flush=True)
        detail += [f"{title}: {len(pokes)} pokes", "", "```", *lines, "```", ""]

        label = f"2 req/poke N={n:,} ps={page_size}" + (" resched." if fresh else "")
        many = [p for p in pokes if p.phase == "listing"]
        near = [p for p in pokes if p.phase == "near end"]
        first = pokes[0]
        report.add(
            label,
            "first poke (incl. token mint)",
            f"{first.requests}",
            f"<= {first.bound}",
            first.requests <= first.bound,
        )
        if many[1:]:
            worst = max(many[1:], key=lambda p: p.requests - p.bound)
            report.add(
                label,
                f"later pokes with open+1 >= pages+1 ({len(many) - 1}): max requests",
                f"{max(p.requests for p in many[1:])}",
                f"<= {worst.bound} (pages+1, +1 job while creating)",
                all(p.requests <= p.bound for p in many[1:]),
            )
        if near:
            worst = max(near, key=lambda p: p.requests - p.bound)
            report.add(
                label,
                f"near end, open+1 < pages+1 ({len(near)} pokes): worst requests / open",
                f"{worst.requests} / open {worst.open_before}",
                f"<= {worst.bound} (open+1, +1 job while creating)",
                all(p.requests <= p.bound for p in near),
            )
        for last in (p for p in pokes if p.relists):
            report.add(
                label,
                "last poke, saved wait held the open items only: requests / open",
                f"{last.requests} / open {last.open_before}",
                f"<= {last.bound} (open+1, + pages: one listing for the XCom)",
                last.requests <= last.bound,
            )
        report.add(
            label,
            "total requests / pokes",
            f"{sum(p.requests for p in pokes)} / {len(pokes)}",
            "finished" if finished else "did NOT finish",
            None if finished else False,
            f"{len(over)} pokes over the bound",
        )
    report.detail("\n".join(detail))
    finish(report, args.json, started)


if __name__ == "__main__":
    main()
