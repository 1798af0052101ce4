"""Unit-test fixtures shared by the transport tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def masked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every secret registered with Airflow's secrets masker, by the hook or the async client."""
    from ica_airflow_provider.hooks import clients

    secrets: list[str] = []

    async def amask_secret(secret: str) -> None:
        secrets.append(secret)

    monkeypatch.setattr(clients, "amask_secret", amask_secret)
    monkeypatch.setattr(clients, "mask_secret", secrets.append)
    return secrets
