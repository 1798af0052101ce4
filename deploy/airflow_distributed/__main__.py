"""``python -m deploy.airflow_distributed``: the crash campaign without pytest, with a summary.

Brings up the distributed deployment, runs every scenario, judges the observations with
``checks``, tears everything down whatever happens and ends with the summary line. Exit 0
if every check passed. ``--runs N`` sets the number of concurrent runs (default 10).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from deploy.airflow_distributed.checks import CHECKS
from deploy.airflow_distributed.deployment import LOG_DIR, DistributedDeployment
from deploy.airflow_distributed.scenarios import Campaign, run_campaign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.airflow_distributed", description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    started = time.monotonic()
    deployment = DistributedDeployment()
    campaign: Campaign | None = None
    error = ""
    try:
        with deployment:
            campaign = run_campaign(deployment, args.runs)
    except KeyboardInterrupt as interrupt:
        error = f"interrupted ({interrupt})"
    except Exception as failure:
        error = f"{type(failure).__name__}: {failure}"
        traceback.print_exc()

    print("\n================ distributed Airflow ================")
    for label, seconds in deployment.timings.items():
        print(f"  {label:<44} {seconds:6.1f} s")
    print(f"  {'total':<44} {time.monotonic() - started:6.1f} s")
    passed = failed = 0
    for check in CHECKS:
        if campaign is None:
            break
        try:
            summary, ok = check(campaign), True
        except AssertionError as failure:
            summary, ok = f"{failure}", False
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'PASS' if ok else 'FAIL'} {check.__name__}: {summary.splitlines()[0] if summary else ''}")
    if error:
        print(f"ERROR: {error.splitlines()[0]}")
    if deployment.leftovers:
        print(f"ERROR: the teardown left processes running: {deployment.leftovers}")
    print(f"Component logs: {LOG_DIR}")
    if campaign is not None:
        print(campaign.summary_line())
    ok = not error and not deployment.leftovers and campaign is not None and failed == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
