"""Canned ICA bodies and small helpers shared by the hook and core unit tests.

Bodies follow the shapes of the ICA v2 OpenAPI subset (``../shared/ica-api``, beside the repository):
v3 for the token and the batch, v4 for items and analyses, RFC 7807 for errors.
Media types are spelled out here on purpose instead of being imported from the code
under test, so that a wrong constant there is caught.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ica_airflow_provider.core.messages import Request, Response

V3 = "application/vnd.illumina.v3+json"
V4 = "application/vnd.illumina.v4+json"
PROBLEM_JSON = "application/problem+json"

CONN_ID = "ica_test"
BASE_URL = "https://ica.example.test/ica/rest"
API_KEY = "sekret-api-key"
PROJECT_ID = "proj-1"
BATCH_ID = "7d3c2a9e-55b4-4f5e-9c61-0a8f2b7e4d13"
PIPELINE_ID = "pipe-cwl-1"
TOKEN_PATH = "/api/tokens"
BATCH_PATH = f"/api/projects/{PROJECT_ID}/analysisCreationBatch"
BATCH_ITEMS_PATH = f"{BATCH_PATH}/{BATCH_ID}/items"


# -- connections ---------------------------------------------------------------------


def conn_json(
    *,
    host: str | None = BASE_URL,
    password: str | None = API_KEY,
    extra: Mapping[str, Any] | None = None,
    **fields: Any,
) -> str:
    """The ``AIRFLOW_CONN_*`` JSON of an ``ica`` connection."""
    data: dict[str, Any] = {"conn_type": "ica", **fields}
    if host is not None:
        data["host"] = host
    if password is not None:
        data["password"] = password
    data["extra"] = dict(extra if extra is not None else {"project_id": PROJECT_ID})
    return json.dumps(data)


def set_connection(monkeypatch: Any, conn_id: str = CONN_ID, **kwargs: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn_json(**kwargs))


# -- JWTs ----------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(exp: float | None = None, *, lifetime: float | None = 3600.0, **claims: Any) -> str:
    """An unsigned-looking JWT (``header.payload.sig``) with an ``exp`` claim.

    ``exp`` wins; otherwise ``exp`` is now + ``lifetime``; ``lifetime=None`` and no
    ``exp`` gives a token without any ``exp`` claim.
    """
    payload: dict[str, Any] = {"sub": "user-1", "iat": int(time.time()), **claims}
    if exp is not None:
        payload["exp"] = exp
    elif lifetime is not None:
        payload["exp"] = int(time.time() + lifetime)
    header = {"alg": "HS256", "typ": "JWT"}
    parts = [_b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, payload)]
    return ".".join([*parts, _b64url(b"not-a-real-signature")])


# -- response bodies -------------------------------------------------------------------


def token_body(jwt: str) -> dict[str, Any]:
    return {"token": jwt}


def job_body(status: str = "RUNNING", batch_id: str = BATCH_ID, info: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "job-1",
        "status": status,
        "subjectType": "AnalysisCreationBatch",
        "subjectId": batch_id,
        "timeCreated": "2025-11-03T10:00:00Z",
        "owner": {"id": "user-1"},
    }
    if info is not None:
        body["additionalStatusInformation"] = info
    return body


def batch_body(batch_id: str = BATCH_ID, job_status: str = "RUNNING") -> dict[str, Any]:
    return {"id": batch_id, "job": job_body(job_status, batch_id)}


def analysis_body(
    analysis_id: str, status: str, user_reference: str = "sample-1", summary: str | None = None
) -> dict[str, Any]:
    """An ``AnalysisV4`` (``owner``/``tenant`` objects, underscore statuses)."""
    body: dict[str, Any] = {
        "id": analysis_id,
        "timeCreated": "2025-11-03T10:00:00Z",
        "timeModified": "2025-11-03T10:05:00Z",
        "owner": {"id": "user-1"},
        "tenant": {"id": "tenant-1", "name": "umccr"},
        "reference": f"{user_reference}-ref",
        "userReference": user_reference,
        "pipeline": {"id": PIPELINE_ID, "code": "cwl-pipe", "description": "d", "language": "CWL"},
        "status": status,
        "tags": {"technicalTags": [], "userTags": [], "referenceTags": []},
    }
    if summary is not None:
        body["summary"] = summary
    return body


def item_body(
    item_id: str,
    user_reference: str,
    status: str,
    analysis: Mapping[str, Any] | None = None,
    info: str | None = None,
) -> dict[str, Any]:
    """An ``AnalysisCreationBatchItemV4``."""
    body: dict[str, Any] = {
        "id": item_id,
        "request": {
            "userReference": user_reference,
            "pipelineId": PIPELINE_ID,
            "tags": {"technicalTags": [], "userTags": [], "referenceTags": []},
        },
        "processing": {"status": status, "additionalStatusInformation": info},
    }
    if analysis is not None:
        body["createdAnalysis"] = dict(analysis)
    return body


def outputs_body(analysis_id: str, files: int = 2) -> dict[str, Any]:
    """An ``AnalysisOutputList`` (v3): one output folder with ``files`` files in it."""
    children = [
        {
            "dataId": f"fil.{analysis_id}-{n}",
            "name": f"out{n}.bam",
            "dataType": "FILE",
            "format": {"code": "BAM"},
        }
        for n in range(files)
    ]
    folder = {"dataId": f"fol.{analysis_id}", "name": f"out-{analysis_id}", "dataType": "FOLDER",
              "format": {"code": "UNKNOWN"}, "children": children}
    return {"items": [{"code": "output", "projectId": PROJECT_ID, "data": [folder]}]}


def page_body(items: list[dict[str, Any]], next_page_token: str | None) -> dict[str, Any]:
    return {"items": items, "nextPageToken": next_page_token, "remainingRecords": None}


def problem_body(
    status: int,
    title: str = "ICA_API_004",
    detail: str | None = "Invalid Accept Header",
    parameters: Mapping[str, Any] | None = None,
    method: str = "GET",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "9b1f6c1e-0f1e-4d52-9a8e-2f5c0a1d7e11",
        "type": "about:blank",
        "title": title,
        "status": status,
        "instance": "http://ica.example.test/ica/rest/api/x",
        "parameters": dict(parameters or {}),
        "timestamp": "2025-11-03T10:00:00Z",
        "method": method,
    }
    if detail is not None:
        body["detail"] = detail
    return body


HTML_502 = (
    "<!DOCTYPE html>\n<html>\n  <head><title>502 Bad Gateway</title></head>\n"
    "  <body>\n    <center><h1>502 Bad Gateway</h1></center>\n"
    "    <hr><center>nginx</center>\n  </body>\n</html>\n"
)
HTML_403 = "<html><body><h1>403 Forbidden</h1><p>Request blocked by the firewall.</p></body></html>"

# A CreateAnalysisCreationBatch body (v3) as a user would hand it to the hook.
BATCH_REQUEST: dict[str, Any] = {
    "cwlItems": [
        {
            "userReference": "sample-1/run 1",
            "pipelineId": PIPELINE_ID,
            "tags": {"technicalTags": ["t1"], "userTags": ["u1"], "referenceTags": []},
            "analysisInput": {
                "objectType": "STRUCTURED",
                "inputs": [{"parameterCode": "reads", "dataIds": ["fil.1", "fil.2"]}],
                "parameters": [{"code": "threads", "value": "8"}],
            },
        }
    ],
    "nextflowItems": [
        {
            "userReference": "sample-2",
            "pipelineId": "pipe-nf-1",
            "analysisInput": {"inputs": [{"parameterCode": "fastq", "dataIds": ["fil.3"]}]},
        }
    ],
}


# -- core Response objects ---------------------------------------------------------------


def json_response(status: int, body: Any, content_type: str = V3, **headers: str) -> Response:
    """A core :class:`Response` with a JSON body."""
    return Response.build(status, {"Content-Type": content_type, **headers}, json.dumps(body).encode())


def raw_response(status: int, body: bytes | str, content_type: str | None = None, **headers: str) -> Response:
    all_headers = dict(headers)
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    data = body.encode() if isinstance(body, str) else body
    return Response.build(status, all_headers, data)


# -- requests-mock helpers -----------------------------------------------------------------


def url(path: str) -> str:
    return BASE_URL + path


def request_path(req: Any) -> str:
    """The request's path relative to the API base, case preserved (``req.path`` is lowered)."""
    path = urlsplit(req.url).path
    prefix = urlsplit(BASE_URL).path
    return path[len(prefix):] if path.startswith(prefix) else path


