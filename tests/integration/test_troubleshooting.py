"""The messages docs/troubleshooting.md shows are the ones users get (from the fake ICA server)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ica_airflow_provider.core.errors import IcaApiError, IcaError
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"
ITEM = nextflow_item("s1")
BATCH_ID = "0b6e1a7c-0000-4000-8000-000000000001"


def shown(name: str) -> re.Pattern[str]:
    """The guide's message block named ``name``, ``<…>`` placeholders matching any text."""
    block = re.search(rf"<!-- message: {name} -->\n```text\n(.*?)\n```", GUIDE.read_text(), re.DOTALL)
    assert block, f"no message block {name!r} in {GUIDE.name}"
    parts = re.split(r"<[^>]+>", block.group(1))
    return re.compile(".+?".join(re.escape(part) for part in parts), re.DOTALL)


def assert_shown(name: str, error: BaseException) -> None:
    assert shown(name).fullmatch(str(error)), f"{GUIDE.name} [{name}] no longer shows:\n{error}"


def test_bad_key(ica_fake_server: Any, connect: Callable[..., None]) -> None:
    connect(SimpleNamespace(url=ica_fake_server.url, config=SimpleNamespace(api_key="wrong")))  # a mistyped key
    with pytest.raises(IcaApiError) as error:
        IcaHook().get_analysis_creation_batch("proj", BATCH_ID)
    assert_shown("bad-key", error.value)


@pytest.mark.parametrize(("status", "name"), [(403, "forbidden"), (404, "not-found")])
def test_refused_batch(status: int, name: str, ica_fake_server: Any, connect: Callable[..., None]) -> None:
    connect(ica_fake_server)
    ica_fake_server.backend.inject_fault(status, method="POST", path_contains="analysisCreationBatch")
    with pytest.raises(IcaApiError) as error:
        IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": [ITEM]}, "key")
    assert_shown(name, error.value)


def test_idempotency_key_reused_with_another_request(ica_fake_server: Any, connect: Callable[..., None]) -> None:
    connect(ica_fake_server)
    IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": [ITEM]}, "key")
    other = {"nextflowItems": [{**ITEM, "userReference": "s2"}]}
    with pytest.raises(IcaApiError) as error:
        IcaHook().create_analysis_creation_batch("proj", other, "key")
    assert_shown("idempotency-mismatch", error.value)


def test_rate_limited_until_the_retries_run_out(ica_fake_server: Any, connect: Callable[..., None]) -> None:
    connect(ica_fake_server, max_retries=1, retry_backoff=0)
    ica_fake_server.backend.inject_fault(429, count=2, path_contains="analysisCreationBatch", retry_after=0)
    with pytest.raises(IcaApiError) as error:
        IcaHook().get_analysis_creation_batch("proj", BATCH_ID)
    assert_shown("rate-limited", error.value)


def test_stopped_job(ica_fake_server_factory: Callable[..., Any], connect: Callable[..., None]) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(
        clock=clock, batch_start_seconds=1, item_creation_seconds=2, item_stagger_seconds=1.5
    )
    connect(server)
    items = [{**ITEM, "userReference": ref} for ref in ("a", "b-stop-job", "c")]
    batch_id = IcaHook().create_analysis_creation_batch("proj", {"nextflowItems": items}, "stop").id
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(
        dag_id="d", task_id="t", run_id="r", map_index=-1,
        xcom_push=lambda key, value: pushed.__setitem__(key, value),
    )
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj")
    clock.set(1003.2)  # a created, b being created, c waiting
    assert sensor.poke({"ti": ti}) is False  # type: ignore[arg-type]
    clock.set(1100.0)  # the job STOPPED at 1003.5
    with pytest.raises(IcaError) as error:
        sensor.poke({"ti": ti})  # type: ignore[arg-type]
    assert_shown("stopped-job", error.value)
