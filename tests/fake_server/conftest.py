"""Fixtures for the fake server tests.

The plugin fixtures are imported explicitly because the ``ica_fake_server`` pytest11 entry
point may not be installed when these tests run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ica_airflow_provider.testing import pytest_plugin
from ica_airflow_provider.testing.server import FakeIcaServer

from .helpers import IcaClient
from .spec import FULL_SPEC_PATH, load_spec

# Re-exported so pytest finds them here (no-op once the pytest11 plugin is installed).
ica_fake_server = pytest_plugin.ica_fake_server
ica_fake_server_factory = pytest_plugin.ica_fake_server_factory
moto_sqs_server = pytest_plugin.moto_sqs_server
sqs_queue_url = pytest_plugin.sqs_queue_url


@pytest.fixture
def client(ica_fake_server: FakeIcaServer) -> IcaClient:
    """A client of a default fake server, authenticated with a JWT."""
    return IcaClient(ica_fake_server)


@pytest.fixture
def client_factory(ica_fake_server_factory: Callable[..., FakeIcaServer]) -> Callable[..., IcaClient]:
    """``client_factory(**config_overrides)``: a client of a freshly started server."""

    def factory(**overrides: Any) -> IcaClient:
        return IcaClient(ica_fake_server_factory(**overrides))

    return factory


@pytest.fixture(scope="session")
def ica_spec() -> dict[str, Any]:
    """The ICA OpenAPI subset (skips the test if absent, fails with ICA_REQUIRE_SPEC=1)."""
    return load_spec()


@pytest.fixture(scope="session")
def ica_full_spec() -> dict[str, Any]:
    """The whole ICA OpenAPI spec (same skip rule), for operations outside the subset."""
    return load_spec(FULL_SPEC_PATH)
