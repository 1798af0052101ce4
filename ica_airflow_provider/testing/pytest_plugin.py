"""Pytest fixtures for the fake ICA server (registered as the ``ica_fake_server`` plugin).

Only pytest is imported here; the server (FastAPI, uvicorn) loads when a fixture is used.

- ``ica_fake_server``: a started ``FakeIcaServer`` with the default config
  (API key ``"fake-api-key"``), stopped after the test.
- ``ica_fake_server_factory``: ``factory(**overrides)`` starts a server with
  ``FakeIcaConfig(**overrides)``, e.g. ``factory(clock=ManualClock(), token_lifetime=5)``;
  ``catalogue={"pipelines": [...], "data": [...]}`` adds records to the seeded catalogue
  (shape in ``testing.catalogue``); all servers it started are stopped after the test.

Items the seeded catalogue accepts: ``ica_airflow_provider.testing.seed.nextflow_item(ref)``
(also ``cwl_item``, ``nextflow_json_item``); any other pipeline or data must be added first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ica_airflow_provider.testing.server import FakeIcaServer

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
