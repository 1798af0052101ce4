"""Fault injection: seeded random faults, each kind as real clients see it, counts, CLI flags."""

from __future__ import annotations

import base64
import functools
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import httpx
import pytest
import requests
import uvicorn

from ica_airflow_provider.testing import FakeIcaConfig, FakeIcaServer, ManualClock
from ica_airflow_provider.testing.faults import RandomFaults, parse_fault_kinds
from ica_airflow_provider.testing.server import build_parser

from .helpers import PROJECT_ID, V3, batch_body

Factory = Callable[..., FakeIcaServer]
UNKNOWN_BATCH = "0b7c1d6e-3f5a-4b2c-9d8e-1a2b3c4d5e6f"  # fixed: paths must match across servers
LIBS = ("requests", "httpx")


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    body: Any


def send(
    lib: str, method: str, url: str, headers: dict[str, str], body: Any = None, timeout: float = 10
) -> Answer | None:
    """One request with a fresh ``requests``/``httpx`` client; None if dropped."""
    try:
        if lib == "requests":
            r = requests.request(method, url, headers=headers, json=body, timeout=timeout)
            return Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, _json(r.content))
        with httpx.Client(timeout=timeout) as client:
            h = client.request(method, url, headers=headers, json=body)
            return Answer(h.status_code, dict(h.headers), _json(h.content))
    except (requests.ConnectionError, httpx.RemoteProtocolError):
        return None


def _json(content: bytes) -> Any:
    return json.loads(content) if content else None


def auth(server: FakeIcaServer, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.mint_token()}", "Accept": V3, "Content-Type": V3, **extra}


def batches_url(server: FakeIcaServer, suffix: str = "") -> str:
    return f"{server.url}/api/projects/{PROJECT_ID}/analysisCreationBatch{suffix}"


def token_request(server: FakeIcaServer) -> tuple[str, dict[str, str]]:
    """URL and headers of ``POST /api/tokens``."""
    return f"{server.url}/api/tokens", {"X-API-Key": server.api_key, "Accept": V3}


def post_token(server: FakeIcaServer) -> requests.Response:
    url, headers = token_request(server)
    return requests.post(url, headers=headers)


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


# --- the draws ------------------------------------------------------------------------------


def _run_sequence(server: FakeIcaServer) -> list[int | None]:
    session, headers = requests.Session(), auth(server)
    outcomes: list[int | None] = []
    for i in range(45):
        url = batches_url(server, f"/{UNKNOWN_BATCH}" + ("/items" if i % 3 else ""))
        try:
            outcomes.append(session.get(url, headers=headers).status_code)
        except requests.ConnectionError:
            outcomes.append(None)
    return outcomes


def test_same_seed_same_faults_other_seed_other_faults(ica_fake_server_factory: Factory) -> None:
    runs = []
    for seed in (7, 7, 8):
        server = ica_fake_server_factory(fault_rate=0.3, fault_seed=seed, fault_kinds="429,500,503,drop")
        runs.append((_run_sequence(server), server.backend.fault_log, server.backend.fault_counts))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]
    assert None in runs[0][0] and 429 in runs[0][0]  # the seed does inject


def test_unseeded_server_reports_a_seed_that_repeats_it(ica_fake_server_factory: Factory) -> None:
    first = ica_fake_server_factory(fault_rate=0.3, fault_kinds="500,502")
    seed = first.backend.stats()["fault_seed"]
    again = ica_fake_server_factory(fault_rate=0.3, fault_kinds="500,502", fault_seed=seed)
    assert _run_sequence(first) == _run_sequence(again)


def test_rate_is_roughly_respected(ica_fake_server_factory: Factory) -> None:
    server = ica_fake_server_factory(fault_rate=0.2, fault_seed=3, fault_kinds="500")
    session, headers = requests.Session(), auth(server)
    statuses = [
        session.get(batches_url(server, f"/{UNKNOWN_BATCH}"), headers=headers).status_code for _ in range(300)
    ]
    faults = statuses.count(500)
    assert 30 <= faults <= 90
    assert statuses.count(404) == 300 - faults
    assert server.backend.stats() == {
        "requests": 300,
        "token_mints": 1,  # auth() mints in process
        "rate_limited": 0,
        "fault_429s": 0,
        "responses_429": 0,
        "faults": faults,
        "fault_counts": {"500": faults},
        "fault_seed": 3,
        "batches": 0,
    }


def test_weights_and_lost_create_eligibility() -> None:
    draws = RandomFaults(1.0, "429:3,500:1", "", seed=1)
    kinds = [draws.draw("GET", "/x") for _ in range(4000)]
    assert 0.7 < kinds.count("429") / len(kinds) < 0.8
    lost = RandomFaults(1.0, "lost-create", "", seed=1)
    assert lost.draw("GET", "/ica/rest/api/projects/p/analysisCreationBatch") is None
    assert lost.draw("POST", "/ica/rest/api/tokens") is None
    assert lost.draw("POST", "/ica/rest/api/projects/p/analysisCreationBatch") == "lost-create"
    assert parse_fault_kinds(" 429:2 , drop,") == (("429", 2.0), ("drop", 1.0))
    for bad in ("418", "drop:-1", "slow:x"):
        with pytest.raises(ValueError):
            parse_fault_kinds(bad)
    with pytest.raises(ValueError):
        FakeIcaConfig(fault_rate=1.5)


