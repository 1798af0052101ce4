"""The background server, the console script and the pytest plugin."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable

import requests

from ica_airflow_provider.testing import FakeIcaConfig, FakeIcaServer

from .helpers import V3


def test_fixture_serves_the_default_api_key(ica_fake_server: FakeIcaServer) -> None:
    assert ica_fake_server.api_key == "fake-api-key"
    assert ica_fake_server.url == f"http://127.0.0.1:{ica_fake_server.port}/ica/rest"
    response = requests.post(
        f"{ica_fake_server.url}/api/tokens", headers={"X-API-Key": "fake-api-key", "Accept": V3}
    )
    assert response.status_code == 200


def test_factory_applies_overrides(ica_fake_server_factory: Callable[..., FakeIcaServer]) -> None:
    server = ica_fake_server_factory(api_key="other", analysis_step_seconds=1.5)
    assert server.config.analysis_step_seconds == 1.5
    assert server.backend.config is server.config
    denied = requests.post(f"{server.url}/api/tokens", headers={"X-API-Key": "fake-api-key", "Accept": V3})
    assert denied.status_code == 401


def test_start_stop_releases_the_port() -> None:
    server = FakeIcaServer(FakeIcaConfig(api_key="k")).start()
    url = server.url
    assert requests.post(f"{url}/api/tokens", headers={"X-API-Key": "k", "Accept": V3}).status_code == 200
    server.stop()
    try:
        requests.post(f"{url}/api/tokens", headers={"X-API-Key": "k", "Accept": V3}, timeout=1)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("server still answering after stop()")


def test_plugin_import_is_light() -> None:
    code = (
        "import sys, ica_airflow_provider.testing.pytest_plugin;"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_console_script_prints_url_and_serves() -> None:
    command = [
        sys.executable,
        "-m",
        "ica_airflow_provider.testing",
        "--port",
        "0",
        "--api-key",
        "cli-key",
        "--token-lifetime",
        "120",
        "--analysis-step-seconds",
        "0.5",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("ICA fake server listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert url.endswith("/ica/rest")
        response = requests.post(f"{url}/api/tokens", headers={"X-API-Key": "cli-key", "Accept": V3})
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
