"""One full poll of a 10,000-item batch: the sensor's poke against the same loop with libica 3.3.

The fake ICA runs in its own process (its CPU must not count as the client's), with
every item created at once and every analysis held in REQUESTED, so each poll is a full
listing (10 pages of 1000 items, each with its ``createdAnalysis``). Each client runs in
its own process (``_full_poll_client.py``):

- ours: ``IcaAnalysisBatchSensor.poke()`` on a fresh sensor (connection read and token
  minted beforehand), i.e. the first poke of a task: list every page, parse, build the
  per-item records, judge.
- libica: ``ProjectAnalysisCreationBatchApi.get_analysis_creation_batch_items`` paged with
  ``page_token`` (Accept v4 set as the client's default header, bearer JWT from
  ``POST /api/tokens``), collecting the items and building the same per-item records.

Timing runs do ``--polls`` polls per process: the first is cold (first use of the models
in that process, as in a freshly started task), the others warm. Memory runs trace
allocations (``tracemalloc``) of one cold poll; the RSS peak growth comes from the
timing run (``VmHWM`` reset before the poll). Targets: ours at least 2x faster (CPU) and
at most half the memory.

    .venv/bin/python benchmarks/bench_full_poll.py [--items 10000] [--libica-python PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from _common import (
    API_KEY,
    BENCH_DIR,
    PROJECT_ID,
    Report,
    ServerProcess,
    batch_items,
    bench_env,
    create_batch_http,
    finish,
    fmt_mib,
    fmt_ms,
    median,
    mint_token,
    run_json_child,
)

SERVER_OPTIONS = {
    "batch_start_seconds": 0,
    "item_waiting_seconds": 0,
    "item_creation_seconds": 0,
    "analysis_step_seconds": 3600,  # every analysis stays REQUESTED: every poll lists everything
}


def libica_python(given: str | None) -> str | None:
    """The interpreter that has libica: ``given``, else this one if it has libica."""
    if given:
        return given
    return sys.executable if importlib.util.find_spec("libica") is not None else None


def run_client(
    python: str,
    client: str,
    server: ServerProcess,
    batch_id: str,
    token: str,
    polls: int,
    memory: bool,
    page_size: int,
) -> dict[str, Any]:
    args = [
        python,
        str(BENCH_DIR / "_full_poll_client.py"),
        "--client",
        client,
        "--url",
        server.url,
        "--batch-id",
        batch_id,
        "--project-id",
        PROJECT_ID,
        "--api-key",
        API_KEY,
        "--token",
        token,
        "--polls",
        str(polls),
        "--page-size",
        str(page_size),
        "--server-pid",
        str(server.pid),
    ]
    if memory:
        args.append("--memory")
    return run_json_child(args, env=bench_env())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=3, help="polls per timing process (first is cold)")
    parser.add_argument(
        "--libica-python", help="interpreter with libica 3.3 (default: this one, if it has it)"
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    started = time.perf_counter()
    report = Report("full_poll")
    label = f"3 full poll {args.items:,}"
    import requests

    lib_python = libica_python(args.libica_python)
    with ServerProcess(**SERVER_OPTIONS) as server, requests.Session() as session:
        token = mint_token(session, server.url)
        batch_id, post_seconds, _body = create_batch_http(session, server.url, token, batch_items(args.items))
        print(
            f"fake server {server.url} (pid {server.pid}); batch of {args.items:,} created in {post_seconds:.2f} s"
        )

        results: dict[tuple[str, bool], dict[str, Any]] = {}
        clients = ["ours"] + (["libica"] if lib_python else [])
        for memory in (False, True):
            for client in clients:
                python = lib_python if client == "libica" else sys.executable
                assert python is not None
                result = run_client(
                    python,
                    client,
                    server,
                    batch_id,
                    token,
                    1 if memory else args.polls,
                    memory,
                    args.page_size,
                )
                results[(client, memory)] = result
                for i, poll in enumerate(result["polls"]):
                    what = "memory" if memory else ("cold" if i == 0 else "warm")
                    extra = (
                        f" traced peak {fmt_mib(poll['traced_peak'])}, retained {fmt_mib(poll['traced_retained'])}"
                        if memory
                        else f" rss peak +{fmt_mib((poll['rss_peak_delta_kib'] or 0) * 1024)}"
                    )
                    server_cpu = f"{poll['server_cpu']:.2f}" if poll["server_cpu"] is not None else "?"
                    print(
                        f"{client:>6} {what:>6}: cpu {poll['cpu']:.3f} s (gc {poll['gc_cpu']:.3f} s,"
                        f" collections {poll['gc_collections']}) wall {poll['wall']:.3f} s"
                        f" (server cpu {server_cpu} s);{extra}; items {poll['items']} {poll['item_status']}"
                        f" {poll['analysis_status']}",
                        flush=True,
                    )

    ours_t, ours_m = results[("ours", False)]["polls"], results[("ours", True)]["polls"][0]
    for poll in ours_t:
        if poll["items"] != args.items:
            report.add(label, "ours saw every item", f"{poll['items']}", f"{args.items}", False)
            break
    if not lib_python:
        report.add(
            label,
            "libica comparison",
            "skipped",
            "libica 3.3 installed",
            False,
            "install the bench extra, or pass --libica-python",
        )
        cold = ours_t[0]
        report.add(label, "ours cold poll CPU / wall", f"{cold['cpu']:.2f} s / {cold['wall']:.2f} s")
        report.add(label, "ours traced peak", fmt_mib(ours_m["traced_peak"]))
        report.detail("### 3. Full poll\n\nlibica not available: only our figures were taken.")
        finish(report, args.json, started)
        return

    lib_t, lib_m = results[("libica", False)]["polls"], results[("libica", True)]["polls"][0]
    same = ours_t[0]["items"] == lib_t[0]["items"] == args.items
    cold_ratio = lib_t[0]["cpu"] / ours_t[0]["cpu"]
    warm_ours = median(p["cpu"] for p in ours_t[1:]) if len(ours_t) > 1 else ours_t[0]["cpu"]
    warm_lib = median(p["cpu"] for p in lib_t[1:]) if len(lib_t) > 1 else lib_t[0]["cpu"]
    warm_ratio = warm_lib / warm_ours
    wall_ratio = lib_t[0]["wall"] / ours_t[0]["wall"]
    mem_ratio = ours_m["traced_peak"] / lib_m["traced_peak"]
    rss_ours, rss_lib = ours_t[0]["rss_peak_delta_kib"], lib_t[0]["rss_peak_delta_kib"]

    report.add(
        label,
        "items seen by ours / libica",
        f"{ours_t[0]['items']:,} / {lib_t[0]['items']:,}",
        f"{args.items:,} each",
        same,
    )
    report.add(
        label,
        "CPU, cold poll: ours vs libica",
        f"{fmt_ms(ours_t[0]['cpu'])} vs {fmt_ms(lib_t[0]['cpu'])} ({cold_ratio:.1f}x)",
        ">= 2x faster",
        cold_ratio >= 2,
    )
    report.add(
        label,
        f"CPU, warm poll (median of {len(ours_t) - 1}): ours vs libica",
        f"{fmt_ms(warm_ours)} vs {fmt_ms(warm_lib)} ({warm_ratio:.1f}x)",
        ">= 2x faster",
        warm_ratio >= 2,
    )
    gc_ours, gc_lib = ours_t[0]["gc_cpu"], lib_t[0]["gc_cpu"]
    report.add(
        label,
        "of which cyclic GC, cold poll: ours vs libica",
        f"{fmt_ms(gc_ours)} ({100 * gc_ours / ours_t[0]['cpu']:.0f}%) vs {fmt_ms(gc_lib)}"
        f" ({100 * gc_lib / lib_t[0]['cpu']:.0f}%)",
        note=f"gen-2 collections {ours_t[0]['gc_collections'][2]} vs {lib_t[0]['gc_collections'][2]}",
    )
    wall_ours, wall_lib = median(p["wall"] for p in ours_t), median(p["wall"] for p in lib_t)
    report.add(
        label,
        f"wall, median of all {len(ours_t)} polls: ours vs libica",
        f"{fmt_ms(wall_ours)} vs {fmt_ms(wall_lib)} ({wall_lib / wall_ours:.1f}x)",
        note=f"includes the server's time; cold: {fmt_ms(ours_t[0]['wall'])} vs {fmt_ms(lib_t[0]['wall'])}"
        f" ({wall_ratio:.1f}x)",
    )
    report.add(
        label,
        "server CPU during the cold poll: ours vs libica",
        f"{ours_t[0]['server_cpu']:.2f} s vs {lib_t[0]['server_cpu']:.2f} s",
        note="ours asks for gzip, libica does not",
    )
    report.add(
        label,
        "tracemalloc peak, cold poll: ours vs libica",
        f"{fmt_mib(ours_m['traced_peak'])} vs {fmt_mib(lib_m['traced_peak'])} ({mem_ratio:.2f}x)",
        "<= 0.5x",
        mem_ratio <= 0.5,
    )
    report.add(
        label,
        "retained after the poll (records): ours vs libica",
        f"{fmt_mib(ours_m['traced_retained'])} vs {fmt_mib(lib_m['traced_retained'])}",
    )
    if rss_ours is not None and rss_lib is not None:
        rss_ratio = rss_ours / rss_lib if rss_lib else float("inf")
        report.add(
            label,
            "RSS peak growth, cold poll: ours vs libica",
            f"{fmt_mib(rss_ours * 1024)} vs {fmt_mib(rss_lib * 1024)} ({rss_ratio:.2f}x)",
            "<= 0.5x",
            rss_ratio <= 0.5,
        )
    lines = [
        "### 3. Full poll of a 10,000-item batch, poll by poll",
        "",
        "| client | poll | CPU s | of which GC s | GC runs gen0/1/2 | wall s | server CPU s | RSS peak growth | traced peak | items |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for client, timing, mem in (("ours", ours_t, ours_m), ("libica", lib_t, lib_m)):
        for i, p in enumerate(timing):
            lines.append(
                f"| {client} | {'cold' if i == 0 else 'warm'} | {p['cpu']:.3f} | {p['gc_cpu']:.3f} |"
                f" {'/'.join(map(str, p['gc_collections']))} | {p['wall']:.3f} | {p['server_cpu']:.2f} |"
                f" {fmt_mib((p['rss_peak_delta_kib'] or 0) * 1024)} | | {p['items']:,} |"
            )
        lines.append(
            f"| {client} | cold, traced | {mem['cpu']:.3f} | {mem['gc_cpu']:.3f} |"
            f" {'/'.join(map(str, mem['gc_collections']))} | {mem['wall']:.3f} | {mem['server_cpu']:.2f} | |"
            f" {fmt_mib(mem['traced_peak'])} | {mem['items']:,} |"
        )
    lines += [
        "",
        f"Client set-up (imports, connection, client objects; not measured above): ours"
        f" {results[('ours', False)]['setup_seconds']:.2f} s, libica {results[('libica', False)]['setup_seconds']:.2f} s.",
    ]
    report.detail("\n".join(lines))
    finish(report, args.json, started)


if __name__ == "__main__":
    main()
