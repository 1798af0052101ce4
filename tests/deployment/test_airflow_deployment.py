"""The example DAG through a real Airflow deployment, checked through its REST API.

PostgreSQL metadata DB, LocalExecutor, scheduler + triggerer + dag-processor + api-server,
``[operators] default_deferrable = True`` and a fake ICA server whose analyses take ~15 s,
so the sensor is seen waiting on the real triggerer; waits woken by ICA's notifications
through moto's SQS server (``deploy/airflow_e2e/dags/ica_e2e_woken_waits.py``); then 100
woken waits deferred onto that one triggerer at once
(``deploy/airflow_e2e/dags/ica_e2e_many_waits.py``). Skipped unless ``ICA_E2E_DEPLOYMENT=1``
(``make e2e``). The checks live in ``deploy/airflow_e2e/checks.py``;
``python deploy/e2e.py`` runs the same ones without pytest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

if os.environ.get("ICA_E2E_DEPLOYMENT") != "1":
    pytest.skip(
        "real Airflow deployment (PostgreSQL from apt, scheduler, triggerer, dag-processor, api-server): "
        "run `make e2e`, or `ICA_E2E_DEPLOYMENT=1 .venv/bin/pytest tests/deployment` as root "
        "(or with passwordless sudo) on Debian/Ubuntu",
        allow_module_level=True,
    )


@pytest.fixture
def check(deployment: Any, summary_line: Callable[[str], None]) -> Callable[[Callable[[Any], str]], None]:
    """Run one check against the deployment and put its summary in pytest's closing lines."""

    def run(function: Callable[[Any], str]) -> None:
        try:
            summary_line(f"{function.__name__}: {function(deployment)}")
        except Exception:
            print(deployment.log_tails())  # shown with the failure
            raise

    return run


def test_components_healthy(check: Callable[..., None]) -> None:
    from deploy.airflow_e2e.checks import check_health

    check(check_health)


def test_rest_api_needs_no_login_with_all_admins(check: Callable[..., None]) -> None:
    from deploy.airflow_e2e.checks import check_rest_api_without_login

    check(check_rest_api_without_login)


def test_ica_connection_form_served_by_api_server(check: Callable[..., None]) -> None:
    from deploy.airflow_e2e.checks import check_connection_form

    check(check_connection_form)


def test_ica_default_is_in_the_metadata_database_and_testable(check: Callable[..., None]) -> None:
    from deploy.airflow_e2e.checks import check_connection_in_database

    check(check_connection_in_database)


def test_run_succeeds_with_sensor_deferred_on_triggerer(check: Callable[..., None]) -> None:
    from deploy.airflow_e2e.checks import check_successful_run

    check(check_successful_run)


def test_run_with_failing_analysis_fails_and_logs_it(check: Callable[..., None]) -> None:
    from deploy.airflow_e2e.checks import check_failed_run

    check(check_failed_run)


def test_openlineage_console_transport_logs_each_tasks_lineage(check: Callable[..., None]) -> None:
    from deploy.airflow_e2e.checks import check_openlineage_in_task_logs

    check(check_openlineage_in_task_logs)


def test_deferred_waits_woken_through_sqs_make_no_request_per_transition(check: Callable[..., None]) -> None:
    """The operator's wait (queue from its connection) and the sensor's (from its arguments), on the triggerer."""
    from deploy.airflow_e2e.checks import check_woken_waits

    check(check_woken_waits)


def test_many_waits_deferred_together_on_one_triggerer_all_succeed_unblocked(
    check: Callable[..., None],
) -> None:
    """100 woken map indexes (``Settings.many_waits``) deferred at once; no request per transition; the loop not blocked."""
    from deploy.airflow_e2e.checks import check_many_waits_on_one_triggerer

    check(check_many_waits_on_one_triggerer)


def test_a_failed_sample_is_named_early_and_a_stopped_wait_says_what_it_aborts(check: Callable[..., None]) -> None:
    from deploy.airflow_e2e.checks import check_failure_named_early_and_stop_line

    check(check_failure_named_early_and_stop_line)


def test_a_person_triggers_and_inspects_the_run_in_a_browser(check: Callable[..., None]) -> None:
    """Headless Debian chromium driven by Playwright; screenshots in .e2e/screenshots (`make screenshots` refreshes the ones docs/ shows)."""
    from deploy.airflow_e2e.checks import check_browser_walkthrough

    check(check_browser_walkthrough)