# --- each kind, as requests and httpx see it ------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_status_faults_are_problems_and_execute_nothing(
    ica_fake_server_factory: Factory, status: int
) -> None:
    server = ica_fake_server_factory(fault_rate=1.0, fault_kinds=str(status), retry_after_seconds=0.5)
    for lib in LIBS:
        answer = send(lib, "POST", batches_url(server), auth(server), batch_body("a"))
        assert answer is not None and answer.status == status
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.body["title"] == f"ICA_API_{status}"
        assert answer.headers.get("retry-after") == ("0.5" if status in (429, 503) else None)
    assert server.backend.count_batches() == 0
    assert server.backend.fault_counts == {str(status): 2}


@pytest.mark.parametrize("lib", LIBS)
def test_drop_closes_without_answer_and_executes_nothing(ica_fake_server_factory: Factory, lib: str) -> None:
    server = ica_fake_server_factory(fault_rate=1.0, fault_kinds="drop")
    assert send(lib, "POST", batches_url(server), auth(server), batch_body("a")) is None
    assert send(lib, "GET", batches_url(server, f"/{UNKNOWN_BATCH}"), auth(server)) is None
    assert send(lib, "POST", *token_request(server)) is None
    assert server.backend.count_batches() == 0
    server.backend.set_fault_rate(0.0)
    answer = send(lib, "POST", *token_request(server))
    assert answer is not None and answer.status == 200
    assert server.backend.fault_counts == {"drop": 3}


@pytest.mark.parametrize("lib", LIBS)
def test_slow_answers_normally_but_late(ica_fake_server_factory: Factory, lib: str) -> None:
    server = ica_fake_server_factory(fault_rate=1.0, fault_kinds="slow", slow_seconds=60)
    answers: list[Answer | None] = []
    thread = threading.Thread(target=lambda: answers.append(send(lib, "POST", *token_request(server))))
    thread.start()
    try:
        assert server.backend.slow_latch.wait_arrived(1)
        assert server.backend.slow_latch.parked == 1 and not answers  # held back, not answered
    finally:
        server.backend.release_slow()
        thread.join()
    assert answers[0] is not None and answers[0].status == 200


def test_slow_delay_ends_by_itself(ica_fake_server_factory: Factory) -> None:
    server = ica_fake_server_factory(fault_rate=1.0, fault_kinds="slow", slow_seconds=0.01)
    answer = send("httpx", "POST", *token_request(server))
    assert answer is not None and answer.status == 200
    assert server.backend.slow_latch.arrived == 1 and server.backend.slow_latch.parked == 0


def test_slow_request_does_not_block_others(ica_fake_server_factory: Factory) -> None:
    server = ica_fake_server_factory(slow_seconds=60)
    server.backend.inject_fault("slow", path_contains="/tokens")
    slow: list[Answer | None] = []
    thread = threading.Thread(target=lambda: slow.append(send("requests", "POST", *token_request(server))))
    thread.start()
    try:
        assert server.backend.slow_latch.wait_arrived(1)  # the slow request is in
        answer = send("httpx", "GET", batches_url(server, f"/{UNKNOWN_BATCH}"), auth(server))
        assert answer is not None and answer.status == 404
        assert server.backend.slow_latch.parked == 1 and not slow  # served while the slow one waits
    finally:
        server.backend.release_slow()
        thread.join()
    assert slow[0] is not None and slow[0].status == 200


@pytest.mark.parametrize("lib", LIBS)
def test_lost_create_creates_once_and_replays(ica_fake_server_factory: Factory, lib: str) -> None:
    server = ica_fake_server_factory(fault_rate=1.0, fault_kinds="lost-create", fault_seed=1)
    backend, headers = server.backend, auth(server, **{"Idempotency-Key": "key-1"})
    # Only batch creation can lose its answer; everything else is served normally.
    token = send(lib, "POST", *token_request(server))
    assert token is not None and token.status == 200
    assert send(lib, "POST", batches_url(server), headers, batch_body("a", "b")) is None
    assert backend.count_batches() == 1 and backend.fault_counts == {"lost-create": 1}
    backend.set_fault_rate(0.0)
    replay = send(lib, "POST", batches_url(server), headers, batch_body("a", "b"))
    assert replay is not None and replay.status == 201
    assert replay.body["id"] == next(iter(backend.batches))
    assert backend.count_batches() == 1


# --- aiming and counting --------------------------------------------------------------------


