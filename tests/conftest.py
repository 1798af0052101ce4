"""Test-wide setup: a private Airflow home (SQLite) set before anything imports Airflow."""

from __future__ import annotations

import base64
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_HOME = Path(tempfile.mkdtemp(prefix="ica-airflow-test-home-"))

os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "tests" / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME / 'airflow.db'}")
# One Fernet key for the session's database, shared with the `airflow` commands the tests run:
# unit-test mode would draw one per process, and a command could not read the asset watchers'
# trigger kwargs (encrypted in the database) that another one wrote.
os.environ["AIRFLOW__CORE__FERNET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
if version("apache-airflow").startswith("2."):
    # Airflow 2 refuses SQLite with its default LocalExecutor.
    os.environ["AIRFLOW__CORE__EXECUTOR"] = "SequentialExecutor"
# Connections the tests define come from AIRFLOW_CONN_* variables; none is inherited.
for name in list(os.environ):
    if name.startswith("AIRFLOW_CONN_"):
        del os.environ[name]


# Tests that measure something (the soak test) report one line at the end of the run.
import pytest  # noqa: E402

_SUMMARY = pytest.StashKey[list[str]]()


@pytest.fixture
def summary_line(request: pytest.FixtureRequest) -> object:
    """``summary_line("...")`` prints the line in pytest's closing summary."""
    return request.config.stash.setdefault(_SUMMARY, []).append


@pytest.fixture(autouse=True)
def _fresh_ica_clients() -> object:
    """Each test starts with no shared ICA connection: they live as long as the process, and tests reuse IDs."""
    from ica_airflow_provider.hooks.clients import isolated_registry

    with isolated_registry():
        yield


def pytest_terminal_summary(terminalreporter: object, config: pytest.Config) -> None:
    for line in config.stash.get(_SUMMARY, []):
        terminalreporter.write_line(line)  # type: ignore[attr-defined]
