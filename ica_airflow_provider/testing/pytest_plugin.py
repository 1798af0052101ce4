"""Pytest fixtures for the fake ICA server (registered as the ``ica_fake_server`` plugin).

Only pytest is imported here; the server (FastAPI, uvicorn) loads when a fixture is used.

- ``ica_fake_server``: a started ``FakeIcaServer`` with the default config
  (API key ``"fake-api-key"``), stopped after the test.
- ``ica_fake_server_factory``: ``factory(**overrides)`` starts a server with
  ``FakeIcaConfig(**overrides)``, e.g. ``factory(clock=ManualClock(), token_lifetime=5)``;
  all servers it started are stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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

    def factory(**overrides: Any) -> FakeIcaServer:
        overrides.setdefault("api_key", DEFAULT_API_KEY)
        server = FakeIcaServer(FakeIcaConfig(**overrides)).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def ica_fake_server(ica_fake_server_factory: Callable[..., FakeIcaServer]) -> FakeIcaServer:
    """A started fake ICA server with the default config."""
    return ica_fake_server_factory()
