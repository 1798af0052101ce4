"""Many waits on one triggerer: N ``IcaAnalysisBatchTrigger.run()`` in one event loop.

The fake ICA server runs in its own process (``python -m ica_airflow_provider.testing``,
fast analysis timings, optionally ``--rate-limit``); its counters (requests, token mints,
429s) are read over ``GET /_fake/counters``. A child process creates the batches first
through ``IcaHook`` (as operator tasks on workers would); this process then plays the
triggerer: it starts every trigger's ``run()`` in one asyncio loop, yielding to the loop
between triggers as Airflow 3.3's ``TriggerRunner.create_triggers`` does, each behind
``greenback.ensure_portal()`` and followed by the "Trigger fired event" log line, as
Airflow 3.3's ``TriggerRunner.run_trigger`` does, with the secrets masker filtering the
log as in Airflow. One extra wait runs first (a warm-up, so that lazy imports and
one-time set-up are not counted per wait).

Measured over the N waits:

- wall time, and whether every wait ended with the right outcome (every 10th batch holds
  a ``fail-analysis`` item and must end ``failure``, the others ``success``);
- token mints (server) and registrations with the secrets masker (calls of
  ``SecretsMasker.add_mask`` from outside the masker, warm-up included);
- the longest event-loop stall: a watchdog awaits ``asyncio.sleep(0.01)`` in a loop and
  records how late it wakes; and how many times Airflow's own watchdog (0.1 s sleeps,
  warns when one takes over 0.2 s) would have logged "Triggerer's async thread was blocked";
- resident memory per wait: peak RSS (``VmHWM``, reset before the waits start) minus RSS
  before, divided by N; and what is still held once they ended;
- client CPU per request: this process's CPU time over the waits / the requests the
  server received meanwhile;
- requests sent (``httpx.AsyncClient.send``) in the busiest second, against the budget
  (connection extra ``max_requests_per_second``), and the share answered 429.

Then, with a second server whose analyses finish at once, one trigger waits for a
10,000-item batch: the size of its event as JSON (what the metadata database stores),
of the "Trigger fired event" line it logs, and the longest stall during that wait.

Figures, never assertions: the exit status is 0 whatever the figures.

    .venv/bin/python benchmarks/bench_triggerer_scale.py                  # 1,000 waits
    .venv/bin/python benchmarks/bench_triggerer_scale.py --waits 200 --rate-limit 50 --budget 40
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

sys.path.insert(0, os.path.dirname(__file__))

from _common import (
    API_KEY,
    PROJECT_ID,
    Report,
    ServerProcess,
    apply_bench_env,
    batch_items,
    bench_env,
    finish,
    reset_peak_rss,
    rss_kib,
    run_json_child,
)

# Each phase of an analysis (5 of them) takes this long on the fake; items are created
# within 0.2 s of the job start, which is held back (see ``hold_seconds``).
ANALYSIS_STEP_SECONDS = 0.5
FAIL_EVERY = 10  # every 10th batch has a failing analysis: its wait must end "failure"
BIG_BATCH_ITEMS = 10_000
WATCHDOG_SECONDS = 0.01
AIRFLOW_WATCHDOG_SECONDS = 0.1  # TriggerRunner.block_watchdog's sleep
AIRFLOW_BLOCKED_THRESHOLD = 0.2  # [triggerer] blocked_main_thread_warning_threshold default
# Targets: the longest event-loop stall, memory per wait, the event's size, the share of 429s.
TARGET_STALL = 0.2
TARGET_RSS_KIB = 100
TARGET_EVENT_BYTES = 64 * 1024
TARGET_429_SHARE = 0.02
KIB = 1024
MASKER_PLUMBING = (
    "airflow.sdk.log",
    "airflow.sdk._shared.secrets_masker",
    "airflow._shared.secrets_masker",
    "asgiref",
    "concurrent",
    "threading",
    "__main__",
)
BIG_CONN_ID = "ica_big"  # the big batch's server: another connection
BIG_SERVER_OPTIONS = {"batch_start_seconds": 0, "item_creation_seconds": 0, "analysis_step_seconds": 0}
MASKER_MODULES = (
    "airflow.sdk._shared.secrets_masker.secrets_masker",
    "airflow._shared.secrets_masker.secrets_masker",
)


# --- the batches, created in a child process through the hook -------------------------------


def create_batches(count: int, items: int, threads: int, *, tagged: bool = False, pace: float = 0.0) -> None:
    """Child process: create ``count`` batches through ``IcaHook``; print their IDs.

    ``tagged``: each batch's items carry the technical tag the operator gives a woken wait's
    batch (printed as ``tags``, in the order of the IDs). ``pace``: seconds between two
    creations (each job starts the fake's ``batch_start_seconds`` after its batch's).
    """
    import threading

    from ica_airflow_provider.core.wake import wait_tag, with_wait_tag
    from ica_airflow_provider.hooks.ica import IcaHook

    local = threading.local()

    def create(index: int) -> str:
        time.sleep(max(0.0, started + index * pace - time.perf_counter()))
        hook = getattr(local, "hook", None)
        if hook is None:
            hook = local.hook = IcaHook()
        nextflow = batch_items(items)
        for number, item in enumerate(nextflow):
            item["userReference"] = f"scale-{index:05d}-{number}"
        if index % FAIL_EVERY == FAIL_EVERY - 1:
            nextflow[-1]["userReference"] += "-fail-analysis"
        key = f"bench-scale-{index}"
        request = {"nextflowItems": nextflow}
        batch = hook.create_analysis_creation_batch(
            PROJECT_ID, with_wait_tag(request, wait_tag(PROJECT_ID, key)) if tagged else request, idempotency_key=key
        )
        return str(batch.id)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        ids = list(pool.map(create, range(count)))
    tags = [wait_tag(PROJECT_ID, f"bench-scale-{index}") for index in range(count)] if tagged else None
    print("RESULT " + json.dumps({"batch_ids": ids, "tags": tags, "seconds": time.perf_counter() - started}), flush=True)


def expected_status(index: int) -> str:
    return "failure" if index % FAIL_EVERY == FAIL_EVERY - 1 else "success"


def connection_json(url: str, budget: str) -> str:
    extra: dict[str, Any] = {"project_id": PROJECT_ID}
    if budget != "default":
        extra["max_requests_per_second"] = float(budget)
    return json.dumps({"conn_type": "ica", "host": url, "password": API_KEY, "extra": extra})


def server_counters(server: ServerProcess) -> dict[str, int]:
    root = server.url.split("/ica/rest")[0]
    with urllib.request.urlopen(root + "/_fake/counters", timeout=30) as response:
        return dict(json.loads(response.read()))


# --- what this process counts while the waits run -------------------------------------------


@dataclass
class Probes:
    """The masker registrations, the requests sent, and the event loop's lateness."""

    masker_calls: int = 0
    masker_depth: int = 0
    masker_callers: Counter[str] = field(default_factory=Counter)  # calls by calling module
    provider_secrets: set[int] = field(default_factory=set)  # hashes of what the provider registered
    sent: list[float] = field(default_factory=list)
    longest_stall: float = 0.0
    stall_at: float = 0.0
    airflow_warnings: int = 0
    running: bool = True
    # Cyclic garbage collections while the waits ran: (generation, seconds).
    collections: list[tuple[int, float]] = field(default_factory=list)
    _collection_started: float = 0.0

    def count_collections(self, phase: str, info: dict[str, int]) -> None:
        """A ``gc.callbacks`` entry: how long each collection held the loop."""
        if not self.running:
            return
        if phase == "start":
            self._collection_started = time.perf_counter()
        else:
            self.collections.append((info["generation"], time.perf_counter() - self._collection_started))

    def longest_collection(self, generation: int) -> tuple[int, float]:
        """How many collections of ``generation`` ran, and the longest one."""
        pauses = [seconds for gen, seconds in self.collections if gen == generation]
        return len(pauses), max(pauses, default=0.0)

    def install(self) -> None:
        """Wrap ``SecretsMasker.add_mask`` and ``httpx.AsyncClient.send`` (class level)."""
        import importlib

        import httpx

        for module in MASKER_MODULES:  # the task SDK's masker and, where it exists, the core's
            try:
                masker_class = importlib.import_module(module).SecretsMasker
            except (ImportError, AttributeError):
                continue
            masker_class.add_mask = self._counted(masker_class.add_mask)
        send = httpx.AsyncClient.send
        probes = self

        async def counted_send(client: Any, *args: Any, **kwargs: Any) -> Any:
            probes.sent.append(time.monotonic())
            return await send(client, *args, **kwargs)

        httpx.AsyncClient.send = counted_send  # type: ignore[method-assign]

    def _counted(self, add_mask: Callable[..., Any]) -> Callable[..., Any]:
        probes = self

        def counted_add_mask(masker: Any, secret: Any, *args: Any, **kwargs: Any) -> Any:
            if probes.masker_depth == 0:  # add_mask recurses into dicts and lists: count the outer call
                probes.masker_calls += 1
                caller = calling_module()
                probes.masker_callers[caller] += 1
                if caller.startswith("ica_airflow_provider"):
                    probes.provider_secrets.add(hash(repr(secret)))
            probes.masker_depth += 1
            try:
                return add_mask(masker, secret, *args, **kwargs)
            finally:
                probes.masker_depth -= 1

        return counted_add_mask

    async def watchdog(self, started: float) -> None:
        """How late a 10 ms sleep wakes up: the longest stall of the loop."""
        loop = asyncio.get_running_loop()
        while self.running:
            before = loop.time()
            await asyncio.sleep(WATCHDOG_SECONDS)
            late = loop.time() - before - WATCHDOG_SECONDS
            if late > self.longest_stall:
                self.longest_stall, self.stall_at = late, time.monotonic() - started

    async def airflow_watchdog(self) -> None:
        """``TriggerRunner.block_watchdog``'s arithmetic: count the warnings it would log."""
        while self.running:
            before = time.monotonic()
            await asyncio.sleep(AIRFLOW_WATCHDOG_SECONDS)
            if time.monotonic() - before > AIRFLOW_BLOCKED_THRESHOLD:
                self.airflow_warnings += 1

    def peak_rate(self, since: float, window: float = 1.0) -> int:
        """Most requests sent within any ``window`` seconds after ``since``."""
        times = [t for t in self.sent if t >= since]
        best = start = 0
        for end, t in enumerate(times):
            while times[start] <= t - window:
                start += 1
            best = max(best, end - start + 1)
        return best