def query_pairs(req: Any) -> list[tuple[str, str]]:
    """The query as ordered pairs, case preserved."""
    return parse_qsl(urlsplit(req.url).query, keep_blank_values=True)


def raw_query(req: Any) -> str:
    return urlsplit(req.url).query


# -- a fake ICA for driving the core generators without any transport ---------------------


class FakeIca:
    """Answers the core's :class:`Request` objects from in-memory items and analyses.

    ``send`` is what :func:`ica_airflow_provider.core.drive.drive` calls. Items are
    listed with cursor paging (``pageToken`` is the offset of the next page as text).
    """

    def __init__(self, project_id: str = PROJECT_ID, batch_id: str = BATCH_ID) -> None:
        self.project_id = project_id
        self.batch_id = batch_id
        self.items: dict[str, dict[str, Any]] = {}
        self.analyses: dict[str, dict[str, Any]] = {}
        self.job = job_body("RUNNING", batch_id)
        self.requests: list[Request] = []
        self.jwt = make_jwt()
        self.routes: dict[tuple[str, str], Callable[[Request], Response]] = {}

    # state helpers
    def put_item(
        self,
        item_id: str,
        user_reference: str,
        status: str,
        analysis_id: str | None = None,
        analysis_status: str | None = None,
        info: str | None = None,
        summary: str | None = None,
    ) -> None:
        analysis = None
        if analysis_id is not None:
            analysis = analysis_body(analysis_id, analysis_status or "REQUESTED", user_reference, summary)
            self.analyses[analysis_id] = analysis
        self.items[item_id] = item_body(item_id, user_reference, status, analysis, info)

    def set_job(self, status: str, info: str | None = None) -> None:
        self.job = job_body(status, self.batch_id, info)

    def set_analysis(self, analysis_id: str, status: str, summary: str | None = None) -> None:
        analysis = self.analyses[analysis_id]
        analysis["status"] = status
        if summary is not None:
            analysis["summary"] = summary
        for item in self.items.values():
            created = item.get("createdAnalysis")
            if created is not None and created["id"] == analysis_id:
                item["createdAnalysis"] = dict(analysis)

    # what drive() calls
    def send(self, request: Request) -> Response:
        self.requests.append(request)
        route = self.routes.get((request.method, request.path))
        if route is not None:
            return route(request)
        batch = f"/api/projects/{self.project_id}/analysisCreationBatch/{self.batch_id}"
        analyses = f"/api/projects/{self.project_id}/analyses/"
        if request.method == "POST" and request.path == TOKEN_PATH:
            return json_response(200, token_body(self.jwt))
        if request.method == "GET" and request.path == batch:
            return json_response(200, {"id": self.batch_id, "job": self.job})
        if request.method == "GET" and request.path == f"{batch}/items":
            return self._page(request)
        if request.method == "GET" and request.path.startswith(f"{batch}/items/"):
            item_id = request.path.rsplit("/", 1)[1]
            if item_id in self.items:
                return json_response(200, self.items[item_id], V4)
        if request.method == "GET" and request.path.startswith(analyses) and request.path.endswith("/outputs"):
            analysis_id = request.path[len(analyses):].removesuffix("/outputs")
            if analysis_id in self.analyses:
                done = self.analyses[analysis_id]["status"] == "SUCCEEDED"
                return json_response(200, outputs_body(analysis_id) if done else {"items": []}, V3)
        if request.method == "GET" and request.path.startswith(analyses):
            analysis_id = request.path[len(analyses):]
            if analysis_id in self.analyses:
                return json_response(200, self.analyses[analysis_id], V4)
        if request.method == "POST" and request.path.startswith(analyses) and request.path.endswith(":abort"):
            return raw_response(204, b"")
        return json_response(404, problem_body(404, "ICA_NOT_FOUND", f"no {request.path}"), PROBLEM_JSON)

    def _page(self, request: Request) -> Response:
        params = dict(request.params)
        size = int(params.get("pageSize", "1000"))
        start = int(params.get("pageToken", "0"))
        ids = list(self.items)
        chunk = [self.items[i] for i in ids[start:start + size]]
        nxt = str(start + size) if start + size < len(ids) else None
        return json_response(200, page_body(chunk, nxt), V4)

    # inspection helpers
    def api_requests(self) -> list[Request]:
        """Every request except the token mints."""
        return [r for r in self.requests if r.path != TOKEN_PATH]

    def described(self) -> list[str]:
        return [r.describe() for r in self.api_requests()]
