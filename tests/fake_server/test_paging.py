"""Cursor and offset paging of batch items, with and without a status filter."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from ica_airflow_provider.testing import ManualClock

from .helpers import IcaClient, nextflow_item

ITEM_COUNT = 25


def expected_status(index: int) -> str:
    """Status of item ``index`` at t=15 in the ``staggered`` batch below."""
    if index > 15:
        return "WAITING_RESOURCES"
    if index > 5:
        return "RUNNING"
    return "FAILED" if index % 4 == 0 else "SUCCEEDED"


@pytest.fixture
def staggered(client_factory: Callable[..., IcaClient]) -> tuple[IcaClient, str, ManualClock]:
    """25 items starting 1 s apart, 10 s to create; every 4th fails; clock at t=15."""
    clock = ManualClock()
    client = client_factory(
        clock=clock, batch_start_seconds=0, item_stagger_seconds=1, item_creation_seconds=10
    )
    refs = [f"item-{i:02d}" + ("-fail-creation" if i % 4 == 0 else "") for i in range(ITEM_COUNT)]
    response = client.create_batch({"nextflowItems": [nextflow_item(ref) for ref in refs]})
    clock.advance(15)
    batch_id: str = response.json()["id"]
    return client, batch_id, clock


def refs(items: list[dict[str, Any]]) -> list[str]:
    return [item["request"]["userReference"] for item in items]


def indices(items: list[dict[str, Any]]) -> list[int]:
    """Item numbers from user references like ``item-07`` or ``item-08-fail-creation``."""
    return [int(ref[5:7]) for ref in refs(items)]


def test_cursor_pages_are_complete_unique_and_ordered(staggered: tuple[IcaClient, str, ManualClock]) -> None:
    client, batch_id, _ = staggered
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"pageSize": "4"}
    while True:
        page = client.list_items(batch_id, **params).json()
        seen.extend(page["items"])
        assert page["remainingRecords"] == ITEM_COUNT - len(seen)
        assert page["totalItemCount"] is None
        if page["nextPageToken"] is None:
            break
        params["pageToken"] = page["nextPageToken"]
    assert len(seen) == ITEM_COUNT
    assert len({item["id"] for item in seen}) == ITEM_COUNT
    assert [item["processing"]["status"] for item in seen] == [expected_status(i) for i in range(ITEM_COUNT)]


def test_cursor_paging_with_a_status_filter(staggered: tuple[IcaClient, str, ManualClock]) -> None:
    client, batch_id, _ = staggered
    wanted = {"RUNNING", "FAILED"}
    expected = [i for i in range(ITEM_COUNT) if expected_status(i) in wanted]
    first = client.list_items(batch_id, pageSize="3", status=sorted(wanted)).json()
    assert first["remainingRecords"] == len(expected) - 3
    items = client.all_items(batch_id, page_size=3, status=sorted(wanted))
    assert indices(items) == expected
    assert {item["processing"]["status"] for item in items} == wanted
    comma = client.all_items(batch_id, page_size=100, status=["RUNNING,FAILED"])
    assert refs(comma) == refs(items)


def test_cursor_stays_unique_while_statuses_change(staggered: tuple[IcaClient, str, ManualClock]) -> None:
    client, batch_id, clock = staggered
    first = client.list_items(batch_id, pageSize="5", status=["RUNNING"]).json()
    clock.advance(3)  # items 6..8 finish, 16..18 start running
    second = client.list_items(
        batch_id, pageSize="100", status=["RUNNING"], pageToken=first["nextPageToken"]
    ).json()
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert len(ids) == len(set(ids))
    assert indices(first["items"]) == list(range(6, 11))
    assert indices(second["items"]) == list(range(11, 19))
    assert second["nextPageToken"] is None and second["remainingRecords"] == 0


def test_offset_paging(staggered: tuple[IcaClient, str, ManualClock]) -> None:
    client, batch_id, _ = staggered
    pages = [
        client.list_items(batch_id, pageSize="10", pageOffset=str(offset)).json() for offset in (0, 10, 20)
    ]
    assert [len(page["items"]) for page in pages] == [10, 10, 5]
    for page in pages:
        assert page["nextPageToken"] == ""
        assert page["totalItemCount"] == ITEM_COUNT
        assert page["remainingRecords"] is None
    assert indices([item for page in pages for item in page["items"]]) == list(range(ITEM_COUNT))
    failed = client.list_items(batch_id, pageSize="2", pageOffset="1", status="FAILED").json()
    assert failed["totalItemCount"] == 2  # items 0 and 4
    assert refs(failed["items"]) == ["item-04-fail-creation"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"status": "DONE"}, "status"),
        ({"status": ["RUNNING", "succeeded"]}, "status"),
        ({"pageSize": "0"}, "pageSize"),
        ({"pageSize": "1001"}, "pageSize"),
        ({"pageSize": "ten"}, "pageSize"),
        ({"pageToken": "garbage!"}, "pageToken"),
        ({"pageToken": "eyJpIjogMX0"}, "pageToken"),  # {"i": 1}: well-formed JSON, wrong content
        ({"pageOffset": "-1"}, "pageOffset"),
        ({"pageOffset": "x"}, "pageOffset"),
        ({"pageOffset": "199999", "pageSize": "2"}, "pageOffset"),
    ],
)
def test_invalid_paging_parameters_are_400(
    staggered: tuple[IcaClient, str, ManualClock], params: dict[str, Any], parameter: str
) -> None:
    client, batch_id, _ = staggered
    response = client.list_items(batch_id, **params)
    assert response.status_code == 400
    assert parameter in response.json()["parameters"]


def test_page_tokens_are_bound_to_their_query(staggered: tuple[IcaClient, str, ManualClock]) -> None:
    client, batch_id, _ = staggered
    token = client.list_items(batch_id, pageSize="2", status="RUNNING").json()["nextPageToken"]
    assert client.list_items(batch_id, pageToken=token, status="RUNNING").status_code == 200
    assert client.list_items(batch_id, pageToken=token).status_code == 400
    assert client.list_items(batch_id, pageToken=token, status="FAILED").status_code == 400
    assert client.list_items(batch_id, pageToken=token, pageOffset="0", status="RUNNING").status_code == 400
    other = client.create_batch({"nextflowItems": [nextflow_item("x")]}).json()["id"]
    assert client.list_items(other, pageToken=token, status="RUNNING").status_code == 400


def test_default_and_maximum_page_size(client: IcaClient) -> None:
    body = {"nextflowItems": [nextflow_item(f"s{i}") for i in range(150)]}
    batch_id = client.create_batch(body).json()["id"]
    default = client.list_items(batch_id).json()
    assert len(default["items"]) == 100
    assert default["remainingRecords"] == 50
    assert len(client.list_items(batch_id, pageSize="1000").json()["items"]) == 150


def test_large_batches_are_fast(client_factory: Callable[..., IcaClient]) -> None:
    clock = ManualClock()
    client = client_factory(clock=clock)
    started = time.perf_counter()
    small = client.create_batch({"nextflowItems": [nextflow_item(f"s{i}") for i in range(1000)]})
    assert small.status_code == 201
    refs = [f"s{i}" + ("-fail-creation" if i % 1000 == 999 else "") for i in range(10_000)]
    batch_id = client.create_batch({"nextflowItems": [nextflow_item(ref) for ref in refs]}).json()["id"]
    clock.advance(60)  # every analysis exists: the largest possible pages
    items = client.all_items(batch_id, page_size=1000)
    failed = client.all_items(batch_id, page_size=3, status=["FAILED"])  # scans all 10,000 per page
    elapsed = time.perf_counter() - started
    assert len(items) == 10_000
    assert len({item["id"] for item in items}) == 10_000
    assert len(failed) == 10
    assert elapsed < 15, f"too slow: {elapsed:.1f}s"
