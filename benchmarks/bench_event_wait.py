"""Waits woken by ICA's notifications against polling: many deferred waits on one event loop.

The fake ICA (``python -m ica_airflow_provider.testing``) and the SQS server (moto's server
mode, :class:`~ica_airflow_provider.testing.sqs_server.MotoSqsServer`) each run in their own
process; every scenario has a fake of its own (its timings and ``notify_*`` fault knobs) and a
queue of its own. A child process subscribes the project to the queue
(``IcaHook.ensure_notifications``) and creates the batches through ``IcaHook``; another child
plays the triggerer, as ``bench_triggerer_scale.py`` does (one warm-up wait, then the triggers
started one after another, yielding to the loop before building and before starting each,
each behind ``greenback.ensure_portal()`` and followed by the "Trigger fired event" line).
Woken waits read the queue through an Airflow AWS connection (``AIRFLOW_CONN_BENCH_SQS``)
whose endpoint URL is the moto server.

Scenarios (all in one run; see benchmarks/README.md, section 6):

- ``polled``: N waits polling every ``--poll-interval`` (60 s), started spread over one poll
  interval before their batches end (a poll's phase against the end is then as random as on
  a triggerer that has run for a while);
- ``one``: one woken wait, next to ``polled`` (it idles but for its long polls): its process's
  SQS receive calls;
- ``quiet``: N woken waits with every message dropped and a short reconcile interval: what the
  waits cost the loop, the memory and the queue, and that each ends by its reconcile poll;
- ``woken``: ``--woken-waits`` waits whose notifications flow (moto's server carries some ten
  messages a second under load, so not 1,000 batches' worth in a few minutes);
- ``faults``: the same with 30 % of the messages dropped, 30 % duplicated, reordering;
- ``burst``: messages waiting on the queue when the waits start: the loop's longest stall
  while the consumer drains them.

Reported: REST requests per wait (the fake's counters, and per batch from the client side),
latency from each batch's last terminal transition (the analysis's ``timeModified``, the
``timestamp`` of the message that announces it) to its trigger's event, SQS receive calls per
minute, the longest event-loop stall, resident memory per wait, and outcomes. Figures, never
assertions: the exit status is 0 whatever the figures.

    .venv/bin/python benchmarks/bench_event_wait.py                 # 1,000 waits of 5 items
    .venv/bin/python benchmarks/bench_event_wait.py --waits 20 --woken-waits 10 --burst-messages 100 --poll-interval 5 --short-reconcile 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from _common import (
    PROJECT_ID,
    Report,
    ServerProcess,
    apply_bench_env,
    bench_env,
    finish,
    reset_peak_rss,
    rss_kib,
    run_json_child,
)
from bench_triggerer_scale import (
    Probes,
    TriggerLog,
    connection_json,
    create_batches,
    expected_status,
    fmt_kib,
    new_trigger,
    run_trigger,
    server_counters,
)

AWS_CONN_ID = "bench_sqs"
# The fake's timings: items created 0.2 s after the job starts, each analysis ending as it is
# created (one transition, not six: moto's server takes ~10-30 ms per message, so 1,000 batches
# of six-phase analyses would be 38,000 messages and half an hour of SQS traffic).
ANALYSIS_STEP_SECONDS = 0.0
ITEM_CREATION_SECONDS = 0.2
# Targets of the issue.
TARGET_BASE_REQUESTS = 3  # plus one per reconcile interval the wait lived through
TARGET_P95_SECONDS = 2.0
TARGET_STALL = 0.2
TARGET_EXTRA_KIB = 10
REORDER_SECONDS = 2.0
# moto's SQS server spends time in proportion to the queue's depth on every call (a receive of
# ten: 0.025 s at a depth of 10, 0.6-0.8 s at 800), so the woken run's batches start this far
# apart (about 30 messages a second): the latency measured is the wait's, not moto's backlog.
WOKEN_PACE = 0.25
MESSAGES_PER_BATCH = 7  # the job's two or three statuses, five analyses each ending as it is created
FAULT_RATE = 0.3
POLL_ALLOWANCE = 2.0  # "plus one poll": what one listing may take on a busy loop
TERMINAL = frozenset(("SUCCEEDED", "FAILED", "FAILED_FINAL", "ABORTED"))
BATCH_IN_PATH = re.compile(r"/analysisCreationBatch/([^/?]+)")


# --- children ---------------------------------------------------------------------------------


def prepare(count: int, items: int, queue_url: str | None, pace: float) -> None:
    """Child: subscribe the project to ``queue_url`` (if any), then create the batches; prints RESULT."""
    if queue_url:
        from ica_airflow_provider.hooks.ica import IcaHook

        IcaHook().ensure_notifications(PROJECT_ID, queue_url)
    # Tagged as the operator tags a woken wait's batch.
    create_batches(count, items, threads=4, tagged=bool(queue_url), pace=pace)


def end_times(spec_path: str) -> None:
    """Child: per batch, when its last analysis turned terminal (epoch seconds); prints RESULT."""
    from ica_airflow_provider.hooks.ica import IcaHook

    batch_ids = json.loads(Path(spec_path).read_text())["batch_ids"]
    hook = IcaHook()

    def last(batch_id: str) -> tuple[float | None, list[str]]:
        moments: list[float] = []
        analyses: list[str] = []
        for item in hook.iter_analysis_creation_batch_items(PROJECT_ID, batch_id):
            analysis = item.created_analysis
            if analysis is None or analysis.time_modified is None:
                return None, analyses
            moments.append(epoch(analysis.time_modified))
            analyses.append(analysis.id)
        return max(moments, default=None), analyses

    with ThreadPoolExecutor(4) as pool:
        found = dict(zip(batch_ids, pool.map(last, batch_ids), strict=True))
    ends = {batch_id: end for batch_id, (end, _) in found.items()}
    analyses = {batch_id: ids for batch_id, (_, ids) in found.items()}
    print("RESULT " + json.dumps({"ends": ends, "analyses": analyses}), flush=True)


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Traffic:
    """This process's REST requests by batch, and its SQS receive calls (start, end, messages)."""

    def __init__(self) -> None:
        self.by_batch: Counter[str] = Counter()
        self.receives: list[tuple[float, float, int]] = []
        # analysis id -> when SQS took the first message of its terminal status (SentTimestamp)
        self.terminal_sent: dict[str, float] = {}
        self.arrivals: list[float] = []  # when each message reached this process

    def stamp(self, client: Any) -> None:
        """Ask SQS for each message's SentTimestamp too (the consumer's client, in its thread)."""
        receive_message = client.receive_message
        traffic = self

        def stamped(**kwargs: Any) -> Any:
            kwargs["MessageSystemAttributeNames"] = [*kwargs.get("MessageSystemAttributeNames", []), "SentTimestamp"]
            answer = receive_message(**kwargs)
            now = time.time()
            for message in answer.get("Messages", []):
                traffic.arrivals.append(now)
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    event = json.loads(message["Body"])
                    status = event["eventParameters"].get("analysisStatus")
                    if status in TERMINAL:
                        sent = int(message["Attributes"]["SentTimestamp"]) / 1000
                        analysis = str(event["payload"]["id"])
                        traffic.terminal_sent[analysis] = min(sent, traffic.terminal_sent.get(analysis, sent))
            return answer

        client.receive_message = stamped

    def install(self) -> None:
        import httpx

        from ica_airflow_provider.hooks.sqs_queue import AwsSqsQueue

        send, receive = httpx.AsyncClient.send, AwsSqsQueue.receive
        traffic = self

        async def counted_send(client: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            match = BATCH_IN_PATH.search(request.url.path)
            traffic.by_batch[match.group(1) if match else "other"] += 1
            return await send(client, request, *args, **kwargs)

        async def counted_receive(queue: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            messages = await receive(queue, *args, **kwargs)
            traffic.receives.append((started, time.monotonic(), len(messages)))
            return messages

        httpx.AsyncClient.send = counted_send  # type: ignore[method-assign,assignment]
        AwsSqsQueue.receive = counted_receive  # type: ignore[method-assign,assignment]


def consumers() -> list[Any]:
    from ica_airflow_provider.hooks.sqs_consumer import CONSUMERS

    return list(CONSUMERS._consumers.values())


async def client_ready(patience: float = 60.0) -> None:
    """Until the consumer's boto3 client exists (made by its first receive, in its thread)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if any(getattr(c.queue, "_client", None) is not None for c in consumers()):
            return
        await asyncio.sleep(0.05)


async def drained(traffic: Traffic, quiet: float, patience: float) -> None:
    """Until no receive has brought a message for ``quiet`` seconds (bounded by ``patience``)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        last = max((end for _, end, count in traffic.receives if count), default=0.0)
        if last and time.monotonic() - last >= quiet:
            return
        await asyncio.sleep(0.1)


async def waits(spec: dict[str, Any]) -> dict[str, Any]:
    """Child: the triggerer's event loop running one scenario's waits."""
    batch_ids: list[str] = spec["batch_ids"]
    tags: dict[str, str] = dict(zip(batch_ids, spec.get("tags") or (), strict=False))
    warmup_id, batch_ids = batch_ids[0], batch_ids[1:]
    n = len(batch_ids)
    wake = (
        {"sqs_queue": spec["queue_url"], "aws_conn_id": AWS_CONN_ID, "reconcile_interval": spec["reconcile"]}
        if spec["queue_url"]
        else {}
    )
    poll = float(spec["poll_interval"])
    probes, traffic = Probes(), Traffic()
    log = TriggerLog(Path(spec["log"]))
    probes.install()
    traffic.install()
    # Its end_time has passed: one poll, then a "timeout" event (imports and set-up done).
    await run_trigger(new_trigger(warmup_id, poll, time.time(), **wake), "warm-up", log)
    if wake:
        await client_ready()
        for consumer in consumers():
            traffic.stamp(consumer.queue._client)
    gc.collect()
    rss_before = rss_kib()[0]
    reset_peak_rss()
    end_time = time.time() + spec["timeout"]
    events: dict[str, tuple[str, float, dict[str, int]]] = {}

    async def one(trigger: Any, name: str) -> None:
        payload = await run_trigger(trigger, name, log)
        events[trigger.batch_id] = (str(payload.get("status")), time.time(), payload.get("notifications") or {})

    started, started_wall = time.monotonic(), time.time()
    receives_before = len(traffic.receives)
    cpu0 = time.process_time()
    gc.callbacks.append(probes.count_collections)  # a full collection is what a long stall is made of
    watchdogs = [asyncio.create_task(probes.watchdog(started)), asyncio.create_task(probes.airflow_watchdog())]
    tasks = []
    spread = float(spec.get("spread", 0.0))
    for i, batch_id in enumerate(batch_ids):
        # As TriggerRunner.create_triggers: yield before building each trigger and before starting it
        # (and, when spread, until the task that defers it has "arrived").
        await asyncio.sleep(max(0.0, started + spread * i / n - time.monotonic()) if spread else 0)
        trigger = new_trigger(batch_id, poll, end_time, **wake, **({"notification_tag": tags[batch_id]} if batch_id in tags else {}))
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(one(trigger, f"bench_event_wait/run/wait/{i} (ID {i})")))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    waits_seconds = time.monotonic() - started
    if spec.get("drain"):
        await drained(traffic, quiet=3.0, patience=spec["timeout"])
    wall = time.monotonic() - started
    cpu = time.process_time() - cpu0
    probes.running = False
    gc.callbacks.remove(probes.count_collections)
    await asyncio.gather(*watchdogs)
    rss_peak = rss_kib()[1]
    full_collections, longest_full = probes.longest_collection(2)
    counts = [dict(c.counts) for c in consumers()]
    return {
        "n": n,
        "errors": [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)][:5],
        "events": events,
        "started_wall": started_wall,
        "waits_seconds": waits_seconds,
        "wall": wall,
        "cpu": cpu,
        "rss_before": rss_before,
        "rss_peak": rss_peak,
        "stall": probes.longest_stall,
        "stall_at": probes.stall_at,
        "airflow_warnings": probes.airflow_warnings,
        "full_collections": full_collections,
        "longest_full_collection": longest_full,
        "by_batch": {b: traffic.by_batch.get(b, 0) for b in batch_ids},
        "other_requests": traffic.by_batch.get("other", 0),
        "receives": [(s - started, e - started, c) for s, e, c in traffic.receives[receives_before:]],
        "consumer": counts[0] if counts else {},
        "terminal_sent": traffic.terminal_sent,
        "arrivals": [t - started_wall for t in traffic.arrivals],
    }