def test_fault_paths_restrict_random_faults(ica_fake_server_factory: Factory) -> None:
    server = ica_fake_server_factory(fault_rate=1.0, fault_kinds="503", fault_paths="/items, /nothing")
    headers = auth(server)
    assert requests.get(batches_url(server, f"/{UNKNOWN_BATCH}"), headers=headers).status_code == 404
    assert requests.get(batches_url(server, f"/{UNKNOWN_BATCH}/items"), headers=headers).status_code == 503
    assert post_token(server).status_code == 200
    assert server.backend.fault_counts == {"503": 1}
    assert server.backend.count_requests() == server.backend.request_count == 3


def test_token_endpoint_gets_faults_too(ica_fake_server_factory: Factory) -> None:
    server = ica_fake_server_factory(
        fault_rate=1.0, fault_kinds="503,drop,lost-create", fault_paths="/api/tokens", fault_seed=5
    )
    answers = [send("requests", "POST", *token_request(server)) for _ in range(12)]
    assert {None if a is None else a.status for a in answers} == {None, 503}
    assert set(server.backend.fault_counts) == {"503", "drop"}


def test_explicit_faults_come_first_and_are_counted(ica_fake_server_factory: Factory) -> None:
    server = ica_fake_server_factory(fault_rate=1.0, fault_kinds="500", fault_seed=2)
    backend, headers = server.backend, auth(server)
    backend.inject_fault(429, count=2, retry_after=3)
    backend.inject_fault("drop", path_contains="/items")
    url = batches_url(server, f"/{UNKNOWN_BATCH}")
    assert [requests.get(url, headers=headers).status_code for _ in range(3)] == [429, 429, 500]
    assert send("httpx", "GET", url + "/items", headers) is None
    assert backend.fault_counts == {"429": 2, "500": 1, "drop": 1}
    assert [entry.kind for entry in backend.fault_log] == ["429", "429", "500", "drop"]
    assert backend.inject_fault("504").status == 504
    with pytest.raises(ValueError):
        backend.inject_fault("teapot")
    backend.reset()
    assert not backend.fault_counts and not backend.faults


def test_short_token_lifetime_forces_a_new_token(ica_fake_server_factory: Factory) -> None:
    wall = ManualClock(start=float(int(time.time())))  # JWT times follow the wall clock: ours here
    server = ica_fake_server_factory(token_lifetime=2, wall_clock=wall)
    token = post_token(server).json()["token"]
    url, claims = batches_url(server, f"/{UNKNOWN_BATCH}"), jwt_claims(token)
    assert claims["exp"] - claims["iat"] == 2
    headers = {"Authorization": f"Bearer {token}", "Accept": V3}
    assert requests.get(url, headers=headers).status_code == 404
    wall.advance(1.9)
    assert requests.get(url, headers=headers).status_code == 404
    wall.advance(0.1)
    expired = requests.get(url, headers=headers)
    assert expired.status_code == 401 and "Expired" in expired.json()["detail"]
    fresh = post_token(server).json()["token"]
    assert requests.get(url, headers={**headers, "Authorization": f"Bearer {fresh}"}).status_code == 404


# --- command line ---------------------------------------------------------------------------


def test_cli_flags_parse_into_the_config() -> None:
    flags = "--fault-rate 0.2 --fault-seed 11 --fault-kinds 429:3,drop --fault-paths /items"
    args = build_parser().parse_args([*flags.split(), "--retry-after-seconds", "0.25", "--slow-seconds", "2"])
    config = FakeIcaConfig(**vars(args))
    assert (config.fault_rate, config.fault_seed, config.fault_kinds) == (0.2, 11, "429:3,drop")
    assert (config.fault_paths, config.retry_after_seconds, config.slow_seconds) == ("/items", 0.25, 2.0)
    assert FakeIcaConfig(**vars(build_parser().parse_args([]))) == FakeIcaConfig()


def test_console_script_injects_faults() -> None:
    command = [sys.executable, "-m", "ica_airflow_provider.testing", "--fault-rate", "1", "--fault-seed", "1"]
    command += ["--fault-kinds", "503", "--retry-after-seconds", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        assert process.stderr.readline().strip() == "random faults: rate 1, seed 1"
        response = requests.post(f"{url}/api/tokens", headers={"X-API-Key": "fake-api-key", "Accept": V3})
        assert (response.status_code, response.headers["Retry-After"]) == (503, "2")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(("http", "loop"), [("h11", "asyncio"), ("httptools", "uvloop")])
def test_drop_works_on_both_uvicorn_protocols(
    ica_fake_server_factory: Factory, monkeypatch: pytest.MonkeyPatch, http: str, loop: str
) -> None:
    # The dropper relies on uvicorn internals that each HTTP implementation has separately.
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    if http == "httptools":
        pytest.importorskip("httptools")
    monkeypatch.setattr(uvicorn, "Config", functools.partial(uvicorn.Config, http=http, loop=loop))
    server = ica_fake_server_factory()
    server.backend.inject_fault("drop", count=2)
    for lib in LIBS:
        assert send(lib, "POST", batches_url(server), auth(server), batch_body("a")) is None
    assert send("httpx", "POST", batches_url(server), auth(server), batch_body("a")) is not None
    assert server.backend.count_batches() == 1
