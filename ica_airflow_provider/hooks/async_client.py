"""``IcaAsyncClient``: the httpx transport for the trigger; same core, same rules as the hook.

Not an Airflow hook: it drives the core's generators with
:func:`~ica_airflow_provider.core.drive.adrive` (sleeps are ``asyncio.sleep``).
:meth:`IcaAsyncClient.for_connection` hands out the connection's shared pool, JWT and
request budget (``hooks/clients.py``): a thousand waits on one triggerer mint one token.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ica_airflow_provider.core.drive import AsyncHints, adrive
from ica_airflow_provider.core.messages import Outcome, Request, Response, TransportFailure
from ica_airflow_provider.core.protocol import Call, T
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.core.settings import IcaSettings
from ica_airflow_provider.core.shared import ConnectionState
from ica_airflow_provider.core.tracker import BatchTracker, Log, Verdict
from ica_airflow_provider.core.wait import Wait, abort_running
from ica_airflow_provider.hooks.clients import (
    REGISTRY,
    Follower,
    SharedConnection,
    aread_settings,
    new_async_client,
)


class IcaAsyncClient:
    """Drives an :class:`~ica_airflow_provider.core.protocol.IcaProtocol` over a pooled ``httpx.AsyncClient``.

    Built from settings, it has a pool and a token cache of its own, closed on exit. From
    :meth:`for_connection`, it shares the connection's (and leaves them open on exit).
    """

    def __init__(
        self,
        settings: IcaSettings,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,  # tests: httpx.MockTransport
        *,
        shared: SharedConnection | None = None,
    ) -> None:
        conn_id = shared.state.conn_id if shared is not None else None
        self.follower = Follower(
            conn_id,
            aread=(lambda: aread_settings(conn_id)) if conn_id is not None else None,
            shared=shared,
            state=ConnectionState(None, settings) if shared is None else None,
            policy=policy,
        )
        self._own = new_async_client(settings, transport) if shared is None else None
        self.protocol = self.follower.protocol

    def __repr__(self) -> str:
        return f"IcaAsyncClient(base_url={self.settings.base_url!r})"

    @classmethod
    async def for_connection(cls, conn_id: str) -> IcaAsyncClient:
        """A client on the connection's shared pool, JWT and budget in this process."""
        shared = await REGISTRY.aconnection(conn_id, lambda: aread_settings(conn_id))
        client = cls(shared.settings, shared=shared)
        await client.follower.amask()
        return client

    @property
    def settings(self) -> IcaSettings:
        return self.follower.state.settings

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._own is not None:
            return self._own
        assert self.follower.shared is not None
        return self.follower.shared.async_client()  # this loop's

    async def __aenter__(self) -> IcaAsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._own is not None:  # a shared pool outlives any one wait (see hooks/clients.py)
            await self._own.aclose()

    async def wait_for_batch(self, wait: Wait, log: Log, hints: AsyncHints | None = None) -> Verdict | None:
        """Poll until the batch is done (its verdict) or ``wait.deadline`` (``None``); woken by ``hints`` if given."""
        return await self.run(wait.until_done(self.protocol, log), hints)

    async def abort_running(self, tracker: BatchTracker, log: Log) -> list[str]:
        """Best effort: abort the batch's running analyses; returns the IDs ICA accepted."""
        return await self.run(abort_running(tracker, self.protocol, log))

    async def run(self, call: Call[T], hints: AsyncHints | None = None) -> T:
        return await adrive(call, self._send, asyncio.sleep, self.follower, hints=hints)

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
