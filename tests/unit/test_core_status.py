"""The status rules of :mod:`ica_airflow_provider.core.status`, checked against the ICA spec."""

from __future__ import annotations

from typing import Any

import pytest
from test_models import spec  # noqa: F401 (the fixture: the ICA spec subset, or a skip)

from ica_airflow_provider.core.status import (
    HELD_ITEM_STATUSES,
    ITEM_PHASES,
    JOB_STATUSES,
    JOB_TERMINAL,
    is_known_job_status,
    job_ends_creation,
)


@pytest.fixture
def schemas(spec: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    found: dict[str, Any] = spec["components"]["schemas"]
    return found


def test_job_statuses_are_the_spec_enum(schemas: dict[str, Any]) -> None:
    assert set(schemas["Job"]["properties"]["status"]["enum"]) == JOB_STATUSES
    assert JOB_TERMINAL < JOB_STATUSES


def test_item_statuses_are_the_spec_enum(schemas: dict[str, Any]) -> None:
    assert set(ITEM_PHASES) == set(schemas["AnalysisCreationBatchItemProcessing"]["properties"]["status"]["enum"])
    assert set(ITEM_PHASES) >= HELD_ITEM_STATUSES


@pytest.mark.parametrize(
    ("status", "ends"),
    [
        ("STOPPED", True),
        ("FAILED", True),
        # The job claims every item was created or failed: an item shown still creating lags.
        ("SUCCEEDED", False),
        ("PARTIALLY_SUCCEEDED", False),
        ("INITIALIZED", False),
        ("WAITING_FOR_RESOURCES", False),
        ("RUNNING", False),
        ("CANCELLED", False),  # unknown: not an ending
    ],
)
def test_which_job_statuses_end_the_creation(status: str, ends: bool) -> None:
    assert job_ends_creation(status) is ends
    assert is_known_job_status(status) is (status != "CANCELLED")
