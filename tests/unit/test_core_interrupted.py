"""A call interrupted while it mints (a kill, a cancelled trigger) never holds the others up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ica_airflow_provider.core.auth import TokenCache
from ica_airflow_provider.core.drive import adrive, drive
from ica_airflow_provider.core.flight import fresh_token
from ica_airflow_provider.core.messages import Request, Response, Send

TOKEN_REQUEST = Request("POST", "/api/tokens")


def minting(token: str) -> Any:
    def mint() -> Any:
        yield Send(TOKEN_REQUEST)
        return token

    return mint


def answer(_: Request) -> Response:
    return Response.build(201, {}, b"{}")


def test_a_blocking_call_minting_on_the_thread_that_holds_the_mint_takes_it_over(monkeypatch: Any) -> None:
    """on_kill runs in a signal handler on the thread it interrupted, mid-mint: it must not
    wait for that mint (which cannot go on until it returns)."""
    tokens = TokenCache()
    abandoned: list[Any] = []
    abandon = tokens.abandon
    monkeypatch.setattr(tokens, "abandon", lambda lease: (abandoned.append(lease), abandon(lease)))
    nested: list[str] = []

    def send(request: Request) -> Response:
        if not nested:  # the kill arrives while the first mint is on the wire
            nested.append(drive(fresh_token(tokens, minting("killer")), answer, lambda s: None).token)
        return answer(request)

    outer = drive(fresh_token(tokens, minting("first")), send, lambda s: None)

    assert nested == ["killer"]  # minted at once, not parked behind its own thread's mint
    assert len(abandoned) == 1
    assert outer.token == "first"


def test_a_cancelled_async_minter_releases_its_lease() -> None:
    tokens = TokenCache()

    async def scenario() -> bool:
        sent = asyncio.Event()

        async def hanging(request: Request) -> Response:
            sent.set()
            await asyncio.Event().wait()  # never answers: the trigger is cancelled meanwhile
            raise AssertionError("unreachable")

        async def no_sleep(seconds: float) -> None:
            return None

        task = asyncio.ensure_future(adrive(fresh_token(tokens, minting("t")), hanging, no_sleep))
        await sent.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        _, mine = tokens.acquire()
        return mine

    assert asyncio.run(scenario()) is True  # the next caller mints at once


class Killed(BaseException):
    """What a task's SIGTERM handler raises through the frame it interrupts."""


def test_a_blocking_call_interrupted_while_minting_releases_its_lease() -> None:
    tokens = TokenCache()

    def killed(request: Request) -> Response:
        raise Killed

    with pytest.raises(Killed):
        drive(fresh_token(tokens, minting("t")), killed, lambda s: None)

    _, mine = tokens.acquire()
    assert mine is True
