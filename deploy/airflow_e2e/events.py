"""ICA's notifications in a deployment: moto's SQS server, one queue, and the connections that read it.

The SQS server is ``MotoSqsServer`` (moto's server mode, a process of its own on loopback);
the fake ICA sends every transition of a subscribed project's batches to the queue, and the
triggerer's consumer reads it through an Airflow AWS connection whose endpoint URL is the
server's. ``ica-notifications-setup`` (the provider's console script, run where the
deployment's ``ica`` connection resolves) subscribes the project, as a user would.

    with SqsEndpoint() as sqs:
        deployment_env[...] = sqs.queue_url
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from deploy.airflow_e2e.procs import run

QUEUE_NAME = "ica-events"
AWS_CONN_ID = "aws_ica_events"
# What an unseen message costs before SQS lets another consumer have it: short, so that a
# killed triggerer's messages in flight come back to the survivor within a wait.
VISIBILITY_TIMEOUT_SECONDS = 10


class SqsEndpoint:
    """moto's SQS server and one queue on it; ``start()`` returns once the queue exists."""

    def __init__(self) -> None:
        from ica_airflow_provider.testing.sqs_server import MotoSqsServer

        self.server = MotoSqsServer()
        self.queue_url = ""

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> SqsEndpoint:
        import boto3

        self.server.start()
        try:
            client = boto3.client("sqs", **self.server.client_kwargs())
            attributes = {"VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS)}
            self.queue_url = client.create_queue(QueueName=QUEUE_NAME, Attributes=attributes)["QueueUrl"]
        except BaseException:
            self.server.stop()
            raise
        return self

    def stop(self) -> None:
        self.server.stop()

    def aws_connection(self) -> dict[str, Any]:
        """The Airflow AWS connection the consumer reads the queue with: moto's endpoint, dummy keys."""
        kwargs = self.server.client_kwargs()
        return {
            "connection_id": AWS_CONN_ID,
            "conn_type": "aws",
            "description": "moto's SQS server of this e2e deployment (ICA's notifications)",
            "login": kwargs["aws_access_key_id"],
            "password": kwargs["aws_secret_access_key"],
            "extra": json.dumps({"endpoint_url": kwargs["endpoint_url"], "region_name": kwargs["region_name"]}),
        }

    def aws_connection_uri_json(self) -> str:
        """The same connection as an ``AIRFLOW_CONN_...`` value (JSON)."""
        body = self.aws_connection()
        return json.dumps(
            {"conn_type": "aws", "login": body["login"], "password": body["password"], "extra": json.loads(body["extra"])}
        )

    def wake_extras(self, reconcile_interval: float) -> dict[str, Any]:
        """The ``ica`` connection's extras that wake its waits from this queue."""
        return {"sqs_queue": self.queue_url, "aws_conn_id": AWS_CONN_ID, "reconcile_interval": reconcile_interval}

    def __enter__(self) -> SqsEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def subscribe_project(
    bin_dir: Path, env: Mapping[str, str], cwd: Path, project_id: str, queue_url: str, conn_id: str, log_path: Path
) -> list[str]:
    """``ica-notifications-setup`` with the deployment's environment; its output lines (also in ``log_path``)."""
    argv = [str(bin_dir / "ica-notifications-setup"), "--project", project_id, "--queue-url", queue_url, "--conn-id", conn_id]
    done = run(argv, env=dict(env), cwd=cwd, timeout=120, check=False)
    log_path.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"ica-notifications-setup exited {done.returncode}:\n{(done.stdout + done.stderr)[-2000:]}")
    return done.stdout.splitlines()
