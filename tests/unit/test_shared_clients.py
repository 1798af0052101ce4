"""One client per connection per process (``hooks/clients.py``), through the real drivers.

Waits and hooks of one connection share one pool, one JWT (minted once, the others
parked until it is there), one request budget, and register each secret once; a
changed connection is picked up after the re-read interval and after a 401; two
connections never share a token. Nothing here waits on the wall clock: latches decide
when the mint answers, and the registry and budgets run on manual clocks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from typing import Any

import httpx
import pytest
from samples import (
    API_KEY,
    BASE_URL,
    BATCH_ID,
    CONN_ID,
    PROJECT_ID,
    TOKEN_PATH,
    V3,
    FakeIca,
    analysis_body,
    item_body,
    make_jwt,
    page_body,
    problem_body,
    request_path,
    set_connection,
    token_body,
    url,
)

from ica_airflow_provider.core import drive as drive_module
from ica_airflow_provider.core.auth import TokenCache
from ica_airflow_provider.core.budget import RequestBudget
from ica_airflow_provider.core.drive import adrive, drive
from ica_airflow_provider.core.messages import Request, Response, Send
from ica_airflow_provider.core.protocol import IcaProtocol
from ica_airflow_provider.core.retry import RetryPolicy
from ica_airflow_provider.core.shared import REREAD_SECONDS
from ica_airflow_provider.hooks import clients
from ica_airflow_provider.hooks.async_client import IcaAsyncClient
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger
from tests.clocks import SleepingClock

ANALYSIS_URL = url(f"/api/projects/{PROJECT_ID}/analyses/a1")
UNLIMITED = {"project_id": PROJECT_ID, "max_requests_per_second": 0}


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(clients.REGISTRY, "clock", clock)
    return clock


class Parked:
    """Counts callers parked on a mint in flight; ``wait_for(n)`` blocks until ``n`` are."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def arrived(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_for(self, n: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count >= n, timeout=60), f"{self.count} of {n} parked"


@pytest.fixture
def parked(monkeypatch: pytest.MonkeyPatch) -> Parked:
    """The drivers' gates, counted: a caller is parked once it has yielded AwaitToken."""
    latch = Parked()
    real_wait, real_await = drive_module.wait_for_token, drive_module.await_token

    def wait_for_token(action: Any) -> None:
        latch.arrived()
        real_wait(action)

    async def await_token(action: Any) -> None:
        latch.arrived()
        await real_await(action)

    monkeypatch.setattr(drive_module, "wait_for_token", wait_for_token)
    monkeypatch.setattr(drive_module, "await_token", await_token)
    return latch


# -- the async client: N waits in one loop ----------------------------------------------------


def done_page() -> bytes:
    item = item_body("i1", "ref-1", "SUCCEEDED", analysis_body("a1", "SUCCEEDED", "ref-1"))
    return json.dumps(page_body([item], None)).encode()


def test_waits_in_one_loop_share_one_client_one_mint_and_mask_once(
    monkeypatch: pytest.MonkeyPatch, masked: list[str]
) -> None:
    n = 50
    set_connection(monkeypatch, extra=UNLIMITED)
    jwt = make_jwt(jti="shared")
    mints: list[str] = []
    pools: list[object] = []

    async def go() -> list[dict[str, Any]]:
        release = asyncio.Event()

        async def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith(TOKEN_PATH):
                mints.append(request.headers["X-API-Key"])
                await release.wait()  # every other wait arrives while this mint is in flight
                return httpx.Response(200, json=token_body(jwt))
            assert request.headers["Authorization"] == f"Bearer {jwt}"
            return httpx.Response(200, content=done_page(), headers={"Content-Type": V3})

        real = clients.new_async_client

        def new_async_client(settings: Any, transport: Any = None) -> httpx.AsyncClient:
            pools.append(settings)
            return real(settings, httpx.MockTransport(handler))

        monkeypatch.setattr(clients, "new_async_client", new_async_client)
        triggers = [
            IcaAnalysisBatchTrigger(project_id=PROJECT_ID, batch_id=BATCH_ID, ica_conn_id=CONN_ID, poll_interval=0)
            for _ in range(n)
        ]
        tasks = [asyncio.create_task(anext(t.run())) for t in triggers]
        while clients.REGISTRY.get(CONN_ID) is None or len(mints) < 1:
            await asyncio.sleep(0)
        tokens = clients.REGISTRY.get(CONN_ID).state.tokens  # type: ignore[union-attr]
        while len(tokens._listeners) < n - 1:  # the others are parked on the one mint
            await asyncio.sleep(0)
        release.set()
        return [event.payload for event in await asyncio.gather(*tasks)]

    events = asyncio.run(go())
    assert [e["status"] for e in events] == ["success"] * n
    assert mints == [API_KEY]
    assert len(pools) == 1  # one httpx pool for every wait (and no pool of their own)
    assert masked == [API_KEY, jwt]  # each secret registered once, not once per wait


