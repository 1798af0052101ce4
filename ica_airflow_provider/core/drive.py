"""The two drivers of the core's generators: one blocking, one for asyncio."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from ica_airflow_provider.core.messages import Outcome, Request, Send
from ica_airflow_provider.core.protocol import Call

T = TypeVar("T")


def drive(call: Call[T], send: Callable[[Request], Outcome], sleep: Callable[[float], None]) -> T:
    """Run ``call`` to its result, sending its requests and sleeping as it asks."""
    outcome: Outcome | None = None
    try:
        while True:
            action = call.send(outcome)
            if isinstance(action, Send):
                outcome = send(action.request)
            else:
                sleep(action.seconds)
                outcome = None
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def adrive(
    call: Call[T],
    send: Callable[[Request], Awaitable[Outcome]],
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """The same as :func:`drive`, awaiting the transport instead of blocking."""
    outcome: Outcome | None = None
    try:
        while True:
            action = call.send(outcome)
            if isinstance(action, Send):
                outcome = await send(action.request)
            else:
                await sleep(action.seconds)
                outcome = None
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