# --- the main process: servers, scenarios, figures ----------------------------------------


def aws_connection(sqs_url: str, region: str) -> str:
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "bench",
            "password": "bench",
            "extra": {"endpoint_url": sqs_url, "region_name": region},
        }
    )


def notification_stats(server: ServerProcess) -> dict[str, Any]:
    root = server.url.split("/ica/rest")[0]
    with urllib.request.urlopen(root + "/_fake/notifications/stats", timeout=30) as response:
        return dict(json.loads(response.read()))


class Scenario:
    """One fake, one queue, batches created, then a triggerer child's waits; figures as a dict."""

    def __init__(
        self,
        name: str,
        n: int,
        *,
        sqs: Any,
        woken: bool = True,
        poll_interval: float,
        reconcile: float = 900.0,
        hold: float,
        spread: float = 0.0,
        timeout: float = 600.0,
        drain: bool = False,
        pace: float = 0.0,
        **fake: Any,
    ) -> None:
        self.name, self.n, self.sqs, self.woken, self.pace = name, n, sqs, woken, pace
        self.poll_interval, self.reconcile, self.spread, self.timeout, self.drain = (
            poll_interval, reconcile, spread, timeout, drain,
        )
        self.fake = {
            "batch_start_seconds": hold,
            "item_creation_seconds": ITEM_CREATION_SECONDS,
            "analysis_step_seconds": ANALYSIS_STEP_SECONDS,
            "notify_tick_seconds": 0.05,
            **fake,
        }
        self.tmp = Path(tempfile.mkdtemp(prefix=f"ica-bench-event-{name}-"))

    def env(self, server: ServerProcess) -> dict[str, str]:
        return bench_env(
            {
                "AIRFLOW_CONN_ICA_DEFAULT": connection_json(server.url, "0"),
                "AIRFLOW_CONN_" + AWS_CONN_ID.upper(): aws_connection(self.sqs.url, self.sqs.region),
            }
        )

    def child(self, server: ServerProcess, *args: str) -> dict[str, Any]:
        return run_json_child([sys.executable, __file__, *args], env=self.env(server), timeout=self.timeout + 300)

    def queue(self) -> str | None:
        if not self.woken:
            return None
        import boto3

        client = boto3.client("sqs", **self.sqs.client_kwargs())
        return str(client.create_queue(QueueName=f"ica-bench-{self.name}")["QueueUrl"])

    def run(self, before_waits: Any = None) -> dict[str, Any]:
        with ServerProcess(**self.fake) as server:
            queue_url = self.queue()
            created = self.child(
                server, "--prepare", str(self.n + 1), "--items", "5", "--queue-url", queue_url or "",
                "--pace", str(self.pace),
            )
            if before_waits is not None:
                before_waits(server)
            spec = {
                "batch_ids": created["batch_ids"],
                "tags": created.get("tags"),
                "queue_url": queue_url,
                "poll_interval": self.poll_interval,
                "reconcile": self.reconcile,
                "spread": self.spread,
                "timeout": self.timeout,
                "drain": self.drain,
                "log": str(self.tmp / "triggerer.log"),
            }
            spec_path = self.tmp / "spec.json"
            spec_path.write_text(json.dumps(spec))
            counters_before = server_counters(server)
            result = self.child(server, "--waits-spec", str(spec_path))
            counters_after = server_counters(server)
            result["requests"] = counters_after["requests"] - counters_before["requests"]
            result["emitter"] = notification_stats(server) if self.woken else {}
            ended = self.child(server, "--end-times", str(spec_path))
            result["ends"], result["analyses"] = ended["ends"], ended["analyses"]
            result["batch_ids"] = created["batch_ids"][1:]
            result["creation_seconds"] = created["seconds"]
        print(f"{self.name}: {summary(result)}", flush=True)
        return result


