"""Single-flight minting: ``fresh_token`` / ``authorized`` stepped by hand, and the gates with threads and tasks."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import pytest
from samples import make_jwt

from ica_airflow_provider.core import operations as ops
from ica_airflow_provider.core.auth import TokenCache
from ica_airflow_provider.core.errors import IcaApiError
from ica_airflow_provider.core.flight import AwaitToken, Mint, authorized, fresh_token
from ica_airflow_provider.core.gate import await_token, wait_for_token
from ica_airflow_provider.core.messages import Action, Outcome, Request, Response, Send, Sleep
from ica_airflow_provider.core.protocol import IcaProtocol, parse
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.models.response import Token

NOW = 1_900_000_000.0
LEASE = 30.0
T = TypeVar("T")


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def jwt(name: str, lifetime: float = 3600, iat: float = NOW) -> str:
    return make_jwt(exp=iat + lifetime, iat=iat, jti=name)


def minted(token: str) -> Response:
    return Response(200, {"content-type": "application/json"}, json.dumps({"token": token}).encode())


def refused(status: int = 401) -> Response:
    return Response(status, {}, b"")


def mint() -> Mint:
    """What the protocol's mint does, minus storing: ``POST /api/tokens`` with no retries."""
    request = ops.create_token("the-key")
    response = yield from IcaProtocol("the-key", RetryPolicy(max_retries=0)).send(request)
    return parse(Token, request, response).token


def is_mint(action: Action) -> bool:
    return isinstance(action, Send) and action.request.path == "/api/tokens"


def finish(call: Generator[Action, Outcome | None, T], outcome: Outcome | None) -> T:
    with pytest.raises(StopIteration) as stop:
        call.send(outcome)
    return stop.value.value  # type: ignore[no-any-return]


# -- fresh_token, stepped by hand -----------------------------------------------------------------


def test_a_cached_token_is_used_without_any_action() -> None:
    tokens = TokenCache(now=Clock())
    tokens.store(jwt("a"))
    grant = finish(fresh_token(tokens, mint), None)
    assert grant.token == jwt("a")
    assert grant.generation == tokens.generation


def test_the_first_caller_mints_and_stores() -> None:
    tokens = TokenCache(now=Clock())
    call = fresh_token(tokens, mint)

    assert is_mint(next(call))
    grant = finish(call, minted(jwt("a")))

    assert grant.token == jwt("a") == tokens.token
    assert grant.generation == tokens.generation
    assert tokens.acquire(LEASE)[1]  # the lease was given back


def test_a_second_caller_waits_for_the_mint_in_flight_then_shares_it() -> None:
    tokens = TokenCache(now=Clock())
    first, second = fresh_token(tokens, mint, LEASE), fresh_token(tokens, mint, LEASE)

    assert is_mint(next(first))
    wait = next(second)

    assert isinstance(wait, AwaitToken) and not isinstance(wait, Sleep)  # no action is a kind of another
    assert wait.seconds == LEASE
    assert not wait.settled()
    assert jwt("a") not in repr(wait)

    one = finish(first, minted(jwt("a")))
    assert wait.settled()
    two = finish(second, None)
    assert one == two


def test_a_waiter_woken_early_waits_again() -> None:
    clock = Clock()
    tokens = TokenCache(now=clock)
    first, second = fresh_token(tokens, mint, LEASE), fresh_token(tokens, mint, LEASE)
    next(first)
    next(second)

    clock.now += 10
    again = second.send(None)  # resumed before the mint ended

    assert isinstance(again, AwaitToken)
    assert again.seconds == LEASE - 10


def test_waiters_of_a_failed_mint_see_its_error_and_nobody_mints_again() -> None:
    tokens = TokenCache(now=Clock())
    calls = [fresh_token(tokens, mint) for _ in range(3)]
    assert is_mint(next(calls[0]))
    assert all(isinstance(next(c), AwaitToken) for c in calls[1:])

    with pytest.raises(IcaApiError) as minter:
        calls[0].send(refused(401))
    for waiter in calls[1:]:
        with pytest.raises(IcaApiError) as seen:
            waiter.send(None)
        assert seen.value is minter.value

    later = fresh_token(tokens, mint)
    assert is_mint(next(later))  # a new call tries again
    assert finish(later, minted(jwt("b"))).token == jwt("b")


