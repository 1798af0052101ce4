"""The HTTP face of the fake: a FastAPI app translating requests to ``FakeIcaBackend`` calls.

It owns only HTTP concerns: authentication headers, media-type negotiation, JSON bodies,
problem responses, gzip and the request log. All state and rules live in the backend.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ica_airflow_provider.testing import render
from ica_airflow_provider.testing.backend import FakeIcaBackend
from ica_airflow_provider.testing.drop import ConnectionDropper
from ica_airflow_provider.testing.faults import DROP, LOST_CREATE, SLOW, is_batch_create
from ica_airflow_provider.testing.idempotency import StoredResponse, body_hash, check_key
from ica_airflow_provider.testing.problems import (
    INTERNAL_ERROR,
    INVALID_ACCEPT,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    UNSUPPORTED_CONTENT_TYPE,
    IcaProblem,
    bad_request,
)
from ica_airflow_provider.testing.render import Renderer
from ica_airflow_provider.testing.validation import parse_batch_request
from ica_airflow_provider.testing.web import add_web_pages

BASE_PATH = "/ica/rest"
ADMIN_PATH = "/_fake"  # controls of the fake itself: no auth, no rate limit, no faults
PROBLEM_JSON = "application/problem+json"
HOLD_TIMEOUT_SECONDS = 60.0  # a held creation goes on by itself if a test forgets to release it
GZIP_MINIMUM_SIZE = 200  # bytes; small enough that typical JSON bodies get compressed
_PROJECT = BASE_PATH + "/api/projects/{project_id}"


def media_type(version: int) -> str:
    """ICA's versioned JSON media type."""
    return f"application/vnd.illumina.v{version}+json"


def negotiate(accept: str | None, offered: tuple[int, ...]) -> int:
    """The highest offered version named in ``Accept``; 400 ``ICA_API_004`` if none is."""
    requested = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
    for version in sorted(offered, reverse=True):
        if media_type(version) in requested:
            return version
    raise IcaProblem(400, INVALID_ACCEPT, "Invalid Accept Header")


def require_uuid(name: str, value: str) -> None:
    """400 problem when a ``format: uuid`` path parameter is not a UUID."""
    try:
        uuid.UUID(value)
    except ValueError:
        raise bad_request(f"Invalid {name} '{value}'", {name: "must be a valid UUID"}) from None