def calling_module() -> str:
    """The first module up the stack that is not the masker, its wrappers or a thread pool."""
    frame = sys._getframe(2)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", "?"))
        if not name.startswith(MASKER_PLUMBING):
            return name
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


class TriggerLog:
    """Logging as in Airflow's trigger runner process: JSON lines for its supervisor, here to a file.

    Stays open until the process ends: every later log line of this process goes there.
    """

    def __init__(self, path: Path) -> None:
        import structlog
        from airflow.sdk.log import configure_logging

        self.path = path
        self.output: BinaryIO = path.open("wb")
        configure_logging(json_output=True, output=self.output, sending_to_supervisor=True)
        self.log = structlog.get_logger(logger_name="airflow.jobs.triggerer_job_runner")

    def size(self) -> int:
        """Bytes logged so far."""
        self.output.flush()
        return self.path.stat().st_size

    async def fired(self, name: str, event: Any) -> None:
        """``TriggerRunner.run_trigger``'s line for each event."""
        await self.log.ainfo("Trigger fired event", name=name, result=event)


async def run_trigger(trigger: Any, name: str, log: TriggerLog) -> dict[str, Any]:
    """One trigger as ``TriggerRunner.run_trigger`` runs it: portal, run(), log the event."""
    try:
        import greenback

        await greenback.ensure_portal()
    except ImportError:  # not installed where the triggerer is not
        pass
    async for event in trigger.run():
        await log.fired(name, event)
        return dict(event.payload)
    return {"status": "no event"}


