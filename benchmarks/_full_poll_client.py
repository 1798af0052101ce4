"""One client of ``bench_full_poll.py``, in its own process: ours (the sensor) or libica.

Standard library only at the top: the libica side may run in an interpreter that has
neither Airflow nor this project. Setup (imports, connection, token, client objects) is
outside the measured region; each poll is a full listing of the batch into per-item
records, and prints nothing. The last stdout line is ``RESULT <json>``.

    python benchmarks/_full_poll_client.py --client ours|libica --url URL --batch-id ID
        --token JWT [--polls 3] [--memory] [--server-pid PID]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

V4 = "application/vnd.illumina.v4+json"


def _rss_kib() -> tuple[int, int]:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0, 0
    found = {k: re.search(k + r":\s+(\d+)", text) for k in ("VmRSS", "VmHWM")}
    return tuple(int(m.group(1)) if m else 0 for m in found.values())  # type: ignore[return-value]


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class GcTimer:
    """Time spent in the cyclic garbage collector, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.seconds += time.process_time() - self._start
            self.collections[info["generation"]] += 1

    def reset(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]


def _cpu_of(pid: int | None) -> float | None:
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- ours ---------------------------------------------------------------------------------


def ours_poll_factory(args: argparse.Namespace) -> Callable[[], Callable[[], dict[str, Any]]]:
    os.environ["AIRFLOW_CONN_ICA_DEFAULT"] = json.dumps(
        {"conn_type": "ica", "host": args.url, "password": args.api_key}
    )
    import logging

    from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor

    quiet = logging.getLogger("ica_bench.quiet")
    quiet.setLevel(logging.WARNING)

    class QuietSensor(IcaAnalysisBatchSensor):
        @property
        def log(self) -> Any:  # the poke's progress lines would go to this process's stdout
            return quiet

    class TI:
        def xcom_push(self, key: str, value: Any) -> None:
            pass

    def prepare() -> Callable[[], dict[str, Any]]:
        sensor = QuietSensor(
            task_id="full_poll", batch_id=args.batch_id, project_id=args.project_id, page_size=args.page_size
        )
        hook = sensor.hook
        hook.run(hook.protocol.mint_token())  # connection, session and token: setup, not the poll

        def poll() -> dict[str, Any]:
            result = sensor.poke({"ti": TI()})
            wait = sensor.task_wait.current
            records = wait.tracker.records if wait else {}
            return {
                "done": result is not False,
                "items": len(records),
                "item_status": dict(Counter(r.item_status for r in records.values())),
                "analysis_status": dict(Counter(str(r.analysis_status) for r in records.values())),
                "keep": records,
            }

        return poll

    return prepare


# --- libica -------------------------------------------------------------------------------


def libica_poll_factory(args: argparse.Namespace) -> Callable[[], Callable[[], dict[str, Any]]]:
    from libica.openapi.v3 import ApiClient, Configuration
    from libica.openapi.v3.api.project_analysis_creation_batch_api import ProjectAnalysisCreationBatchApi

    def prepare() -> Callable[[], dict[str, Any]]:
        client = ApiClient(Configuration(host=args.url, access_token=args.token))
        # libica's default Accept (v3) overrides per-call headers, and its items method
        # deserialises into the V4 models: v4 must be the client's default (NOTES.md).
        client.set_default_header("Accept", V4)
        api = ProjectAnalysisCreationBatchApi(client)

        def poll() -> dict[str, Any]:
            items: list[Any] = []
            token: str | None = None
            while True:
                page = api.get_analysis_creation_batch_items(
                    args.project_id, args.batch_id, page_size=str(args.page_size), page_token=token
                )
                items.extend(page.items)
                token = page.next_page_token or None
                if token is None:
                    break
            # The same per-item record the sensor keeps.
            records = {}
            for item in items:
                analysis = item.created_analysis
                records[item.id] = (
                    item.request.user_reference,
                    item.request.pipeline_id,
                    item.processing.status,
                    analysis.id if analysis else None,
                    analysis.status if analysis else None,
                )
            return {
                "done": False,
                "items": len(records),
                "item_status": dict(Counter(str(r[2]) for r in records.values())),
                "analysis_status": dict(Counter(str(r[4]) for r in records.values())),
                "keep": records,
            }

        return poll

    return prepare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", choices=("ours", "libica"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--batch-id", required=True)
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--api-key", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="trace allocations (slower; memory only)")
    parser.add_argument("--server-pid", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    factory = ours_poll_factory if args.client == "ours" else libica_poll_factory
    prepare = factory(args)
    import_seconds = time.perf_counter() - start

    polls = []
    gc_timer = GcTimer()
    for _ in range(args.polls):
        poll = prepare()
        gc.collect()
        if args.memory:
            import tracemalloc

            tracemalloc.start()
            base, _ = tracemalloc.get_traced_memory()
        hwm_reset = _reset_hwm()
        rss_before, _ = _rss_kib()
        server_before = _cpu_of(args.server_pid)
        gc_timer.reset()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        out = poll()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        server_after = _cpu_of(args.server_pid)
        rss_after, hwm = _rss_kib()
        entry = {
            "cpu": cpu,
            "gc_cpu": gc_timer.seconds,
            "gc_collections": list(gc_timer.collections),
            "wall": wall,
            "server_cpu": None
            if server_before is None or server_after is None
            else server_after - server_before,
            "rss_before_kib": rss_before,
            "rss_after_kib": rss_after,
            "rss_peak_delta_kib": (hwm - rss_before) if hwm_reset else None,
            **{k: v for k, v in out.items() if k != "keep"},
        }
        if args.memory:
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            entry["traced_peak"] = peak - base
            entry["traced_retained"] = current - base
        del out, poll
        polls.append(entry)
    print(
        "RESULT " + json.dumps({"client": args.client, "setup_seconds": import_seconds, "polls": polls}),
        flush=True,
    )


if __name__ == "__main__":
    main()