def test_the_shared_pool_outlives_a_wait_and_is_per_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, extra=UNLIMITED)

    async def two_waits() -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        async with await IcaAsyncClient.for_connection(CONN_ID) as first:
            pool = first._client
        async with await IcaAsyncClient.for_connection(CONN_ID) as second:
            assert not pool.is_closed  # the first wait's exit did not close it
            return pool, second._client

    first, second = asyncio.run(two_waits())
    assert first is second
    third, _ = asyncio.run(two_waits())  # another event loop: another pool
    assert third is not first
    assert clients.REGISTRY.get(CONN_ID).async_clients == 1  # type: ignore[union-attr]  # the closed loop's is gone


def test_async_waiters_get_the_one_token(parked: Parked) -> None:
    """Single flight through adrive: the minter's answer comes only once the others are parked."""
    n = 20
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "SUCCEEDED")
    tokens = TokenCache()

    async def go() -> None:
        release = asyncio.Event()

        async def send(request: Request) -> Response:
            if request.path == TOKEN_PATH:
                await release.wait()
            return fake.send(request)

        async def open_gate() -> None:
            while parked.count < n - 1:
                await asyncio.sleep(0)
            release.set()

        protocols = [IcaProtocol(API_KEY, RetryPolicy(max_retries=0), tokens) for _ in range(n)]
        calls = [adrive(p.get_analysis(PROJECT_ID, "a1"), send, asyncio.sleep) for p in protocols]
        await asyncio.gather(open_gate(), *calls)

    asyncio.run(go())
    assert [r.path for r in fake.requests].count(TOKEN_PATH) == 1
    assert all(r.headers["Authorization"] == f"Bearer {fake.jwt}" for r in fake.api_requests())


# -- the hook: threads of one process ---------------------------------------------------------


def test_hooks_in_threads_share_one_mint_and_one_pool(requests_mock: Any, monkeypatch: pytest.MonkeyPatch, parked: Parked) -> None:
    n = 8
    set_connection(monkeypatch, extra=UNLIMITED)
    jwt = make_jwt()

    def mint(request: Any, context: Any) -> dict[str, Any]:
        parked.wait_for(n - 1)  # answer only once every other thread waits for this mint
        return token_body(jwt)

    requests_mock.post(url(TOKEN_PATH), json=mint)
    requests_mock.get(ANALYSIS_URL, json=analysis_body("a1", "SUCCEEDED"))
    hooks = [IcaHook(CONN_ID) for _ in range(n)]
    errors: list[BaseException] = []

    def call(hook: IcaHook) -> None:
        try:
            hook.get_analysis(PROJECT_ID, "a1")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(hook,)) for hook in hooks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = requests_mock.request_history
    assert [request_path(r) for r in history].count(TOKEN_PATH) == 1
    assert all(r.headers["Authorization"] == f"Bearer {jwt}" for r in history if request_path(r) != TOKEN_PATH)
    assert len({id(hook.session) for hook in hooks}) == 1
    assert len({id(hook.protocol.budget) for hook in hooks}) == 1
    assert hooks[0].protocol.budget.limit == 0


def test_hooks_share_the_connections_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, extra={"max_requests_per_second": "7"})
    first, second = IcaHook(CONN_ID), IcaHook(CONN_ID)
    assert first.protocol is not second.protocol  # each caller its own retry counters
    assert first.protocol.budget is second.protocol.budget
    assert first.protocol.budget.limit == 7


# -- rotation ----------------------------------------------------------------------------------


def api_key_of_each_mint(requests_mock: Any) -> list[str]:
    return [r.headers["X-API-Key"] for r in requests_mock.request_history if request_path(r) == TOKEN_PATH]