def test_a_cancelled_minter_hands_the_mint_to_a_waiter() -> None:
    tokens = TokenCache(now=Clock())
    first, second = fresh_token(tokens, mint), fresh_token(tokens, mint)
    next(first)
    wait = next(second)

    first.close()  # e.g. the trigger was cancelled mid-mint

    assert isinstance(wait, AwaitToken) and wait.settled()
    assert is_mint(second.send(None))
    assert finish(second, minted(jwt("b"))).token == jwt("b")


def test_a_vanished_minter_loses_its_lease_when_it_expires() -> None:
    clock = Clock()
    tokens = TokenCache(now=clock)
    first, second = fresh_token(tokens, mint, LEASE), fresh_token(tokens, mint, LEASE)
    next(first)  # then never heard of again
    wait = next(second)

    clock.now += wait.seconds
    assert is_mint(second.send(None))

    grant = finish(second, minted(jwt("b")))
    assert tokens.token == jwt("b") == grant.token


def test_a_token_minted_already_expired_is_still_used_once() -> None:
    tokens = TokenCache(now=Clock())
    call = fresh_token(tokens, mint)
    next(call)
    stale = jwt("x", lifetime=-10)

    assert finish(call, minted(stale)).token == stale  # no endless re-minting
    assert tokens.token is None  # the next call mints


# -- authorized: fresh before every attempt ---------------------------------------------------------


def test_authorized_adds_the_bearer_and_keeps_other_headers() -> None:
    tokens = TokenCache(now=Clock())
    tokens.store(jwt("a"))
    request = Request("GET", "/api/x", headers={"Accept": "application/json"})

    sent, grant = finish(authorized(tokens, mint, request), None)

    assert sent.headers == {"Accept": "application/json", "Authorization": f"Bearer {jwt('a')}"}
    assert grant.generation == tokens.generation
    assert "Authorization" not in request.headers


def test_a_retry_after_a_long_backoff_gets_a_token_minted_during_the_sleep() -> None:
    # The shape the protocol's send loop takes: authorize, send, back off, authorize again.
    clock = Clock()
    tokens = TokenCache(now=clock)
    first = jwt("a", lifetime=400)  # re-mint due 359 s on; the backoff sleeps 500 to 1,000 s
    tokens.store(first)
    request = Request("GET", "/api/x")
    policy = RetryPolicy(max_retries=1, backoff_base=1000, backoff_max=1000)
    sent: list[str] = []

    def attempts() -> Generator[Action, Outcome | None, Response]:
        attempt = 0
        while True:
            ready, _ = yield from authorized(tokens, mint, request)
            sent.append(ready.headers["Authorization"])
            outcome = yield Send(ready)
            assert isinstance(outcome, Response)
            if outcome.status == 200:
                return outcome
            delay = policy.delay(ready, outcome, attempt)
            assert delay is not None
            attempt += 1
            yield Sleep(delay)

    call = attempts()
    assert next(call).request.headers["Authorization"] == f"Bearer {first}"  # type: ignore[union-attr]
    sleep = call.send(refused(503))
    assert isinstance(sleep, Sleep) and sleep.seconds >= 500
    clock.now += sleep.seconds

    assert is_mint(call.send(None))  # freshness checked again after the sleep
    second = jwt("b", iat=clock.now)
    retry = call.send(minted(second))
    assert isinstance(retry, Send)
    finish(call, Response(200, {}, b"{}"))
    assert sent == [f"Bearer {first}", f"Bearer {second}"]


# -- the gates: one mint for many threads, many tasks --------------------------------------------


class MintServer:
    """Answers the one mint only once ``expected`` callers are parked, so all of them overlap it."""

    def __init__(self, expected: int, answer: Response) -> None:
        self.expected = expected
        self.answer = answer
        self.mints = 0
        self.parked = 0
        self.lock = threading.Condition()

    def park(self) -> None:
        with self.lock:
            self.parked += 1
            self.lock.notify_all()

    def send(self, request: Request) -> Outcome:
        assert request.path == "/api/tokens"
        with self.lock:
            self.mints += 1
            assert self.lock.wait_for(lambda: self.parked >= self.expected, timeout=30), "waiters never parked"
        return self.answer


