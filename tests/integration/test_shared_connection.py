"""Many waits of one connection in one process, against the fake server over loopback.

The hook that creates the batches and every trigger waiting on them share one token
(one mint on the server's counter) and one httpx pool, and a tenant limit's 429s slow
the connection down instead of failing the waits.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ica_airflow_provider.hooks import clients
from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.testing.clock import ManualClock
from ica_airflow_provider.testing.seed import nextflow_item
from ica_airflow_provider.triggers.ica import IcaAnalysisBatchTrigger

ITEMS = [nextflow_item(f"S{i}") for i in range(2)]


def run_all(triggers: list[IcaAnalysisBatchTrigger]) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        events = await asyncio.gather(*(anext(t.run()) for t in triggers))
        return [event.payload for event in events]

    return asyncio.run(go())


def test_waits_of_one_connection_mint_one_token(ica_fake_server_factory: Any, connect: Any) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock)
    connect(server, retry_backoff=0, max_requests_per_second=0)
    hook = IcaHook()
    batch_ids = [hook.create_analysis_creation_batch("proj", {"nextflowItems": ITEMS}, f"s-{i}").id for i in range(30)]
    clock.advance(60)

    events = run_all([IcaAnalysisBatchTrigger(project_id="proj", batch_id=b, poll_interval=0.1) for b in batch_ids])

    assert [e["status"] for e in events] == ["success"] * 30
    assert server.backend.stats()["token_mints"] == 1  # the hook's, reused by all 30 waits
    shared = clients.REGISTRY.get("ica_default")
    assert shared is not None and shared.async_clients == 1


def test_a_tenant_limit_slows_the_connection_instead_of_failing_waits(ica_fake_server_factory: Any, connect: Any) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock)
    connect(server, retry_backoff=0.01, retry_backoff_max=0.05, max_retries=8, max_requests_per_second=200)
    hook = IcaHook()
    batch_ids = [hook.create_analysis_creation_batch("proj", {"nextflowItems": ITEMS}, f"r-{i}").id for i in range(20)]
    clock.advance(60)
    server.backend.inject_fault(429, count=5, method="GET", path_contains="/items")

    events = run_all([IcaAnalysisBatchTrigger(project_id="proj", batch_id=b, poll_interval=0.1) for b in batch_ids])

    assert [e["status"] for e in events] == ["success"] * 20
    budget = hook.protocol.budget  # the triggers' too
    assert budget.state(clients.REGISTRY.clock()).throttles >= 1
