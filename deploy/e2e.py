"""A real Airflow deployment end to end: ``python deploy/e2e.py`` (with the Airflow venv's Python).

Brings up PostgreSQL, the scheduler, triggerer, dag-processor and api-server (LocalExecutor)
and a fake ICA server, runs every check of ``deploy.airflow_e2e.checks`` through the REST API,
tears everything down whatever happens, prints a summary and exits 0 if every check passed.
``make e2e`` runs the same checks as pytest tests (``tests/deployment``).

Options: ``--keep-running SECONDS`` leaves the deployment up after the checks (to poke at the
UI; Ctrl-C or SIGTERM ends it early, and the exit code still says whether the checks passed),
``--only NAME`` runs only the checks whose name contains NAME (repeatable).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``deploy`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.airflow_e2e.checks import CHECKS
from deploy.airflow_e2e.deployment import LOG_DIR, Deployment


def keep_running(seconds: float, wait: Callable[[float], object] = time.sleep) -> str:
    """Leave the deployment up for ``seconds``; Ctrl-C or SIGTERM ends that early, not as an error."""
    try:
        wait(seconds)
    except KeyboardInterrupt as stop:  # SIGTERM arrives as this (Deployment traps it)
        return f"stopped early ({stop or 'Ctrl-C'}): tearing down"
    return "time is up: tearing down"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--keep-running", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    checks = [c for c in CHECKS if not args.only or any(name in c.__name__ for name in args.only)]

    started = time.monotonic()
    results: list[tuple[str, bool, str]] = []
    deployment = Deployment()
    setup_error = ""
    try:
        with deployment:
            for check in checks:
                print(f"\n== {check.__name__}", flush=True)
                check_started = time.monotonic()
                try:
                    summary = check(deployment)
                    ok = True
                except Exception as error:
                    summary = f"{type(error).__name__}: {error}"
                    traceback.print_exc()
                    print(deployment.log_tails())
                    ok = False
                print(f"   {'ok' if ok else 'FAILED'} ({time.monotonic() - check_started:.1f} s): {summary}")
                results.append((check.__name__, ok, summary))
            if args.keep_running > 0:
                print(
                    f"\nAPI server and UI at {deployment.api_url} for {args.keep_running:.0f} s", flush=True
                )
                print(keep_running(args.keep_running), flush=True)
    except KeyboardInterrupt as error:
        setup_error = f"interrupted ({error})"
    except Exception as error:
        setup_error = f"{type(error).__name__}: {error}"
        traceback.print_exc()

    passed = sum(ok for _, ok, _ in results)
    failed = len(results) - passed
    print("\n================ Airflow deployment end to end ================")
    for label, seconds in deployment.timings.items():
        print(f"  {label:<38} {seconds:6.1f} s")
    print(f"  {'total':<38} {time.monotonic() - started:6.1f} s")
    for name, ok, summary in results:
        print(f"{'PASS' if ok else 'FAIL'} {name}: {summary.splitlines()[0] if summary else ''}")
    if setup_error:
        print(f"ERROR deployment: {setup_error.splitlines()[0]}")
    print(f"Component logs: {LOG_DIR}")
    ok = not setup_error and failed == 0 and passed == len(checks)
    print(f"{passed} passed, {failed + (len(checks) - len(results))} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