def run_sync(call: Generator[Action, Outcome | None, T], server: MintServer) -> T:
    """The blocking driver's loop, with ``AwaitToken`` handled by the sync gate."""
    outcome: Outcome | None = None
    try:
        while True:
            action = call.send(outcome)
            outcome = None
            if isinstance(action, AwaitToken):
                server.park()
                wait_for_token(action)
            elif isinstance(action, Send):
                outcome = server.send(action.request)
            else:
                raise AssertionError(f"unexpected {action}")
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def run_threads(n: int, tokens: TokenCache, server: MintServer) -> list[Any]:
    results: list[Any] = [None] * n

    def worker(i: int) -> None:
        try:
            results[i] = run_sync(fresh_token(tokens, mint), server)
        except Exception as exc:  # collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a waiter never woke"
    return results


def test_threads_sharing_a_cache_make_one_mint() -> None:
    n = 8
    tokens = TokenCache(now=Clock())
    server = MintServer(n - 1, minted(jwt("a")))

    results = run_threads(n, tokens, server)

    assert server.mints == 1
    assert {r.token for r in results} == {jwt("a")}


def test_threads_waiting_on_a_failed_mint_all_see_the_error() -> None:
    n = 6
    server = MintServer(n - 1, refused(401))

    results = run_threads(n, TokenCache(now=Clock()), server)

    assert server.mints == 1
    assert all(isinstance(r, IcaApiError) and r.status == 401 for r in results)


async def run_async(call: Generator[Action, Outcome | None, T], send: Callable[[Request], Any]) -> T:
    """The asyncio driver's loop, with ``AwaitToken`` handled by the async gate."""
    outcome: Outcome | None = None
    try:
        while True:
            action = call.send(outcome)
            outcome = None
            if isinstance(action, AwaitToken):
                await await_token(action)
            elif isinstance(action, Send):
                outcome = await send(action.request)
            else:
                raise AssertionError(f"unexpected {action}")
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def run_tasks(n: int, tokens: TokenCache, answer: Response) -> tuple[int, list[Any]]:
    """``n`` tasks on one loop need a token; the mint is answered once the others are parked."""
    mints: list[Request] = []

    async def send(request: Request) -> Outcome:
        mints.append(request)
        while len(tokens._listeners) < n - 1:  # each parked task watches the cache
            await asyncio.sleep(0)
        return answer

    async def main() -> list[Any]:
        calls = (run_async(fresh_token(tokens, mint), send) for _ in range(n))
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(main())
    assert len(tokens._listeners) == 0
    return len(mints), results


def test_tasks_sharing_a_cache_make_one_mint() -> None:
    mints, grants = run_tasks(1000, TokenCache(now=Clock()), minted(jwt("a")))

    assert mints == 1
    assert {g.token for g in grants} == {jwt("a")}


def test_tasks_waiting_on_a_failed_mint_all_see_the_error() -> None:
    mints, results = run_tasks(20, TokenCache(now=Clock()), refused(403))

    assert mints == 1
    assert all(isinstance(r, IcaApiError) and r.status == 403 for r in results)


def test_a_task_is_woken_by_a_mint_that_ends_in_another_thread() -> None:
    tokens = TokenCache(now=Clock())
    lease, _ = tokens.acquire(LEASE)

    async def main() -> None:
        waiting = asyncio.create_task(await_token(AwaitToken(LEASE, tokens, lease)))
        while not tokens._listeners:
            await asyncio.sleep(0)
        minter = threading.Thread(target=tokens.store, args=(jwt("a"),))
        minter.start()
        await asyncio.wait_for(waiting, timeout=30)
        minter.join()

    asyncio.run(main())
    assert tokens.token == jwt("a")


@pytest.mark.parametrize("gate", ["sync", "async"])
def test_a_gate_returns_at_once_when_the_mint_is_already_over(gate: str) -> None:
    tokens = TokenCache(now=Clock())
    lease, _ = tokens.acquire(LEASE)
    tokens.release(lease)
    action = AwaitToken(3600, tokens, lease)  # a missed wake-up would block for an hour

    if gate == "sync":
        wait_for_token(action)
    else:
        asyncio.run(await_token(action))
    assert len(tokens._listeners) == 0


def test_a_gate_gives_up_when_the_lease_runs_out() -> None:
    tokens = TokenCache(now=Clock())
    held: list[Any] = []
    holder = threading.Thread(target=lambda: held.append(tokens.acquire(LEASE)[0]))  # another thread's mint
    holder.start()
    holder.join()
    lease = held[0]
    wait_for_token(AwaitToken(0, tokens, lease))
    asyncio.run(await_token(AwaitToken(0, tokens, lease)))
    assert not tokens.settled(lease)
