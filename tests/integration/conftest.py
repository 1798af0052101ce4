"""Integration fixtures: the hook against a fake ICA server over loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Point ``ica_default`` at a fake server (with optional extras)."""

    def point(server: Any, **extra: Any) -> None:
        conn = {"conn_type": "ica", "host": server.url, "password": server.config.api_key, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_ICA_DEFAULT", json.dumps(conn))

    return point
