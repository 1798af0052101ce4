"""The example DAG on a distributed Airflow that loses workers, triggerers and the scheduler.

CeleryExecutor with two workers and two triggerers, PostgreSQL, Redis and the fake ICA
server; ten concurrent runs while a worker is killed -9 right after its batch POST reached
ICA, the triggerer holding the waits is killed -9, ICA revokes every token and the scheduler
restarts. Skipped unless ``ICA_E2E_DISTRIBUTED=1`` (``make e2e-distributed``). The scenarios
live in ``deploy/airflow_distributed/scenarios.py``, the checks in ``checks.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

if os.environ.get("ICA_E2E_DISTRIBUTED") != "1":
    pytest.skip(
        "distributed Airflow deployment (PostgreSQL and Redis from apt, CeleryExecutor, two workers, "
        "two triggerers): run `make e2e-distributed`, or `ICA_E2E_DISTRIBUTED=1 .venv/bin/pytest "
        "tests/deployment_distributed` as root (or with passwordless sudo) on Debian/Ubuntu",
        allow_module_level=True,
    )


@pytest.fixture
def check(campaign: Any, summary_line: Callable[[str], None]) -> Callable[[Callable[[Any], str]], None]:
    def run(function: Callable[[Any], str]) -> None:
        summary_line(f"{function.__name__}: {function(campaign)}")

    return run


def test_concurrent_runs_succeed_with_one_batch_each(check: Callable[..., None]) -> None:
    from deploy.airflow_distributed.checks import check_runs_succeed_one_batch_each

    check(check_runs_succeed_one_batch_each)


def test_every_run_has_complete_xcoms(check: Callable[..., None]) -> None:
    from deploy.airflow_distributed.checks import check_xcoms_complete

    check(check_xcoms_complete)


def test_worker_killed_after_post_retry_reattaches_to_same_batch(check: Callable[..., None]) -> None:
    from deploy.airflow_distributed.checks import check_worker_kill_reattaches

    check(check_worker_kill_reattaches)


def test_killed_triggerers_waits_taken_over(check: Callable[..., None]) -> None:
    from deploy.airflow_distributed.checks import check_triggerer_takeover

    check(check_triggerer_takeover)


def test_scheduler_restart_loses_nothing(check: Callable[..., None]) -> None:
    from deploy.airflow_distributed.checks import check_scheduler_restart

    check(check_scheduler_restart)


def test_waits_recover_from_revoked_tokens(check: Callable[..., None]) -> None:
    from deploy.airflow_distributed.checks import check_token_revocation

    check(check_token_revocation)


def test_woken_waits_end_within_a_reconcile_interval_of_their_batch(check: Callable[..., None]) -> None:
    """Both triggerers read one queue, one is killed mid-wait: no wait outlives its batch by more than a reconcile."""
    from deploy.airflow_distributed.checks import check_woken_waits_end_within_a_reconcile_interval

    check(check_woken_waits_end_within_a_reconcile_interval)


def test_summary_line(campaign: Any, summary_line: Callable[[str], None]) -> None:
    """Last: the campaign's one line closes the run's summary, as it is."""
    from deploy.airflow_distributed.checks import check_summary_line

    summary_line(check_summary_line(campaign))
