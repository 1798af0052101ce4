"""``IcaAsyncClient``: the httpx transport for the trigger; same core, same rules as the hook.

Not an Airflow hook: a pooled ``httpx.AsyncClient`` that drives the core's generators
with :func:`~ica_airflow_provider.core.drive.adrive` (sleeps are ``asyncio.sleep``).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import httpx

from ica_airflow_provider._compat import aextra_dejson, aget_connection, amask_secret
from ica_airflow_provider.core.drive import adrive
from ica_airflow_provider.core.messages import Outcome, Request, Response, TransportFailure
from ica_airflow_provider.core.protocol import Call, IcaProtocol, T
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.core.settings import IcaSettings, settings_from_connection
from ica_airflow_provider.core.tracker import BatchTracker, Log, Verdict
from ica_airflow_provider.core.wait import Wait, abort_running
from ica_airflow_provider.hooks.ica import USER_AGENT


class IcaAsyncClient:
    """One pooled ``httpx.AsyncClient`` driving an :class:`IcaProtocol`."""

    def __init__(
        self,
        settings: IcaSettings,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,  # tests: httpx.MockTransport
    ) -> None:
        self.settings = settings
        self.protocol = IcaProtocol(settings.api_key, policy or settings.retry_policy())
        self._masked: str | None = None
        connect, read = settings.timeout
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(read, connect=connect),
            verify=ssl.create_default_context(cafile=settings.verify)
            if isinstance(settings.verify, str)
            else settings.verify,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"IcaAsyncClient(base_url={self.settings.base_url!r})"

    @classmethod
    async def for_connection(cls, conn_id: str) -> IcaAsyncClient:
        conn = await aget_connection(conn_id)
        settings = settings_from_connection(
            conn_id, host=conn.host, port=conn.port, password=conn.password, extra=await aextra_dejson(conn)
        )
        await amask_secret(settings.api_key)
        return cls(settings)

    async def __aenter__(self) -> IcaAsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._client.aclose()

    async def wait_for_batch(self, wait: Wait, log: Log) -> Verdict | None:
        """Poll until the batch is done (its verdict) or ``wait.deadline`` (``None``)."""
        return await self.run(wait.until_done(self.protocol, log))

    async def abort_running(self, tracker: BatchTracker, log: Log) -> list[str]:
        """Best effort: abort the batch's running analyses; returns the IDs ICA accepted."""
        return await self.run(abort_running(tracker, self.protocol, log))

    async def run(self, call: Call[T]) -> T:
        try:
            return await adrive(call, self._send, asyncio.sleep)
        finally:
            # Register a newly minted JWT with the masker, the event loop's way.
            token = self.protocol.tokens.token
            if token is not None and token != self._masked:
                await amask_secret(token)
                self._masked = token

    async def _send(self, request: Request) -> Outcome:
        try:
            response = await self._client.request(
                request.method,
                self.settings.base_url + request.path,
                params=list(request.params),
                headers=dict(request.headers),
                content=request.body,
            )
        except httpx.TimeoutException as exc:
            return TransportFailure("timeout", type(exc).__name__)
        except (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            # The request could not be built; the library's text may quote a header value.
            return TransportFailure("invalid", type(exc).__name__)
        except httpx.TransportError as exc:
            return TransportFailure("connect", f"{type(exc).__name__}: {exc}".splitlines()[0])
        except httpx.DecodingError as exc:
            return TransportFailure("protocol", f"{type(exc).__name__}: {exc}".splitlines()[0])
        return Response.build(response.status_code, response.headers, response.content)
