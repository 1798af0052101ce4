"""HTTP routes of the fake's notification channels, subscriptions and event codes (records: ``notifications``).

Added to ``app``'s application by ``FakeIcaServer`` (this module builds on ``app``). Also ``GET /_fake/notifications/stats``: the emitter's counters (``emitter``), for a client in
another process, and the admin routes that upload or link a file and announce it
(``POST /_fake/projects/{projectId}/data:upload`` and ``data:link``, see ``data_events``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ica_airflow_provider.testing import data_events
from ica_airflow_provider.testing.app import ADMIN_PATH, BASE_PATH, json_response, media_type, negotiate
from ica_airflow_provider.testing.backend import FakeIcaBackend
from ica_airflow_provider.testing.notifications import (
    Subscription,
    channel_etag,
    render_channel,
    render_event_codes,
    render_subscription,
    subscription_etag,
)
from ica_airflow_provider.testing.problems import UNSUPPORTED_CONTENT_TYPE, IcaProblem, bad_request
from ica_airflow_provider.testing.render import Renderer

_CHANNELS = BASE_PATH + "/api/notificationChannels"
_SUBSCRIPTIONS = BASE_PATH + "/api/projects/{project_id}/notificationSubscriptions"
_BODY_TYPES = (media_type(3), "application/json")


def add_notification_routes(app: FastAPI, backend: FakeIcaBackend) -> None:
    """Serve the notification endpoints of ``backend`` (v3 only, as the spec offers them)."""
    store = backend.notifications
    identity = backend.identity
    iso = Renderer(backend.to_wall).iso

    def accepted(request: Request) -> int:
        backend.authenticate(request.headers.get("authorization"), request.headers.get("x-api-key"))
        return negotiate(request.headers.get("accept"), (3,))

    async def body_of(request: Request) -> Any:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in _BODY_TYPES:
            raise IcaProblem(
                415, UNSUPPORTED_CONTENT_TYPE, f"Content-Type must be {' or '.join(_BODY_TYPES)}, got '{content_type}'"
            )
        try:
            return json.loads(await request.body())
        except ValueError:
            raise bad_request("Request body is not valid JSON", {"body": "must be valid JSON"}) from None

    def subscription_body(subscription: Subscription) -> dict[str, Any]:
        return render_subscription(subscription, store.channel(subscription.channel_id), identity, iso)

    @app.get(BASE_PATH + "/api/eventCodes")
    async def event_codes(request: Request) -> Response:
        return json_response(render_event_codes(), accepted(request))

    @app.get(_CHANNELS)
    async def list_channels(request: Request) -> Response:
        version = accepted(request)
        channels = [render_channel(channel, identity, iso) for channel in list(store.channels.values())]
        return json_response({"items": channels}, version)

    @app.post(_CHANNELS)
    async def create_channel(request: Request) -> Response:
        version = accepted(request)
        channel = store.create_channel(await body_of(request))
        headers = {"ETag": channel_etag(channel)}
        return json_response(render_channel(channel, identity, iso), version, 201, headers)

    @app.get(_CHANNELS + "/{channel_id}")
    async def get_channel(channel_id: str, request: Request) -> Response:
        version = accepted(request)
        channel = store.channel(channel_id)
        headers = {"ETag": channel_etag(channel)}
        return json_response(render_channel(channel, identity, iso), version, headers=headers)

    @app.put(_CHANNELS + "/{channel_id}")
    async def update_channel(channel_id: str, request: Request) -> Response:
        version = accepted(request)
        body = await body_of(request)
        channel = store.update_channel(channel_id, body, request.headers.get("if-match"))
        headers = {"ETag": channel_etag(channel)}
        return json_response(render_channel(channel, identity, iso), version, headers=headers)

    @app.delete(_CHANNELS + "/{channel_id}")
    async def delete_channel(channel_id: str, request: Request) -> Response:
        accepted(request)
        store.delete_channel(channel_id)
        return Response(status_code=204)

    @app.get(_SUBSCRIPTIONS)
    async def list_subscriptions(project_id: str, request: Request) -> Response:
        version = accepted(request)
        items = [subscription_body(sub) for sub in store.project_subscriptions(project_id)]
        return json_response({"items": items}, version)

    @app.post(_SUBSCRIPTIONS)
    async def create_subscription(project_id: str, request: Request) -> Response:
        version = accepted(request)
        subscription = store.create_subscription(project_id, await body_of(request))
        headers = {"ETag": subscription_etag(subscription)}
        return json_response(subscription_body(subscription), version, 200, headers)

    @app.get(_SUBSCRIPTIONS + "/{subscription_id}")
    async def get_subscription(project_id: str, subscription_id: str, request: Request) -> Response:
        version = accepted(request)
        subscription = store.subscription(project_id, subscription_id)
        headers = {"ETag": subscription_etag(subscription)}
        return json_response(subscription_body(subscription), version, headers=headers)

    @app.put(_SUBSCRIPTIONS + "/{subscription_id}")
    async def update_subscription(project_id: str, subscription_id: str, request: Request) -> Response:
        version = accepted(request)
        body = await body_of(request)
        subscription = store.update_subscription(project_id, subscription_id, body, request.headers.get("if-match"))
        headers = {"ETag": subscription_etag(subscription)}
        return json_response(subscription_body(subscription), version, headers=headers)

    @app.delete(_SUBSCRIPTIONS + "/{subscription_id}")
    async def delete_subscription(project_id: str, subscription_id: str, request: Request) -> Response:
        accepted(request)
        store.delete_subscription(project_id, subscription_id)
        return Response(status_code=204)

    @app.get(ADMIN_PATH + "/notifications/stats")
    async def notification_stats() -> Response:
        """The emitter's counters (read-only); never counted, limited or faulted."""
        content = json.dumps(backend.emitter.stats(), separators=(",", ":")).encode()
        return Response(content, 200, media_type="application/json")

    async def admin_body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise bad_request("Request body is not valid JSON", {"body": "must be valid JSON"}) from None
        if not isinstance(body, dict):
            raise bad_request("Request body must be a JSON object", {"body": "must be an object"})
        return body

    def project_data(project_id: str, data: Any) -> Response:
        content = json.dumps(data_events.project_data(backend, project_id, data), separators=(",", ":")).encode()
        return Response(content, 201, media_type="application/json")

    @app.post(ADMIN_PATH + "/projects/{project_id}/data:upload")
    async def upload_data(project_id: str, request: Request) -> Response:
        """A file uploaded into the project: a catalogue record, ICA_DATA_107/108/100 published."""
        body = await admin_body(request)
        data = data_events.upload(
            backend,
            project_id,
            body.get("path"),  # type: ignore[arg-type]
            size=body.get("sizeInBytes", 1024),
            user_tags=body.get("userTags") or (),
            technical_tags=body.get("technicalTags") or (),
        )
        return project_data(project_id, data)

    @app.post(ADMIN_PATH + "/projects/{project_id}/data:link")
    async def link_data(project_id: str, request: Request) -> Response:
        """Existing data linked to the project: visible there, ICA_DATA_104 published."""
        body = await admin_body(request)
        return project_data(project_id, data_events.link(backend, project_id, body.get("dataId")))  # type: ignore[arg-type]