def test_a_rotated_key_is_picked_up_after_the_reread_interval(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch, registry_clock: Clock
) -> None:
    old_jwt, new_jwt = make_jwt(jti="old"), make_jwt(jti="new")
    requests_mock.post(
        url(TOKEN_PATH),
        json=lambda request, context: token_body(new_jwt if request.headers["X-API-Key"] == "key-2" else old_jwt),
    )
    requests_mock.get(ANALYSIS_URL, json=analysis_body("a1", "SUCCEEDED"))
    set_connection(monkeypatch, password="key-1", extra=UNLIMITED)
    hook = IcaHook(CONN_ID)  # a long wait: one hook throughout
    hook.get_analysis(PROJECT_ID, "a1")

    set_connection(monkeypatch, password="key-2", extra=UNLIMITED)
    registry_clock.now += REREAD_SECONDS - 1
    hook.get_analysis(PROJECT_ID, "a1")
    IcaHook(CONN_ID).get_analysis(PROJECT_ID, "a1")
    assert api_key_of_each_mint(requests_mock) == ["key-1"]  # not re-read yet: one lookup per interval

    registry_clock.now += 2
    hook.get_analysis(PROJECT_ID, "a1")
    assert api_key_of_each_mint(requests_mock) == ["key-1", "key-2"]
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {new_jwt}"
    assert hook.settings.api_key == "key-2"


def test_a_401_rereads_the_connection_and_mints_with_the_new_key(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch, registry_clock: Clock
) -> None:
    old_jwt, new_jwt = make_jwt(jti="old"), make_jwt(jti="new")

    def mint(request: Any, context: Any) -> dict[str, Any]:
        if request.headers["X-API-Key"] == "key-2":
            return token_body(new_jwt)
        if api_key_of_each_mint(requests_mock).count("key-1") > 1:  # the old key was revoked
            context.status_code = 401
            return problem_body(401, "ICA_AUTH_002", "API key revoked")
        return token_body(old_jwt)

    def analysis(request: Any, context: Any) -> dict[str, Any]:
        if request.headers["Authorization"] == f"Bearer {old_jwt}":
            context.status_code = 401
            return problem_body(401, "ICA_AUTH_001", "JWT revoked")
        return analysis_body("a1", "SUCCEEDED")

    requests_mock.post(url(TOKEN_PATH), json=mint)
    requests_mock.get(ANALYSIS_URL, json=analysis)
    set_connection(monkeypatch, password="key-1", extra=UNLIMITED)
    hook = IcaHook(CONN_ID, retry_policy=RetryPolicy(max_retries=0))
    hook.run(hook.protocol.mint_token())

    set_connection(monkeypatch, password="key-2", extra=UNLIMITED)  # well within the interval
    assert hook.get_analysis(PROJECT_ID, "a1").status == "SUCCEEDED"
    assert api_key_of_each_mint(requests_mock) == ["key-1", "key-2"]


def test_a_401_on_the_mint_with_a_key_rotated_meanwhile_is_tried_with_the_new_key(
    monkeypatch: pytest.MonkeyPatch, registry_clock: Clock
) -> None:
    set_connection(monkeypatch, password="key-1", extra=UNLIMITED)
    new_jwt = make_jwt(jti="new")
    keys: list[str] = []

    async def go() -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith(TOKEN_PATH):
                keys.append(request.headers["X-API-Key"])
                if request.headers["X-API-Key"] == "key-1":
                    set_connection(monkeypatch, password="key-2", extra=UNLIMITED)  # rotated as the old one dies
                    return httpx.Response(401, json=problem_body(401, "ICA_AUTH_002", "API key revoked"))
                return httpx.Response(200, json=token_body(new_jwt))
            return httpx.Response(200, json=analysis_body("a1", "SUCCEEDED"))

        real = clients.new_async_client
        monkeypatch.setattr(clients, "new_async_client", lambda s, t=None: real(s, httpx.MockTransport(handler)))
        async with await IcaAsyncClient.for_connection(CONN_ID) as client:
            await client.run(client.protocol.get_analysis(PROJECT_ID, "a1"))

    asyncio.run(go())
    assert keys == ["key-1", "key-2"]


def test_a_refused_key_that_did_not_change_fails_at_once(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, extra=UNLIMITED)
    requests_mock.post(url(TOKEN_PATH), status_code=401, json=problem_body(401, "ICA_AUTH_002", "Invalid API key"))
    with pytest.raises(Exception, match="401"):
        IcaHook(CONN_ID).get_analysis(PROJECT_ID, "a1")
    assert api_key_of_each_mint(requests_mock) == [API_KEY]


