"""Pytest fixtures for the fake ICA server (registered as the ``ica_fake_server`` plugin).

Only pytest is imported here; the server (FastAPI, uvicorn) loads when a fixture is used.

- ``ica_fake_server``: a started ``FakeIcaServer`` with the default config
  (API key ``"fake-api-key"``), stopped after the test.
- ``ica_fake_server_factory``: ``factory(**overrides)`` starts a server with
  ``FakeIcaConfig(**overrides)``, e.g. ``factory(clock=ManualClock(), token_lifetime=5)``;
  ``catalogue={"pipelines": [...], "data": [...]}`` adds records to the seeded catalogue
  (shape in ``testing.catalogue``); all servers it started are stopped after the test.
- ``ica_upload``: ``upload(server, project_id, path, **options)`` "uploads" a file into a
  project of a started server (``testing.data_events.upload``: a catalogue record, then
  ``ICA_DATA_107``/``108``/``100`` through the emitter), flushes the emitter and returns the
  ``Data`` record (its ``id`` is usable in a batch of that project).
- ``moto_sqs_server``: one real SQS endpoint (moto's server mode, its own process on
  loopback) for the whole session; ``sqs_queue_url``: a new empty queue on it per test.

Items the seeded catalogue accepts: ``ica_airflow_provider.testing.seed.nextflow_item(ref)``
(also ``cwl_item``, ``nextflow_json_item``); any other pipeline or data must be added first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ica_airflow_provider.testing.server import FakeIcaServer
    from ica_airflow_provider.testing.sqs_server import MotoSqsServer

DEFAULT_API_KEY = "fake-api-key"


@pytest.fixture
def ica_fake_server_factory() -> Iterator[Callable[..., FakeIcaServer]]:
    """Factory starting fake ICA servers with config overrides; stops them at teardown."""
    from ica_airflow_provider.testing.config import FakeIcaConfig
    from ica_airflow_provider.testing.server import FakeIcaServer

    started: list[FakeIcaServer] = []

    def factory(catalogue: Mapping[str, Any] | None = None, **overrides: Any) -> FakeIcaServer:
        overrides.setdefault("api_key", DEFAULT_API_KEY)
        server = FakeIcaServer(FakeIcaConfig(**overrides))
        if catalogue is not None:
            server.backend.catalogue.load(catalogue)
        server.start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def ica_fake_server(ica_fake_server_factory: Callable[..., FakeIcaServer]) -> FakeIcaServer:
    """A started fake ICA server with the default config."""
    return ica_fake_server_factory()


@pytest.fixture
def ica_upload() -> Callable[..., Any]:
    """``upload(server, project_id, path, size=..., user_tags=..., technical_tags=...)``: the new ``Data``."""
    from ica_airflow_provider.testing.data_events import upload as upload_data

    def upload(server: FakeIcaServer, project_id: str, path: str, **options: Any) -> Any:
        data = upload_data(server.backend, project_id, path, **options)
        server.backend.emitter.flush()
        return data

    return upload


@pytest.fixture(scope="session")
def moto_sqs_server() -> Iterator[MotoSqsServer]:
    """One moto SQS server for the session: started on first use, waited for, stopped at the end."""
    from ica_airflow_provider.testing.sqs_server import MotoSqsServer

    with MotoSqsServer() as server:
        yield server


@pytest.fixture
def sqs_queue_url(moto_sqs_server: MotoSqsServer) -> Iterator[str]:
    """The URL of a new, empty queue on the session's SQS server; deleted after the test."""
    import boto3

    client = boto3.client("sqs", **moto_sqs_server.client_kwargs())
    url: str = client.create_queue(QueueName=f"ica-events-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    yield url
    client.delete_queue(QueueUrl=url)