def new_trigger(
    batch_id: str, poll_interval: float, end_time: float, conn_id: str = "ica_default", **wake: Any
) -> Any:
    """The trigger a deferred wait hands the triggerer; ``wake``: its ``sqs_queue``, ``aws_conn_id``, ..."""
    from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger

    return IcaAnalysisBatchTrigger(
        project_id=PROJECT_ID,
        batch_id=batch_id,
        ica_conn_id=conn_id,
        poll_interval=poll_interval,
        end_time=end_time,
        **wake,
    )


# --- the N waits ----------------------------------------------------------------------------


@dataclass
class Outcome:
    wall: float
    right: int
    wrong: dict[str, int]
    cpu: float
    rss_before: int
    rss_peak: int
    rss_after: int
    probes: Probes
    started: float
    log_bytes: int
    warmup_seconds: float
    # The probes' masker counts at the end of the waits (the big batch's wait comes after).
    masker_calls: int = 0
    masker_callers: Counter[str] = field(default_factory=Counter)
    provider_secrets: int = 0
    # A full collection of the heap just before the waits: Airflow, the imports, no wait yet.
    collection_before: float = 0.0

    @property
    def provider_calls(self) -> int:
        return sum(c for m, c in self.masker_callers.items() if m.startswith("ica_airflow_provider"))