def test_an_unreadable_connection_on_a_reread_keeps_the_last_settings(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch, registry_clock: Clock
) -> None:
    set_connection(monkeypatch, extra=UNLIMITED)
    requests_mock.post(url(TOKEN_PATH), json=token_body(make_jwt()))
    requests_mock.get(ANALYSIS_URL, json=analysis_body("a1", "SUCCEEDED"))
    hook = IcaHook(CONN_ID)
    hook.get_analysis(PROJECT_ID, "a1")
    monkeypatch.delenv(f"AIRFLOW_CONN_{CONN_ID.upper()}")
    registry_clock.now += REREAD_SECONDS + 1
    assert hook.get_analysis(PROJECT_ID, "a1").status == "SUCCEEDED"


# -- two connections -------------------------------------------------------------------------


def test_two_connections_never_share_a_token(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    jwts = {"key-a": make_jwt(jti="a"), "key-b": make_jwt(jti="b"), "key-same": make_jwt(jti="same")}
    requests_mock.post(url(TOKEN_PATH), json=lambda request, context: token_body(jwts[request.headers["X-API-Key"]]))
    requests_mock.get(ANALYSIS_URL, json=analysis_body("a1", "SUCCEEDED"))
    set_connection(monkeypatch, "ica_a", password="key-a", extra=UNLIMITED)
    set_connection(monkeypatch, "ica_b", password="key-b", extra=UNLIMITED)
    for conn_id in ("ica_a", "ica_b", "ica_a", "ica_b"):
        IcaHook(conn_id).get_analysis(PROJECT_ID, "a1")
    bearers = [r.headers["Authorization"] for r in requests_mock.request_history if request_path(r) != TOKEN_PATH]
    assert bearers == [f"Bearer {jwts[k]}" for k in ("key-a", "key-b", "key-a", "key-b")]

    # The same key under two connection IDs: still two states (a connection is its own).
    set_connection(monkeypatch, "ica_c", password="key-same", extra=UNLIMITED)
    set_connection(monkeypatch, "ica_d", password="key-same", extra=UNLIMITED)
    assert IcaHook("ica_c").protocol.tokens is not IcaHook("ica_d").protocol.tokens
    a, b = clients.REGISTRY.get("ica_a"), clients.REGISTRY.get("ica_b")
    assert a is not None and b is not None and a.state.fingerprint != b.state.fingerprint
    assert "key-a" not in repr(a) + repr(a.state) + a.state.fingerprint + repr(clients.REGISTRY)


def test_another_base_url_is_another_state(monkeypatch: pytest.MonkeyPatch, registry_clock: Clock) -> None:
    set_connection(monkeypatch, extra=UNLIMITED)
    hook = IcaHook(CONN_ID)
    before = hook.protocol.tokens
    set_connection(monkeypatch, host="https://other.example.test/ica/rest", extra=UNLIMITED)
    registry_clock.now += REREAD_SECONDS
    assert hook.settings.base_url == "https://other.example.test/ica/rest"
    assert hook.protocol.tokens is not before


# -- freshness and the budget, through the protocol --------------------------------------------


def test_a_retry_after_a_backoff_sleep_sends_a_fresh_token() -> None:
    clock = SleepingClock()
    fake = FakeIca()
    first, second = make_jwt(600, jti="first", iat=0), make_jwt(1200, jti="second", iat=600)
    minted = iter([first, second])
    fake.routes[("POST", TOKEN_PATH)] = lambda r: Response(200, {}, json.dumps(token_body(next(minted))).encode())
    analysis = f"/api/projects/{PROJECT_ID}/analyses/a1"
    # The backoff (Retry-After 300 s, honoured) outlives the token's re-mint point (540 s of 600).
    answers = iter([Response(503, {"retry-after": "300"}, b"busy")] * 2)
    fake.routes[("GET", analysis)] = lambda r: next(answers, Response(200, {}, json.dumps(analysis_body("a1", "RUNNING")).encode()))
    protocol = IcaProtocol(API_KEY, RetryPolicy(max_retries=2), TokenCache(now=clock))

    drive(protocol.get_analysis(PROJECT_ID, "a1"), fake.send, clock.sleep)

    sent = [(r.path, r.headers.get("Authorization")) for r in fake.requests]
    assert sent == [
        (TOKEN_PATH, None),
        (analysis, f"Bearer {first}"),  # at 0 s
        (analysis, f"Bearer {first}"),  # at 300 s: still fresh
        (TOKEN_PATH, None),  # at 600 s the first token is stale: minted again before the retry
        (analysis, f"Bearer {second}"),
    ]
    assert clock.sleeps == [300, 300]


def test_a_429_slows_down_every_caller_of_the_connection() -> None:
    clock = SleepingClock()
    budget = RequestBudget(10)
    tokens = TokenCache(now=clock)
    fake = FakeIca()
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "RUNNING")
    tokens.store(fake.jwt)
    analysis = f"/api/projects/{PROJECT_ID}/analyses/a1"
    throttled = iter([Response(429, {}, b"")])
    fake.routes[("GET", analysis)] = lambda r: next(throttled, Response(200, {}, json.dumps(analysis_body("a1", "RUNNING")).encode()))
    one, other = (IcaProtocol(API_KEY, RetryPolicy(max_retries=3), tokens, budget=budget, clock=clock) for _ in range(2))

    drive(one.get_analysis(PROJECT_ID, "a1"), fake.send, clock.sleep)  # a 429, then a retry
    assert budget.state(clock()).throttles == 1
    assert budget.state(clock()).rate < 10

    # Another wait of the same connection, not throttled itself, is paced at the lower rate.
    times: list[float] = []

    def send(request: Request) -> Response:
        times.append(clock())
        return fake.send(request)

    for _ in range(4):
        drive(other.get_analysis(PROJECT_ID, "a1"), send, clock.sleep)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) > 1 / 10  # slower than the configured rate
    assert max(gaps) <= 1 / 5 + 1e-9  # halved, and recovering
    assert other.budget is one.budget


