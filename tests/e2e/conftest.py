"""End-to-end fixtures: real Airflow (dag.test, SQLite) against the fake ICA server."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

DAGS = Path(__file__).resolve().parent.parent / "dags"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    from airflow.utils import db

    db.resetdb() if hasattr(db, "resetdb") else db.initdb()


@pytest.fixture
def ica_with(ica_fake_server_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``ica_with(**config)``: a fake ICA server that ``ica_default`` points at (project ``proj-e2e``)."""

    def start(**config: Any) -> Any:
        server = ica_fake_server_factory(**config)
        conn = {"conn_type": "ica", "host": server.url, "password": "fake-api-key", "extra": {"project_id": "proj-e2e"}}
        monkeypatch.setenv("AIRFLOW_CONN_ICA_DEFAULT", json.dumps(conn))
        return server

    return start


@pytest.fixture
def ica(ica_with: Callable[..., Any]) -> Iterator[Any]:
    """A fake ICA server with the default config that ``ica_default`` points at."""
    yield ica_with()


@pytest.fixture(scope="session")
def e2e_dags() -> dict[str, Any]:
    """The scenario DAGs by dag_id, loaded from the DAGs folder Airflow serializes from."""
    spec = importlib.util.spec_from_file_location("ica_e2e_dags", DAGS / "ica_e2e_dags.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: value for name, value in vars(module).items() if name.startswith("ica_e2e_")}


@pytest.fixture
def task_logs(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """Everything the run logged: Airflow 3 tasks print (structlog), Airflow 2 tasks log."""

    def read() -> str:
        return "".join(capfd.readouterr()) + caplog.text

    return read


@pytest.fixture(scope="session", autouse=True)
def task_log_config() -> None:
    """Task logs as a deployment writes them, where ``dag.test`` leaves structlog unconfigured.

    Airflow 3.0's ``dag.test`` prints every level (debug included, which echoes the secrets
    the task asks to mask), unmasked, with wrapped rich tracebacks; its workers log at INFO
    through the secrets masker. Airflow 3.1+ and 2.x configure their own logging.
    """
    try:
        from airflow.sdk.log import mask_logs
    except ImportError:  # Airflow 2: stdlib logging, configured by Airflow
        return
    import logging

    import structlog

    if structlog.is_configured():
        return

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            mask_logs,
            structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