async def run_waits(
    batch_ids: list[str],
    warmup_id: str,
    poll_interval: float,
    timeout: float,
    probes: Probes,
    log: TriggerLog,
) -> Outcome:
    warm = time.perf_counter()
    # Its end_time has passed: one poll, then a "timeout" event (imports and set-up done).
    await run_trigger(new_trigger(warmup_id, poll_interval, time.time()), "warm-up", log)
    warmup_seconds = time.perf_counter() - warm
    end_time = time.time() + timeout
    gc.collect()
    collection_before = timed_collection()
    log_before = log.size()
    rss_before = rss_kib()[0]
    reset_peak_rss()
    started = time.monotonic()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    gc.callbacks.append(probes.count_collections)
    watchdogs = [
        asyncio.create_task(probes.watchdog(started)),
        asyncio.create_task(probes.airflow_watchdog()),
    ]
    tasks: list[asyncio.Task[dict[str, Any]]] = []
    try:
        for i, batch_id in enumerate(batch_ids, 1):
            # As TriggerRunner.create_triggers does: yield to the loop before building each
            # trigger and again before starting it, so arrivals never run in one loop step.
            await asyncio.sleep(0)
            trigger = new_trigger(batch_id, poll_interval, end_time)
            await asyncio.sleep(0)
            tasks.append(asyncio.create_task(run_trigger(trigger, f"bench_scale/run/wait/{i} (ID {i})", log)))
        results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        for task in tasks:
            task.cancel()  # none left unless the benchmark itself failed
        probes.running = False
        gc.callbacks.remove(probes.count_collections)
        await asyncio.gather(*watchdogs)
    rss_peak = rss_kib()[1]
    del tasks
    gc.collect()
    rss_after = rss_kib()[0]
    right, wrong = 0, {}
    for index, (batch_id, result) in enumerate(zip(batch_ids, results, strict=True), start=1):
        if isinstance(result, BaseException):
            status = f"raised {type(result).__name__}"
        elif result.get("batch_id") != batch_id:
            status = "event for another batch"
        else:
            status = str(result.get("status"))
        if status == expected_status(index):
            right += 1
        else:
            key = f"{status} (expected {expected_status(index)})"
            wrong[key] = wrong.get(key, 0) + 1
    return Outcome(
        wall,
        right,
        wrong,
        cpu,
        rss_before,
        rss_peak,
        rss_after,
        probes,
        started,
        log.size() - log_before,
        warmup_seconds,
        probes.masker_calls,
        Counter(probes.masker_callers),
        len(probes.provider_secrets),
        collection_before,
    )


def timed_collection() -> float:
    """Seconds one full collection of this process's heap takes (the best of 3)."""
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        gc.collect()
        best = min(best, time.perf_counter() - started)
    return best


# --- the event of a 10,000-item batch ---------------------------------------------------------


@dataclass
class BigEvent:
    status: str
    size: int  # the event as compact JSON
    line: int  # the bytes its "Trigger fired event" line logged
    stall: float
    wall: float


async def big_event(batch_id: str, timeout: float, log: TriggerLog) -> BigEvent:
    """One trigger over the big batch (its own connection): its event, log line, longest stall, wall time."""
    probes = Probes()
    started = time.monotonic()
    watchdog = asyncio.create_task(probes.watchdog(started))
    trigger = new_trigger(batch_id, 0.5, time.time() + timeout, BIG_CONN_ID)
    wall0 = time.perf_counter()
    event: dict[str, Any] = {"status": "no event"}
    line = 0
    async for fired in trigger.run():
        event = dict(fired.payload)
        before = log.size()
        await log.fired("big batch", fired)
        line = log.size() - before
        break
    wall = time.perf_counter() - wall0
    probes.running = False
    await watchdog
    size = len(json.dumps(event, separators=(",", ":")).encode())
    return BigEvent(str(event.get("status")), size, line, probes.longest_stall, wall)


def create_through_child(url: str, count: int, items: int) -> dict[str, Any]:
    """``--create-only`` in a child process against the server at ``url``: batch IDs and seconds."""
    conn = connection_json(url, "0")
    return run_json_child(
        [sys.executable, __file__, "--create-only", str(count), "--items", str(items)],
        env=bench_env({"AIRFLOW_CONN_ICA_DEFAULT": conn}),
    )


