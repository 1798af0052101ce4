"""A sensor poking in one process pushes its link XComs only when a link changes."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from ica_airflow_provider.hooks.ica import IcaHook
from ica_airflow_provider.links import ANALYSES_URL_XCOM, ANALYSIS_URL_XCOM
from ica_airflow_provider.sensors.ica import IcaAnalysisBatchSensor
from ica_airflow_provider.testing.clock import ManualClock


def test_pokes_push_each_link_when_it_changes(
    ica_fake_server_factory: Callable[..., Any], connect: Callable[..., None]
) -> None:
    clock = ManualClock()
    server = ica_fake_server_factory(clock=clock, analysis_step_seconds=5)
    connect(server)
    refs = ("ok", "bad-fail-analysis")
    body = {
        "nextflowItems": [
            {"userReference": ref, "pipelineId": "p", "analysisInput": {"inputs": []}} for ref in refs
        ]
    }
    batch_id = IcaHook().create_analysis_creation_batch("proj", body, "links").id
    pushes: list[tuple[str, Any]] = []
    context: Any = {"ti": SimpleNamespace(xcom_push=lambda key, value: pushes.append((key, value)))}
    sensor = IcaAnalysisBatchSensor(task_id="w", batch_id=batch_id, project_id="proj", max_failures=2)

    pokes = 0
    done = False
    while not done:
        assert pokes < 200, "the batch never finished"
        done = bool(sensor.poke(context))
        pokes += 1
        clock.advance(1)

    analysis = {i.user_reference: i.analysis_id for i in server.backend.batches[batch_id].items}
    analysis_urls = [value for key, value in pushes if key == ANALYSIS_URL_XCOM]
    # The first analysis to exist, then the failed one once it failed: each pushed once.
    assert analysis_urls[-1].endswith(f"/analysis/{analysis['bad-fail-analysis']}")
    assert len(analysis_urls) == len(set(analysis_urls)) <= 2
    # The project's page goes with each change of the analysis link (and the first poke).
    assert sum(key == ANALYSES_URL_XCOM for key, _ in pushes) <= len(analysis_urls) + 1
    assert pokes > 10  # many pokes changed nothing, and pushed nothing
    links = [key for key, _ in pushes if key in (ANALYSES_URL_XCOM, ANALYSIS_URL_XCOM)]
    assert len(links) <= 2 * len(analysis_urls) + 1