def latencies(result: dict[str, Any]) -> list[float]:
    """Seconds from each successful batch's last terminal transition to its trigger's event."""
    out = []
    for index, batch_id in enumerate(result["batch_ids"], start=1):
        event = result["events"].get(batch_id)
        end = result["ends"].get(batch_id)
        if event and end and event[0] == "success" and expected_status(index) == "success":
            out.append(event[1] - end)
    return out


def sent_latencies(result: dict[str, Any]) -> list[float]:
    """Seconds from SQS taking each successful batch's last terminal message to its trigger's event."""
    out = []
    for index, batch_id in enumerate(result["batch_ids"], start=1):
        event = result["events"].get(batch_id)
        sent = [result["terminal_sent"].get(a) for a in result["analyses"].get(batch_id, [])]
        if event and sent and None not in sent and event[0] == "success" and expected_status(index) == "success":
            out.append(event[1] - max(sent))  # type: ignore[type-var]
    return out


def busiest_second(times: list[float]) -> int:
    ordered, best, start = sorted(times), 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def outcomes(result: dict[str, Any]) -> tuple[int, Counter[str]]:
    right, wrong = 0, Counter[str]()
    for index, batch_id in enumerate(result["batch_ids"], start=1):
        status = result["events"].get(batch_id, ("no event",))[0]
        if status == expected_status(index):
            right += 1
        else:
            wrong[f"{status} (expected {expected_status(index)})"] += 1
    return right, wrong


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def per_minute(result: dict[str, Any]) -> float:
    return len(result["receives"]) / (result["wall"] / 60) if result["wall"] else math.nan