async def run_everything(
    args: argparse.Namespace,
    batch_ids: list[str],
    warmup_id: str,
    big_id: str | None,
    probes: Probes,
    log: TriggerLog,
) -> tuple[Outcome, BigEvent | None]:
    """One event loop, as on the triggerer: the N waits, then the big batch's wait."""
    outcome = await run_waits(batch_ids, warmup_id, args.poll_interval, args.timeout, probes, log)
    big = await big_event(big_id, args.timeout, log) if big_id else None
    return outcome, big


# --- report -----------------------------------------------------------------------------------


def hold_seconds(waits: int) -> float:
    """How long each batch's job waits before it starts: longer than creating all the batches
    takes, so that every wait polls a few times while all of them are alive together."""
    return 5.0 + 0.02 * waits


def fmt_kib(kib: float) -> str:
    return f"{kib / KIB:.2f} MiB" if abs(kib) >= KIB else f"{kib:.0f} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waits", type=int, default=1000, help="concurrent waits (default 1,000)")
    parser.add_argument("--items", type=int, default=5, help="items per batch (default 5)")
    parser.add_argument(
        "--rate-limit", type=float, default=0.0, help="the fake's tenant-wide limit, requests/s (0: none)"
    )
    parser.add_argument(
        "--budget",
        default="0",
        help="connection extra max_requests_per_second (default 0 = unlimited; 'default' = not set)",
    )
    parser.add_argument("--poll-interval", type=float, default=5.0, help="each trigger's poll_interval (s)")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="each trigger's end_time, from the start (s)"
    )
    parser.add_argument(
        "--hold", type=float, help="seconds before each batch's job starts (default 5 + 0.02 N)"
    )
    parser.add_argument("--create-threads", type=int, default=4, help="threads creating the batches")
    parser.add_argument("--no-big-event", action="store_true", help="skip the 10,000-item event")
    parser.add_argument("--create-only", type=int, help=argparse.SUPPRESS)  # the child's job
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.create_only is not None:
        create_batches(args.create_only, args.items, args.create_threads)
        return
    apply_bench_env()
    started = time.perf_counter()
    n = args.waits
    limited = args.rate_limit > 0
    label = f"5 triggerer N={n:,}" + (f" limit {args.rate_limit:g}/s" if limited else "")
    report = Report("triggerer_scale" + ("_rate_limited" if limited else ""))
    hold = hold_seconds(n) if args.hold is None else args.hold
    options = {
        "batch_start_seconds": hold,
        "item_creation_seconds": 0.2,
        "analysis_step_seconds": ANALYSIS_STEP_SECONDS,
        "rate_limit": args.rate_limit,
    }
    probes = Probes()
    tmp = tempfile.TemporaryDirectory(prefix="ica-bench-scale-")  # the trigger log; removed at exit
    log = TriggerLog(Path(tmp.name) / "triggerer.log")
    big_server: Any = contextlib.nullcontext() if args.no_big_event else ServerProcess(**BIG_SERVER_OPTIONS)
    with ServerProcess(**options) as server, big_server as big:
        big_id = None
        if big is not None:  # a server whose analyses end at once, its 10,000-item batch
            os.environ["AIRFLOW_CONN_" + BIG_CONN_ID.upper()] = connection_json(big.url, "0")
            big_id = create_through_child(big.url, 1, BIG_BATCH_ITEMS)["batch_ids"][0]
        os.environ["AIRFLOW_CONN_ICA_DEFAULT"] = connection_json(server.url, args.budget)
        created = create_through_child(server.url, n + 1, args.items)
        warmup_id, *batch_ids = created["batch_ids"]
        print(
            f"created {n + 1:,} batches of {args.items} items through IcaHook in {created['seconds']:.1f} s"
            f" (jobs start {hold:g} s after creation)",
            flush=True,
        )
        # Imports (Airflow, the trigger, httpx) before anything is measured. Airflow's trigger
        # runner is a fork of the triggerer, so its heap holds the triggerer's modules too,
        # and every full garbage collection walks them: they are imported here as well.
        import airflow.jobs.triggerer_job_runner  # noqa: F401

        from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger  # noqa: F401

        probes.install()
        before = server_counters(server)
        outcome, seen = asyncio.run(run_everything(args, batch_ids, warmup_id, big_id, probes, log))
        after = server_counters(server)
        server_cpu = server.cpu_seconds()

    requests_made = after["requests"] - before["requests"]
    mints = after["token_mints"]  # the warm-up's included: the whole life of this "triggerer"
    responses_429 = after["responses_429"] - before["responses_429"]
    print(
        f"{n:,} waits in {outcome.wall:.1f} s: {outcome.right:,} right, wrong {outcome.wrong or 'none'};"
        f" {requests_made:,} requests ({responses_429:,} answered 429), {mints:,} token mints in all"
        f" (creation child included), {outcome.masker_calls:,} masker registrations; longest stall"
        f" {outcome.probes.longest_stall:.3f} s at +{outcome.probes.stall_at:.1f} s;"
        f" RSS {outcome.rss_before / KIB:.0f} MiB before, peak {outcome.rss_peak / KIB:.0f} MiB,"
        f" after {outcome.rss_after / KIB:.0f} MiB; CPU {outcome.cpu:.1f} s; warm-up wait"
        f" {outcome.warmup_seconds:.1f} s; server CPU {server_cpu:.1f} s in all." + collections_text(outcome),
        flush=True,
    )

    report.add(
        label,
        "waits with the right outcome",
        f"{outcome.right:,} / {n:,}",
        f"{n:,} / {n:,}",
        outcome.right == n,
        note=", ".join(f"{count} {what}" for what, count in outcome.wrong.items()),
    )
    report.add(
        label,
        "wall time of the waits",
        f"{outcome.wall:.1f} s",
        note=f"poll_interval {args.poll_interval:g} s",
    )
    # One mint for the child that created the batches (its own process), at most one here.
    creator_mints = before["token_mints"]
    wait_mints = mints - creator_mints
    report.add(
        label,
        "token mints by the waits (+ warm-up wait)",
        f"{wait_mints:,}",
        "<= 1 (one per connection per token lifetime)",
        wait_mints <= 1,
        note=f"{creator_mints} more by the batch-creating process",
    )
    report.add(
        label,
        "secrets masker registrations (add_mask calls)",
        f"{outcome.masker_calls:,}",
        "each secret once",
        outcome.provider_calls <= outcome.provider_secrets,
        note=f"by the provider {outcome.provider_calls:,} for {outcome.provider_secrets:,} distinct secrets;"
        " by caller: "
        + ", ".join(f"{module} {count:,}" for module, count in outcome.masker_callers.most_common()),
    )
    report.add(
        label,
        "longest event-loop stall (10 ms watchdog)",
        f"{outcome.probes.longest_stall:.3f} s",
        f"<= {TARGET_STALL:g} s",
        outcome.probes.longest_stall <= TARGET_STALL,
        note=f"Airflow's watchdog would have warned 'blocked' {outcome.probes.airflow_warnings} times",
    )
    full, longest_full = outcome.probes.longest_collection(2)
    report.add(
        label,
        "longest full garbage collection (gen 2) during the waits",
        f"{longest_full:.3f} s" if full else "none",
        note=f"{full} full collections, {len(outcome.probes.collections):,} in all;"
        f" one of the heap before the waits (Airflow and the imports) took {outcome.collection_before:.3f} s",
    )
    report.add(
        label,
        "Airflow 'blocked' warnings (its watchdog's arithmetic)",
        f"{outcome.probes.airflow_warnings}",
        note="its 0.1 s sleep taking over 0.2 s, i.e. any stall over about 0.1 s, full collections included",
    )
    peak_per_wait = (outcome.rss_peak - outcome.rss_before) / n
    held_per_wait = (outcome.rss_after - outcome.rss_before) / n
    report.add(
        label,
        "resident memory per wait (peak RSS - RSS before) / N",
        fmt_kib(peak_per_wait),
        f"<= {TARGET_RSS_KIB} KiB",
        peak_per_wait <= TARGET_RSS_KIB,
        note=f"still held after the waits ended: {fmt_kib(held_per_wait)} per wait",
    )
    cpu_per_request = outcome.cpu / requests_made if requests_made else math.nan
    report.add(
        label,
        "client CPU per request",
        f"{cpu_per_request * 1000:.2f} ms",
        note=f"{outcome.cpu:.1f} s CPU / {requests_made:,} requests ({requests_made / n:.1f} per wait)",
    )
    report.add(label, "triggerer log written", f"{outcome.log_bytes / 1000:,.0f} kB")
    if limited:
        share = responses_429 / requests_made if requests_made else math.nan
        report.add(
            label,
            "share of requests answered 429",
            f"{share:.1%} ({responses_429:,} of {requests_made:,})",
            f"<= {TARGET_429_SHARE:.0%}, no wait fails",
            share <= TARGET_429_SHARE and outcome.right == n,
        )
    peak = probes.peak_rate(outcome.started)
    budget = args.budget
    report.add(
        label,
        "requests sent in the busiest second",
        f"{peak:,}",
        f"<= budget {budget}" if budget not in ("0", "default") else "",
        peak <= float(budget) * 1.1 + 1 if budget not in ("0", "default") else None,
        note=f"budget (max_requests_per_second) {budget}; tenant limit {args.rate_limit:g}/s"
        if limited
        else f"budget (max_requests_per_second) {budget}",
    )

    if seen is not None:
        size, line_bytes, stall, wall, status = seen.size, seen.line, seen.stall, seen.wall, seen.status
        big = f"5 triggerer {BIG_BATCH_ITEMS:,}-item batch"
        print(
            f"{BIG_BATCH_ITEMS:,}-item batch: event {size:,} bytes ({status}), logged line {line_bytes:,} bytes,"
            f" longest stall {stall:.3f} s, wait {wall:.1f} s",
            flush=True,
        )
        report.add(
            big,
            "trigger event, JSON",
            f"{size / 1000:,.1f} kB",
            "<= 64 KiB",
            size <= TARGET_EVENT_BYTES and status == "success",  # a small error event proves nothing
            note=f"event status {status}",
        )
        report.add(big, "'Trigger fired event' log line", f"{line_bytes / 1000:,.1f} kB", "a summary")
        report.add(
            big,
            "longest event-loop stall of its wait",
            f"{stall:.3f} s",
            f"<= {TARGET_STALL:g} s",
            stall <= TARGET_STALL,
            note=f"one wait, 10 pages of 1,000 items; {wall:.1f} s",
        )
    report.detail(
        detail_text(args, n, hold, created["seconds"], outcome, requests_made, mints, creator_mints)
    )
    finish(report, args.json, started)


