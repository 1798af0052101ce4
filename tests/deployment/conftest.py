"""A real Airflow deployment (PostgreSQL, LocalExecutor, the four components), up once per session.

Only with ``ICA_E2E_DEPLOYMENT=1`` (``make e2e``): the tests here skip otherwise, and the
deployment is only brought up by a test that runs. ``deploy/airflow_e2e`` does the work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

_timings: dict[str, float] = {}


@pytest.fixture(scope="session")
def deployment() -> Iterator[Any]:
    from deploy.airflow_e2e.deployment import Deployment

    with Deployment() as running:
        yield running
        _timings.update(running.timings)
    _timings.update(running.timings)  # teardown too


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _timings:
        steps = ", ".join(f"{label} {seconds:.1f} s" for label, seconds in _timings.items())
        terminalreporter.write_line(f"Airflow deployment: {steps}")