def summary(result: dict[str, Any]) -> str:
    lat = latencies(result)
    right, wrong = outcomes(result)
    return (
        f"{result['n']:,} waits in {result['waits_seconds']:.1f} s, {right:,} right {dict(wrong) or ''};"
        f" {result['requests']:,} requests ({result['requests'] / result['n']:.2f} per wait,"
        f" max {max(result['by_batch'].values(), default=0)} for one batch);"
        f" latency mean {statistics.fmean(lat) if lat else math.nan:.2f} s,"
        f" p95 {percentile(lat, 0.95):.2f} s, max {max(lat, default=math.nan):.2f} s;"
        f" from SQS's SentTimestamp p95 {percentile(sent_latencies(result), 0.95):.2f} s;"
        f" messages reaching the loop in its busiest second {busiest_second(result['arrivals'])};"
        f" stall {result['stall']:.3f} s at +{result['stall_at']:.1f} s (longest full garbage collection"
        f" {result.get('longest_full_collection', math.nan):.3f} s of {result.get('full_collections', 0)});"
        f" RSS peak +{(result['rss_peak'] - result['rss_before']) / result['n']:.1f} KiB per wait;"
        f" {len(result['receives'])} SQS receives ({per_minute(result):.1f}/min); consumer {result['consumer']};"
        f" emitter {result['emitter']}; errors {result['errors']}"
    )


