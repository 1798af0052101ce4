"""A distributed Airflow (CeleryExecutor, two workers, two triggerers) and one crash campaign on it.

Only with ``ICA_E2E_DISTRIBUTED=1`` (``make e2e-distributed``): the tests here skip otherwise.
The deployment comes up once, the campaign runs once, and every test judges its observations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

_timings: dict[str, float] = {}
_left: list[int] = []


@pytest.fixture(scope="session")
def distributed_deployment() -> Iterator[Any]:
    from deploy.airflow_distributed.deployment import DistributedDeployment

    running = DistributedDeployment()
    with running:
        yield running
        _timings.update(running.timings)
    _timings.update(running.timings)  # teardown too
    _left.append(len(running.leftovers))
    assert not running.leftovers, f"the teardown left processes running: {running.leftovers}"


@pytest.fixture(scope="session")
def campaign(distributed_deployment: Any) -> Any:
    from deploy.airflow_distributed.scenarios import run_campaign

    try:
        return run_campaign(distributed_deployment)
    except Exception:
        print(distributed_deployment.log_tails())  # shown with the failure
        raise


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _timings:
        steps = ", ".join(f"{label} {seconds:.1f} s" for label, seconds in _timings.items())
        terminalreporter.write_line(f"distributed Airflow: {steps}")
    for count in _left:
        terminalreporter.write_line(
            f"distributed Airflow: processes left running after the teardown: {count}"
        )