def test_requests_are_spaced_by_the_budget_before_every_send() -> None:
    clock = SleepingClock()
    fake = FakeIca()
    tokens = TokenCache(now=clock)
    protocol = IcaProtocol(API_KEY, RetryPolicy(max_retries=0), tokens, budget=RequestBudget(4), clock=clock)
    times: list[float] = []

    def send(request: Request) -> Response:
        times.append(clock())
        return fake.send(request)

    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "RUNNING")
    for _ in range(3):
        drive(protocol.get_analysis(PROJECT_ID, "a1"), send, clock.sleep)
    assert times == pytest.approx([0, 0.25, 0.5, 0.75])  # the mint counts too


# -- parsing off the loop -------------------------------------------------------------------


@pytest.mark.parametrize(("size", "off_loop"), [(10, False), (100_000, True)])
def test_a_big_answer_is_handled_off_the_event_loop(size: int, off_loop: bool) -> None:
    threads: list[int] = []

    def call() -> Any:
        outcome = yield Send(Request("GET", "/api/x"))
        threads.append(threading.get_ident())  # where the parse would run
        return outcome

    async def send(request: Request) -> Response:
        return Response(200, {}, b" " * size)

    async def go() -> int:
        await adrive(call(), send, asyncio.sleep, thread_parse_bytes=1000)
        return threading.get_ident()

    loop_thread = asyncio.run(go())
    assert (threads[0] != loop_thread) is off_loop


def test_the_settings_reader_is_the_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def get_connection(conn_id: str) -> Any:
        seen.append(conn_id)
        return type("Conn", (), {"host": BASE_URL, "port": None, "password": API_KEY, "extra_dejson": {}})()

    settings = clients.read_settings("ica_x", get_connection)
    assert seen == ["ica_x"] and settings.base_url == BASE_URL


def test_a_token_that_goes_stale_while_queued_for_the_budget_is_replaced_before_sending() -> None:
    clock = SleepingClock()
    fake = FakeIca()
    first, second = make_jwt(150, jti="first", iat=0), make_jwt(450, jti="second", iat=300)  # 150 s each
    minted = iter([first, second])
    fake.routes[("POST", TOKEN_PATH)] = lambda r: Response(200, {}, json.dumps(token_body(next(minted))).encode())
    fake.put_item("i1", "ref-1", "SUCCEEDED", "a1", "RUNNING")
    # One request per 100 s: the second call queues from 100 s to 200 s, past the first token's re-mint point.
    protocol = IcaProtocol(API_KEY, RetryPolicy(max_retries=0), TokenCache(now=clock), budget=RequestBudget(0.01), clock=clock)
    sent: list[tuple[float, str, str | None]] = []

    def send(request: Request) -> Response:
        sent.append((clock(), request.path, request.headers.get("Authorization")))
        return fake.send(request)

    for _ in range(2):
        drive(protocol.get_analysis(PROJECT_ID, "a1"), send, clock.sleep)
    analysis = f"/api/projects/{PROJECT_ID}/analyses/a1"
    assert sent == [
        (0, TOKEN_PATH, None),
        (100, analysis, f"Bearer {first}"),
        (300, TOKEN_PATH, None),  # the queue outlived the token: minted again (in its own slot), not sent stale
        (300, analysis, f"Bearer {second}"),
    ]
