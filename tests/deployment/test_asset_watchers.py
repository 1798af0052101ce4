"""The asset watchers' example on the deployment's scheduler and triggerer (``make e2e``; see deploy/airflow_e2e/watcher_checks.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

if os.environ.get("ICA_E2E_DEPLOYMENT") != "1":
    pytest.skip("real Airflow deployment: run `make e2e`", allow_module_level=True)


def test_uploads_start_the_launch_dag_once_each_and_successes_the_second_dag(
    deployment: Any, summary_line: Callable[[str], None]
) -> None:
    from deploy.airflow_e2e.watcher_checks import check_asset_watchers

    try:
        summary_line(f"check_asset_watchers: {check_asset_watchers(deployment)}")
    except Exception:
        print(deployment.log_tails())
        raise
