"""A thin requests-based client for driving the fake server in tests, plus body builders."""

from __future__ import annotations

from typing import Any

import requests

from ica_airflow_provider.testing import seed
from ica_airflow_provider.testing.server import FakeIcaServer

V3 = "application/vnd.illumina.v3+json"
V4 = "application/vnd.illumina.v4+json"
PIPELINE_ID = seed.GERMLINE_PIPELINE_ID  # of nextflow_item
PROJECT_ID = "project-1"

# Items the seeded catalogue accepts (one per item list).
nextflow_item = seed.nextflow_item
cwl_item = seed.cwl_item
nextflow_json_item = seed.nextflow_json_item


def batch_body(*user_references: str) -> dict[str, Any]:
    """A body with one Nextflow item per user reference."""
    return {"nextflowItems": [nextflow_item(ref) for ref in user_references]}


class IcaClient:
    """Sends correctly formed requests; each call can override headers to break them."""

    def __init__(self, server: FakeIcaServer, token: str | None = None) -> None:
        self.server = server
        self.url = server.url
        self.session = requests.Session()
        self.token = token or server.mint_token()

    def headers(self, version: int = 3, **extra: str) -> dict[str, str]:
        """Bearer auth plus ``Accept`` for ``version``; ``extra`` overrides (keys use '_' for '-')."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": V4 if version == 4 else V3}
        headers.update({key.replace("_", "-"): value for key, value in extra.items()})
        return headers

    def create_batch(
        self,
        body: Any,
        project_id: str = PROJECT_ID,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """POST a batch with the v3 Content-Type."""
        sent = self.headers(3, Content_Type=V3)
        if idempotency_key is not None:
            sent["Idempotency-Key"] = idempotency_key
        sent.update(headers or {})
        return self.session.post(
            f"{self.url}/api/projects/{project_id}/analysisCreationBatch", json=body, headers=sent
        )

    def get_batch(self, batch_id: str, project_id: str = PROJECT_ID, **headers: str) -> requests.Response:
        """GET a batch (v3 only)."""
        url = f"{self.url}/api/projects/{project_id}/analysisCreationBatch/{batch_id}"
        return self.session.get(url, headers=self.headers(3, **headers))

    def list_items(
        self, batch_id: str, version: int = 4, project_id: str = PROJECT_ID, **params: Any
    ) -> requests.Response:
        """GET a page of items; ``params`` are query parameters (lists repeat)."""
        url = f"{self.url}/api/projects/{project_id}/analysisCreationBatch/{batch_id}/items"
        return self.session.get(url, headers=self.headers(version), params=params)

    def all_items(
        self, batch_id: str, page_size: int, status: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Follow ``nextPageToken`` to the end and return every item."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"pageSize": str(page_size), "status": status or []}
        while True:
            response = self.list_items(batch_id, **params)
            assert response.status_code == 200, response.text
            page = response.json()
            items.extend(page["items"])
            if not page["nextPageToken"]:
                return items
            params["pageToken"] = page["nextPageToken"]

    def get_item(self, batch_id: str, item_id: str, version: int = 4) -> requests.Response:
        """GET one item."""
        url = f"{self.url}/api/projects/{PROJECT_ID}/analysisCreationBatch/{batch_id}/items/{item_id}"
        return self.session.get(url, headers=self.headers(version))

    def get_analysis(
        self, analysis_id: str, version: int = 4, project_id: str = PROJECT_ID
    ) -> requests.Response:
        """GET an analysis."""
        url = f"{self.url}/api/projects/{project_id}/analyses/{analysis_id}"
        return self.session.get(url, headers=self.headers(version))

    def abort(self, analysis_id: str, project_id: str = PROJECT_ID) -> requests.Response:
        """POST the abort action of an analysis."""
        url = f"{self.url}/api/projects/{project_id}/analyses/{analysis_id}:abort"
        return self.session.post(url, headers=self.headers(3))