def wait_for_emitter(server: ServerProcess, patience: float = 300.0) -> None:
    """Until the fake has sent every notification of its batches (the burst is on the queue)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        stats = notification_stats(server)
        settled = stats["sent"] + stats["failed"] + stats["dropped"] - stats["duplicated"]
        if stats["messages"] and settled >= stats["messages"] and stats["pending"] == stats["queued"] == 0:
            return
        time.sleep(0.5)  # polling another process's counter; bounded by ``patience``


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waits", type=int, default=1000, help="waits of the polled and woken runs (default 1,000)")
    parser.add_argument(
        "--woken-waits", type=int, default=100, help="waits whose notifications flow, faults too (default 100)"
    )
    parser.add_argument("--burst-messages", type=int, default=1000, help="messages of the burst (default 1,000)")
    parser.add_argument("--poll-interval", type=float, default=60.0, help="every trigger's poll_interval (s)")
    parser.add_argument("--reconcile-interval", type=float, default=900.0, help="the woken run's (s)")
    parser.add_argument("--short-reconcile", type=float, default=15.0, help="the fault scenarios' (s)")
    parser.add_argument("--only", help="comma-separated scenarios to run (debugging; no summary rows)")
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--woken-pace", type=float, default=WOKEN_PACE,
        help=f"seconds between the woken run's batch starts (default {WOKEN_PACE:g}: see RESULTS.md, moto's pace)",
    )
    parser.add_argument("--pace", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--items", type=int, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--queue-url", help=argparse.SUPPRESS)
    parser.add_argument("--waits-spec", help=argparse.SUPPRESS)
    parser.add_argument("--end-times", help=argparse.SUPPRESS)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.prepare is not None:
        prepare(args.prepare, args.items, args.queue_url or None, args.pace)
        return
    if args.end_times:
        end_times(args.end_times)
        return
    if args.waits_spec:  # the triggerer child
        spec = json.loads(Path(args.waits_spec).read_text())
        apply_bench_env_keep_connections()
        print("RESULT " + json.dumps(asyncio.run(waits(spec))), flush=True)
        return
    run(args)


def apply_bench_env_keep_connections() -> None:
    """The triggerer child keeps the connections its parent gave it (``apply_bench_env`` drops them)."""
    kept = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")}
    apply_bench_env()
    os.environ.update(kept)
    import airflow.jobs.triggerer_job_runner  # noqa: F401  (the trigger runner's heap: see bench_triggerer_scale)


def run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    report = Report("event_wait")
    from ica_airflow_provider.testing.sqs_server import MotoSqsServer

    n, m, poll = args.waits, args.woken_waits, args.poll_interval
    # Batches are created in ~0.015 s each; each job starts `hold` after its creation, so that
    # every wait is alive (and, polled, spread over one poll interval) before any batch ends.
    def create(count: int) -> float:
        return 10 + 0.02 * count

    short = args.short_reconcile
    with MotoSqsServer() as sqs:
        common = {"sqs": sqs, "poll_interval": poll}
        plan: dict[str, tuple[int, dict[str, Any]]] = {
            "polled": (n, {"woken": False, "hold": create(n) + poll + 10, "spread": poll}),
            "one": (1, {"hold": create(n) + poll + 10}),
            "quiet": (n, {"reconcile": short, "hold": create(n) + 10, "notify_drop_rate": 1.0}),
            "woken": (m, {"reconcile": args.reconcile_interval, "hold": create(m) + m * args.woken_pace + 10,
                          "pace": args.woken_pace}),
            "faults": (m, {"reconcile": short, "hold": create(m) + 10, "notify_seed": 22,
                           "notify_drop_rate": FAULT_RATE, "notify_duplicate_rate": FAULT_RATE,
                           "notify_reorder_seconds": REORDER_SECONDS}),
            "burst": (max(1, math.ceil(args.burst_messages / MESSAGES_PER_BATCH)), {"hold": 0, "drain": True}),
        }
        scenarios = {name: Scenario(name, count, **settings, **common) for name, (count, settings) in plan.items()}
        burst_ready = wait_for_emitter
        results: dict[str, dict[str, Any]] = {}
        if args.only:
            for name in args.only.split(","):
                scenarios[name].run(burst_ready if name == "burst" else None)
            return
        with ThreadPoolExecutor(1) as side:  # the single wait idles next to the polled run
            single = side.submit(scenarios["one"].run)
            results["polled"] = scenarios["polled"].run()
            results["one"] = single.result()
        for name in ("quiet", "woken", "faults"):
            results[name] = scenarios[name].run()
        results["burst"] = scenarios["burst"].run(burst_ready)
    rows(report, args, results)
    report.detail(detail_text(args, results))
    finish(report, args.json, started)


def outcome_row(report: Report, label: str, result: dict[str, Any]) -> None:
    right, wrong = outcomes(result)
    report.add(label, "waits with the right outcome", f"{right:,} / {result['n']:,}", f"{result['n']:,} / {result['n']:,}",
               right == result["n"], note=", ".join(f"{c} {w}" for w, c in wrong.items()))


def request_row(report: Report, label: str, result: dict[str, Any], reconcile: float) -> None:
    n = result["n"]
    lived = max((e[1] for e in result["events"].values()), default=0.0) - result["started_wall"]
    intervals = math.floor(lived / reconcile)
    worst = max(result["by_batch"].values(), default=0)
    transitions = result["emitter"].get("transitions", 0) / (n + 1)
    report.add(label, "REST requests per wait: mean (fake's counter / N); worst batch", f"{result['requests'] / n:.2f}; {worst}",
               f"<= {TARGET_BASE_REQUESTS + intervals} (3 + {intervals} reconcile intervals of {reconcile:g} s)",
               worst <= TARGET_BASE_REQUESTS + intervals,
               note=f"status changes published per batch {transitions:.1f}; warm-up wait and token mint in the mean")


def latency_row(report: Report, label: str, result: dict[str, Any], target: str, met: bool | None) -> None:
    lat = latencies(result)
    report.add(label, "latency, last terminal transition -> event: mean / p95 / max",
               f"{statistics.fmean(lat) if lat else math.nan:.2f} / {percentile(lat, 0.95):.2f} / {max(lat, default=math.nan):.2f} s",
               target, met, note=f"{len(lat):,} successful batches")


def rows(report: Report, args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    polled, quiet, one, woken = results["polled"], results["quiet"], results["one"], results["woken"]
    n, poll = polled["n"], args.poll_interval
    label = f"6 event wait N={n:,} polled"
    outcome_row(report, label, polled)
    worst = max(polled["by_batch"].values(), default=0)
    report.add(label, "REST requests per wait: mean; worst batch", f"{polled['requests'] / n:.2f}; {worst}",
               "about 2 per poll", note=f"poll_interval {poll:g} s")
    latency_row(report, label, polled, f"about {poll / 2:g} s on average", None)
    label_q = f"6 event wait N={quiet['n']:,} woken, every message dropped"
    outcome_row(report, label_q, quiet)
    request_row(report, label_q, quiet, args.short_reconcile)
    lat = latencies(quiet)
    bound = args.short_reconcile * 1.2 + POLL_ALLOWANCE
    report.add(label_q, "latest event after its batch's end", f"{max(lat, default=math.nan):.1f} s",
               f"<= {bound:g} s (reconcile {args.short_reconcile:g} s + 20 % jitter + one poll)", bool(lat) and max(lat) <= bound)
    label_n = f"6 event wait N={n:,}"
    for name, result in (("polled", polled), ("woken", quiet)):
        report.add(label_n, f"longest event-loop stall, {name}", f"{result['stall']:.3f} s", f"<= {TARGET_STALL:g} s",
                   result["stall"] <= TARGET_STALL,
                   note=f"longest full garbage collection {result.get('longest_full_collection', math.nan):.3f} s;"
                   f" Airflow would have warned {result['airflow_warnings']} times")
    per_wait = {name: (r["rss_peak"] - r["rss_before"]) / r["n"] for name, r in (("polled", polled), ("woken", quiet))}
    extra = per_wait["woken"] - per_wait["polled"]
    report.add(label_n, "resident memory per wait, woken - polled", fmt_kib(extra), f"<= {TARGET_EXTRA_KIB} KiB",
               extra <= TARGET_EXTRA_KIB, note=f"polled {fmt_kib(per_wait['polled'])}, woken {fmt_kib(per_wait['woken'])} per wait")
    report.add(label_n, "SQS receive calls per minute: 1 wait / N waits", f"{per_minute(one):.1f} / {per_minute(quiet):.1f}",
               "independent of the number of waits", per_minute(quiet) <= per_minute(one) + 1,
               note=f"one consumer per process, long polls of 20 s; messages received {one['consumer'].get('messages', 0):,}"
               f" / {quiet['consumer'].get('messages', 0):,}")
    label_w = f"6 event wait N={woken['n']:,} woken, jobs {args.woken_pace:g} s apart"
    outcome_row(report, label_w, woken)
    request_row(report, label_w, woken, args.reconcile_interval)
    latency_row(report, label_w, woken, f"p95 <= {TARGET_P95_SECONDS:g} s", percentile(latencies(woken), 0.95) <= TARGET_P95_SECONDS)
    sent = sent_latencies(woken)
    report.add(label_w, "latency, SQS took the last terminal message -> event: mean / p95",
               f"{statistics.fmean(sent) if sent else math.nan:.2f} / {percentile(sent, 0.95):.2f} s",
               note="SentTimestamp: leaves out the fake's sender falling behind moto")
    report.add(label_w, "SQS receive calls per minute", f"{per_minute(woken):.1f}",
               note=f"{woken['consumer'].get('messages', 0):,} messages received; {woken['wall']:.0f} s")
    report.add(label_w, "longest event-loop stall", f"{woken['stall']:.3f} s", f"<= {TARGET_STALL:g} s",
               woken["stall"] <= TARGET_STALL)
    label_f = f"6 event wait N={results['faults']['n']:,} woken, 30 % dropped, 30 % duplicated, reordered"
    outcome_row(report, label_f, results["faults"])
    latency_row(report, label_f, results["faults"], "", None)
    burst = results["burst"]
    label_b = f"6 event wait burst of {burst['emitter'].get('sent', 0):,} messages"
    report.add(label_b, "longest event-loop stall while the consumer drains them", f"{burst['stall']:.3f} s",
               f"<= {TARGET_STALL:g} s", burst["stall"] <= TARGET_STALL,
               note=f"{burst['n']} waits; {busiest_second(burst['arrivals'])} messages in the busiest second;"
               f" drained in {burst['wall']:.0f} s")


def detail_text(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> str:
    lines = [f"### 6. Waits woken by notifications against polling\n\n`bench_event_wait.py --waits {args.waits}"
             f" --woken-waits {args.woken_waits} --poll-interval {args.poll_interval:g}"
             f" --reconcile-interval {args.reconcile_interval:g} --short-reconcile {args.short_reconcile:g}"
             f" --burst-messages {args.burst_messages}`. Per scenario:\n"]
    lines += [f"- `{name}`: {summary(result)}" for name, result in results.items()]
    return "\n".join(lines)

if __name__ == "__main__":
    main()
