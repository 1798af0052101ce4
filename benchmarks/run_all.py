"""Run every benchmark, print one table, and write ``benchmarks/RESULTS.md``.

    make bench            # = .venv/bin/python benchmarks/run_all.py

Each benchmark is a script of its own (``bench_*.py``) that prints its figures; this runs
them one after the other in child processes, gathers their rows and prints a single
table. Targets are reported (``met`` column), never asserted: the exit status is non-zero
only when a benchmark could not run at all.

``RESULTS.md`` is rewritten with the latest figures, the machine they came from and the
command; everything below its ``<!-- notes -->`` marker is kept from the previous file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from _common import BENCH_DIR, Row, bench_env, format_table, machine_info

RESULTS = BENCH_DIR / "RESULTS.md"
NOTES_MARKER = "<!-- notes: everything below this line is kept by run_all.py -->"
COMMAND = "make bench  # = .venv/bin/python benchmarks/run_all.py"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run_script(script: str, extra: list[str], tmp: Path) -> tuple[dict | None, float, str, str]:
    """Run one benchmark (its output goes straight to ours); its JSON, seconds, load before/after."""
    out = tmp / f"{Path(script).stem}-{len(list(tmp.iterdir()))}.json"  # a script may run twice
    before = loadavg()
    start = time.perf_counter()
    print(f"\n===== {script} {' '.join(extra)} (load average {before}) =====", flush=True)
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / script), "--json", str(out), *extra], env=bench_env()
    )
    seconds = time.perf_counter() - start
    after = loadavg()
    if proc.returncode != 0 or not out.exists():
        print(f"!!!!! {script} failed (exit {proc.returncode})", flush=True)
        return None, seconds, before, after
    return json.loads(out.read_text()), seconds, before, after


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke test, not figures)")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite RESULTS.md")
    parser.add_argument("--libica-python", help="interpreter with libica 3.3, if not this one")
    parser.add_argument(
        "--scale-waits",
        type=int,
        default=1000,
        help="concurrent waits of bench_triggerer_scale.py (default 1,000; --quick: 100)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_info()

    plan: list[tuple[str, list[str]]] = [
        ("bench_import.py", ["--runs", "3", "--importtime-runs", "1"] if args.quick else []),
        ("bench_requests_per_poke.py", ["--sizes", "10,1000"] if args.quick else []),
        (
            "bench_full_poll.py",
            (["--items", "2000", "--polls", "2"] if args.quick else [])
            + (["--libica-python", args.libica_python] if args.libica_python else []),
        ),
        ("bench_fake_server.py", ["--repeats", "2", "--list-repeats", "1"] if args.quick else []),
        (
            "bench_triggerer_scale.py",
            ["--waits", "100" if args.quick else str(args.scale_waits)]
            + (["--no-big-event"] if args.quick else []),
        ),
        # Waits woken by ICA's notifications (moto's SQS server) against polling.
        (
            "bench_event_wait.py",
            ["--waits", "20", "--woken-waits", "10", "--burst-messages", "100", "--poll-interval", "5",
             "--short-reconcile", "5"]
            if args.quick
            else [],
        ),
        # The loop under a burst of 10,000 notifications (an in-memory queue: moto cannot carry it).
        ("bench_hint_burst.py", ["--waits", "100"] if args.quick else []),
        # The rate-limit scenario: a tenant limit of 50 req/s, a budget of 40.
        (
            "bench_triggerer_scale.py",
            [
                "--waits",
                "50" if args.quick else "200",
                "--rate-limit",
                "50",
                "--budget",
                "40",
                "--no-big-event",
            ],
        ),
    ]
    rows: list[Row] = []
    details: list[str] = []
    timings: list[str] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="ica-bench-") as tmp:
        for script, extra in plan:
            data, seconds, before, after = run_script(script, extra, Path(tmp))
            timings.append(f"`{script}` {seconds:.0f} s (load average {before} → {after})")
            if data is None:
                failed = True
                rows.append(Row(script, "run", "FAILED", "", False, "see the output above"))
                continue
            rows += [Row(**r) for r in data["rows"]]
            details += data["details"]
    total = time.perf_counter() - started

    print("\n" + "=" * 100)
    print(
        f"ica-airflow-provider benchmarks at {machine['commit']}, {when}, {total:.0f} s"
        f" ({machine['nproc']} CPUs, {machine['cpu']}, Python {machine['python']}, Airflow {machine['airflow']})"
    )
    print("=" * 100)
    print(format_table(rows))

    if args.no_write or args.quick:
        if args.quick:
            print("\n(--quick: RESULTS.md left alone)")
        sys.exit(1 if failed else 0)

    notes = ""
    if RESULTS.exists():
        text = RESULTS.read_text()
        if NOTES_MARKER in text:
            notes = text.split(NOTES_MARKER, 1)[1].lstrip("\n")
    lines = [
        "# Benchmark results",
        "",
        f"Latest run: {when}, {total:.0f} s in all. Reproduce with:",
        "",
        "```bash",
        COMMAND,
        "```",
        "",
        "Figures are printed by the scripts and never asserted; `met` only reports the issue's targets.",
        "How each figure is taken: [README.md](README.md).",
        "",
        "## Machine",
        "",
        f"- CPUs (`nproc`): {machine['nproc']} (usable by this process: {machine['affinity']}); CPU: {machine['cpu']}",
        f"- OS: {machine['os']}",
        f"- Code: commit {machine['commit']}",
        f"- Python {machine['python']}; Airflow {machine['airflow']} (task SDK {machine['airflow_task_sdk']});"
        f" apache-airflow-providers-http {machine['http_provider']}; pydantic {machine['pydantic']};"
        f" requests {machine['requests']}; libica {machine['libica']};"
        f" ica-airflow-provider {machine['ica_airflow_provider']}",
        "- Load average during each script (other work on the machine inflates wall times; CPU times and"
        " ratios taken in the same run are the steadier figures): " + "; ".join(timings),
        "",
        "## Summary",
        "",
        format_table(rows, markdown=True),
        "",
        "## Details",
        "",
        "\n\n".join(details),
        "",
        NOTES_MARKER,
        "",
        notes,
    ]
    RESULTS.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"\nwrote {RESULTS.relative_to(BENCH_DIR.parent)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
