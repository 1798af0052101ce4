"""``ica-notifications-setup`` where the ``ica`` connection lives in Airflow's metadata database only."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from ica_airflow_provider.notifications_cli import SERVER_CONTEXT_VARIABLE, main

CONN_ID = "ica_in_the_database"
QUEUE = "https://sqs.eu-central-1.amazonaws.com/123456789012/ica-events"


@pytest.fixture
def stored_connection(airflow_db: None, ica_fake_server: Any) -> Iterator[str]:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    extra = json.dumps({"project_id": "project-1"})
    with create_session() as session:
        session.add(Connection(conn_id=CONN_ID, conn_type="ica", host=ica_fake_server.url, password="fake-api-key", extra=extra))
    yield CONN_ID
    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == CONN_ID).delete()


def test_the_command_line_reads_the_connection_from_the_metadata_database(
    stored_connection: str, ica_fake_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SERVER_CONTEXT_VARIABLE, "unset")
    monkeypatch.delenv(SERVER_CONTEXT_VARIABLE)  # as in a shell; restored after the test
    assert main(["--project", "project-1", "--queue-url", QUEUE, "--conn-id", stored_connection]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.count(": created") == 3
    assert ica_fake_server.backend.count_requests("POST", "/notificationChannels") == 1
    assert SERVER_CONTEXT_VARIABLE not in os.environ  # as before the call: later code in this process is not changed
