"""The tenant-wide rate limit (429 without Retry-After) and the backend's counters."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable

import pytest
import requests

from ica_airflow_provider.testing import FakeIcaConfig, ManualClock
from ica_airflow_provider.testing.ratelimit import RateLimiter
from ica_airflow_provider.testing.server import FakeIcaServer, build_parser

from .helpers import V3, IcaClient

Factory = Callable[..., FakeIcaServer]
UNKNOWN_BATCH = "0b7c1d6e-3f5a-4b2c-9d8e-1a2b3c4d5e6f"


def get_unknown_batch(client: IcaClient) -> int:
    return client.get_batch(UNKNOWN_BATCH).status_code


def test_limit_is_per_second_across_all_callers(client_factory: Callable[..., IcaClient]) -> None:
    clock = ManualClock()
    first = client_factory(clock=clock, rate_limit=3)
    second = IcaClient(first.server, token=first.token)  # another caller of the same tenant
    statuses = [get_unknown_batch(caller) for caller in (first, second, first, second, first)]
    assert statuses == [404, 404, 404, 429, 429]
    clock.advance(0.999)
    assert get_unknown_batch(second) == 429
    clock.advance(0.001)  # the window has moved past the first three
    assert [get_unknown_batch(first) for _ in range(4)] == [404, 404, 404, 429]
    counters = first.server.backend.counters
    assert (counters.requests, counters.rate_limited, counters.fault_429s) == (10, 4, 0)


def test_rate_limited_answer_is_a_problem_without_retry_after(
    client_factory: Callable[..., IcaClient],
) -> None:
    client = client_factory(clock=ManualClock(), rate_limit=1)
    assert get_unknown_batch(client) == 404
    limited = client.get_batch(UNKNOWN_BATCH)
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers
    assert limited.headers["Content-Type"] == "application/problem+json"
    assert limited.json()["title"] == "ICA_API_429"
    assert "rate limit of 1 requests per second" in limited.json()["detail"]


def test_token_requests_count_against_the_limit(ica_fake_server_factory: Factory) -> None:
    server = ica_fake_server_factory(clock=ManualClock(), rate_limit=2)
    headers = {"X-API-Key": server.api_key, "Accept": V3}
    statuses = [requests.post(f"{server.url}/api/tokens", headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert server.backend.counters.token_mints == 2


def test_fractional_rate_spreads_requests_out(client_factory: Callable[..., IcaClient]) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, rate_limit=0.5)
    assert [get_unknown_batch(client) for _ in range(2)] == [404, 429]
    clock.advance(1.5)
    assert get_unknown_batch(client) == 429
    clock.advance(0.5)
    assert get_unknown_batch(client) == 404


def test_the_limiter_runs_before_faults_and_keeps_them(client_factory: Callable[..., IcaClient]) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, rate_limit=1)
    backend = client.server.backend
    assert get_unknown_batch(client) == 404
    backend.inject_fault(429, retry_after=2)
    limited = client.get_batch(UNKNOWN_BATCH)
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    clock.advance(1)
    injected = client.get_batch(UNKNOWN_BATCH)  # the explicit fault waited for a request that got through
    assert injected.status_code == 429 and injected.headers["Retry-After"] == "2"
    assert backend.fault_counts == {"429": 1}
    stats = backend.stats()
    assert (stats["rate_limited"], stats["fault_429s"], stats["responses_429"], stats["requests"]) == (
        1,
        1,
        2,
        3,
    )


def test_without_a_limit_nothing_is_refused(client_factory: Callable[..., IcaClient]) -> None:
    client = client_factory(clock=ManualClock())
    assert {get_unknown_batch(client) for _ in range(20)} == {404}
    assert client.server.backend.counters.rate_limited == 0


def test_counters_count_mints_and_requests_and_survive_reset(ica_fake_server_factory: Factory) -> None:
    server = ica_fake_server_factory()
    headers = {"X-API-Key": server.api_key, "Accept": V3}
    for _ in range(3):
        assert requests.post(f"{server.url}/api/tokens", headers=headers).status_code == 200
    assert (
        requests.post(f"{server.url}/api/tokens", headers={**headers, "X-API-Key": "no"}).status_code == 401
    )
    server.backend.reset()
    assert server.backend.counters.snapshot() == {
        "requests": 4,
        "token_mints": 3,
        "rate_limited": 0,
        "fault_429s": 0,
        "responses_429": 0,
    }


def test_admin_counters_route_reads_them_from_another_process(
    client_factory: Callable[..., IcaClient],
) -> None:
    """``GET /_fake/counters``: the same snapshot over HTTP, itself neither counted nor limited."""
    clock = ManualClock()
    client = client_factory(clock=clock, rate_limit=1)
    statuses = [get_unknown_batch(client) for _ in range(2)]
    assert statuses == [404, 429]
    root = client.server.root_url
    readings = [requests.get(f"{root}/_fake/counters") for _ in range(3)]  # the limit is used up
    assert {reading.status_code for reading in readings} == {200}
    expected = client.server.backend.counters.snapshot()
    assert expected["rate_limited"] == 1 and expected["requests"] >= 2
    assert [reading.json() for reading in readings] == [expected] * 3
    assert requests.post(f"{root}/_fake/counters").status_code == 405  # read-only


def test_limiter_window_arithmetic() -> None:
    limiter = RateLimiter(2.5)
    assert (limiter.capacity, limiter.window) == (2, 0.8)
    assert [limiter.allow(t) for t in (0.0, 0.1, 0.2, 0.8, 0.85, 0.95)] == [
        True,
        True,
        False,
        True,
        False,
        True,
    ]
    with pytest.raises(ValueError, match="rate_limit must not be negative"):
        FakeIcaConfig(rate_limit=-1)


def test_cli_flag_sets_the_limit() -> None:
    assert FakeIcaConfig(**vars(build_parser().parse_args(["--rate-limit", "50"]))).rate_limit == 50.0
    command = [sys.executable, "-m", "ica_airflow_provider.testing", "--rate-limit", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        # Real time: of three requests back to back, two fall in one second on any machine.
        statuses = [
            requests.post(
                f"{url}/api/tokens", headers={"X-API-Key": "fake-api-key", "Accept": V3}
            ).status_code
            for _ in range(3)
        ]
        assert 429 in statuses
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