def detail_text(
    args: argparse.Namespace,
    n: int,
    hold: float,
    creation_seconds: float,
    outcome: Outcome,
    requests_made: int,
    mints: int,
    creator_mints: int,
) -> str:
    scenario = f"{n:,} waits of {args.items}-item batches"
    if args.rate_limit > 0:
        scenario += f", tenant limit {args.rate_limit:g} req/s"
    return (
        f"### 5. Triggerer at scale: {scenario}\n\n"
        f"`bench_triggerer_scale.py --waits {n} --items {args.items}"
        + (f" --rate-limit {args.rate_limit:g}" if args.rate_limit > 0 else "")
        + f" --budget {args.budget} --poll-interval {args.poll_interval:g}`: {n + 1:,} batches created through"
        f" `IcaHook` by a child process in {creation_seconds:.1f} s (each job starts {hold:g} s after its"
        f" creation, analyses take ~{ANALYSIS_STEP_SECONDS * 5:g} s more; every {FAIL_EVERY}th batch"
        f" fails). Warm-up wait {outcome.warmup_seconds:.1f} s, then the {n:,} waits in"
        f" {outcome.wall:.1f} s; {requests_made:,} requests; token mints in all {mints}"
        f" ({creator_mints} by the creating process); longest stall"
        f" {outcome.probes.longest_stall:.3f} s, {outcome.probes.stall_at:.1f} s after the waits"
        f" started; RSS {outcome.rss_before / KIB:.0f} MiB before, peak {outcome.rss_peak / KIB:.0f} MiB,"
        f" {outcome.rss_after / KIB:.0f} MiB after. Masker registrations by calling module: "
        + ", ".join(f"`{module}` {count:,}" for module, count in outcome.masker_callers.most_common())
        + f"; Airflow's watchdog would have warned {outcome.probes.airflow_warnings} times."
        + collections_text(outcome)
    )


def collections_text(outcome: Outcome) -> str:
    """The full garbage collections during the waits, against one of the heap before them."""
    full, longest = outcome.probes.longest_collection(2)
    return (
        f" Full garbage collections during the waits: {full}, the longest {longest:.3f} s; one of the"
        f" heap before the waits (Airflow, the triggerer's modules, the imports) took"
        f" {outcome.collection_before:.3f} s."
    )


if __name__ == "__main__":
    main()
