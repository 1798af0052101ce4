"""Tokens and authentication of the fake ICA server."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import requests

from ica_airflow_provider.testing import ManualClock
from ica_airflow_provider.testing.server import FakeIcaServer

from .helpers import V3, IcaClient, batch_body


def mint(server: FakeIcaServer, **headers: str) -> requests.Response:
    return requests.post(f"{server.url}/api/tokens", headers={"Accept": V3, **headers})


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def test_api_key_mints_a_jwt_with_exp(ica_fake_server: FakeIcaServer) -> None:
    before = int(time.time())
    response = mint(ica_fake_server, **{"X-API-Key": "fake-api-key"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == V3
    token = response.json()["token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT"}
    payload = claims(token)
    assert payload["aud"] == ["ica"]
    assert payload["sub"] == ica_fake_server.backend.identity.user_id
    assert before <= payload["iat"] <= time.time()
    assert payload["exp"] == payload["iat"] + 3600


def test_token_status_can_be_201(ica_fake_server_factory: Callable[..., FakeIcaServer]) -> None:
    server = ica_fake_server_factory(token_status_code=201, token_lifetime=60)
    response = mint(server, **{"X-API-Key": "fake-api-key"})
    assert response.status_code == 201
    payload = claims(response.json()["token"])
    assert payload["exp"] - payload["iat"] == 60


def test_token_requires_the_right_api_key(ica_fake_server: FakeIcaServer) -> None:
    missing = mint(ica_fake_server)
    wrong = mint(ica_fake_server, **{"X-API-Key": "nope"})
    basic = mint(ica_fake_server, Authorization="Basic " + base64.b64encode(b"me@x.org:pw").decode())
    for response, detail in ((missing, "Missing"), (wrong, "Invalid API key"), (basic, "Basic")):
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert problem["title"] == "ICA_API_001"
        assert detail in problem["detail"]


def test_endpoints_accept_bearer_jwt_or_api_key(client: IcaClient) -> None:
    created = client.create_batch(batch_body("a"))
    assert created.status_code == 201
    batch_id = created.json()["id"]
    url = f"{client.url}/api/projects/project-1/analysisCreationBatch/{batch_id}"
    with_key = requests.get(url, headers={"Accept": V3, "X-API-Key": "fake-api-key"})
    assert with_key.status_code == 200


def test_missing_invalid_and_expired_credentials_are_401(
    ica_fake_server_factory: Callable[..., FakeIcaServer],
) -> None:
    wall = ManualClock(start=time.time())
    server = ica_fake_server_factory(wall_clock=wall, token_lifetime=60)
    client = IcaClient(server)
    url = f"{server.url}/api/projects/p/analysisCreationBatch/6f1c3a52-0f0e-4d1e-9a51-3c2b8e0f7a10"
    tampered = client.token[:-4] + ("AAAA" if not client.token.endswith("AAAA") else "BBBB")
    cases = {
        "Missing credentials": {"Accept": V3},
        "Invalid API key": {"Accept": V3, "X-API-Key": "wrong"},
        "Invalid JWT": {"Accept": V3, "Authorization": f"Bearer {tampered}"},
        "Unsupported authorization scheme": {"Accept": V3, "Authorization": "Basic Zm9vOmJhcg=="},
    }
    for detail, headers in cases.items():
        response = requests.get(url, headers=headers)
        assert response.status_code == 401, detail
        assert response.json()["detail"].startswith(detail)
    assert requests.get(url, headers=client.headers()).status_code == 404  # valid token
    wall.advance(60)
    expired = requests.get(url, headers=client.headers())
    assert expired.status_code == 401
    assert expired.json()["detail"].startswith("Expired JWT")


def test_zero_lifetime_tokens_are_expired_at_once(client_factory: Callable[..., IcaClient]) -> None:
    client = client_factory(token_lifetime=0)
    response = client.create_batch(batch_body("a"))
    assert response.status_code == 401
    assert "Expired" in response.json()["detail"]


def test_refresh_of_api_key_jwt_is_refused(client: IcaClient) -> None:
    response = requests.post(f"{client.url}/api/tokens:refresh", headers=client.headers())
    assert response.status_code == 401
    assert "API-key" in response.json()["detail"]


def test_revoked_tokens_are_rejected(client: IcaClient) -> None:
    client.server.backend.tokens.revoke_all()
    response = client.create_batch(batch_body("a"))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    fresh = IcaClient(client.server)
    assert fresh.create_batch(batch_body("a")).status_code == 201
