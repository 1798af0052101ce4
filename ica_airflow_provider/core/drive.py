"""The two drivers of the core's generators: one blocking, one for asyncio."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ica_airflow_provider.core.flight import AwaitToken, Refresh
from ica_airflow_provider.core.gate import await_token, wait_for_token
from ica_airflow_provider.core.messages import Action, Outcome, Request, Response, Send
from ica_airflow_provider.core.protocol import Call

T = TypeVar("T")

# An answer this big is parsed off the event loop: a 1,000-item page (about 1 MB) takes
# tens of milliseconds to validate, and well over 0.2 s on a busy machine.
THREAD_PARSE_BYTES = 64 * 1024


def drive(
    call: Call[T],
    send: Callable[[Request], Outcome],
    sleep: Callable[[float], None],
    refresh: Callable[[], object] | None = None,
) -> T:
    """Run ``call`` to its result, sending its requests and sleeping as it asks.

    ``refresh`` is called at each :class:`~.flight.Refresh` (re-read the connection if due).
    """
    outcome: Outcome | None = None
    try:
        while True:
            action = call.send(outcome)
            if isinstance(action, Send):
                outcome = send(action.request)
            elif isinstance(action, AwaitToken):  # before Sleep: it is one
                wait_for_token(action)
                outcome = None
            elif isinstance(action, Refresh):  # so is this
                if refresh is not None:
                    refresh()
                outcome = None
            else:
                sleep(action.seconds)
                outcome = None
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    except BaseException:
        call.close()  # interrupted (killed, cancelled): its finally blocks release what it holds
        raise


async def adrive(
    call: Call[T],
    send: Callable[[Request], Awaitable[Outcome]],
    sleep: Callable[[float], Awaitable[None]],
    refresh: Callable[[], Awaitable[object]] | None = None,
    thread_parse_bytes: int = THREAD_PARSE_BYTES,
) -> T:
    """The same as :func:`drive`, awaiting the transport instead of blocking.

    After a big answer (more than ``thread_parse_bytes``), the call resumes in a worker
    thread until its next action: parsing and judging the answer never stall the loop.
    """
    outcome: Outcome | None = None
    try:
        while True:
            if isinstance(outcome, Response) and len(outcome.body) > thread_parse_bytes:
                # Shielded: a cancelled task waits for the thread to leave the generator,
                # so that the generator can then be closed.
                resumed = asyncio.ensure_future(asyncio.to_thread(_resume, call, outcome))
                try:
                    action = await asyncio.shield(resumed)
                except asyncio.CancelledError:
                    with contextlib.suppress(BaseException):
                        await resumed
                    raise
            else:
                action = call.send(outcome)
            if isinstance(action, Send):
                outcome = await send(action.request)
            elif isinstance(action, AwaitToken):  # before Sleep: it is one
                await await_token(action)
                outcome = None
            elif isinstance(action, Refresh):  # so is this
                if refresh is not None:
                    await refresh()
                outcome = None
            else:
                await sleep(action.seconds)
                outcome = None
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    except _Returned as returned:
        return returned.value  # type: ignore[return-value]
    except BaseException:
        with contextlib.suppress(ValueError):  # still running in a worker thread: nothing to close
            call.close()  # cancelled or failed: its finally blocks release what it holds (a mint lease)
        raise


class _Returned(Exception):
    """The call's result, out of a worker thread (a StopIteration cannot cross into a future)."""

    def __init__(self, value: object) -> None:
        self.value = value


def _resume(call: Call[T], outcome: Outcome) -> Action:
    try:
        return call.send(outcome)
    except StopIteration as stop:
        raise _Returned(stop.value) from None
