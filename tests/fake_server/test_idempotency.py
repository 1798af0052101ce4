"""Idempotency-Key semantics of batch creation."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import requests

from ica_airflow_provider.testing import ManualClock
from ica_airflow_provider.testing.latch import Latch

from .helpers import IcaClient, batch_body, nextflow_item


def test_same_key_and_body_replays_the_stored_response(client_factory: Callable[..., IcaClient]) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock)
    first = client.create_batch(batch_body("a", "b"), idempotency_key="key-1")
    clock.advance(10)  # the job has finished by now; the replay still shows the stored response
    assert client.get_batch(first.json()["id"]).json()["job"]["status"] == "SUCCEEDED"
    second = client.create_batch(batch_body("a", "b"), idempotency_key="key-1")
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert client.server.backend.count_batches() == 1


def test_key_is_scoped_to_the_endpoint_project(client: IcaClient) -> None:
    first = client.create_batch(batch_body("a"), idempotency_key="k")
    other = client.create_batch(batch_body("a"), idempotency_key="k", project_id="project-2")
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]


def test_same_key_with_different_body_is_422(client: IcaClient) -> None:
    assert client.create_batch(batch_body("a"), idempotency_key="k").status_code == 201
    response = client.create_batch(batch_body("b"), idempotency_key="k")
    assert response.status_code == 422
    assert response.json()["parameters"] == {"Idempotency-Key": "k"}
    assert client.server.backend.count_batches() == 1


@contextlib.contextmanager
def held_creation(client: IcaClient, key: str) -> Iterator[tuple[Latch, list[requests.Response]]]:
    """A POST with ``key`` parked in the server until the block ends; then its answer is in the list."""
    hold = client.server.backend.hold_creates()
    results: list[requests.Response] = []
    first = threading.Thread(
        target=lambda: results.append(client.create_batch(batch_body("a"), idempotency_key=key))
    )
    first.start()
    try:
        assert hold.wait_arrived(1), "the first POST never reached the server"
        yield hold, results
    finally:
        hold.release()
        first.join()


def test_same_key_while_in_flight_is_409(client: IcaClient) -> None:
    # A second connection: the session in the other thread is busy.
    other = IcaClient(client.server, token=client.token)
    with held_creation(client, "k") as (hold, results):
        concurrent = other.create_batch(batch_body("a"), idempotency_key="k")
        assert hold.parked == 1  # the first one was still in flight when the duplicate came
    assert concurrent.status_code == 409
    assert concurrent.json()["title"] == "ICA_API_006"
    assert results[0].status_code == 201
    replay = client.create_batch(batch_body("a"), idempotency_key="k")
    assert replay.json()["id"] == results[0].json()["id"]
    assert client.server.backend.count_batches() == 1


def test_released_hold_lets_later_creations_through(client: IcaClient) -> None:
    other = IcaClient(client.server, token=client.token)
    with held_creation(client, "k1") as (hold, results):
        hold.release()
        assert other.create_batch(batch_body("b"), idempotency_key="k2").status_code == 201
        assert hold.arrived == 2  # it reached the latch and passed
    assert results[0].status_code == 201
    assert client.server.backend.count_batches() == 2


def test_errors_are_not_stored(client: IcaClient) -> None:
    invalid = {"nextflowItems": [nextflow_item("bad!")]}
    assert client.create_batch(invalid, idempotency_key="k").status_code == 400
    assert client.create_batch(batch_body("a"), idempotency_key="k").status_code == 201


def test_key_length_limit_is_255(client: IcaClient) -> None:
    assert client.create_batch(batch_body("a"), idempotency_key="k" * 255).status_code == 201
    too_long = client.create_batch(batch_body("a"), idempotency_key="k" * 256)
    assert too_long.status_code == 400
    assert "Idempotency-Key" in too_long.json()["parameters"]


def test_records_expire_after_the_ttl(client_factory: Callable[..., IcaClient]) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock, idempotency_ttl_seconds=60)
    first = client.create_batch(batch_body("a"), idempotency_key="k")
    clock.advance(59)
    assert client.create_batch(batch_body("a"), idempotency_key="k").json()["id"] == first.json()["id"]
    clock.advance(2)
    second = client.create_batch(batch_body("a"), idempotency_key="k")
    assert second.json()["id"] != first.json()["id"]
