"""The httpx transport on its own (``IcaAsyncClient``), on ``httpx.MockTransport``.

Every transport failure kind, the CA bundle, timeouts, redirects, and the JWT and API
key registered with the secrets masker. The core's rules behind it are tested in
``test_core_*``; here only what the transport itself does.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from samples import API_KEY, BASE_URL, CONN_ID, PROJECT_ID, make_jwt, set_connection, token_body

from ica_airflow_provider.core.errors import IcaApiError, IcaConnectionError
from ica_airflow_provider.core.messages import Request, Response, TransportFailure
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.core.settings import IcaSettings
from ica_airflow_provider.hooks import clients
from ica_airflow_provider.hooks.async_client import IcaAsyncClient
from ica_airflow_provider.hooks.ica import USER_AGENT

SETTINGS = IcaSettings(base_url=BASE_URL, api_key=API_KEY, timeout=(3.0, 7.0))
GET = Request("GET", f"/api/projects/{PROJECT_ID}/analyses/a1", headers={"Accept": "application/json"})


def client_for(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> IcaAsyncClient:
    return IcaAsyncClient(SETTINGS, RetryPolicy(max_retries=0), transport=httpx.MockTransport(handler), **kwargs)


def send(handler: Callable[[httpx.Request], httpx.Response], request: Request = GET) -> Response | TransportFailure:
    async def go() -> Response | TransportFailure:
        async with client_for(handler) as client:
            return await client._send(request)

    return asyncio.run(go())


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


SECRET_HEADER = "Bearer eyJ.secret.header"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("Connection refused"), "connect"),
        (httpx.ReadError("Connection reset by peer"), "connect"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "connect"),
        (httpx.ConnectTimeout("timed out"), "timeout"),
        (httpx.ReadTimeout("timed out"), "timeout"),
        (httpx.PoolTimeout("timed out"), "timeout"),
        (httpx.DecodingError("gzip: invalid data"), "protocol"),
        (httpx.LocalProtocolError(f"Illegal header value {SECRET_HEADER!r}"), "invalid"),
        (httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'"), "invalid"),
        (httpx.InvalidURL("Invalid non-printable ASCII character in URL"), "invalid"),
    ],
)
def test_every_transport_failure_has_its_kind(exc: Exception, kind: str) -> None:
    outcome = send(raising(exc))
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind == kind
    assert type(exc).__name__ in outcome.message
    assert SECRET_HEADER not in outcome.message  # a request that could not be built is not quoted
    assert "\n" not in outcome.message


def test_an_answer_becomes_a_response_with_lower_case_headers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url == f"{BASE_URL}/api/projects/{PROJECT_ID}/analyses/a1?x=1"
        assert request.headers["User-Agent"] == USER_AGENT
        assert request.headers["Accept"] == "application/json"
        return httpx.Response(503, headers={"Retry-After": "3"}, content=b"busy")

    outcome = send(handler, Request("GET", GET.path, (("x", "1"),), GET.headers))
    assert outcome == Response(503, {"retry-after": "3", "content-length": "4"}, b"busy")


def test_redirects_are_not_followed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://elsewhere.test/"})

    async def go() -> None:
        async with client_for(handler) as client:
            client.protocol.tokens.store(make_jwt())
            await client.run(client.protocol.get_analysis(PROJECT_ID, "a1"))

    with pytest.raises(IcaApiError, match=r"unexpected redirect to http://elsewhere\.test/"):
        asyncio.run(go())
    assert len(seen) == 1


def test_no_answer_after_the_retries_is_a_connection_error() -> None:
    async def go() -> None:
        async with client_for(raising(httpx.ConnectError("refused"))) as client:
            client.protocol.tokens.store(make_jwt())
            await client.run(client.protocol.get_analysis(PROJECT_ID, "a1"))

    with pytest.raises(IcaConnectionError, match="after 1 attempt"):
        asyncio.run(go())


def test_timeouts_come_from_the_settings() -> None:
    client = IcaAsyncClient(SETTINGS)
    timeout = client._client.timeout
    assert (timeout.connect, timeout.read) == (3.0, 7.0)


def test_a_ca_bundle_path_is_loaded_into_the_ssl_context(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str | None] = []
    real = ssl.create_default_context

    def create_default_context(*args: Any, cafile: str | None = None, **kwargs: Any) -> ssl.SSLContext:
        loaded.append(cafile)
        return real(*args, **kwargs)

    monkeypatch.setattr(clients.ssl, "create_default_context", create_default_context)
    IcaAsyncClient(IcaSettings(base_url=BASE_URL, api_key=API_KEY, verify=True))
    assert "/etc/ssl/ica-ca.pem" not in loaded
    IcaAsyncClient(IcaSettings(base_url=BASE_URL, api_key=API_KEY, verify="/etc/ssl/ica-ca.pem"))
    assert loaded[-1:] == ["/etc/ssl/ica-ca.pem"]


def test_the_api_key_and_a_minted_jwt_are_masked_once(masked: list[str]) -> None:
    jwt = make_jwt()
    mints: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/api/tokens"):
            mints.append(request.headers["X-API-Key"])
            return httpx.Response(200, json=token_body(jwt))
        assert request.headers["Authorization"] == f"Bearer {jwt}"
        return httpx.Response(204)

    async def go() -> None:
        async with client_for(handler) as client:
            for analysis_id in ("a1", "a2", "a3"):
                await client.run(client.protocol.abort_analysis(PROJECT_ID, analysis_id))
            assert jwt not in repr(client) and API_KEY not in repr(client)

    asyncio.run(go())
    assert mints == [API_KEY]
    assert masked == [API_KEY, jwt]  # each once, the key too (a client built from settings alone)


def test_for_connection_masks_the_api_key(monkeypatch: pytest.MonkeyPatch, masked: list[str]) -> None:
    set_connection(monkeypatch, password="another-api-key")

    async def go() -> IcaAsyncClient:
        client = await IcaAsyncClient.for_connection(CONN_ID)
        await client.__aexit__(None, None, None)
        return client

    client = asyncio.run(go())
    assert client.settings.base_url == BASE_URL
    assert masked == ["another-api-key"]
