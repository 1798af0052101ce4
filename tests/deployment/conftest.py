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
    import os
    import uuid

    import boto3

    from deploy.airflow_e2e.deployment import Deployment
    from deploy.airflow_e2e.watcher_checks import events_environment
    from ica_airflow_provider.testing.sqs_server import MotoSqsServer

    # The asset watchers' example reads its queue when parsed: the SQS server comes first.
    with MotoSqsServer() as sqs:
        client, run = boto3.client("sqs", **sqs.client_kwargs()), uuid.uuid4().hex[:8]
        uploads, analyses = (
            client.create_queue(QueueName=f"ica-e2e-{name}-{run}", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
            for name in ("uploads", "analyses")
        )
        os.environ.update(events_environment(sqs.url, sqs.region, uploads, analyses))
        with Deployment() as running:
            yield running
            _timings.update(running.timings)
        _timings.update(running.timings)  # teardown too


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _timings:
        steps = ", ".join(f"{label} {seconds:.1f} s" for label, seconds in _timings.items())
        terminalreporter.write_line(f"Airflow deployment: {steps}")
