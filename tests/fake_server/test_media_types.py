"""Versioned media types, Accept negotiation, Content-Type and gzip."""

from __future__ import annotations

import pytest
import requests

from .helpers import V3, V4, IcaClient, batch_body


@pytest.fixture
def batch_id(client: IcaClient) -> str:
    response = client.create_batch(batch_body("a", "b"))
    assert response.status_code == 201
    batch: str = response.json()["id"]
    return batch


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "application/json", "application/vnd.illumina.v2+json", "application/vnd.illumina.v5+json"],
)
def test_unsupported_accept_is_ica_api_004(client: IcaClient, batch_id: str, accept: str | None) -> None:
    headers: dict[str, str | None] = {**client.headers(), "Accept": accept}  # None: not sent
    base = f"{client.url}/api/projects/project-1/analysisCreationBatch"
    for url in (f"{base}/{batch_id}", f"{base}/{batch_id}/items"):
        response = requests.get(url, headers=headers)
        assert response.status_code == 400
        assert response.headers["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert (problem["title"], problem["detail"], problem["status"]) == (
            "ICA_API_004",
            "Invalid Accept Header",
            400,
        )
        assert problem["method"] == "GET"
        assert problem["instance"].endswith(url.removeprefix(client.server.root_url))


def test_batch_endpoints_offer_v3_only(client: IcaClient, batch_id: str) -> None:
    assert client.get_batch(batch_id, Accept=V4).status_code == 400
    assert client.create_batch(batch_body("x"), headers={"Accept": V4}).status_code == 400
    assert client.get_batch(batch_id, Accept=f"{V4}, {V3}").headers["Content-Type"] == V3


def test_items_prefer_v4_when_both_are_acceptable(client: IcaClient, batch_id: str) -> None:
    url = f"{client.url}/api/projects/project-1/analysisCreationBatch/{batch_id}/items"
    for accept, expected in ((f"{V3}, {V4}", V4), (f"{V3};q=0.9", V3), (V4, V4)):
        response = requests.get(url, headers=client.headers(Accept=accept))
        assert response.status_code == 200
        assert response.headers["Content-Type"] == expected


def test_create_requires_v3_content_type(client: IcaClient) -> None:
    for content_type in ("application/json", V4):
        response = client.create_batch(batch_body("a"), headers={"Content-Type": content_type})
        assert response.status_code == 415
        assert response.json()["title"] == "ICA_API_005"
    ok = client.create_batch(batch_body("a"), headers={"Content-Type": f"{V3}; charset=UTF-8"})
    assert ok.status_code == 201


def test_gzip_when_asked(client: IcaClient, batch_id: str) -> None:
    url = f"{client.url}/api/projects/project-1/analysisCreationBatch/{batch_id}/items"
    zipped = requests.get(url, headers=client.headers(4, Accept_Encoding="gzip"))
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert len(zipped.json()["items"]) == 2  # requests decompresses
    plain = requests.get(url, headers=client.headers(4, Accept_Encoding="identity"))
    assert "Content-Encoding" not in plain.headers
    assert plain.json()["items"][0]["id"] == zipped.json()["items"][0]["id"]


def test_unknown_route_and_method_are_problems(client: IcaClient) -> None:
    missing = requests.get(f"{client.url}/api/nothing", headers=client.headers())
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    wrong_method = requests.delete(f"{client.url}/api/tokens", headers=client.headers())
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == 405
