"""The two drivers of the core's generators: one blocking, one for asyncio.

Each dispatches the :data:`~.messages.Action` union with one ``match``. What a transport
does around a request besides sending it (registering new secrets with the masker,
re-reading the connection at a :class:`~.messages.Refresh` and after a 401) is the
driver's *seam*, one object shared by both transports (``hooks/clients.py``
``Follower``), so a transport is only its library's call and its exception mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from ica_airflow_provider.core.gate import await_token, wait_for_token
from ica_airflow_provider.core.messages import (
    Action,
    AwaitHints,
    AwaitToken,
    Outcome,
    Refresh,
    Request,
    Response,
    Resumed,
    Send,
    Sleep,
    Woken,
)
from ica_airflow_provider.core.protocol import Call

T = TypeVar("T")

# An answer this big is parsed off the event loop: a 1,000-item page (about 1 MB) takes
# tens of milliseconds to validate, and well over 0.2 s on a busy machine.
THREAD_PARSE_BYTES = 64 * 1024


class Seam(Protocol):
    """The blocking driver's hooks around the transport."""

    def refresh(self) -> object:
        """At a :class:`~.messages.Refresh`: re-read the connection if due."""

    def mask(self) -> object:
        """Before each request and when the call ends: register new secrets with the masker."""

    def answered(self, outcome: Outcome) -> object:
        """After each request: re-read the connection at once after a 401."""


class Hints(Protocol):
    """Where the blocking driver waits for notification hints (an :class:`~.messages.AwaitHints`)."""

    def wait(self, action: AwaitHints) -> Woken: ...


class AsyncHints(Protocol):
    """:class:`Hints` for the asyncio driver."""

    async def await_hints(self, action: AwaitHints) -> Woken: ...


class AsyncSeam(Protocol):
    """:class:`Seam` for the asyncio driver."""

    async def arefresh(self) -> object: ...

    async def amask(self) -> object: ...

    async def aanswered(self, outcome: Outcome) -> object: ...


def drive(
    call: Call[T],
    send: Callable[[Request], Outcome],
    sleep: Callable[[float], None],
    seam: Seam | None = None,
    hints: Hints | None = None,
) -> T:
    """Run ``call`` to its result, sending its requests and sleeping as it asks.

    Without ``hints``, waiting for hints is a plain sleep.
    """
    outcome: Resumed = None
    try:
        while True:
            action = call.send(outcome)
            outcome = None
            match action:
                case Send(request):
                    if seam is not None:
                        seam.mask()
                    outcome = send(request)
                    if seam is not None:
                        seam.answered(outcome)
                case Sleep(seconds):
                    sleep(seconds)
                case AwaitHints(seconds):
                    if hints is None:
                        sleep(seconds)
                    else:
                        outcome = hints.wait(action)
                case AwaitToken():
                    wait_for_token(action)
                case Refresh():
                    if seam is not None:
                        seam.refresh()
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    except BaseException:
        call.close()  # interrupted (killed, cancelled): its finally blocks release what it holds
        raise
    finally:
        if seam is not None:
            seam.mask()  # a JWT minted by the last request


async def adrive(
    call: Call[T],
    send: Callable[[Request], Awaitable[Outcome]],
    sleep: Callable[[float], Awaitable[None]],
    seam: AsyncSeam | None = None,
    thread_parse_bytes: int = THREAD_PARSE_BYTES,
    hints: AsyncHints | None = None,
) -> T:
    """The same as :func:`drive`, awaiting the transport instead of blocking.

    After a big answer (more than ``thread_parse_bytes``), the call resumes in a worker
    thread until its next action: parsing and judging the answer never stall the loop.
    """
    outcome: Resumed = None
    try:
        while True:
            action = await _next(call, outcome, thread_parse_bytes)
            outcome = None
            match action:
                case Send(request):
                    if seam is not None:
                        await seam.amask()
                    outcome = await send(request)
                    if seam is not None:
                        await seam.aanswered(outcome)
                case Sleep(seconds):
                    await sleep(seconds)
                case AwaitHints(seconds):
                    if hints is None:
                        await sleep(seconds)
                    else:
                        outcome = await hints.await_hints(action)
                case AwaitToken():
                    await await_token(action)
                case Refresh():
                    if seam is not None:
                        await seam.arefresh()
    except _Returned as returned:
        return returned.value  # type: ignore[return-value]
    except BaseException:
        with contextlib.suppress(ValueError):  # still running in a worker thread: nothing to close
            call.close()  # cancelled or failed: its finally blocks release what it holds (a mint lease)
        raise
    finally:
        if seam is not None:
            await seam.amask()


async def _next(call: Call[T], outcome: Resumed, thread_parse_bytes: int) -> Action:
    """The call's next action; after a big answer, computed in a worker thread."""
    if not (isinstance(outcome, Response) and len(outcome.body) > thread_parse_bytes):
        return _resume(call, outcome)
    # Shielded: a cancelled task waits for the thread to leave the generator, so that
    # the generator can then be closed.
    resumed = asyncio.ensure_future(asyncio.to_thread(_resume, call, outcome))
    try:
        return await asyncio.shield(resumed)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await resumed
        raise


class _Returned(Exception):
    """The call's result, out of a worker thread (a StopIteration cannot cross into a future)."""

    def __init__(self, value: object) -> None:
        self.value = value


def _resume(call: Call[T], outcome: Resumed) -> Action:
    try:
        return call.send(outcome)
    except StopIteration as stop:
        raise _Returned(stop.value) from None
