"""Closing a request's TCP connection without an HTTP response (the ``drop`` fault).

ASGI cannot express "no response": an app that returns without one gets a 500 from
uvicorn, and one that raises gets a 500 from Starlette. So the dropper reaches past ASGI:
uvicorn keeps every live connection (its protocol object, with ``.client`` and
``.transport``) in ``Server.server_state.connections``; the request's ``scope["client"]``
(its peer address) picks the connection out, and closing the transport sends a FIN.

Once uvicorn has seen the connection go (``connection_lost``), it marks the request
disconnected and sends nothing when the app returns. Clients see e.g.
``requests.ConnectionError`` (``RemoteDisconnected``) or ``httpx.RemoteProtocolError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from starlette.types import Receive, Scope

# connection_lost normally runs one loop iteration after close(); this bounds the wait.
_LOST_TIMEOUT_SECONDS = 1.0


class ConnectionDropper:
    """Drops connections of one uvicorn server; ``attach`` it to the server's state first."""

    def __init__(self) -> None:
        self._connections: Collection[Any] | None = None

    def attach(self, connections: Collection[Any]) -> None:
        """Give the live connection set (``uvicorn.Server.server_state.connections``)."""
        self._connections = connections

    async def drop(self, scope: Scope, receive: Receive | None = None) -> None:
        """Close the connection ``scope`` came in on; RuntimeError if it cannot be found.

        Pass ``receive`` when the app has not read the request body: unread bytes would
        turn the close into a reset, which some clients report differently (e.g. httpx
        ``ReadError`` instead of ``RemoteProtocolError``).
        """
        if receive is not None:
            await _drain(receive)
        client = scope.get("client")
        connections = list(self._connections or ())
        found = [conn for conn in connections if client is not None and _peer(conn) == tuple(client)]
        transport = getattr(found[0], "transport", None) if found else None
        if transport is None:
            raise RuntimeError(
                f"fake ICA cannot drop the connection of {client}: not served by FakeIcaServer"
            )
        protocol = found[0]
        transport.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _LOST_TIMEOUT_SECONDS
        while self._connections is not None and protocol in self._connections:
            if loop.time() > deadline:
                transport.abort()  # close() waits for buffered writes; give up on them
                break
            await asyncio.sleep(0.001)


def _peer(connection: Any) -> tuple[Any, ...] | None:
    client = getattr(connection, "client", None)
    return tuple(client) if client is not None else None


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