def json_response(
    body: Any, version: int, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Compact JSON with the negotiated media type."""
    content = json.dumps(body, separators=(",", ":")).encode()
    return Response(content, status, headers, media_type=media_type(version))


class _RequestLogMiddleware:
    """Logs every API request into the backend and applies its rate limit or fault around routing."""

    def __init__(self, app: ASGIApp, backend: FakeIcaBackend, dropper: ConnectionDropper) -> None:
        self.app = app
        self.backend = backend
        self.dropper = dropper

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if not path.startswith(BASE_PATH + "/"):  # web pages and admin calls: no log, limit or faults
            await self.app(scope, receive, send)
            return
        fault = self.backend.on_request(method, path, scope["query_string"].decode("latin-1"))
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.status == SLOW:
            # Parked without blocking: other requests are served meanwhile; release_slow() ends it.
            await self.backend.slow_latch.park(self.backend.config.slow_seconds)
            await self.app(scope, receive, send)
        elif fault.status == LOST_CREATE and is_batch_create(method, path):
            try:
                await self.app(scope, receive, _discard)  # executed and stored, answer never sent
            finally:
                await self.dropper.drop(scope)
        elif fault.status in (DROP, LOST_CREATE):  # lost-create elsewhere: nothing to lose
            await self.dropper.drop(scope, receive)
        else:
            status = int(fault.status)
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            problem = IcaProblem(status, f"ICA_API_{status}", fault.detail, headers=headers)
            response = _problem_response(Request(scope), problem, self.backend)
            await response(scope, receive, send)


async def _discard(message: Message) -> None:
    """An ASGI ``send`` that loses the response (``lost-create``)."""


def _problem_response(request: Request, problem: IcaProblem, backend: FakeIcaBackend) -> Response:
    body = render.problem(
        problem.status,
        problem.title,
        problem.detail,
        problem.parameters,
        str(request.url),
        request.method,
        backend.to_wall(backend.now()),
    )
    content = json.dumps(body, separators=(",", ":")).encode()
    return Response(content, problem.status, problem.headers, media_type=PROBLEM_JSON)


def create_app(backend: FakeIcaBackend, dropper: ConnectionDropper | None = None) -> FastAPI:
    """Build the ASGI app serving ``backend`` under ``/ica/rest`` (web UI pages: ``web``).

    ``drop``/``lost-create`` faults need ``dropper`` attached to the serving uvicorn server
    (``FakeIcaServer`` does that); without it they raise RuntimeError.
    """
    app = FastAPI(title="Fake ICA", openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_SIZE, compresslevel=5)
    app.add_middleware(_RequestLogMiddleware, backend=backend, dropper=dropper or ConnectionDropper())
    _add_error_handlers(app, backend)
    renderer = Renderer(backend.to_wall)

    def user_of(request: Request) -> str:
        return backend.authenticate(request.headers.get("authorization"), request.headers.get("x-api-key"))

    @app.post(BASE_PATH + "/api/tokens")
    async def create_token(request: Request) -> Response:
        headers = request.headers
        token = backend.mint_token(headers.get("x-api-key"), headers.get("authorization"))
        version = negotiate(headers.get("accept"), (3,))
        return json_response({"token": token}, version, backend.config.token_status_code)

    @app.post(BASE_PATH + "/api/tokens:refresh")
    async def refresh_token(request: Request) -> Response:
        token = backend.refresh_token(request.headers.get("authorization"))
        return json_response({"token": token}, negotiate(request.headers.get("accept"), (3,)))

    @app.post(_PROJECT + "/analysisCreationBatch")
    async def create_batch(project_id: str, request: Request) -> Response:
        user_id = user_of(request)
        version = negotiate(request.headers.get("accept"), (3,))
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != media_type(3):
            raise IcaProblem(
                415, UNSUPPORTED_CONTENT_TYPE, f"Content-Type must be {media_type(3)}, got '{content_type}'"
            )
        key = request.headers.get("idempotency-key")
        if key is not None:
            check_key(key)
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise bad_request("Request body is not valid JSON", {"body": "must be valid JSON"}) from None
        items = parse_batch_request(body)
        scope = f"POST /api/projects/{project_id}/analysisCreationBatch"
        if key is not None:
            stored = backend.idempotency.begin(scope, key, user_id, body_hash(body))
            if stored is not None:
                return Response(stored.body, stored.status, media_type=stored.media_type)
        try:
            if backend.config.create_delay_seconds > 0:
                # Async sleep: the server keeps answering (e.g. a duplicate POST gets 409).
                await asyncio.sleep(backend.config.create_delay_seconds)
            latch = backend.create_latch
            if latch is not None:  # a test holds creations (hold_creates)
                await latch.park(HOLD_TIMEOUT_SECONDS)
            batch = backend.create_batch(project_id, items)
            content = json.dumps(renderer.batch(batch, backend.now()), separators=(",", ":")).encode()
            response = StoredResponse(201, content, media_type(version))
        except BaseException:
            if key is not None:  # errors are not stored: the client may retry with the key
                backend.idempotency.finish(scope, key, user_id, None)
            raise
        if key is not None:
            backend.idempotency.finish(scope, key, user_id, response)
        return Response(response.body, response.status, media_type=response.media_type)

    @app.get(_PROJECT + "/analysisCreationBatch/{batch_id}")
    async def get_batch(project_id: str, batch_id: str, request: Request) -> Response:
        user_of(request)
        version = negotiate(request.headers.get("accept"), (3,))
        require_uuid("batchId", batch_id)
        batch = backend.get_batch(project_id, batch_id)
        return json_response(renderer.batch(batch, backend.now()), version)

    @app.get(_PROJECT + "/analysisCreationBatch/{batch_id}/items")
    async def list_items(project_id: str, batch_id: str, request: Request) -> Response:
        user_of(request)
        version = negotiate(request.headers.get("accept"), (4, 3))
        require_uuid("batchId", batch_id)
        query = request.query_params
        t = backend.now()
        page = backend.list_items(
            project_id,
            batch_id,
            t,
            query.getlist("status"),
            page_size=query.get("pageSize"),
            page_token=query.get("pageToken"),
            page_offset=query.get("pageOffset"),
        )
        body = {
            "items": [renderer.item(item, t, version) for item in page.items],
            "nextPageToken": page.next_page_token,
            "remainingRecords": page.remaining_records,
            "totalItemCount": page.total_item_count,
        }
        return json_response(body, version)

    @app.get(_PROJECT + "/analysisCreationBatch/{batch_id}/items/{item_id}")
    async def get_item(project_id: str, batch_id: str, item_id: str, request: Request) -> Response:
        user_of(request)
        version = negotiate(request.headers.get("accept"), (4, 3))
        require_uuid("batchId", batch_id)
        require_uuid("itemId", item_id)
        item = backend.get_item(project_id, batch_id, item_id)
        return json_response(renderer.item(item, backend.now(), version), version)

    @app.get(_PROJECT + "/analyses/{analysis_id}")
    async def get_analysis(project_id: str, analysis_id: str, request: Request) -> Response:
        user_of(request)
        version = negotiate(request.headers.get("accept"), (4, 3))
        t = backend.now()
        item, state = backend.get_analysis(project_id, analysis_id, t)
        headers = {"ETag": render.etag(item, state)}
        return json_response(renderer.analysis(item, t, version, state), version, headers=headers)

    @app.get(_PROJECT + "/analyses/{analysis_id}/outputs")
    async def get_analysis_outputs(project_id: str, analysis_id: str, request: Request) -> Response:
        user_of(request)
        version = negotiate(request.headers.get("accept"), (3,))
        item, outputs = backend.get_analysis_outputs(project_id, analysis_id, backend.now())
        return json_response(renderer.outputs(item, outputs), version)

    @app.post(_PROJECT + "/analyses/{analysis_id}:abort")
    async def abort_analysis(project_id: str, analysis_id: str, request: Request) -> Response:
        user_of(request)
        backend.abort_analysis(project_id, analysis_id)
        return Response(status_code=204)

    @app.post(ADMIN_PATH + "/projects/{project_id}/analysisCreationBatch/{batch_id}:stopJob")
    async def stop_batch_job(project_id: str, batch_id: str) -> Response:
        """Stop a batch's job (no ICA endpoint does this; a user does it in the web UI)."""
        batch = backend.stop_batch_job(project_id, batch_id)
        content = json.dumps(renderer.batch(batch, backend.now()), separators=(",", ":")).encode()
        return Response(content, 200, media_type="application/json")

    @app.get(ADMIN_PATH + "/catalogue")
    async def get_catalogue() -> Response:
        """The pipelines and data that exist (see ``catalogue``)."""
        content = json.dumps(backend.catalogue.dump(), separators=(",", ":")).encode()
        return Response(content, 200, media_type="application/json")

    @app.post(ADMIN_PATH + "/catalogue")
    async def add_to_catalogue(request: Request) -> Response:
        """Add pipelines and data ({"pipelines": [...], "data": [...]}); a bad record: 400, nothing added."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise bad_request("Request body is not valid JSON", {"body": "must be valid JSON"}) from None
        pipelines, data = backend.catalogue.load(body)
        added = {"pipelines": [p.id for p in pipelines], "data": [d.id for d in data]}
        return Response(json.dumps(added).encode(), 201, media_type="application/json")

    @app.get(ADMIN_PATH + "/counters")
    async def counters() -> Response:
        """The backend's running totals (read-only), for a client in another process (benchmarks)."""
        content = json.dumps(backend.counters.snapshot(), separators=(",", ":")).encode()
        return Response(content, 200, media_type="application/json")

    add_web_pages(app, backend, renderer)
    return app


def _add_error_handlers(app: FastAPI, backend: FakeIcaBackend) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, IcaProblem):  # registered for IcaProblem only
            raise exc
        return _problem_response(request, exc, backend)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, StarletteHTTPException):
            raise exc
        if exc.status_code == 405:
            problem = IcaProblem(405, METHOD_NOT_ALLOWED, f"Method {request.method} is not supported here")
        elif exc.status_code == 404:
            problem = IcaProblem(404, NOT_FOUND, f"No endpoint {request.method} {request.url.path}")
        else:
            problem = IcaProblem(exc.status_code, f"ICA_API_{exc.status_code}", str(exc.detail))
        return _problem_response(request, problem, backend)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        problem = IcaProblem(500, INTERNAL_ERROR, f"Fake ICA server error: {exc!r}")
        return _problem_response(request, problem, backend)

    app.add_exception_handler(IcaProblem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
