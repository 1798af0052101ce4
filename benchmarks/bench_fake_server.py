"""Fake ICA server capacity: creating batches and serving a 10,000-item batch.

The server runs in its own process (``python -m ica_airflow_provider.testing``) and the
client is plain ``requests`` over loopback. Timed: ``POST`` of a 1,000-item batch
(median of several, each a new batch), one ``POST`` of a 10,000-item batch, and listing
the 10,000 items with ``pageSize=1000`` (10 cursor pages, every item with its
``createdAnalysis``), with ``Accept-Encoding: gzip`` as the hook sends it and without.
The server's own CPU time is read from ``/proc/<pid>/stat``; the wall time also holds the
client's JSON parsing of each page (needed for the cursor).

    .venv/bin/python benchmarks/bench_fake_server.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from _common import (
    PROJECT_ID,
    V4,
    Report,
    ServerProcess,
    batch_items,
    create_batch_http,
    finish,
    fmt_mib,
    median,
    mint_token,
)

SERVER_OPTIONS = {"batch_start_seconds": 0, "item_creation_seconds": 0, "analysis_step_seconds": 3600}


def list_all(session, url: str, token: str, batch_id: str, encoding: str) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """Every item, page by page; returns ``(items, pages, bytes on the wire)``."""
    headers = {"Authorization": f"Bearer {token}", "Accept": V4, "Accept-Encoding": encoding}
    page_token = None
    items = pages = wire = 0
    while True:
        params = {"pageSize": "1000"}
        if page_token:
            params["pageToken"] = page_token
        response = session.get(
            f"{url}/api/projects/{PROJECT_ID}/analysisCreationBatch/{batch_id}/items",
            params=params,
            headers=headers,
            timeout=120,
            stream=True,
        )
        raw = response.raw.read(decode_content=False)
        response.raise_for_status()
        wire += len(raw)
        if response.headers.get("content-encoding") == "gzip":
            import gzip

            raw = gzip.decompress(raw)
        import json

        body = json.loads(raw)
        items += len(body["items"])
        pages += 1
        page_token = body.get("nextPageToken")
        if not page_token:
            return items, pages, wire


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="1,000-item POSTs")
    parser.add_argument("--list-repeats", type=int, default=3, help="full listings per encoding")
    parser.add_argument("--json")
    args = parser.parse_args()
    started = time.perf_counter()
    report = Report("fake_server")
    label = "4 fake server"
    import requests

    with ServerProcess(**SERVER_OPTIONS) as server, requests.Session() as session:
        token = mint_token(session, server.url)
        posts, post_cpu = [], []
        size = 0
        for _ in range(args.repeats):
            cpu0 = server.cpu_seconds()
            _, seconds, size = create_batch_http(session, server.url, token, batch_items(1000))
            posts.append(seconds)
            post_cpu.append(server.cpu_seconds() - cpu0)
        print(
            f"POST 1,000 items ({size:,} bytes): median {median(posts):.3f} s, min {min(posts):.3f} s,"
            f" server CPU median {median(post_cpu):.2f} s"
        )
        cpu0 = server.cpu_seconds()
        batch_id, big_seconds, big_size = create_batch_http(session, server.url, token, batch_items(10_000))
        big_cpu = server.cpu_seconds() - cpu0
        print(f"POST 10,000 items ({big_size:,} bytes): {big_seconds:.3f} s, server CPU {big_cpu:.2f} s")

        listing: dict[str, list[tuple[float, float, int, float]]] = {"gzip": [], "identity": []}
        for _ in range(args.list_repeats):
            for encoding in ("gzip", "identity"):
                cpu0, wall0, client0 = server.cpu_seconds(), time.perf_counter(), time.process_time()
                items, pages, wire = list_all(session, server.url, token, batch_id, encoding)
                wall, cpu = time.perf_counter() - wall0, server.cpu_seconds() - cpu0
                client = time.process_time() - client0
                assert items == 10_000, items
                listing[encoding].append((wall, cpu, wire, client))
                print(
                    f"list 10,000 items ({pages} pages, {encoding}, {fmt_mib(wire)} on the wire):"
                    f" {wall:.2f} s, server CPU {cpu:.2f} s, client CPU {client:.2f} s",
                    flush=True,
                )

    report.add(
        label,
        f"POST 1,000-item batch (median of {args.repeats})",
        f"{median(posts) * 1000:.0f} ms",
        note=f"server CPU {median(post_cpu) * 1000:.0f} ms; body {size / 1000:.0f} kB",
    )
    report.add(
        label,
        "POST 10,000-item batch",
        f"{big_seconds * 1000:.0f} ms",
        note=f"server CPU {big_cpu * 1000:.0f} ms; body {big_size / 1e6:.1f} MB",
    )
    for encoding, runs in listing.items():
        wall = median(r[0] for r in runs)
        cpu = median(r[1] for r in runs)
        client = median(r[3] for r in runs)
        report.add(
            label,
            f"list 10,000 items, pageSize 1000, {encoding} (median of {len(runs)})",
            f"{wall:.2f} s",
            note=f"server CPU {cpu:.2f} s, client CPU {client:.2f} s; {fmt_mib(runs[0][2])} on the wire",
        )
    finish(report, args.json, started)


if __name__ == "__main__":
    main()
